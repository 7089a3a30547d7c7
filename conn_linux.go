package sdnotify

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const supported = true

// sendTimeout is DefaultTimeout; tests shorten it.
var sendTimeout = DefaultTimeout

// longAgo is a deadline in the past: setting it wakes a waiting send.
var longAgo = time.Unix(1, 0)

// conn is an open notification socket. For AF_UNIX and vsock datagrams it
// is one socket connected to the manager's, kept for every send. For vsock
// stream and seqpacket addresses, which take one message per connection
// (the receiver reads to end of stream), it only remembers the address and
// socket type, and each send opens and closes its own connection, as
// libsystemd does.
type conn struct {
	fd int      // the socket, owned by f
	f  *os.File // the socket, registered with the runtime poller for bounded waits
	rc syscall.RawConn

	// sendCreds says that every message carries explicit credentials, as
	// libsystemd sends them when the real and effective IDs differ. It is
	// worked out once, when the socket is opened.
	sendCreds bool

	perMessage bool          // connection per message (vsock stream, seqpacket)
	family     int           // for perMessage
	sotype     int           // for perMessage
	sa         unix.Sockaddr // for perMessage
}

// dial opens a socket to a and connects it. The socket is close-on-exec and
// non-blocking (a send that would block waits in the runtime poller, with a
// deadline).
func dial(a *address) (*conn, error) {
	ids := os.Getuid() != os.Geteuid() || os.Getgid() != os.Getegid()
	if a.family == familyUnix {
		c, err := connectNew(unix.AF_UNIX, unix.SOCK_DGRAM, &unix.SockaddrUnix{Name: a.name})
		if err != nil {
			return nil, err
		}
		c.sendCreds = ids
		return c, nil
	}
	sa := &unix.SockaddrVM{CID: a.cid, Port: a.port}
	sotype, err := vsockType(a.typ)
	if err != nil {
		return nil, err
	}
	if sotype == unix.SOCK_DGRAM {
		c, err := connectNew(unix.AF_VSOCK, sotype, sa)
		if err != nil {
			return nil, err
		}
		c.sendCreds = ids
		return c, nil
	}
	return &conn{perMessage: true, family: unix.AF_VSOCK, sotype: sotype, sa: sa, sendCreds: ids, fd: -1}, nil
}

// vsockType picks the socket type for a vsock address. "vsock:" takes the
// first of datagram, seqpacket and stream that the kernel supports, as
// libsystemd does (QEMU, for one, has no vsock datagrams).
func vsockType(t sockType) (int, error) {
	switch t {
	case typeDgram:
		return unix.SOCK_DGRAM, nil
	case typeSeqpacket:
		return unix.SOCK_SEQPACKET, nil
	case typeStream:
		return unix.SOCK_STREAM, nil
	}
	var err error
	for _, sotype := range []int{unix.SOCK_DGRAM, unix.SOCK_SEQPACKET, unix.SOCK_STREAM} {
		var fd int
		fd, err = unix.Socket(unix.AF_VSOCK, sotype|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			return sotype, nil
		}
		if !notSupported(err) && !(err == unix.ENODEV && sotype == unix.SOCK_DGRAM) {
			break
		}
	}
	return 0, os.NewSyscallError("socket", err)
}

func notSupported(err error) bool {
	switch err {
	case unix.EOPNOTSUPP, unix.ENOTTY, unix.ENOSYS, unix.EAFNOSUPPORT, unix.EPFNOSUPPORT,
		unix.EPROTONOSUPPORT, unix.ESOCKTNOSUPPORT, unix.ENOPROTOOPT:
		return true
	}
	return false
}

// newSocket opens a non-blocking, close-on-exec socket and wraps it in an
// *os.File, which puts it in the runtime poller.
func newSocket(family, sotype int) (*conn, error) {
	fd, err := unix.Socket(family, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if family == unix.AF_VSOCK {
		if err := bindPrivilegedPort(fd); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	f := os.NewFile(uintptr(fd), "sdnotify")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &conn{fd: fd, f: f, rc: rc}, nil
}

// bindPrivilegedPort binds a vsock socket to the highest free port below
// 1024, so that the receiver can tell that a privileged process sent the
// message, as libsystemd does. Lacking the privilege is not an error.
func bindPrivilegedPort(fd int) error {
	for port := uint32(1023); port > 0; port-- {
		err := unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port})
		switch err {
		case nil, unix.EPERM, unix.EACCES:
			return nil
		case unix.EADDRINUSE:
			continue
		}
		return os.NewSyscallError("bind", err)
	}
	return nil
}

// connectNew opens a datagram socket and connects it to sa, which sets the
// destination of its sends; it does not wait.
func connectNew(family, sotype int, sa unix.Sockaddr) (*conn, error) {
	c, err := newSocket(family, sotype)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(c.fd, sa); err != nil {
		c.close()
		return nil, os.NewSyscallError("connect", err)
	}
	return c, nil
}

func (c *conn) close() error {
	if c == nil || c.f == nil {
		return nil
	}
	return c.f.Close()
}

// interrupt wakes a send waiting in the poller; it then fails with
// os.ErrDeadlineExceeded.
func (c *conn) interrupt() {
	if c.f != nil {
		c.f.SetDeadline(longAgo)
	}
}

// reconnectable reports whether a failed send may succeed on a new socket:
// the manager went away, or re-bound its socket at the same path.
func reconnectable(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case unix.ECONNREFUSED, unix.ENOTCONN, unix.ENOENT, unix.ECONNRESET, unix.EPIPE, unix.EDESTADDRREQ:
		return true
	}
	return false
}

