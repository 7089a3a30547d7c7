package sdnotify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"
)

// DefaultTimeout bounds the sends that take no context. A send waits only
// when the manager's queue is full, which happens while PID 1 is busy (a
// long daemon-reload, a re-exec): losing READY=1 is worse than waiting for
// it to drain, and hanging forever is worse than both. After DefaultTimeout
// such a send gives up with an error that matches os.ErrDeadlineExceeded.
// The Context variants wait as long as their context allows instead.
const DefaultTimeout = 90 * time.Second

// ErrClosed is returned by sends on a Notifier after Close.
var ErrClosed = errors.New("sdnotify: notifier closed")

// The environment variables this package reads.
const (
	envSocket      = "NOTIFY_SOCKET"
	envWatchdogSec = "WATCHDOG_USEC"
	envWatchdogPID = "WATCHDOG_PID"
)

// A Notifier sends notifications to the service manager named by
// NOTIFY_SOCKET.
//
// A Notifier is safe for concurrent use by multiple goroutines, and each
// notification goes out whole, as one datagram. Once the socket is open, a
// notification that speaks for the sender goes out with one system call
// that waits for no other send: concurrent senders share the socket, and
// only Close excludes them. The rest (the first send, which opens the
// socket; a send to a full queue; one that speaks for another process or
// carries credentials) take the Notifier's lock in turn, and a send
// waiting for it, or for the queue, gives up when its context ends.
//
// The zero Notifier is ready to use: it reads NOTIFY_SOCKET (and the
// watchdog variables) on first use rather than at construction, and then
// behaves like one made by New. A nil *Notifier is valid too and is always
// disabled: its sends return nil and send nothing.
type Notifier struct {
	once sync.Once
	env  environment
	addr address
	bad  error // why env.socket cannot be used, if it cannot
	// sem is a one-slot lock guarding conn and buf. It is a channel so that
	// a send waiting for it can give up when its context ends.
	sem  chan struct{}
	conn atomic.Pointer[conn] // read without the lock only by Close
	buf  []byte
	// closed is set by Close, before it takes the lock.
	closed atomic.Bool
	// mode is modeOn or modeOff once setup has run, so that Notify on a
	// disabled Notifier returns at once, without a call.
	mode atomic.Uint32
}

const (
	modeOn  = 1
	modeOff = 2
)

// environment is what a Notifier read from the process environment.
type environment struct {
	socket, watchdogUsec, watchdogPID          string
	socketSet, watchdogUsecSet, watchdogPIDSet bool
}

func readEnv() environment {
	var e environment
	e.socket, e.socketSet = os.LookupEnv(envSocket)
	e.watchdogUsec, e.watchdogUsecSet = os.LookupEnv(envWatchdogSec)
	e.watchdogPID, e.watchdogPIDSet = os.LookupEnv(envWatchdogPID)
	return e
}

var _ io.Closer = (*Notifier)(nil)

// New returns a Notifier for the service manager named by NOTIFY_SOCKET,
// which it reads now, once. It never fails and does no I/O: the socket is
// opened by the first send (or by Open). If NOTIFY_SOCKET is unset, the
// Notifier is disabled: every send is a no-op that returns nil. If it is
// set to something libsystemd would refuse, every send returns an
// *AddressError and sends nothing.
//
// On systems other than Linux, New always returns a disabled Notifier.
func New() *Notifier {
	n := &Notifier{}
	n.once.Do(func() { n.setup(readEnv(), false) })
	return n
}

// NewUnsetenv is New, and then removes NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID from the process environment, so that child processes
// started later do not inherit them and cannot notify for the service
// (libsystemd's unset_environment). The Notifier keeps the values it read.
//
// Changing the environment races with goroutines that read it, os/exec
// starting a child among them: call NewUnsetenv once, early in main,
// before other goroutines start processes.
func NewUnsetenv() *Notifier {
	n := New()
	os.Unsetenv(envSocket)
	os.Unsetenv(envWatchdogSec)
	os.Unsetenv(envWatchdogPID)
	return n
}

