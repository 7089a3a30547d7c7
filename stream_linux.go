package sdnotify

import (
	"context"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// A streamConn sends each message over a vsock stream or seqpacket
// connection of its own, as libsystemd does: connect, write it all, shut
// down the writing side, and wait for the receiver to close.
type streamConn struct {
	family    int // unix.AF_VSOCK; tests use unix.AF_UNIX
	sotype    int // unix.SOCK_STREAM or unix.SOCK_SEQPACKET
	sa        unix.Sockaddr
	name      string
	sendCreds bool
	oob       []byte // guarded by the Notifier's lock
}

func (c *streamConn) send(ctx context.Context, w *waiter, b []byte, fds []int32, pid int) error {
	return withCredentials(&c.oob, fds, c.sendCreds, pid, func(oob []byte) error {
		f, err := newSocket(c.family, c.sotype, c.name)
		if err != nil {
			return err
		}
		defer f.Close()
		rc, err := f.SyscallConn()
		if err != nil {
			return err
		}
		return w.wait(ctx, f, func() error { return c.converse(rc, b, oob) })
	})
}

// converse is one message's exchange on the new socket rc.
func (c *streamConn) converse(rc syscall.RawConn, b, oob []byte) error {
	if err := connect(rc, c.sa); err != nil {
		return err
	}
	for len(b) > 0 || oob != nil {
		var n int
		var err error
		if werr := rc.Write(func(fd uintptr) bool {
			n, err = sendOnce(int(fd), b, oob)
			return err != unix.EAGAIN
		}); werr != nil {
			return werr
		}
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		if c.sotype != unix.SOCK_STREAM && n < len(b) {
			return os.NewSyscallError("sendmsg", unix.EIO)
		}
		b, oob = b[n:], nil
	}
	var err error
	rc.Control(func(fd uintptr) { err = unix.Shutdown(int(fd), unix.SHUT_WR) })
	if err != nil {
		return os.NewSyscallError("shutdown", err)
	}
	var buf [1]byte
	var n int
	if rerr := rc.Read(func(fd uintptr) bool {
		for {
			n, err = unix.Read(int(fd), buf[:])
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	}); rerr != nil {
		return rerr
	}
	switch {
	case err != nil:
		return os.NewSyscallError("read", err)
	case n > 0:
		return os.NewSyscallError("read", unix.EPROTO) // the receiver is to say nothing
	}
	return nil
}

// connect connects the non-blocking socket rc to sa, waiting in the
// runtime's poller while the connection is in progress.
func connect(rc syscall.RawConn, sa unix.Sockaddr) error {
	var err error
	rc.Control(func(fd uintptr) { err = unix.Connect(int(fd), sa) })
	switch err {
	case nil, unix.EISCONN:
		return nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
	default:
		return os.NewSyscallError("connect", err)
	}
	err = nil
	if werr := rc.Write(func(fd uintptr) bool {
		e, gerr := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case gerr != nil:
			err = gerr
			return true
		case e != 0:
			err = syscall.Errno(e)
			return true
		}
		_, perr := unix.Getpeername(int(fd))
		return perr == nil // connected; otherwise still in progress
	}); werr != nil {
		return werr
	}
	return syscallError("connect", err)
}

func (c *streamConn) close() error { return nil }
