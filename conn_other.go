//go:build !linux

package sdnotify

import (
	"context"
	"errors"
)

// supported is false: systemd runs only on Linux, so New ignores
// NOTIFY_SOCKET here and NewAddr reports errors.ErrUnsupported.
const supported = false

var sendTimeout = DefaultTimeout

type conn struct{}

func dial(*address) (*conn, error) { return nil, errors.ErrUnsupported }

func (*conn) close() error { return nil }

func (*conn) interrupt() {}

func (*conn) send(context.Context, []byte, []int32, int) error { return errors.ErrUnsupported }

func reconnectable(error) bool { return false }

func monotonicUsec() uint64 { return 0 }

func (*conn) sendFast([]byte, []int32) (bool, error) { return false, nil }
