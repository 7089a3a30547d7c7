// Package sdnotifytest provides a fake service manager for tests: a
// Listener that receives sd_notify notifications the way systemd does, in
// the spirit of net/http/httptest.
//
// A Listener binds a private datagram socket (a short path in a new 0700
// directory, or an abstract address) with SO_PASSCRED on, and reads every
// notification sent to it in the background. Each one becomes a Message
// with its raw bytes, its assignments, the sender's credentials and any
// files passed with it. Messages that systemd would drop (over 4096 bytes,
// a NUL byte before the last, a trailing backslash) and assignments it
// would ignore (a key it does not know, such as a misspelt "ready=1"; a
// value it cannot read, such as ERRNO=4096; a STATUS= that is not UTF-8)
// are reported as such, with the reason, rather than silently accepted.
// What systemd would conclude comes from the same model of its manager
// that sdnotify run uses (the newest version this module knows). Like the
// manager, it releases a barrier (BARRIER=1) by closing the pipe sent
// with it.
//
// Point the code under test at it with Setenv (for the current test) or
// Env (for an exec.Cmd), or make a Notifier for it with Notifier; then wait
// for what should arrive with WaitFor or Next, bounded by a context.
//
// A Listener can also start a daemon as the manager does, and keep its
// files. Start runs a command with NOTIFY_SOCKET set and with files passed
// as in socket activation (LISTEN_FDS, LISTEN_FDNAMES, and LISTEN_PID set
// to the new process's own). EnableFDStore makes the Listener keep what
// the daemon stores with FDSTORE=1, by systemd's rules, and Restart stops
// the daemon (SIGTERM) and starts the next one with the stored files, as
// systemctl restart does: a test can check that a daemon takes its
// listening socket over without refusing a connection.
//
// To set LISTEN_PID, which only the new process knows, Start runs the test
// binary itself once more: this package's init function, in that process,
// sets the variables and execs the command in its place. Any program that
// imports this package (a test binary, whose tests do not run then) serves
// so; it needs nothing of its own.
//
// The package works on Linux only; elsewhere Listen returns an error
// matching errors.ErrUnsupported and New skips the test.
package sdnotifytest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/internal/fdstore"
	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/notifysock"
)

// A Listener is a fake service manager's notification socket.
type Listener struct {
	// Addr is the listener's address in NOTIFY_SOCKET syntax: an absolute
	// path or an abstract name starting with '@'.
	Addr string

	sock *notifysock.Socket

	mu      sync.Mutex // guards the fields below
	msgs    []*Message
	next    int           // index in msgs of the message Next returns
	arrived chan struct{} // closed and replaced when a message arrives
	err     error         // why reading stopped, once it has
	holding bool          // keep barrier pipes open
	held    []*os.File    // barrier pipes kept open
	closed  bool
	paused  bool
	resumed chan struct{} // closed by Resume
	done    chan struct{} // closed when the reader returns

	store    *fdstore.Store // the service's fd store, if enabled
	syncSent uint64         // the last marker Sync sent
	syncSeen uint64         // the last marker received

	closeOnce sync.Once
	closeErr  error
}

// New starts a Listener on a socket in a new private directory and arranges
// for it to be closed when the test ends. It skips the test where
// listeners are not supported and fails it if the socket cannot be made.
func New(t testing.TB) *Listener {
	t.Helper()
	return newT(t, "")
}

// NewAbstract is New with a Listener on an abstract socket address, chosen
// by the kernel: no file, no path length limit, and gone with the socket.
func NewAbstract(t testing.TB) *Listener {
	t.Helper()
	return newT(t, "@")
}

func newT(t testing.TB, addr string) *Listener {
	t.Helper()
	l, err := Listen(addr)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("sdnotifytest: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Listen starts a Listener at addr: an absolute path or "@name" (an
// abstract name); "" for a socket named "notify" in a new private (0700)
// directory, which Close removes; "@" for an abstract address the kernel
// picks. The caller must Close it.
func Listen(addr string) (*Listener, error) {
	sock, err := notifysock.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("sdnotifytest: %w", err)
	}
	l := &Listener{Addr: sock.Addr, sock: sock, arrived: make(chan struct{}), done: make(chan struct{})}
	go l.read()
	return l, nil
}

// read receives notifications until the socket is closed.
func (l *Listener) read() {
	defer close(l.done)
	for {
		if gate := l.pauseGate(); gate != nil {
			<-gate
			continue
		}
		dg, err := l.sock.Receive()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue // Pause
		}
		if err != nil {
			l.stop(fmt.Errorf("listener stopped: %w", err))
			return
		}
		d := manager.Decode(dg.Input(), manager.Newest)
		m := fromDatagram(d)
		m.PID, m.UID, m.GID, m.Files, m.Received = dg.PID, dg.UID, dg.GID, dg.Files, dg.Received
		l.add(m, d)
	}
}

// Env returns "NOTIFY_SOCKET=" + l.Addr, for an exec.Cmd's Env.
func (l *Listener) Env() string { return "NOTIFY_SOCKET=" + l.Addr }

// Setenv sets NOTIFY_SOCKET to l.Addr for the rest of the test t (with
// t.Setenv, so not in parallel tests).
func (l *Listener) Setenv(t testing.TB) {
	t.Helper()
	t.Setenv("NOTIFY_SOCKET", l.Addr)
}