// NewAddr returns a Notifier that sends to addr, given in NOTIFY_SOCKET
// syntax, rather than to the address in the environment: for tests, and
// for programs that relay notifications. Unlike New, it never returns a
// disabled Notifier: an empty addr is an error, reported by each send. It
// still reads the watchdog variables from the environment.
//
// On systems other than Linux, its sends return an error that matches
// errors.ErrUnsupported.
func NewAddr(addr string) *Notifier {
	n := &Notifier{}
	n.once.Do(func() {
		e := readEnv()
		e.socket, e.socketSet = addr, true
		n.setup(e, true)
	})
	return n
}

func (n *Notifier) init() {
	n.once.Do(func() { n.setup(readEnv(), false) })
}

func (n *Notifier) setup(e environment, explicit bool) {
	n.env = e
	n.sem = make(chan struct{}, 1)
	switch {
	case !e.socketSet:
	case !supported && !explicit:
		n.env.socketSet = false
	case !supported:
		n.bad = wrap("sdnotify: NOTIFY_SOCKET="+quote(e.socket), errors.ErrUnsupported)
	default:
		n.addr, n.bad = parseAddress(e.socket)
	}
	if n.env.socketSet {
		n.mode.Store(modeOn)
	} else {
		n.mode.Store(modeOff)
	}
}

// Enabled reports whether sends go anywhere: whether NOTIFY_SOCKET was
// set (or an address given to NewAddr). A program can skip work that only
// feeds notifications when it is false. Sends may still fail when it is
// true, for example with an *AddressError if the address is malformed.
func (n *Notifier) Enabled() bool {
	if n == nil {
		return false
	}
	n.init()
	return n.env.socketSet
}

// Addr returns the address the Notifier sends to, as given in
// NOTIFY_SOCKET or to NewAddr, or "" if it is disabled. It is "" too for
// an empty NOTIFY_SOCKET, which is set (Enabled reports true) but invalid:
// every send then returns an *AddressError.
func (n *Notifier) Addr() string {
	if !n.Enabled() {
		return ""
	}
	return n.env.socket
}

// Open opens the socket now rather than on the first send, for a daemon
// that will chroot, enter a namespace or drop privileges before its first
// notification. It returns nil, and does nothing, if the Notifier is
// disabled or the socket is already open. An address that cannot be
// reached is reported now; a later send tries again.
//
// The socket is connected to the manager's, so a later send needs no
// access to the socket's path. If the manager re-binds its socket, a send
// has to reconnect by path, which a chrooted process may not be able to
// do.
func (n *Notifier) Open() error {
	if !n.Enabled() {
		return nil
	}
	if err := n.lock(noContext); err != nil {
		return err
	}
	defer n.unlock()
	return n.openLocked()
}

// Close closes the socket. Sends after Close return ErrClosed, whether or
// not the Notifier is enabled; Close itself may be called more than once
// and returns nil after the first time. A send that another goroutine has
// in progress finishes first, except one waiting for a busy manager, which
// Close interrupts: it returns ErrClosed.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.init()
	if n.closed.Swap(true) {
		return nil
	}
	// Wake a send that is waiting for a busy manager, then wait for it.
	if c := n.conn.Load(); c != nil {
		c.interrupt()
	}
	n.sem <- struct{}{}
	defer n.unlock()
	c := n.conn.Swap(nil)
	if c == nil {
		return nil
	}
	if err := c.close(); err != nil {
		return wrap("sdnotify: close", err)
	}
	return nil
}

