package sdnotify

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// ErrInvalid is matched, with errors.Is, by every error that refuses a
// notification before sending it: an empty state, a NUL byte, more than
// MaxStateLen bytes, a bad value given to one of the typed assignments.
var ErrInvalid = errors.New("sdnotify: invalid notification")

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return "sdnotify: " + e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// invalid returns an error matching ErrInvalid with the message msg.
func invalid(msg string) error { return &invalidError{msg: msg} }

// A wrapError is msg, a colon and err, which it wraps, and then hint, an
// explanation, if there is one.
type wrapError struct {
	msg  string
	err  error
	hint string
}

func wrap(msg string, err error) error { return &wrapError{msg: msg, err: err} }

// Error does not repeat the "sdnotify: " that starts e.err's message too.
func (e *wrapError) Error() string {
	s := e.msg + ": " + strings.TrimPrefix(e.err.Error(), "sdnotify: ")
	if e.hint != "" {
		s += " (" + e.hint + ")"
	}
	return s
}

func (e *wrapError) Unwrap() error { return e.err }

// connError is the error for a transport that could not be opened.
func (n *Notifier) connError(err error) error {
	return &wrapError{msg: "sdnotify: " + n.where(), err: err, hint: n.explain(err)}
}

// sendError is the error for a send that failed with err, or nil: ErrClosed
// if the Notifier was closed meanwhile, ctx's error if ctx ended, and
// otherwise err with the address, where it came from, and what the errno
// most likely means.
func (n *Notifier) sendError(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case n.closed.Load():
		return ErrClosed
	}
	var ae *AddressError
	if errors.As(err, &ae) || errors.Is(err, ErrInvalid) {
		return err
	}
	if cerr := contextError(ctx, err); cerr != err {
		return wrap("sdnotify: "+n.where(), cerr)
	}
	return &wrapError{msg: "sdnotify: " + n.where(), err: err, hint: n.explain(err)}
}

// contextError returns ctx's error for an err caused by ctx ending: its
// cancellation, or its deadline, which a wait in the poller can see pass a
// moment before ctx does. Otherwise it returns err.
func contextError(ctx context.Context, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return err
}

// explain says what a failed connect or send most likely means, or "".
func (n *Notifier) explain(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "the manager's queue stayed full: PID 1 is busy or has stopped reading"
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return ""
	}
	path := n.addr.family == familyUnix && n.addr.name[0] == '/'
	if trimmed := strings.TrimSpace(n.env.socket); trimmed != n.env.socket && errno == syscall.ENOENT {
		if _, err := os.Stat(trimmed); err == nil {
			return "the address has white space around it, and there is a socket at " + quote(trimmed) + ": was the variable set with a stray newline or space?"
		}
		return "the address has white space around it: was the variable set with a stray newline or space?"
	}
	switch errno {
	case syscall.ENOENT:
		return "no socket at this path: is the manager running?"
	case syscall.ENOTDIR:
		return "a component of the path is not a directory"
	case syscall.ECONNREFUSED:
		if !path {
			return "nothing is listening on this address"
		}
		fi, err := os.Stat(n.addr.name)
		switch {
		case err != nil:
			return "nothing is listening on this path"
		case fi.IsDir():
			return "this is a directory, not a socket"
		case fi.Mode()&os.ModeSocket == 0:
			return "this is a " + fileKind(fi.Mode()) + ", not a socket"
		}
		return "nothing is listening on this socket: a stale socket file, left by a manager that is gone"
	case syscall.EPROTOTYPE:
		return "the socket is not a datagram socket, which a notify socket is"
	case syscall.EACCES, syscall.EPERM:
		return "this process may not write to the socket: check its owner and mode"
	case syscall.EMSGSIZE:
		return "the message is larger than the socket can carry"
	case syscall.ENODEV, syscall.EAFNOSUPPORT, syscall.EADDRNOTAVAIL, syscall.ENETUNREACH:
		if n.addr.family == familyVsock {
			return "no vsock transport reaches this CID: is this a virtual machine with vsock?"
		}
	}
	return ""
}

// fileKind names the type of a file that is not a socket.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	case m.IsRegular():
		return "regular file"
	}
	return "file"
}

// quote quotes s for an error message, as Go source would: a trailing
// newline or a control character cannot break the message.
func quote(s string) string { return strconv.Quote(s) }

// quoteByte quotes c as a character literal: 'a', '\n', '\x00', '\xff'.
func quoteByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	const hex = "0123456789abcdef"
	return string([]byte{'\'', '\\', 'x', hex[c>>4], hex[c&0xf], '\''})
}

func itoa(i int) string { return strconv.Itoa(i) }
