package sdnotify

import (
	"context"
	"unsafe"
)

// Notify sends state as one notification, exactly as given: one or more
// KEY=VALUE assignments separated by newlines, with no newline added, as
// Python's sdnotify and sd_notify(3) send it. For example:
//
//	n.Notify("READY=1")
//	n.Notify("READY=1\nSTATUS=Serving on :8080")
//
// Notify refuses, with an error matching ErrInvalid and nothing sent, what
// systemd would drop whole: an empty state, a NUL byte, more than
// MaxStateLen bytes. It does not look inside the assignments; Send with the
// typed assignments checks each value. It waits at most DefaultTimeout for
// a busy manager.
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	if n.mode.Load() == modeOff || !n.Enabled() {
		return n.closedErr()
	}
	if err := checkState(state); err != nil {
		return err
	}
	b := unsafe.Slice(unsafe.StringData(state), len(state))
	// Once the socket is open, a notification needs no lock: it is one
	// write(2), which the kernel delivers whole.
	if c := n.fast.Load(); c != nil {
		if done, err := c.trySend(b, nil); done {
			return n.sendError(context.Background(), err)
		}
	}
	if err := n.lock(context.Background()); err != nil {
		return err
	}
	defer n.unlock()
	return n.sendLocked(context.Background(), b, nil, 0)
}

// Send sends the assignments as one notification, their lines joined by
// newlines, with the files they carry. It checks them first: if any is
// invalid (see Assignment), Send returns its error and sends nothing. For
// example:
//
//	n.Send(sdnotify.Ready(), sdnotify.Status("Serving on :8080"))
//
// Send waits at most DefaultTimeout for a busy manager.
func (n *Notifier) Send(assignments ...Assignment) error {
	if n == nil {
		return nil
	}
	if n.mode.Load() == modeOff {
		return n.closedErr()
	}
	return n.send(context.Background(), assignments)
}

// SendContext is Send, giving up when ctx ends or after DefaultTimeout,
// whichever comes first. An error from a context that ended matches
// ctx.Err() with errors.Is.
func (n *Notifier) SendContext(ctx context.Context, assignments ...Assignment) error {
	if !n.Enabled() {
		return n.closedErr()
	}
	if ctx == nil {
		return invalid("SendContext with a nil context")
	}
	if err := ctx.Err(); err != nil {
		return wrap("sdnotify: "+n.where(), err)
	}
	return n.send(ctx, assignments)
}

func (n *Notifier) send(ctx context.Context, as []Assignment) error {
	if !n.Enabled() {
		return n.closedErr()
	}
	files := countFiles(as)
	if err := checkFiles(files); err != nil {
		return err
	}
	// As in Notify: once the socket is open, a notification that speaks
	// for ourselves goes out without the lock, encoded on the stack.
	if c := n.fast.Load(); c != nil && files <= 4 && !hasSender(as) {
		var stack [512]byte
		var fdStack [4]int32
		b, _, err := encode(stack[:0], as)
		if err != nil {
			return err
		}
		fds, err := appendFDs(fdStack[:0], as)
		if err != nil {
			return err
		}
		if done, err := c.trySend(b, fds); done {
			return n.sendError(ctx, err)
		}
	}
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.unlock()
	b, pid, err := encode(n.buf[:0], as)
	n.buf = b
	if err != nil {
		return err
	}
	var fds []int32
	if files > 0 {
		if fds, err = appendFDs(make([]int32, 0, files), as); err != nil {
			return err
		}
	}
	return n.sendLocked(ctx, b, fds, pid)
}

// openLocked opens the transport if it is not open, and returns it. It
// must be called with the lock held.
func (n *Notifier) openLocked() (transport, error) {
	if n.bad != nil {
		return nil, n.bad
	}
	if n.t != nil {
		return n.t, nil
	}
	t, err := dial(&n.addr)
	if err != nil {
		return nil, n.connError(err)
	}
	n.t = t
	if c, ok := t.(*dgramConn); ok {
		n.fast.Store(c)
	}
	return t, nil
}

// dropLocked closes the transport, if open. It must be called with the
// lock held.
func (n *Notifier) dropLocked() error {
	n.fast.Store(nil)
	t := n.t
	n.t = nil
	if t == nil {
		return nil
	}
	return t.close()
}

// sendLocked sends b, with the descriptors fds and credentials for pid if
// not 0, opening the transport first if needed. If the manager went away
// or re-bound its socket, it reopens the transport once and tries again,
// as log/syslog does. It must be called with the lock held.
func (n *Notifier) sendLocked(ctx context.Context, b []byte, fds []int32, pid int) error {
	for retried := false; ; retried = true {
		t, err := n.openLocked()
		if err != nil {
			return err
		}
		err = t.send(ctx, &n.wait, b, fds, pid)
		if err == nil || retried || !reconnectable(err) || n.closed.Load() {
			return n.sendError(ctx, err)
		}
		n.dropLocked()
	}
}
