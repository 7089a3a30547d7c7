//go:build !linux

package journaltest

import (
	"errors"
	"fmt"
	"runtime"
)

type socket struct{}

func listen(string) (*socket, error) {
	return nil, fmt.Errorf("%w on %s: there is no journald protocol", errors.ErrUnsupported, runtime.GOOS)
}

func (*socket) interrupt() {}

func (*socket) close() error { return nil }

func (s *Server) read() { close(s.done) }
