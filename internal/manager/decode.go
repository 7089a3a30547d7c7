package manager

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// An Input is a datagram as the notification socket received it.
type Input struct {
	// Data is the datagram, or its first bytes when Size says that it
	// was longer than the receiver's buffer.
	Data []byte
	// Size is the datagram's size when it is more than len(Data); 0
	// otherwise.
	Size int
	// Files is how many file descriptors came with it (SCM_RIGHTS).
	Files int
	// ControlTruncated is set when the kernel cut the control data short
	// (MSG_CTRUNC): more descriptors than the receiver takes.
	ControlTruncated bool
}

// Use is what the manager does with one line of a datagram, before it
// looks at the unit.
type Use int

// The uses of a line.
const (
	// Read: the manager reads it; what it changes depends on the unit
	// (see Unit.Notify).
	Read Use = iota + 1
	// Unused: accepted, and nothing is done with it: a private X_ key,
	// or a key the manager only logs (EXIT_STATUS=, BUSERROR=).
	Unused
	// Ignored: the manager ignores it (Reason says why): a value it
	// cannot read, a key it does not know, a repeated key of which only
	// the first counts, a line without '='.
	Ignored
)

func (u Use) String() string {
	switch u {
	case Read:
		return "read"
	case Unused:
		return "unused"
	case Ignored:
		return "ignored"
	}
	return "?"
}

// A Line is one assignment of a datagram, as the manager split it.
type Line struct {
	Text  string // the line (backslash escapes resolved)
	Key   string // the text before the first '=' ("" without one)
	Value string // the text after it
	HasEq bool   // the line has a '='
	Use   Use
	// Reason says why the line is ignored, or what to know about it.
	Reason string
	// Logged is set when the manager itself logs a warning about the
	// line (systemd is silent about unknown keys and values such as
	// READY=0).
	Logged bool
	// Unknown is set for a key that no systemd knows and that is not a
	// private X_ one: most likely a misspelling.
	Unknown bool
}

// String returns the line as the manager read it.
func (l Line) String() string { return l.Text }

// A Datagram is a notification decoded as a given version of the manager
// decodes it.
type Datagram struct {
	Input
	Version Version
	// Drop, if not "", says why the manager drops the whole datagram
	// before any unit sees it. Lines is then empty.
	Drop string
	// Barrier is set for a datagram with a BARRIER=1 line: the manager
	// closes its files (releasing a sender that waits on them) and does
	// nothing else with it. Drop says what was wrong with a barrier that
	// did not come alone with exactly one file.
	Barrier bool
	// Lines are the datagram's lines, in order.
	Lines []Line
	// Notes are what else is worth knowing about the datagram: that it
	// was empty, that a backslash escaped a byte, that a line had no '='.
	Notes []string
}

// Decode decodes a datagram as version v of the manager does.
func Decode(in Input, v Version) *Datagram {
	d := &Datagram{Input: in, Version: v}
	size := max(in.Size, len(in.Data))
	switch {
	case in.ControlTruncated:
		d.Drop = "control data truncated: more files than the manager takes (it logs \"Got message with truncated control data\")"
	case size > proto.MaxMessageLen:
		d.Drop = fmt.Sprintf("%d bytes; the manager reads at most %d", size, proto.MaxMessageLen)
	case len(in.Data) > 1 && bytes.IndexByte(in.Data[:len(in.Data)-1], 0) >= 0:
		d.Drop = fmt.Sprintf("NUL byte at offset %d (only one at the very end is allowed)", bytes.IndexByte(in.Data, 0))
	}
	if d.Drop != "" {
		return d
	}
	texts, escaped, err := proto.Split(in.Data)
	if err != nil {
		d.Drop = err.Error()
		return d
	}
	if len(texts) == 0 {
		d.Notes = append(d.Notes, "empty: the manager reads nothing in it (an empty datagram once crashed PID 1: systemd#4234)")
	}
	if escaped {
		d.Notes = append(d.Notes, `a backslash escapes the byte after it: the manager removed it (send \\ for one backslash)`)
	}
	for _, t := range texts {
		if t == "BARRIER=1" {
			d.Barrier = true
		}
	}
	if d.Barrier {
		switch {
		case len(texts) != 1:
			d.Drop = "BARRIER=1 with other assignments: the manager ignores them all (it closes the files, which releases the barrier)"
		case in.Files != 1:
			d.Drop = fmt.Sprintf("BARRIER=1 with %d files, not exactly one: the manager closes them", in.Files)
		}
		return d
	}
	seen := map[string]bool{}
	for _, t := range texts {
		d.Lines = append(d.Lines, decodeLine(t, v, seen))
		if l := d.Lines[len(d.Lines)-1]; !l.HasEq {
			d.Notes = append(d.Notes, fmt.Sprintf("line %q has no '=': the manager ignores it", t))
		}
	}
	return d
}

func decodeLine(t string, v Version, seen map[string]bool) Line {
	key, value, hasEq := strings.Cut(t, "=")
	l := Line{Text: t, Key: key, Value: value, HasEq: hasEq, Use: Read}
	if !hasEq {
		l.Key = ""
		l.Use, l.Reason = Ignored, "not KEY=VALUE"
		return l
	}
	k := lookup(key)
	switch {
	case strings.HasPrefix(key, "X_"):
		l.Use, l.Reason = Unused, "a private key: the manager ignores it, as it should"
		return l
	case k == nil:
		l.Use, l.Unknown = Ignored, true
		l.Reason = "unknown key: systemd ignores it without a word"
		if s := suggest(key); s != "" {
			l.Reason += fmt.Sprintf(" (did you mean %s=?)", s)
		}
		return l
	case v < k.since:
		l.Use = Ignored
		l.Reason = fmt.Sprintf("systemd %d does not know %s= (it came in %d) and ignores it", v, key, k.since)
		return l
	}
	switch k.kind {
	case kindLogged:
		l.Use, l.Reason = Unused, "the manager only logs it"
	case kindFlag:
		if value != k.flag {
			l.Use, l.Reason = Ignored, fmt.Sprintf("only %s=%s means anything", key, k.flag)
		} else if seen[t] {
			l.Use, l.Reason = Ignored, "repeated: it counts once"
		}
		seen[t] = true
	case kindFirst:
		if seen[key] {
			l.Use, l.Reason = Ignored, fmt.Sprintf("only the first %s= of a datagram counts", key)
			return l
		}
		seen[key] = true
		if why, logged := k.check(value, v); why != "" {
			l.Use, l.Reason, l.Logged = Ignored, why, logged
		}
	}
	return l
}

// first returns the first line with key, or nil.
func (d *Datagram) first(key string) *Line {
	for i := range d.Lines {
		if d.Lines[i].Key == key && d.Lines[i].HasEq {
			return &d.Lines[i]
		}
	}
	return nil
}

// flag returns the index of the Read line text, or -1.
func (d *Datagram) flag(text string) int {
	for i, l := range d.Lines {
		if l.Use == Read && l.Text == text {
			return i
		}
	}
	return -1
}

// Read returns the value of key's line that the manager reads, if there
// is one: the first such line, when its value is valid.
func (d *Datagram) Read(key string) (string, bool) {
	if l := d.first(key); l != nil && l.Use == Read {
		return l.Value, true
	}
	return "", false
}

// Has reports whether the manager reads the line "KEY=VALUE" in d.
func (d *Datagram) Has(line string) bool {
	for _, l := range d.Lines {
		if l.Text == line && l.Use != Ignored {
			return true
		}
	}
	return false
}
