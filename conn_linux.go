package sdnotify

import (
	"context"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const supported = true

// sendTimeout is DefaultTimeout; tests shorten it.
var sendTimeout = DefaultTimeout

// conn is an open notification socket. For AF_UNIX and vsock datagrams it
// is one socket connected to the manager's, kept for every send. For vsock
// stream and seqpacket addresses, which take one message per connection
// (the receiver reads to end of stream), it only remembers the address and
// socket type, and each send opens and closes its own connection, as
// libsystemd does.
//
// The socket is non-blocking. A send that finds it full waits in poll(2)
// with a timeout, together with an eventfd that Close, or a cancelled
// context, writes to. Package os's poller would do the same, but costs
// every program using this package some 20 KB.
type conn struct {
	fd int // the socket, or -1

	// mu is held for reading by the sends that run without the Notifier's
	// lock, and by interrupt; close holds it for writing, so that no
	// descriptor is closed (and its number reused) under them.
	mu sync.RWMutex
	// closing is set by interrupt and close: a wait gives up, and the
	// lock-free path is no longer taken.
	closing atomic.Bool
	// wake is 1 + the eventfd that interrupts a wait, or 0 until the first
	// wait creates it.
	wake atomic.Int32

	// sendCreds says that every message carries explicit credentials, as
	// libsystemd sends them when the real and effective IDs differ. It is
	// worked out once, when the socket is opened.
	sendCreds bool

	oob []byte // ancillary data, reused; guarded by the Notifier's lock

	perMessage bool          // connection per message (vsock stream, seqpacket)
	family     int           // for perMessage
	sotype     int           // for perMessage
	sa         unix.Sockaddr // for perMessage
}

// dial opens a socket to a and connects it. The socket is close-on-exec and
// non-blocking (a send that would block waits in poll(2), with a deadline).
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

// newSocket opens a non-blocking, close-on-exec socket.
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
	c := &conn{fd: fd}
	// A conn dropped unclosed has its descriptors closed by the collector,
	// as an *os.File has: a program that makes a Notifier for each
	// notification without closing it, as Python's
	// SystemdNotifier().notify("READY=1") does, leaks nothing. (A
	// finalizer rather than runtime.AddCleanup, whose generic code would
	// cost every program some 12 KB.)
	runtime.SetFinalizer(c, (*conn).close)
	return c, nil
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

// close closes the socket and the eventfd, once no lock-free send is using
// them. The caller holds the Notifier's lock, so no send is waiting.
func (c *conn) close() error {
	if c == nil {
		return nil
	}
	c.closing.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	runtime.SetFinalizer(c, nil)
	var err error
	if !c.perMessage && c.fd >= 0 {
		if err = unix.Close(c.fd); err != nil {
			err = os.NewSyscallError("close", err)
		}
		c.fd = -1
	}
	if w := c.wake.Swap(0); w != 0 {
		unix.Close(int(w - 1))
	}
	return err
}

// interrupt makes a send waiting for the socket give up with
// os.ErrDeadlineExceeded, and keeps later ones from waiting.
func (c *conn) interrupt() {
	c.closing.Store(true)
	c.poke()
}

// poke wakes the wait in progress, if any.
func (c *conn) poke() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if w := c.wake.Load(); w != 0 {
		one := [8]byte{1} // eventfd's uint64, native (little-endian) order
		unix.Write(int(w-1), one[:])
	}
}

// reconnectable reports whether a failed send may succeed on a new socket:
// the manager went away, or re-bound its socket at the same path.
func reconnectable(err error) bool {
	switch errnoOf(err) {
	case unix.ECONNREFUSED, unix.ENOTCONN, unix.ENOENT, unix.ECONNRESET, unix.EPIPE, unix.EDESTADDRREQ:
		return true
	}
	return false
}

// errnoOf returns the errno that err is or wraps, or 0. It unwraps by hand
// rather than with errors.As, which would bring reflection into every
// program that sends a notification.
func errnoOf(err error) syscall.Errno {
	for err != nil {
		switch e := err.(type) {
		case syscall.Errno:
			return e
		case *os.SyscallError:
			err = e.Err
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		default:
			return 0
		}
	}
	return 0
}