// lock takes the send lock, giving up when ctx ends. The caller must have
// called init.
//
// Here and below, a nil ctx (noContext) stands for the sends that take no
// context: it keeps the code that waits on one out of the programs that
// never use it (see contextWaits), and the lock's holder is bounded by
// DefaultTimeout anyway.
func (n *Notifier) lock(ctx context.Context) error {
	if ctx == nil {
		n.sem <- struct{}{}
	} else {
		if err := ctx.Err(); err != nil {
			return wrap("sdnotify", err)
		}
		select {
		case n.sem <- struct{}{}:
		default:
			if w := contextWaits.Load(); w != nil {
				if err := w.lock(n.sem, ctx); err != nil {
					return err
				}
			} else {
				n.sem <- struct{}{} // unreachable: see useContext
			}
		}
	}
	if n.closed.Load() {
		n.unlock()
		return ErrClosed
	}
	return nil
}

func (n *Notifier) unlock() { <-n.sem }

// Notify sends state as one notification, exactly as given: one or more
// KEY=VALUE assignments separated by newlines, with no newline added, as
// Python's sdnotify and sd_notify(3) send it. For example:
//
//	n.Notify("READY=1")
//	n.Notify("READY=1\nSTATUS=Serving on :8080")
//
// Notify refuses, with an error matching ErrInvalid and nothing sent, what
// systemd would drop whole: an empty state, a NUL byte, more than
// MaxStateLen bytes. It does not look inside the assignments; Send with the
// typed assignments checks each value.
//
// Notify waits at most DefaultTimeout for a busy manager; NotifyContext
// takes a context instead.
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	if n.mode.Load() == modeOff {
		return n.closedErr()
	}
	return n.notify(noContext, state)
}

// NotifyContext is Notify, giving up when ctx ends (or after
// DefaultTimeout, whichever comes first). An error from a context that
// ended matches ctx.Err() with errors.Is.
func (n *Notifier) NotifyContext(ctx context.Context, state string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	useContext()
	return n.notify(ctx, state)
}

// openConn returns the open socket, for a send that may go out without
// the lock, or nil: none is open, the Notifier is closing, or ctx ended.
func (n *Notifier) openConn(ctx context.Context) *conn {
	if c := n.conn.Load(); c != nil && !n.closed.Load() && (ctx == nil || ctx.Err() == nil) {
		return c
	}
	return nil
}

func (n *Notifier) notify(ctx context.Context, state string) error {
	if !n.Enabled() {
		return n.closedErr()
	}
	if err := checkState(state); err != nil {
		return err
	}
	b := unsafe.Slice(unsafe.StringData(state), len(state))
	// Once the socket is open, a plain notification needs no lock: it is
	// one write(2), which the kernel delivers whole, and which holds a
	// reference to the socket that Close waits for. Anything else (no
	// socket yet, a full queue, an error calling for a new socket) takes
	// the lock.
	if c := n.openConn(ctx); c != nil {
		if done, err := c.sendFast(b, nil); done {
			if err != nil {
				return n.sendError(ctx, err)
			}
			return nil
		}
	}
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.unlock()
	return n.sendLocked(ctx, b, nil, 0)
}

