package journaltest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type socket struct {
	fd   int
	f    *os.File
	rc   syscall.RawConn
	path string
}

func listen(path string) (*socket, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	s := &socket{fd: fd, f: os.NewFile(uintptr(fd), path), path: path}
	if s.rc, err = s.f.SyscallConn(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *socket) interrupt() { s.f.SetReadDeadline(time.Unix(1, 0)) }

func (s *socket) close() error {
	err := s.f.Close()
	os.Remove(s.path)
	return err
}

func (s *Server) read() {
	defer close(s.done)
	oob := make([]byte, unix.CmsgSpace(4*253)+unix.CmsgSpace(unix.SizeofUcred))
	for {
		if gate := s.gate(); gate != nil {
			<-gate
			continue
		}
		s.sock.f.SetReadDeadline(time.Time{})
		var buf []byte
		var n, oobn int
		var rerr error
		err := s.sock.rc.Read(func(uintptr) bool {
			// Peek for the size, then read the datagram whole.
			n, _, _, _, rerr = unix.Recvmsg(s.sock.fd, nil, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
			if rerr == nil {
				buf = make([]byte, n)
				n, oobn, _, _, rerr = unix.Recvmsg(s.sock.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
			}
			return rerr != unix.EAGAIN && rerr != unix.EINTR
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue // Pause
		}
		if err == nil {
			err = rerr
		}
		if err != nil {
			s.stop(fmt.Errorf("journaltest: server stopped: %w", err))
			return
		}
		s.add(received(buf[:n], oob[:oobn]))
	}
}

// received decodes one datagram and its control messages.
func received(data, oob []byte) (*Entry, error) {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("malformed control data: %w", err)
	}
	uid := -1
	var fds []int
	for _, c := range cmsgs {
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(&c); err == nil {
				uid = int(cred.Uid)
			}
		case unix.SCM_RIGHTS:
			if got, err := unix.ParseUnixRights(&c); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	via := "datagram"
	switch {
	case len(fds) > 1:
		return nil, fmt.Errorf("%d files in one datagram: journald takes one", len(fds))
	case len(fds) == 1 && len(data) > 0:
		return nil, fmt.Errorf("a file and %d bytes of data in one datagram: journald ignores both", len(data))
	case len(fds) == 1:
		if data, via, err = readFile(fds[0], uid); err != nil {
			return nil, err
		}
	}
	e, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s of %d bytes: %w", via, len(data), err)
	}
	e.Via, e.UID = via, uid
	return e, nil
}

// readFile reads an entry passed as a file, with journald's checks.
func readFile(fd, uid int) ([]byte, string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, "", errors.New("the passed file is not a regular file: journald ignores it")
	}
	via := "file"
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	const want = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if err == nil && seals&want == want {
		via = "memfd"
	} else if uid != 0 {
		path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			return nil, "", err
		}
		ok := false
		for _, dir := range []string{"/dev/shm/", "/tmp/", "/var/tmp/"} {
			if rest, found := strings.CutPrefix(path, dir); found && !strings.Contains(rest, "/") {
				ok = true
			}
		}
		if !ok {
			return nil, "", fmt.Errorf("unsealed file %s from uid %d is outside /dev/shm, /tmp and /var/tmp: journald refuses it", path, uid)
		}
	}
	b := make([]byte, st.Size)
	for off := 0; off < len(b); {
		n, err := unix.Pread(fd, b[off:], int64(off))
		if err != nil {
			return nil, "", err
		}
		if n == 0 {
			return nil, "", fmt.Errorf("the passed file shrank to %d of %d bytes", off, len(b))
		}
		off += n
	}
	return b, via, nil
}
