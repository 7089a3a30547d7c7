package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// An event is one line of run's output. Message is the text line's
// details; the other fields are for --json.
type event struct {
	Time        string       `json:"time"`
	Event       string       `json:"event"`
	Message     string       `json:"message"`
	PID         int          `json:"pid,omitempty"`
	UID         *int         `json:"uid,omitempty"`
	GID         *int         `json:"gid,omitempty"`
	Data        *string      `json:"data,omitempty"`
	Assignments []jsonAssign `json:"assignments,omitempty"`
	Ignored     []jsonAssign `json:"ignored,omitempty"`
	NoEffect    []jsonAssign `json:"no_effect,omitempty"`
	Notes       []string     `json:"notes,omitempty"`
	FDs         int          `json:"fds,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	Signal      string       `json:"signal,omitempty"`
	Status      *int         `json:"status,omitempty"`
	ExitCode    *int         `json:"exit_code,omitempty"`
	DurationMS  *float64     `json:"duration_ms,omitempty"`
	FDStore     *[]string    `json:"fd_store,omitempty"`
	Argv        []string     `json:"argv,omitempty"`
	Name        string       `json:"name,omitempty"`
	Address     string       `json:"address,omitempty"`
	Files       []jsonFile   `json:"files,omitempty"`
	Restarts    *int         `json:"restarts,omitempty"`
}

// A jsonFile is a file passed to a process: its descriptor, its name in
// LISTEN_FDNAMES, where it comes from ("listen": a --listen socket, or
// "fdstore") and a socket's address.
type jsonFile struct {
	FD      int    `json:"fd"`
	Name    string `json:"name"`
	From    string `json:"from"`
	Address string `json:"address,omitempty"`
}

// A jsonAssign is an assignment in --json output; Reason says why systemd
// would ignore it, in "ignored", or why it changes nothing, in
// "no_effect".
type jsonAssign struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Reason string `json:"reason,omitempty"`
}

// An emitter writes events as text lines or JSON lines. Once a write
// fails (the reader of a pipe is gone: EPIPE, with a SIGPIPE that ends
// the run), it writes no more.
type emitter struct {
	w      io.Writer
	json   bool
	now    func() time.Time
	broken bool
}

func (e *emitter) emit(ev *event) {
	if e.broken {
		return
	}
	t := e.now()
	var b []byte
	if e.json {
		ev.Time = t.Format(time.RFC3339Nano)
		var err error
		b, err = json.Marshal(ev)
		if err != nil { // cannot happen: only strings, numbers and slices
			b = []byte(fmt.Sprintf(`{"event":"error","message":%q}`, err.Error()))
		}
		b = append(b, '\n')
	} else {
		b = fmt.Appendf(nil, "%s %-9s %s\n", t.Format("15:04:05.000"), ev.Event, ev.Message)
	}
	if _, err := e.w.Write(b); err != nil {
		e.broken = true
	}
}

// ptr returns a pointer to a copy of v, for the optional JSON fields.
func ptr[T any](v T) *T { return &v }

// ms is d in milliseconds, for duration_ms.
func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

// showValue returns a value as the text output shows it: as is if it is
// plain, quoted (Go syntax) if it has spaces, quotes or anything not
// printable.
func showValue(v string) string {
	if v == "" {
		return ""
	}
	plain := utf8.ValidString(v)
	for _, r := range v {
		if !plain {
			break
		}
		if unicode.IsSpace(r) || r == '"' || r == '\\' || !unicode.IsPrint(r) {
			plain = false
		}
	}
	if plain {
		return v
	}
	return strconv.Quote(v)
}

// showAssign shows KEY=VALUE for the text output.
func showAssign(key, value string) string { return key + "=" + showValue(value) }

// round shows a duration rounded for people: to the millisecond, or to
// the microsecond below one.
func round(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// joinNames shows the names of the fd store.
func joinNames(names []string) string {
	if len(names) == 0 {
		return "(empty)"
	}
	return strings.Join(names, ", ")
}

// quoteData shows a datagram, quoted, cut at 200 bytes.
func quoteData(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q... (%d bytes)", b[:200], len(b))
	}
	return strconv.Quote(string(b))
}
