//go:build linux

// Command raw is a minimal daemon that sends READY=1 with golang.org/x/sys
// alone: socket(2) and sendto(2) to NOTIFY_SOCKET (an abstract name's '@'
// becomes a NUL byte, which unix.SockaddrUnix does itself). It reads the
// environment with syscall.Getenv, which os.Getenv wraps, to stay as small
// as the task allows.
package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	addr, ok := syscall.Getenv("NOTIFY_SOCKET")
	if !ok || addr == "" {
		return
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	unix.Sendto(fd, []byte("READY=1"), unix.MSG_NOSIGNAL, &unix.SockaddrUnix{Name: addr})
	unix.Close(fd)
}
