package fdstore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// kcmpFile is KCMP_FILE: do two descriptors refer to the same open file?
const kcmpFile = 0

// sameFile reports whether a and b are the same open file, as systemd's
// same_fd tells: kcmp(KCMP_FILE) where the kernel allows it, else the
// same inode (not a device's) and the same open flags.
func sameFile(a, b *os.File) (bool, error) {
	fa, err := rawFd(a)
	if err != nil {
		return false, err
	}
	fb, err := rawFd(b)
	if err != nil {
		return false, err
	}
	if fa == fb {
		return true, nil
	}
	pid := uintptr(os.Getpid())
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, pid, pid, kcmpFile, uintptr(fa), uintptr(fb), 0)
	switch {
	case errno == 0:
		return r == 0, nil
	case errno != unix.ENOSYS && errno != unix.EPERM && errno != unix.EACCES && errno != unix.EOPNOTSUPP:
		return false, os.NewSyscallError("kcmp", errno)
	}
	var sa, sb unix.Stat_t
	if err := unix.Fstat(fa, &sa); err != nil {
		return false, os.NewSyscallError("fstat", err)
	}
	if err := unix.Fstat(fb, &sb); err != nil {
		return false, os.NewSyscallError("fstat", err)
	}
	if sa.Mode&unix.S_IFMT != sb.Mode&unix.S_IFMT || sa.Dev != sb.Dev || sa.Ino != sb.Ino {
		return false, nil
	}
	if t := sa.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		return false, nil // a device's inode is shared by distinct opens
	}
	flagsA, err := unix.FcntlInt(uintptr(fa), unix.F_GETFL, 0)
	if err != nil {
		return false, os.NewSyscallError("fcntl", err)
	}
	flagsB, err := unix.FcntlInt(uintptr(fb), unix.F_GETFL, 0)
	if err != nil {
		return false, os.NewSyscallError("fcntl", err)
	}
	return flagsA == flagsB, nil
}

// hungUp reports whether f's peer has hung up or f has an error pending:
// what the manager's epoll reports for a stored file with no events asked
// for. A file that cannot be polled (a regular file) never hangs up.
func hungUp(f *os.File) bool {
	fd, err := rawFd(f)
	if err != nil {
		return false
	}
	p := []unix.PollFd{{Fd: int32(fd)}}
	for {
		n, err := unix.Poll(p, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0 && p[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
	}
}

// rawFd returns f's descriptor without the side effect of Fd, which makes
// it blocking (for every process that shares the open file).
func rawFd(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}
