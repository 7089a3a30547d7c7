// Package pidfd tells a process's pidfd inode ID: the number that
// LISTEN_PIDFDID and MAINPIDFDID carry, which names a process without the
// race of a reused process ID.
package pidfd

import (
	"golang.org/x/sys/unix"
)

// pidfsMagic is the file system type of pidfds on kernels (6.9+) where a
// pidfd's inode number identifies its process.
const pidfsMagic = 0x50494446

// ID returns the inode ID of a pidfd of process pid, or 0 where the kernel
// gives pidfds no identifying inode (before pidfs, Linux 6.9) or the
// process is gone.
func ID(pid int) uint64 {
	fd, err := unix.PidfdOpen(pid, 0)
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
