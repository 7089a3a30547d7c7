package sdnotify

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/internal/pidfd"
)

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

// ownPidfdID returns the inode ID of our own pidfd, or 0.
func ownPidfdID() uint64 { return pidfd.ID(os.Getpid()) }
