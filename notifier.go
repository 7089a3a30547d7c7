package sdnotify

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds every send. A send waits only when the manager's
// queue is full, which happens while PID 1 is busy (a long daemon-reload,
// a re-exec): losing READY=1 is worse than waiting for it to drain, and
// hanging forever is worse than both. After DefaultTimeout a send gives up
// with an error that matches os.ErrDeadlineExceeded; SendContext gives up
// earlier if its context ends first.
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
// notification that carries no credentials goes out with one system call
// that waits for no other send. The rest (the first send, which opens the
// socket; a send to a full queue; one with credentials) take the
// Notifier's lock in turn, and a send waiting for it, or for the queue,
// gives up when its context ends.
//
// The zero Notifier is ready to use: it reads NOTIFY_SOCKET (and the
// watchdog variables) on first use rather than at construction, and then
// behaves like one made by New. A nil *Notifier is valid too and is always
// disabled: its sends return nil and send nothing.
type Notifier struct {
	once   sync.Once
	mode   atomic.Uint32 // modeOn or modeOff once setup has run
	env    environment
	source string // where the address came from: "NOTIFY_SOCKET" or "NewAddr"
	addr   address
	bad    error // why the address cannot be used, if it cannot

	// sem is a one-slot lock guarding t and buf. It is a channel so that a
	// send waiting for it can give up when its context ends.
	sem    chan struct{}
	t      transport                 // the open transport, or nil
	fast   atomic.Pointer[dgramConn] // t, if it is a kept datagram socket
	buf    []byte
	closed atomic.Bool // set by Close before it takes the lock
	wait   waiter      // the send waiting in the poller, for Close
}

const (
	modeOn  = 1
	modeOff = 2
)

// A transport carries notifications to the manager: a kept datagram
// socket (dgramConn), or a connection per message (streamConn) for vsock
// streams and seqpackets. Its methods are called with the Notifier's lock
// held.
type transport interface {
	// send sends b as one message with the descriptors fds and, if pid is
	// not 0, credentials naming pid. A send that would block waits in the
	// runtime's poller, through w.
	send(ctx context.Context, w *waiter, b []byte, fds []int32, pid int) error
	close() error
}

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
	n.init()
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
		n.setup(e, "NewAddr")
	})
	return n
}

func (n *Notifier) init() {
	n.once.Do(func() { n.setup(readEnv(), envSocket) })
}

func (n *Notifier) setup(e environment, source string) {
	n.env, n.source = e, source
	n.sem = make(chan struct{}, 1)
	switch {
	case !e.socketSet:
	case !supported && source == envSocket:
		n.env.socketSet = false
	case !supported:
		n.bad = wrap("sdnotify: "+n.where(), errors.ErrUnsupported)
	default:
		n.addr, n.bad = parseAddress(e.socket, source)
	}
	if n.env.socketSet {
		n.mode.Store(modeOn)
	} else {
		n.mode.Store(modeOff)
	}
}

// where names the address and where it came from, for error messages:
// NOTIFY_SOCKET="/run/systemd/notify" or NewAddr("@test").
func (n *Notifier) where() string {
	if n.source == envSocket {
		return envSocket + "=" + quote(n.env.socket)
	}
	return n.source + "(" + quote(n.env.socket) + ")"
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
	if err := n.lock(context.Background()); err != nil {
		return err
	}
	defer n.unlock()
	_, err := n.openLocked()
	return err
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
	n.wait.interrupt()
	n.sem <- struct{}{}
	defer n.unlock()
	if err := n.dropLocked(); err != nil {
		return wrap("sdnotify: close", err)
	}
	return nil
}

// lock takes the send lock, giving up when ctx ends.
func (n *Notifier) lock(ctx context.Context) error {
	select {
	case n.sem <- struct{}{}:
	default:
		select {
		case n.sem <- struct{}{}:
		case <-ctx.Done():
			return wrap("sdnotify: waiting for another send", ctx.Err())
		}
	}
	if n.closed.Load() {
		n.unlock()
		return ErrClosed
	}
	return nil
}

func (n *Notifier) unlock() { <-n.sem }

// closedErr is what a send on a disabled Notifier returns.
func (n *Notifier) closedErr() error {
	if n != nil && n.closed.Load() {
		return ErrClosed
	}
	return nil
}
