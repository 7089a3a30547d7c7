package sdnotifytest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gosdnotify/sdnotify/internal/fdstore"
)

// MaxMessageLen is the most bytes the service manager reads of a
// notification; it drops a longer one whole.
const MaxMessageLen = 4096

// An Assignment is one KEY=VALUE line of a notification.
type Assignment struct {
	Key, Value string
}

// String returns the line as it was received, KEY=VALUE.
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

	// Assignments are the lines of Data that systemd would act on, in
	// order: Data split at newlines and carriage returns (as the manager
	// splits it), without empty lines, lines with no '=', and the
	// assignments listed in Ignored. It is empty if Err is not nil.
	Assignments []Assignment

	// Ignored lists assignments that systemd would ignore although it
	// accepts the rest of the message, such as a STATUS= that is not
	// valid UTF-8.
	Ignored []Ignored

	// Err, if not nil, says why systemd would drop the whole message
	// unread: empty, longer than MaxMessageLen, a NUL byte, too many
	// files. Such a message has no Assignments.
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

// String describes m in one line: the sender and the datagram, quoted.
func (m *Message) String() string {
	s := fmt.Sprintf("pid=%d uid=%d gid=%d", m.PID, m.UID, m.GID)
	if len(m.Files) > 0 {
		s += fmt.Sprintf(" files=%d", len(m.Files))
	}
	s += " " + strconv.Quote(string(m.Data))
	if m.Err != nil {
		s += " (dropped: " + m.Err.Error() + ")"
	}
	for _, ig := range m.Ignored {
		s += " (ignored " + strconv.Quote(ig.String()) + ": " + ig.Reason + ")"
	}
	return s
}

// ErrDropped is matched by Message.Err: systemd would drop the message.
var ErrDropped = errors.New("sdnotifytest: systemd would drop this message")

type droppedError struct{ reason string }

func (e *droppedError) Error() string        { return "sdnotifytest: " + e.reason }
func (e *droppedError) Is(target error) bool { return target == ErrDropped }

// Parse parses a notification as the service manager does and reports what
// it would drop or ignore. It fills Data, Assignments, Ignored and Err.
func Parse(data []byte) *Message {
	m := &Message{Data: data}
	switch {
	case len(data) == 0:
		m.Err = &droppedError{"empty message (it once crashed PID 1: systemd#4234)"}
	case len(data) > MaxMessageLen:
		m.Err = &droppedError{fmt.Sprintf("%d bytes; the manager reads at most %d", len(data), MaxMessageLen)}
	case bytes.IndexByte(data, 0) >= 0:
		m.Err = &droppedError{fmt.Sprintf("NUL byte at offset %d", bytes.IndexByte(data, 0))}
	}
	if m.Err != nil {
		return m
	}
	lines := strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' || r == '\r' })
	hasMonotonic := false
	for _, line := range lines {
		if strings.HasPrefix(line, "MONOTONIC_USEC=") {
			hasMonotonic = true
		}
	}
	for _, line := range lines {
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		a := Assignment{Key: key, Value: value}
		if reason := check(a, hasMonotonic); reason != "" {
			m.Ignored = append(m.Ignored, Ignored{Assignment: a, Reason: reason})
			continue
		}
		m.Assignments = append(m.Assignments, a)
	}
	return m
}

// check returns why systemd would ignore a, or "".
func check(a Assignment, hasMonotonic bool) string {
	switch a.Key {
	case "READY", "STOPPING", "FDSTORE", "FDSTOREREMOVE", "BARRIER", "RESTART_RESET", "MAINPIDFD":
		if a.Value != "1" {
			return "only " + a.Key + "=1 means anything"
		}
	case "RELOADING":
		if a.Value != "1" {
			return "only RELOADING=1 means anything"
		}
		if !hasMonotonic {
			return "no MONOTONIC_USEC= in the same message: a Type=notify-reload service's reload is not recognized"
		}
	case "WATCHDOG":
		if a.Value != "1" && a.Value != "trigger" {
			return "WATCHDOG= takes 1 or trigger"
		}
	case "FDPOLL":
		if a.Value != "0" {
			return "only FDPOLL=0 means anything"
		}
	case "STATUS":
		if !utf8.ValidString(a.Value) {
			return "not valid UTF-8"
		}
	case "ERRNO", "EXIT_STATUS":
		if v, err := strconv.ParseUint(a.Value, 10, 31); err != nil || a.Key == "EXIT_STATUS" && v > 255 {
			return "not a valid number"
		}
	case "MAINPID":
		if v, err := strconv.ParseUint(a.Value, 10, 31); err != nil || v == 0 {
			return "not a process ID"
		}
	case "WATCHDOG_USEC", "EXTEND_TIMEOUT_USEC", "MONOTONIC_USEC":
		if v, err := strconv.ParseUint(a.Value, 10, 64); err != nil || v == 0 && a.Key != "EXTEND_TIMEOUT_USEC" {
			return "not a number of microseconds"
		}
	case "NOTIFYACCESS":
		switch a.Value {
		case "none", "main", "exec", "all":
		default:
			return "not none, main, exec or all"
		}
	case "FDNAME":
		if !fdstore.ValidName(a.Value) {
			return "not a valid name (at most 255 ASCII characters, no control characters or ':')"
		}
	}
	return ""
}