// send sends b as one message, with files and credentials speaking for pid
// if given. A send that would block waits for the socket in the poller
// until ctx ends or sendTimeout passes.
func (c *conn) send(ctx context.Context, b []byte, files []*os.File, pid int) error {
	creds := c.sendCreds || pid != 0 && pid != os.Getpid()
	if len(files) == 0 && !creds && !c.perMessage {
		// The path taken by nearly every notification: one write(2), with
		// nothing that allocates unless it fails.
		for {
			_, err := unix.Write(c.fd, b)
			switch err {
			case nil:
				return nil
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return c.sendmsg(ctx, b, nil)
			}
			return os.NewSyscallError("write", err)
		}
	}
	oob, err := control(files, creds, pid)
	if err != nil {
		return err
	}
	err = c.sendmsg(ctx, b, oob)
	if creds && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.ESRCH)) {
		// The kernel refused the credentials: speak for ourselves.
		if oob, err = control(files, false, 0); err != nil {
			return err
		}
		err = c.sendmsg(ctx, b, oob)
	}
	return err
}

// control builds the ancillary data: the files' descriptors and, if creds,
// credentials with pid (ours if 0) and our real user and group IDs.
func control(files []*os.File, creds bool, pid int) ([]byte, error) {
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			rc, err := f.SyscallConn()
			if err != nil {
				return nil, err
			}
			// Control, unlike Fd, leaves the file's blocking mode alone.
			if err := rc.Control(func(fd uintptr) { fds[i] = int(fd) }); err != nil {
				return nil, err
			}
		}
		oob = unix.UnixRights(fds...)
	}
	if creds {
		if pid == 0 {
			pid = os.Getpid()
		}
		ucred := unix.Ucred{Pid: int32(pid), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
		oob = append(oob, unix.UnixCredentials(&ucred)...)
	}
	return oob, nil
}

// sendmsg sends b with ancillary data oob, waiting in the poller while the
// socket's buffer is full.
func (c *conn) sendmsg(ctx context.Context, b, oob []byte) error {
	if c.perMessage {
		return c.sendConnection(ctx, b, oob)
	}
	var err error
	try := func(uintptr) bool {
		_, err = unix.SendmsgN(c.fd, b, oob, nil, unix.MSG_NOSIGNAL)
		return err != unix.EAGAIN && err != unix.EINTR
	}
	if !try(0) {
		if werr := c.bounded(ctx, func() error { return c.rc.Write(try) }); werr != nil {
			return werr
		}
	}
	return wrapSyscall("sendmsg", err)
}

// sendConnection sends one message over a connection of its own: connect,
// write it all, shut down the writing side, and wait for the receiver to
// close, as libsystemd does for vsock streams and seqpackets.
func (c *conn) sendConnection(ctx context.Context, b, oob []byte) error {
	s, err := newSocket(c.family, c.sotype)
	if err != nil {
		return err
	}
	defer s.close()
	return s.bounded(ctx, func() error { return s.converse(c.sa, c.sotype, b, oob) })
}

// converse is sendConnection's exchange on the new socket s.
func (s *conn) converse(sa unix.Sockaddr, sotype int, b, oob []byte) error {
	if err := s.connect(sa); err != nil {
		return err
	}
	for len(b) > 0 || oob != nil {
		var n int
		var serr error
		if err := s.rc.Write(func(uintptr) bool {
			n, serr = unix.SendmsgN(s.fd, b, oob, nil, unix.MSG_NOSIGNAL)
			return serr != unix.EAGAIN && serr != unix.EINTR
		}); err != nil {
			return err
		}
		if serr != nil {
			return wrapSyscall("sendmsg", serr)
		}
		if sotype != unix.SOCK_STREAM && n < len(b) {
			return os.NewSyscallError("sendmsg", unix.EIO)
		}
		b, oob = b[n:], nil
	}
	if err := unix.Shutdown(s.fd, unix.SHUT_WR); err != nil {
		return os.NewSyscallError("shutdown", err)
	}
	var buf [1]byte
	var n int
	var rerr error
	if err := s.rc.Read(func(uintptr) bool {
		n, rerr = unix.Read(s.fd, buf[:])
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	}); err != nil {
		return err
	}
	if rerr != nil {
		return os.NewSyscallError("read", rerr)
	}
	if n > 0 {
		return os.NewSyscallError("read", unix.EPROTO)
	}
	return nil
}

// connect connects a non-blocking stream socket, waiting in the poller
// while the connection is in progress.
func (c *conn) connect(sa unix.Sockaddr) error {
	err := unix.Connect(c.fd, sa)
	if err != unix.EINPROGRESS && err != unix.EAGAIN && err != unix.EINTR {
		return wrapSyscall("connect", err)
	}
	first := true
	werr := c.rc.Write(func(fd uintptr) bool {
		if first {
			first = false
			return false // wait for writability
		}
		var e int
		e, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && e != 0 {
			err = syscall.Errno(e)
		}
		return true
	})
	if werr != nil {
		return werr
	}
	return wrapSyscall("connect", err)
}

// bounded runs op, which waits in the poller, with the socket's deadline
// set to the earlier of ctx's deadline and sendTimeout from now, and moved
// to the past when ctx is cancelled.
func (c *conn) bounded(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(sendTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.f.SetDeadline(deadline); err != nil {
		return err
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.f.SetDeadline(longAgo)
		close(done)
	})
	err := op()
	if !stop() {
		<-done
	}
	c.f.SetDeadline(time.Time{})
	return err
}

func wrapSyscall(name string, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		return os.NewSyscallError(name, errno)
	}
	return err
}

func monotonicUsec() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// CLOCK_MONOTONIC cannot fail on Linux; should it, 0 is a value the
		// manager refuses rather than a wrong time it would accept.
		return 0
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}
