package sdnotify

import (
	"context"
	"io"
	"os"
	"time"
)

// Barrier waits until the manager has processed every notification sent
// before it (sd_notify_barrier): it sends BARRIER=1 with the write end of a
// new pipe and waits until the manager closes it. A process about to exit
// calls it after its last notification, which the manager could otherwise
// fail to attribute to the service once the process is gone. The barrier
// says the notifications were processed, not that they were accepted.
//
// Barrier gives up when ctx ends, or after DefaultTimeout, whichever comes
// first. It returns nil at once if the Notifier is disabled.
func (n *Notifier) Barrier(ctx context.Context) error {
	if !n.Enabled() {
		return n.closedErr()
	}
	if n.bad != nil {
		return n.bad
	}
	if ctx == nil {
		return invalid("Barrier with a nil context")
	}
	r, w, err := os.Pipe() // close-on-exec, and in the poller, on Linux
	if err != nil {
		return wrap("sdnotify: barrier", err)
	}
	defer r.Close()
	err = n.SendContext(ctx, Assignment{key: "BARRIER", value: "1", files: []*os.File{w}})
	w.Close()
	if err != nil {
		return err
	}
	if err := waitEOF(ctx, r); err != nil {
		return wrap("sdnotify: "+n.where()+": barrier: waiting for the manager", err)
	}
	return nil
}

// waitEOF reads r until every write end is closed, bounded by ctx and
// sendTimeout.
func waitEOF(ctx context.Context, r *os.File) error {
	deadline := time.Now().Add(sendTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := r.SetReadDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(past) })
	defer stop()
	var buf [64]byte
	for {
		_, err := r.Read(buf[:])
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return contextError(ctx, err)
		}
	}
}
