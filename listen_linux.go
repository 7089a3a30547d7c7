package sdnotify

import (
	"os"

	"golang.org/x/sys/unix"
)

// pidfsMagic is the file system type of pidfds on kernels (6.9+) where a
// pidfd's inode number identifies its process.
const pidfsMagic = 0x50494446

func listenFiles() ([]*os.File, error) {
	v, err := parseListen(os.LookupEnv, os.Getpid(), ownPidfdID())
	if err != nil || v.n == 0 {
		return nil, err
	}
	// Check every descriptor before making files of any, so that an error
	// leaves nothing half-owned.
	for i := 0; i < v.n; i++ {
		fd := ListenFDsStart + i
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			return nil, wrap("sdnotify: "+envListenFDs+"="+itoa(v.n)+": descriptor "+itoa(fd), os.NewSyscallError("fcntl", err))
		}
	}
	files := make([]*os.File, v.n)
	for i := range files {
		files[i] = os.NewFile(uintptr(ListenFDsStart+i), v.names[i])
	}
	return files, nil
}

// ownPidfdID returns the inode ID of a pidfd of this process, or 0 where
// the kernel gives pidfds no identifying inode (before pidfs, Linux 6.9).
func ownPidfdID() uint64 {
	fd, err := unix.PidfdOpen(os.Getpid(), unix.PIDFD_NONBLOCK)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type != pidfsMagic {
		return 0
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0
	}
	return st.Ino
}
