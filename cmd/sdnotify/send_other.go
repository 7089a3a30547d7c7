//go:build !linux

package main

import (
	"fmt"
	"io"
)

// send fails: the sd_notify protocol is Linux's.
func send(*sendOptions) *sendError {
	return &sendError{0, errUnsupported, false}
}

func sendErrno(int) {}

func booted() bool { return false }

const errUnsupported = "not supported on this system: systemd and its sd_notify protocol need Linux"

func inheritedFDs() map[int]bool { return nil }

func warnUnreferenced(io.Writer, map[int]bool, []int) {}

func execCommand([]string) *sendError { return &sendError{0, errUnsupported, false} }

func forkMain(_ *sendOptions, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "sdnotify send: %s\n", errUnsupported)
	return 1
}
