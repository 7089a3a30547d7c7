package notifysock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// bufferLen is the largest datagram read whole; of a larger one, the
// size is reported.
const bufferLen = 1 << 16

// A Socket is a bound notification socket.
type Socket struct {
	// Addr is the socket's address in NOTIFY_SOCKET syntax: an absolute
	// path or an abstract name starting with '@'.
	Addr string

	fd      int
	f       *os.File // owns fd; in the runtime poller, for Interrupt and Close
	rc      syscall.RawConn
	path    string // the socket file to remove on Close, if any
	tempDir string // the private directory to remove on Close, if any
	buf     []byte
	oob     []byte
}

// Listen binds a notification socket at addr: an absolute path, "@name"
// (an abstract name), "@" (an abstract name the kernel picks), or "" (a
// socket named "notify" in a new private directory, 0700, which Close
// removes).
func Listen(addr string) (*Socket, error) {
	s := &Socket{fd: -1}
	if addr == "" {
		dir, err := os.MkdirTemp("", "sdnotify")
		if err != nil {
			return nil, err
		}
		s.tempDir, addr = dir, dir+"/notify"
	}
	if err := s.bind(addr); err != nil {
		s.Close()
		return nil, fmt.Errorf("listen on %q: %w", addr, err)
	}
	s.buf = make([]byte, bufferLen)
	s.oob = make([]byte, unix.CmsgSpace(4*proto.MaxFiles)+unix.CmsgSpace(unix.SizeofUcred))
	return s, nil
}

func (s *Socket) bind(addr string) error {
	if addr == "" || addr[0] != '/' && addr[0] != '@' {
		return errors.New("want an absolute path or @name")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	s.fd, s.f = fd, os.NewFile(uintptr(fd), addr)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	name := addr
	if addr == "@" {
		name = "" // autobind: the kernel picks an abstract name
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if addr == "@" {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return os.NewSyscallError("getsockname", err)
		}
		addr = sa.(*unix.SockaddrUnix).Name
	}
	s.Addr = addr
	if addr[0] == '/' {
		s.path = addr
	}
	s.rc, err = s.f.SyscallConn()
	return err
}

// Receive waits for the next datagram. After Interrupt, it returns an
// error matching os.ErrDeadlineExceeded; after Close, one matching
// os.ErrClosed.
func (s *Socket) Receive() (*Datagram, error) {
	s.f.SetReadDeadline(time.Time{})
	var n, oobn, flags int
	var rerr error
	err := s.rc.Read(func(uintptr) bool {
		n, oobn, flags, _, rerr = unix.Recvmsg(s.fd, s.buf, s.oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_TRUNC)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	d := &Datagram{Data: append([]byte(nil), s.buf[:min(n, len(s.buf))]...), Received: time.Now()}
	if n > len(s.buf) || flags&unix.MSG_TRUNC != 0 {
		d.Size = n
	}
	cmsgs, err := unix.ParseSocketControlMessage(s.oob[:oobn])
	if err != nil || flags&unix.MSG_CTRUNC != 0 {
		d.ControlTruncated = true
	}
	for _, c := range cmsgs {
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(&c); err == nil {
				d.PID, d.UID, d.GID = int(cred.Pid), int(cred.Uid), int(cred.Gid)
			}
		case unix.SCM_RIGHTS:
			fds, _ := unix.ParseUnixRights(&c)
			for _, fd := range fds {
				d.Files = append(d.Files, os.NewFile(uintptr(fd), fmt.Sprintf("fd %d from pid %d", fd, d.PID)))
			}
		}
	}
	return d, nil
}

// Interrupt wakes a Receive under way, which fails with
// os.ErrDeadlineExceeded; a Receive that starts later waits as usual.
func (s *Socket) Interrupt() { s.f.SetReadDeadline(time.Unix(1, 0)) }

// Close closes the socket, wakes a Receive, and removes the socket file
// and the private directory Listen made, if any.
func (s *Socket) Close() error {
	var err error
	if s.f != nil {
		err = s.f.Close()
	}
	if s.path != "" {
		if rerr := os.Remove(s.path); err == nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	if s.tempDir != "" {
		if rerr := os.RemoveAll(s.tempDir); err == nil {
			err = rerr
		}
	}
	return err
}

// DupFiles returns new descriptors for files (close-on-exec, from 3 on),
// leaving out any that cannot be duplicated.
func DupFiles(files []*os.File) []*os.File {
	var dups []*os.File
	for _, f := range files {
		rc, err := f.SyscallConn()
		if err != nil {
			continue
		}
		fd := -1
		rc.Control(func(u uintptr) { fd, err = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 3) })
		if err == nil && fd >= 0 {
			dups = append(dups, os.NewFile(uintptr(fd), f.Name()))
		}
	}
	return dups
}
