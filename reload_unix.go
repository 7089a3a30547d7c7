//go:build unix

package sdnotify

import "syscall"

// uncatchable reports whether s is a signal no process can catch.
func uncatchable(s syscall.Signal) bool { return s == syscall.SIGKILL || s == syscall.SIGSTOP }
