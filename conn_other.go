//go:build !linux

package sdnotify

import (
	"context"
	"errors"
)

// supported is false: systemd runs only on Linux, so New ignores
// NOTIFY_SOCKET here and NewAddr reports errors.ErrUnsupported.
const supported = false

// dgramConn is never made here.
type dgramConn struct{}

func (*dgramConn) trySend([]byte, []int32) (bool, error) { return false, nil }

func (*dgramConn) send(context.Context, *waiter, []byte, []int32, int) error {
	return errors.ErrUnsupported
}

func (*dgramConn) close() error { return nil }

func dial(*address) (transport, error) { return nil, errors.ErrUnsupported }

func reconnectable(error) bool { return false }
