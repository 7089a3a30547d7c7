//go:build !linux

package main

// send fails: the sd_notify protocol is Linux's.
func send(*sendOptions) *sendError {
	return &sendError{0, errUnsupported, false}
}

func sendErrno(int) {}

func booted() bool { return false }

const errUnsupported = "not supported on this system: systemd and its sd_notify protocol need Linux"
