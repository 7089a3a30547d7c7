//go:build !linux

package sdnotifytest

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

type socket struct{}

func listen(string) (*socket, string, error) {
	return nil, "", fmt.Errorf("not on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func (*socket) interrupt() {}

func (*socket) close() error { return nil }

func (l *Listener) read() { close(l.done) }

func dupFiles([]*os.File) []*os.File { return nil }