// sendFast sends b, with the descriptors fds (up to 8), with one write(2)
// or sendmsg(2), without the Notifier's lock, on a connected datagram
// socket that needs no credentials. The conn's read lock keeps the socket
// open meanwhile: only close takes it for writing. done is false if the
// caller must take the locked path instead: the socket is being closed,
// its queue is full, or the error may call for a new socket.
func (c *conn) sendFast(b []byte, fds []int32) (done bool, err error) {
	var buf [64]byte // unix.CmsgSpace(8 * 4) is 48
	if c.perMessage || c.sendCreds || unix.CmsgSpace(len(fds)*4) > len(buf) {
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
	for {
		if oob == nil {
			_, err = unix.Write(c.fd, b)
		} else {
			_, err = unix.SendmsgN(c.fd, b, oob, nil, unix.MSG_NOSIGNAL)
		}
		if err != unix.EINTR {
			break
		}
	}
	c.mu.RUnlock() // and c is alive until here, so fd is open
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

// send sends b as one message, with files and credentials speaking for pid
// if given. A send that would block waits for the socket until ctx ends or
// sendTimeout passes.
func (c *conn) send(ctx context.Context, b []byte, fds []int32, pid int) error {
	creds := c.sendCreds || pid != 0 && pid != os.Getpid()
	if len(fds) == 0 && !creds && !c.perMessage {
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
	oob := control(c.oob[:0], fds, creds, pid)
	c.oob = oob
	err := c.sendmsg(ctx, b, oob)
	if errno := errnoOf(err); creds && (errno == unix.EPERM || errno == unix.ESRCH) {
		// The kernel refused the credentials: speak for ourselves.
		err = c.sendmsg(ctx, b, control(c.oob[:0], fds, false, 0))
	}
	return err
}

// control appends to oob the ancillary data: the descriptors fds and, if
// creds, credentials with pid (ours if 0) and our real user and group IDs.
// It builds the SCM_RIGHTS message in place, as unix.UnixRights would, so
// that with a reused oob it allocates nothing.
func control(oob []byte, fds []int32, creds bool, pid int) []byte {
	if len(fds) > 0 {
		size := unix.CmsgSpace(len(fds) * 4)
		oob = slices.Grow(oob, size)[:size]
		clear(oob)
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level = unix.SOL_SOCKET
		h.Type = unix.SCM_RIGHTS
		h.SetLen(unix.CmsgLen(len(fds) * 4))
		data := oob[unix.CmsgLen(0):]
		for i, fd := range fds {
			*(*int32)(unsafe.Pointer(&data[4*i])) = fd
		}
	}
	if creds {
		if pid == 0 {
			pid = os.Getpid()
		}
		ucred := unix.Ucred{Pid: int32(pid), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
		oob = append(oob, unix.UnixCredentials(&ucred)...)
	}
	return oob
}

// sendmsg sends b with ancillary data oob, waiting while the socket's
// buffer is full.
func (c *conn) sendmsg(ctx context.Context, b, oob []byte) error {
	if c.perMessage {
		return c.sendConnection(ctx, b, oob)
	}
	// First without sendmsgWait's closure, which allocates.
	for {
		_, err := unix.SendmsgN(c.fd, b, oob, nil, unix.MSG_NOSIGNAL)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return c.sendmsgWait(ctx, b, oob)
		}
		return wrapSyscall("sendmsg", err)
	}
}

// sendmsgWait is sendmsg on a full socket: it waits for room.
func (c *conn) sendmsgWait(ctx context.Context, b, oob []byte) error {
	return c.bounded(ctx, func(deadline time.Time) error {
		return c.retry(c.fd, unix.POLLOUT, deadline, func() error {
			_, err := unix.SendmsgN(c.fd, b, oob, nil, unix.MSG_NOSIGNAL)
			return wrapSyscall("sendmsg", err)
		})
	})
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
	return c.bounded(ctx, func(deadline time.Time) error { return c.converse(s.fd, deadline, b, oob) })
}

// converse is sendConnection's exchange on the new socket fd.
func (c *conn) converse(fd int, deadline time.Time, b, oob []byte) error {
	if err := c.connect(fd, deadline); err != nil {
		return err
	}
	for len(b) > 0 || oob != nil {
		var n int
		if err := c.retry(fd, unix.POLLOUT, deadline, func() (err error) {
			n, err = unix.SendmsgN(fd, b, oob, nil, unix.MSG_NOSIGNAL)
			return wrapSyscall("sendmsg", err)
		}); err != nil {
			return err
		}
		if c.sotype != unix.SOCK_STREAM && n < len(b) {
			return os.NewSyscallError("sendmsg", unix.EIO)
		}
		b, oob = b[n:], nil
	}
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
		return os.NewSyscallError("shutdown", err)
	}
	var buf [1]byte
	var n int
	if err := c.retry(fd, unix.POLLIN, deadline, func() (err error) {
		n, err = unix.Read(fd, buf[:])
		return wrapSyscall("read", err)
	}); err != nil {
		return err
	}
	if n > 0 {
		return os.NewSyscallError("read", unix.EPROTO)
	}
	return nil
}

// retry calls op until it is neither interrupted nor would block, waiting
// for fd to be ready for events in between, and returns its error.
func (c *conn) retry(fd int, events int16, deadline time.Time, op func() error) error {
	for {
		err := op()
		switch errnoOf(err) {
		case unix.EINTR:
		case unix.EAGAIN:
			if err := c.waitFor(fd, events, deadline); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// connect connects the non-blocking stream socket fd to c.sa, waiting while
// the connection is in progress.
func (c *conn) connect(fd int, deadline time.Time) error {
	err := unix.Connect(fd, c.sa)
	if err != unix.EINPROGRESS && err != unix.EAGAIN && err != unix.EINTR {
		return wrapSyscall("connect", err)
	}
	if err := c.waitFor(fd, unix.POLLOUT, deadline); err != nil {
		return err
	}
	e, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && e != 0 {
		err = syscall.Errno(e)
	}
	return wrapSyscall("connect", err)
}

// bounded runs op, which waits with c.waitFor, with a deadline: the
// earlier of ctx's deadline and sendTimeout from now. A nil ctx means
// sendTimeout alone. A cancelled ctx, like Close, interrupts the wait.
// The caller holds the Notifier's lock: there is one wait at a time.
//
// It watches ctx with a goroutine of its own (see contextWaits) rather than
// context.AfterFunc, which would add package context's timer machinery to
// every program that sends a notification; this is the rare path of a
// full queue.
func (c *conn) bounded(ctx context.Context, op func(deadline time.Time) error) error {
	deadline := time.Now().Add(sendTimeout)
	var cancelled <-chan struct{}
	if ctx != nil {
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		cancelled = ctx.Done()
	}
	if c.wake.Load() == 0 {
		w, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return os.NewSyscallError("eventfd", err)
		}
		c.wake.Store(int32(w) + 1)
	}
	w := contextWaits.Load()
	if cancelled == nil || w == nil { // w is never nil here: see useContext
		err := op(deadline)
		c.drain()
		return err
	}
	finished, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		w.watch(cancelled, finished, c.poke)
	}()
	err := op(deadline)
	close(finished)
	<-watched
	c.drain() // a poke that came too late for op
	return err
}

// drain resets the eventfd after a wait, unless the conn is closing, in
// which case every later wait is to give up too.
func (c *conn) drain() {
	if w := c.wake.Load(); w != 0 && !c.closing.Load() {
		var buf [8]byte
		unix.Read(int(w-1), buf[:])
	}
}

// waitFor waits until fd is ready for events (POLLIN or POLLOUT), an error
// or hang-up is pending on it (which the caller's next call reports), the
// deadline passes or the wait is interrupted. The last two return
// os.ErrDeadlineExceeded. It must be called within bounded.
func (c *conn) waitFor(fd int, events int16, deadline time.Time) error {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: events}, {Fd: c.wake.Load() - 1, Events: unix.POLLIN}}
	for {
		if c.closing.Load() {
			return os.ErrDeadlineExceeded
		}
		left := time.Until(deadline)
		if left <= 0 {
			return os.ErrDeadlineExceeded
		}
		ms := (left + time.Millisecond - 1) / time.Millisecond
		if ms > math.MaxInt32 {
			ms = math.MaxInt32
		}
		_, err := unix.Poll(pfd, int(ms))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return os.NewSyscallError("poll", err)
		case pfd[1].Revents != 0:
			return os.ErrDeadlineExceeded
		case pfd[0].Revents != 0:
			return nil
		}
	}
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