// Notifier returns a new Notifier that sends to l.
func (l *Listener) Notifier() *sdnotify.Notifier { return sdnotify.NewAddr(l.Addr) }

func (l *Listener) add(m *Message, d *manager.Datagram) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := isSync(m); ok {
		l.syncSeen = max(l.syncSeen, n)
		close(l.arrived)
		l.arrived = make(chan struct{})
		return
	}
	l.keep(m, d)
	if d.Barrier {
		// Release the barrier the way the manager does: close our copy
		// of the pipe (the sender closed its own).
		for _, f := range m.Files {
			if l.holding {
				l.held = append(l.held, f)
			} else {
				f.Close()
			}
		}
	}
	l.msgs = append(l.msgs, m)
	close(l.arrived)
	l.arrived = make(chan struct{})
}

func (l *Listener) stop(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
	close(l.arrived)
	l.arrived = make(chan struct{})
}

// Messages returns every message received so far, in order.
func (l *Listener) Messages() []*Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Message(nil), l.msgs...)
}

// Discard drops the messages that Next and WaitFor have returned or passed
// over: Messages no longer returns them, and Close no longer closes their
// files, which become the caller's. A Listener that runs for long (the one
// in sdnotify run does) calls it after each Next to keep its memory
// bounded.
func (l *Listener) Discard() {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := copy(l.msgs, l.msgs[l.next:])
	clear(l.msgs[n:]) // let the collector have them
	l.msgs, l.next = l.msgs[:n], 0
}

// Next returns the next message that Next (or WaitFor) has not returned
// yet, waiting for one to arrive until ctx ends.
func (l *Listener) Next(ctx context.Context) (*Message, error) {
	return l.wait(ctx, nil)
}

// WaitFor waits until a message holding assignment ("KEY=VALUE", for
// example "READY=1") arrives, and returns it. Messages are taken in order,
// as by Next: those before it are passed over. Only what systemd would act
// on counts: not a message it would drop, nor an assignment it would
// ignore. It returns an error when ctx ends first, or when the listener is
// closed; the error lists what arrived in the meantime.
func (l *Listener) WaitFor(ctx context.Context, assignment string) (*Message, error) {
	if !strings.Contains(assignment, "=") {
		return nil, fmt.Errorf("sdnotifytest: WaitFor(%q): want KEY=VALUE", assignment)
	}
	m, err := l.wait(ctx, func(m *Message) bool { return m.Has(assignment) })
	if err != nil {
		return nil, fmt.Errorf("sdnotifytest: waiting for %s: %w", assignment, err)
	}
	return m, nil
}

func (l *Listener) wait(ctx context.Context, match func(*Message) bool) (*Message, error) {
	var passed []string
	for {
		l.mu.Lock()
		for l.next < len(l.msgs) {
			m := l.msgs[l.next]
			l.next++
			if match == nil || match(m) {
				l.mu.Unlock()
				return m, nil
			}
			passed = append(passed, m.String())
		}
		arrived, err := l.arrived, l.err
		l.mu.Unlock()
		if err != nil {
			return nil, describe(err, passed)
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil, describe(ctx.Err(), passed)
		}
	}
}

func describe(err error, passed []string) error {
	if len(passed) == 0 {
		return fmt.Errorf("%w (nothing else arrived)", err)
	}
	return fmt.Errorf("%w (arrived meanwhile: %s)", err, strings.Join(passed, "; "))
}

// HoldBarriers makes l keep the pipes of later BARRIER=1 messages open, as
// a manager that never processes them would: the senders' barriers then
// wait until ReleaseBarriers, their context ends, or l is closed.
func (l *Listener) HoldBarriers() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holding = true
}

// ReleaseBarriers closes the barrier pipes held so far, and releases later
// barriers on receipt again.
func (l *Listener) ReleaseBarriers() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.held {
		f.Close()
	}
	l.held, l.holding = nil, false
}

// Pause stops reading, as a manager busy in a long daemon-reload does:
// notifications queue up in the socket until its queue is full, and then
// senders block. At most one notification that was already being read is
// still received. Resume reads again.
func (l *Listener) Pause() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused || l.closed {
		return
	}
	l.paused = true
	l.resumed = make(chan struct{})
	l.sock.Interrupt()
}

// Resume undoes Pause: the queued notifications are read, in order.
func (l *Listener) Resume() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.paused {
		return
	}
	l.paused = false
	close(l.resumed)
}

// pauseGate returns a channel to wait on while l is paused, or nil.
func (l *Listener) pauseGate() chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused && !l.closed {
		return l.resumed
	}
	return nil
}

// Close stops the listener and waits for its reader to return; then it
// closes the socket, every file received and the files of its fd store,
// and removes the socket's private directory. It does not stop processes
// that Start started. It may be called more than once.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Listener) close() error {
	l.mu.Lock()
	l.closed = true
	if l.paused {
		l.paused = false
		close(l.resumed)
	}
	l.mu.Unlock()
	err := l.sock.Close()
	<-l.done
	l.mu.Lock()
	for _, m := range l.msgs {
		for _, f := range m.Files {
			f.Close()
		}
	}
	l.held = nil
	if l.store != nil {
		l.store.Close()
	}
	l.mu.Unlock()
	return err
}
