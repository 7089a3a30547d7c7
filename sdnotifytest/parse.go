package sdnotifytest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/proto"
)

// MaxMessageLen is the most bytes the service manager reads of a
// notification; it drops a longer one whole.
const MaxMessageLen = proto.MaxMessageLen

// An Assignment is one KEY=VALUE line of a notification.
type Assignment struct {
	Key, Value string
}

// String returns the line as the manager read it, KEY=VALUE.
func (a Assignment) String() string { return a.Key + "=" + a.Value }

// An Ignored is an assignment that systemd would ignore, and why.
type Ignored struct {
	Assignment
	Reason string // why systemd would ignore it, for example "not valid UTF-8"
}

// A Message is one notification received by a Listener, or parsed by Parse.
type Message struct {
	// Data is the datagram exactly as received.
	Data []byte

	// Assignments are the lines of Data that systemd accepts, in order,
	// as the manager splits them: at newlines and carriage returns,
	// without empty lines, and with backslash escapes resolved (a
	// backslash is removed and the byte after it kept, so "a\b" reads
	// "ab"). They are the assignments of keys it knows with values it
	// reads, and private X_ keys (which it accepts and ignores). Those
	// listed in Ignored are not among them. It is empty if Err is not
	// nil.
	Assignments []Assignment

	// Ignored lists the assignments that systemd ignores, with the
	// reason: a key it does not know (often a misspelling, such as
	// "ready=1" or "STAUS=x", which systemd ignores without a word), a
	// value its parser does not read (ERRNO=4096, READY=0), a STATUS=
	// that is not valid UTF-8, a repeated key of which only the first
	// counts.
	Ignored []Ignored

	// Notes are other things worth knowing about the datagram: that it
	// was empty, that a backslash escaped a byte, that a line had no
	// '=' (and was ignored).
	Notes []string

	// Err, if not nil, says why systemd would drop the whole message
	// unread: longer than MaxMessageLen, a NUL byte before its last,
	// a backslash at its very end, a BARRIER=1 that does not come alone
	// with one file. Such a message has no Assignments.
	Err error

	// PID, UID and GID are the sender's credentials as the kernel passed
	// them (SCM_CREDENTIALS): its own, or those it sent explicitly.
	PID, UID, GID int

	// Files are the file descriptors passed with the message (SCM_RIGHTS).
	// The Listener closes them when it is closed; use them before, or
	// duplicate them. The pipe of a BARRIER=1 message is closed on receipt,
	// which releases the sender's barrier, unless the Listener holds
	// barriers.
	Files []*os.File

	// Received is when the Listener read the message.
	Received time.Time
}

// Value returns the value of the first assignment to key that systemd would
// act on, as the manager looks it up, or "" if there is none.
func (m *Message) Value(key string) string {
	for _, a := range m.Assignments {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// Has reports whether m holds the assignment, given as "KEY=VALUE", and
// systemd would act on it.
func (m *Message) Has(assignment string) bool {
	key, value, ok := strings.Cut(assignment, "=")
	if !ok {
		return false
	}
	for _, a := range m.Assignments {
		if a.Key == key && a.Value == value {
			return true
		}
	}
	return false
}

// String describes m in one line: the sender and the datagram, quoted,
// and what systemd would drop or ignore.
func (m *Message) String() string {
	s := fmt.Sprintf("pid=%d uid=%d gid=%d", m.PID, m.UID, m.GID)
	if len(m.Files) > 0 {
		s += fmt.Sprintf(" files=%d", len(m.Files))
	}
	s += " " + strconv.Quote(string(m.Data))
	if m.Err != nil {
		s += " (dropped: " + strings.TrimPrefix(m.Err.Error(), "sdnotifytest: ") + ")"
	}
	for _, ig := range m.Ignored {
		s += " (ignored " + strconv.Quote(ig.String()) + ": " + ig.Reason + ")"
	}
	for _, n := range m.Notes {
		s += " (" + n + ")"
	}
	return s
}

// ErrDropped is matched by Message.Err: systemd would drop the message.
var ErrDropped = errors.New("sdnotifytest: systemd would drop this message")

type droppedError struct{ reason string }

func (e *droppedError) Error() string        { return "sdnotifytest: " + e.reason }
func (e *droppedError) Is(target error) bool { return target == ErrDropped }

// Parse parses a notification as the service manager does, and reports
// what it would drop or ignore. It fills Data, Assignments, Ignored, Notes
// and Err. The rules are those of the newest systemd this module knows;
// the manager's verdicts come from one model of it (internal/manager)
// that sdnotify run shares. Parse sees no files: it takes a BARRIER=1
// alone as sent with its one file, as a barrier is.
func Parse(data []byte) *Message {
	in := manager.Input{Data: data}
	if bytes.Contains(data, []byte("BARRIER=1")) {
		in.Files = 1
	}
	return fromDatagram(manager.Decode(in, manager.Newest))
}

// fromDatagram makes a Message of the manager's decoding of a datagram.
func fromDatagram(d *manager.Datagram) *Message {
	m := &Message{Data: d.Data, Notes: d.Notes}
	if d.Drop != "" {
		m.Err = &droppedError{d.Drop}
		return m
	}
	if d.Barrier {
		m.Assignments = []Assignment{{Key: "BARRIER", Value: "1"}}
		return m
	}
	for _, l := range d.Lines {
		a := Assignment{Key: l.Key, Value: l.Value}
		switch {
		case !l.HasEq: // in Notes
		case l.Use == manager.Ignored:
			m.Ignored = append(m.Ignored, Ignored{Assignment: a, Reason: l.Reason})
		default:
			m.Assignments = append(m.Assignments, a)
		}
	}
	return m
}
