package sdnotify

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A dgramConn is a datagram socket connected to the manager's and kept for
// every send. It is non-blocking and in the runtime's poller: a send that
// finds the manager's queue full parks its goroutine until there is room
// or the waiter's deadline passes.
type dgramConn struct {
	f  *os.File
	rc syscall.RawConn
	fd int // f's descriptor, for trySend

	// mu is held for reading by trySend, which writes to fd without the
	// Notifier's lock; close holds it for writing, so that fd is not
	// closed (and its number reused) under a send.
	mu      sync.RWMutex
	closing atomic.Bool

	// sendCreds says that every message carries explicit credentials, as
	// libsystemd sends them when the real and effective IDs differ.
	sendCreds bool
	oob       []byte // ancillary data, reused; guarded by the Notifier's lock
}

// dialDgram opens a datagram socket and connects it to sa, which sets the
// destination of its sends; connecting a datagram socket does not wait.
func dialDgram(family int, sa unix.Sockaddr, name string, sendCreds bool) (*dgramConn, error) {
	f, err := newSocket(family, unix.SOCK_DGRAM, name)
	if err != nil {
		return nil, err
	}
	c := &dgramConn{f: f, sendCreds: sendCreds}
	if c.rc, err = f.SyscallConn(); err != nil {
		f.Close()
		return nil, err
	}
	c.rc.Control(func(fd uintptr) { c.fd = int(fd) })
	if err := unix.Connect(c.fd, sa); err != nil {
		f.Close()
		return nil, os.NewSyscallError("connect", err)
	}
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

// close closes the socket once no trySend is using it.
func (c *dgramConn) close() error {
	c.closing.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.Close()
}
