//go:build !linux

package main

import (
	"fmt"
	"io"
)

// runCommand fails: run needs Linux (pidfds, SO_PASSCRED, /proc, a child
// subreaper), as systemd does.
func runCommand(_ *runOptions, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "sdnotify run: %s\n", errUnsupported)
	return 1
}

func runShim(_ []string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "sdnotify: %s\n", errUnsupported)
	return 1
}
