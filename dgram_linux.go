package sdnotify

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A dgramConn is a datagram socket connected to the manager's and kept for
// every send. It is non-blocking. A send that finds the manager's queue
// full parks its goroutine in the runtime's poller until there is room or
// the waiter's deadline passes.
//
// The socket joins the poller only when a send first has to wait: a
// socket in the poller has the runtime woken (an edge-triggered EPOLLOUT)
// each time the manager drains its queue, which makes every send to a
// manager that keeps up some 30% slower than a plain write (see bench/).
type dgramConn struct {
	fd   int
	name string

	// mu is held for reading by trySend, which writes to fd without the
	// Notifier's lock; close holds it for writing, so that fd is not
	// closed (and its number reused) under a send.
	mu      sync.RWMutex
	closing atomic.Bool

	// f and rc are the socket in the runtime's poller, once a send had to
	// wait; until then cleanup closes fd if the conn is dropped unclosed.
	// Guarded by the Notifier's lock.
	f       *os.File
	rc      syscall.RawConn
	cleanup runtime.Cleanup

	// sendCreds says that every message carries explicit credentials, as
	// libsystemd sends them when the real and effective IDs differ.
	sendCreds bool
	oob       []byte // ancillary data, reused; guarded by the Notifier's lock
}

// dialDgram opens a datagram socket and connects it to sa, which sets the
// destination of its sends; connecting a datagram socket does not wait.
func dialDgram(family int, sa unix.Sockaddr, name string, sendCreds bool) (*dgramConn, error) {
	fd, err := newSocketFD(family, unix.SOCK_DGRAM)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("connect", err)
	}
	c := &dgramConn{fd: fd, name: name, sendCreds: sendCreds}
	// A Notifier dropped without Close, as Python's
	// SystemdNotifier().notify("READY=1") drops its notifier, leaks nothing.
	c.cleanup = runtime.AddCleanup(c, func(fd int) { unix.Close(fd) }, fd)
	return c, nil
}

// trySend sends b, with the descriptors fds (up to 4), with one system
// call and without the Notifier's lock. done is false if the caller must
// take the locked path instead: the socket is closing, the message needs
// credentials, the queue is full, or the error may call for a new socket.
func (c *dgramConn) trySend(b []byte, fds []int32) (done bool, err error) {
	var buf [32]byte // unix.CmsgSpace(4 * 4) is 32
	if c.sendCreds || unix.CmsgSpace(len(fds)*4) > len(buf) {
		return false, nil
	}
	var oob []byte
	if len(fds) > 0 {
		oob = control(buf[:0], fds, false, 0)
	}
	if !c.mu.TryRLock() {
		return false, nil // being closed
	}
	if c.closing.Load() {
		c.mu.RUnlock()
		return false, nil
	}
	_, err = sendOnce(c.fd, b, oob)
	c.mu.RUnlock()
	switch {
	case err == nil:
		return true, nil
	case err == unix.EAGAIN || reconnectable(err):
		return false, nil
	case oob == nil:
		return true, os.NewSyscallError("write", err)
	}
	return true, os.NewSyscallError("sendmsg", err)
}

// send sends b as one datagram. If the manager's queue is full, it waits
// for room in the runtime's poller, bounded by w.
func (c *dgramConn) send(ctx context.Context, w *waiter, b []byte, fds []int32, pid int) error {
	return withCredentials(&c.oob, fds, c.sendCreds, pid, func(oob []byte) error {
		_, err := sendOnce(c.fd, b, oob)
		if err != unix.EAGAIN {
			return syscallError("sendmsg", err)
		}
		if err := c.poll(); err != nil {
			return err
		}
		return w.wait(ctx, c.f, func() error {
			werr := c.rc.Write(func(fd uintptr) bool {
				_, err = sendOnce(int(fd), b, oob)
				return err != unix.EAGAIN
			})
			if werr != nil {
				return werr
			}
			return syscallError("sendmsg", err)
		})
	})
}

// poll puts the socket in the runtime's poller, if it is not yet: the
// *os.File made of it owns the descriptor from then on. The registration
// reports the socket's state as it is now, so a room that opened since
// the send that found none is not missed.
func (c *dgramConn) poll() error {
	if c.f != nil {
		return nil
	}
	f := os.NewFile(uintptr(c.fd), c.name) // non-blocking: it joins the poller
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	c.cleanup.Stop() // f closes the descriptor now
	c.f, c.rc = f, rc
	return nil
}

// close closes the socket once no trySend is using it.
func (c *dgramConn) close() error {
	c.closing.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		return c.f.Close()
	}
	c.cleanup.Stop()
	return syscallError("close", unix.Close(c.fd))
}