// closedErr is what a send on a disabled Notifier returns.
func (n *Notifier) closedErr() error {
	if n != nil && n.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Send sends the assignments as one notification, joined by newlines. It
// checks each one first: if any is invalid (see Assignment), Send returns
// its error and sends nothing. For example:
//
//	n.Send(sdnotify.Ready, sdnotify.Status("Serving on :8080"))
//
// Send waits at most DefaultTimeout for a busy manager; SendContext takes a
// context instead.
func (n *Notifier) Send(assignments ...Assignment) error {
	return n.sendMessage(noContext, assignments, nil, 0)
}

// SendContext is Send, giving up when ctx ends (or after DefaultTimeout,
// whichever comes first).
func (n *Notifier) SendContext(ctx context.Context, assignments ...Assignment) error {
	return n.SendMessage(ctx, Message{Assignments: assignments})
}

// A Message is a notification with everything it can carry.
type Message struct {
	// Assignments are the notification's content, sent as by Send.
	Assignments []Assignment

	// Files are passed to the manager with the notification (SCM_RIGHTS),
	// at most MaxFiles of them, for FDStore and MAINPIDFD. They must stay
	// open until the send returns; the caller still owns them afterwards
	// (the manager receives duplicates).
	Files []*os.File

	// PID, if not 0, is the process the notification speaks for
	// (sd_pid_notify): the message carries explicit credentials with that
	// PID. The kernel allows that only to privileged senders or for the
	// sender's own PID; when it refuses (EPERM, ESRCH), the notification
	// is sent again with the sender's own credentials, as libsystemd does.
	PID int
}

// SendMessage sends m as one notification, giving up when ctx ends (or
// after DefaultTimeout, whichever comes first). It checks m as Send does,
// and refuses more than MaxFiles files.
func (n *Notifier) SendMessage(ctx context.Context, m Message) error {
	if ctx == nil {
		ctx = context.Background()
	}
	useContext()
	return n.sendFiles(ctx, m)
}

// sendFiles is SendMessage with a nil ctx allowed. Only it reads the
// descriptors of files (see fileDescriptors), so that the programs that
// send none do not carry the code.
func (n *Notifier) sendFiles(ctx context.Context, m Message) error {
	if !n.Enabled() {
		return n.closedErr()
	}
	if len(m.Files) > MaxFiles {
		return invalid(itoa(len(m.Files)) + " files in one notification; the kernel takes at most " + itoa(MaxFiles))
	}
	var small [4]int32
	fds, err := fileDescriptors(small[:0], m.Files)
	if err != nil {
		return err
	}
	return n.sendMessage(ctx, m.Assignments, fds, m.PID)
}

// sendMessage sends the assignments with the descriptors fds and
// credentials for pid, if not 0.
func (n *Notifier) sendMessage(ctx context.Context, as []Assignment, fds []int32, pid int) error {
	if !n.Enabled() {
		return n.closedErr()
	}
	if pid < 0 {
		return invalid("PID " + itoa(pid) + " is negative")
	}
	// As in notify: once the socket is open, a notification that speaks for
	// ourselves goes out without the lock, encoded on the stack.
	if c := n.openConn(ctx); c != nil && pid == 0 {
		var stack [512]byte
		b, err := encode(stack[:0], as)
		if err != nil {
			return err
		}
		if done, err := c.sendFast(b, fds); done {
			if err != nil {
				return n.sendError(ctx, err)
			}
			return nil
		}
	}
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.unlock()
	b, err := encode(n.buf[:0], as)
	n.buf = b
	if err != nil {
		return err
	}
	return n.sendLocked(ctx, b, fds, pid)
}

// fileDescriptors appends the descriptors of files to fds. It reads them
// with SyscallConn's Control, which, unlike Fd, leaves a file's blocking
// mode alone.
func fileDescriptors(fds []int32, files []*os.File) ([]int32, error) {
	for i, f := range files {
		if f == nil {
			return nil, invalid("file " + itoa(i) + " is nil")
		}
		rc, err := f.SyscallConn()
		if err != nil {
			return nil, wrap("sdnotify: file "+itoa(i), err)
		}
		fds = append(fds, -1)
		if err := rc.Control(func(fd uintptr) { fds[i] = int32(fd) }); err != nil {
			return nil, wrap("sdnotify: file "+itoa(i), err)
		}
	}
	return fds, nil
}

// Ready sends READY=1: startup, or a reload, is finished.
func (n *Notifier) Ready() error { return n.Send(Ready) }

// Stopping sends STOPPING=1: the service is shutting down.
func (n *Notifier) Stopping() error { return n.Send(Stopping) }

// Reloading sends RELOADING=1 with MONOTONIC_USEC= in one notification:
// a reload has started. Send Ready when it is done. See the function
// Reloading.
func (n *Notifier) Reloading() error { return n.Send(Reloading()) }

// Status sends STATUS=text, repaired as the function Status describes.
func (n *Notifier) Status(text string) error { return n.Send(Status(text)) }

// Statusf sends a status formatted with fmt.Sprintf, repaired as the
// function Status describes. It formats straight into the Notifier's
// buffer, and not at all if the Notifier is disabled.
func (n *Notifier) Statusf(format string, args ...any) error {
	if !n.Enabled() {
		return n.closedErr()
	}
	if err := n.lock(noContext); err != nil {
		return err
	}
	defer n.unlock()
	const prefix = "STATUS="
	b := fmt.Appendf(append(n.buf[:0], prefix...), format, args...)
	if text := b[len(prefix):]; !utf8.Valid(text) || bytes.ContainsAny(text, "\n\r\x00") {
		b = append(b[:len(prefix)], repairStatus(string(text))...)
	}
	if len(b) > MaxStateLen {
		b = b[:runeBoundary(b, MaxStateLen)]
	}
	n.buf = b
	return n.sendLocked(noContext, b, nil, 0)
}

// Watchdog sends WATCHDOG=1, the watchdog keep-alive. See also
// Notifier.KeepAlive.
func (n *Notifier) Watchdog() error { return n.Send(Watchdog) }

// StoreFiles asks the manager to keep files in the service's file
// descriptor store under name (FDSTORE=1 and FDNAME=name), for the unit's
// next start, where they come back in LISTEN_FDS and LISTEN_FDNAMES. An
// empty name sends no FDNAME (systemd then names them "stored"). The unit
// needs FileDescriptorStoreMax= set, or the manager closes them. The
// caller still owns files and may close them once StoreFiles returns.
func (n *Notifier) StoreFiles(name string, files ...*os.File) error {
	if len(files) == 0 {
		return invalid("FDSTORE without files")
	}
	as := [2]Assignment{FDStore, FDName(name)}
	k := len(as)
	if name == "" {
		k = 1
	}
	return n.sendFiles(noContext, Message{Assignments: as[:k], Files: files})
}

// RemoveFiles asks the manager to close the files stored under name
// (FDSTOREREMOVE=1 and FDNAME=name).
func (n *Notifier) RemoveFiles(name string) error {
	return n.Send(FDStoreRemove, FDName(name))
}

// openLocked opens the socket if it is not open. It must be called with
// the lock held.
func (n *Notifier) openLocked() error {
	if n.bad != nil {
		return n.bad
	}
	if n.conn.Load() != nil {
		return nil
	}
	c, err := dial(&n.addr)
	if err != nil {
		return wrap("sdnotify: "+n.env.socket, err) // err names the system call
	}
	n.conn.Store(c)
	return nil
}

// sendLocked sends b, with the descriptors fds and credentials for pid if given, over the
// kept socket, opening it first if needed. If the manager went away or
// re-bound its socket, it reopens the socket once and tries again, as
// log/syslog does. It must be called with the lock held.
func (n *Notifier) sendLocked(ctx context.Context, b []byte, fds []int32, pid int) error {
	if err := n.openLocked(); err != nil {
		return err
	}
	err := n.conn.Load().send(ctx, b, fds, pid)
	if err != nil && reconnectable(err) && !n.closed.Load() {
		n.conn.Swap(nil).close()
		if err := n.openLocked(); err != nil {
			return err
		}
		err = n.conn.Load().send(ctx, b, fds, pid)
	}
	if err != nil {
		return n.sendError(ctx, err)
	}
	return nil
}

func (n *Notifier) sendError(ctx context.Context, err error) error {
	if n.closed.Load() {
		return ErrClosed
	}
	return wrap("sdnotify: send to "+n.env.socket, contextError(ctx, err))
}

// contextError returns ctx's error for an err caused by ctx ending: its
// cancellation, or its deadline, which the wait saw pass a moment before
// the context did.
func contextError(ctx context.Context, err error) error {
	if ctx == nil || !isDeadline(err) {
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

// isDeadline is errors.Is(err, os.ErrDeadlineExceeded) for the errors of
// this package, without errors.Is's reflection.
func isDeadline(err error) bool {
	for err != nil {
		if err == os.ErrDeadlineExceeded {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
