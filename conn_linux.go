package sdnotify

import (
	"errors"
	"os"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const supported = true

// dial opens a transport to a: a connected datagram socket for AF_UNIX and
// vsock datagrams, or, for vsock streams and seqpackets, which take one
// message per connection (the receiver reads to end of stream), a
// streamConn that connects for each message, as libsystemd does.
func dial(a *address) (transport, error) {
	creds := os.Getuid() != os.Geteuid() || os.Getgid() != os.Getegid()
	if a.family == familyUnix {
		return dialDgram(unix.AF_UNIX, &unix.SockaddrUnix{Name: a.name}, a.name, creds)
	}
	sa := &unix.SockaddrVM{CID: a.cid, Port: a.port}
	sotype, err := vsockType(a.typ)
	if err != nil {
		return nil, err
	}
	if sotype == unix.SOCK_DGRAM {
		return dialDgram(unix.AF_VSOCK, sa, a.String(), creds)
	}
	return &streamConn{family: unix.AF_VSOCK, sotype: sotype, sa: sa, name: a.String(), sendCreds: creds}, nil
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

// newSocketFD opens a non-blocking, close-on-exec socket, bound to a
// privileged port for vsock.
func newSocketFD(family, sotype int) (int, error) {
	fd, err := unix.Socket(family, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if family == unix.AF_VSOCK {
		if err := bindPrivilegedPort(fd); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// newSocket is newSocketFD as an *os.File, which puts it in the runtime's
// poller (and closes it if it is dropped unclosed).
func newSocket(family, sotype int, name string) (*os.File, error) {
	fd, err := newSocketFD(family, sotype)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
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

// sendOnce sends b with the ancillary data oob on the socket fd, with one
// write(2) or sendmsg(2), retried only when interrupted.
func sendOnce(fd int, b, oob []byte) (int, error) {
	for {
		var n int
		var err error
		if oob == nil {
			n, err = unix.Write(fd, b)
		} else {
			n, err = unix.SendmsgN(fd, b, oob, nil, unix.MSG_NOSIGNAL)
		}
		if err != unix.EINTR {
			return n, err
		}
	}
}

// syscallError names the system call in err, an errno from it, or is nil.
func syscallError(name string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(name, err)
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

// withCredentials sends a message with the ancillary data for fds and, if
// needed, credentials naming pid, by calling send. When the kernel refuses
// the credentials (EPERM, ESRCH), it sends again with none, speaking for
// ourselves, as libsystemd does. oob is reused between calls.
func withCredentials(oob *[]byte, fds []int32, sendCreds bool, pid int, send func(oob []byte) error) error {
	creds := sendCreds || pid != 0 && pid != os.Getpid()
	if len(fds) == 0 && !creds {
		return send(nil)
	}
	*oob = control((*oob)[:0], fds, creds, pid)
	err := send(*oob)
	if creds && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.ESRCH)) {
		*oob = control((*oob)[:0], fds, false, 0)
		if len(*oob) == 0 {
			return send(nil)
		}
		err = send(*oob)
	}
	return err
}
