package sdnotifytest

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socket is the listener's datagram socket.
type socket struct {
	fd   int
	f    *os.File // owns fd; in the runtime poller, for Pause and Close
	rc   syscall.RawConn
	path string // the socket file to remove on close, if any
}

func listen(addr string) (*socket, string, error) {
	if addr == "" || addr[0] != '/' && addr[0] != '@' {
		return nil, "", errors.New("want an absolute path or @name")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, "", os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fd)
		return nil, "", os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	name := addr
	if addr == "@" {
		name = "" // autobind: the kernel picks an abstract name
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		unix.Close(fd)
		return nil, "", os.NewSyscallError("bind", err)
	}
	if addr == "@" {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			unix.Close(fd)
			return nil, "", os.NewSyscallError("getsockname", err)
		}
		addr = sa.(*unix.SockaddrUnix).Name
	}
	s := &socket{fd: fd, f: os.NewFile(uintptr(fd), addr)}
	if addr[0] == '/' {
		s.path = addr
	}
	if s.rc, err = s.f.SyscallConn(); err != nil {
		s.close()
		return nil, "", err
	}
	return s, addr, nil
}

// interrupt wakes the reader: its receive fails with os.ErrDeadlineExceeded.
func (s *socket) interrupt() { s.f.SetReadDeadline(time.Unix(1, 0)) }

func (s *socket) close() error {
	err := s.f.Close()
	if s.path != "" {
		if rerr := os.Remove(s.path); err == nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	return err
}

// The largest datagram read whole; a larger one is reported with its size.
const readBufLen = 1 << 16

func (l *Listener) read() {
	defer close(l.done)
	buf := make([]byte, readBufLen)
	oob := make([]byte, unix.CmsgSpace(4*sdnotifyMaxFiles)+unix.CmsgSpace(unix.SizeofUcred))
	for {
		if gate := l.pauseGate(); gate != nil {
			<-gate
			continue
		}
		l.sock.f.SetReadDeadline(time.Time{})
		var n, oobn, flags int
		var rerr error
		err := l.sock.rc.Read(func(uintptr) bool {
			n, oobn, flags, _, rerr = unix.Recvmsg(l.sock.fd, buf, oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_TRUNC)
			return rerr != unix.EAGAIN && rerr != unix.EINTR
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue // Pause
		}
		if err == nil {
			err = rerr
		}
		if err != nil {
			l.stop(fmt.Errorf("listener stopped: %w", err))
			return
		}
		l.add(received(buf, n, oob[:oobn], flags))
	}
}

// sdnotifyMaxFiles is the kernel's SCM_MAX_FD.
const sdnotifyMaxFiles = 253

// received makes a Message of a datagram of n bytes (read into buf, up to
// its length) and its ancillary data.
func received(buf []byte, n int, oob []byte, flags int) *Message {
	data := append([]byte(nil), buf[:min(n, len(buf))]...)
	m := Parse(data)
	m.Received = time.Now()
	if flags&unix.MSG_TRUNC != 0 {
		m.Assignments, m.Ignored = nil, nil
		m.Err = &droppedError{fmt.Sprintf("%d bytes; the manager reads at most %d", n, MaxMessageLen)}
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil && m.Err == nil {
		m.Err = &droppedError{fmt.Sprintf("malformed control data: %v", err)}
	}
	for _, c := range cmsgs {
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(&c); err == nil {
				m.PID, m.UID, m.GID = int(cred.Pid), int(cred.Uid), int(cred.Gid)
			}
		case unix.SCM_RIGHTS:
			fds, _ := unix.ParseUnixRights(&c)
			for _, fd := range fds {
				m.Files = append(m.Files, os.NewFile(uintptr(fd), fmt.Sprintf("fd %d from pid %d", fd, m.PID)))
			}
		}
	}
	if flags&unix.MSG_CTRUNC != 0 && m.Err == nil {
		m.Assignments, m.Ignored = nil, nil
		m.Err = &droppedError{"control data truncated: more files than the manager accepts"}
	}
	if m.Err == nil && m.Has("BARRIER=1") && (len(m.Files) != 1 || len(m.Assignments) != 1) {
		m.Err = &droppedError{fmt.Sprintf("BARRIER=1 must travel alone with exactly one file; got %d assignments and %d files", len(m.Assignments), len(m.Files))}
	}
	return m
}

// dupFiles returns new descriptors for files (close-on-exec), for the fd
// store to own; a file that cannot be duplicated is left out, as a file
// the manager could not receive.
func dupFiles(files []*os.File) []*os.File {
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
