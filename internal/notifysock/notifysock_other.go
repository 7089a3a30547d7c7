//go:build !linux

package notifysock

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// A Socket is a bound notification socket; there is none off Linux.
type Socket struct {
	// Addr is the socket's address in NOTIFY_SOCKET syntax.
	Addr string
}

// Listen fails off Linux, with an error matching errors.ErrUnsupported.
func Listen(string) (*Socket, error) {
	return nil, fmt.Errorf("not on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// Receive fails: there is nothing to receive off Linux.
func (*Socket) Receive() (*Datagram, error) { return nil, os.ErrClosed }

// Interrupt does nothing off Linux.
func (*Socket) Interrupt() {}

// Close does nothing off Linux.
func (*Socket) Close() error { return nil }

// DupFiles returns nil off Linux.
func DupFiles([]*os.File) []*os.File { return nil }
