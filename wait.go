package sdnotify

import (
	"context"
	"os"
	"sync"
	"time"
)

// sendTimeout is DefaultTimeout; tests shorten it.
var sendTimeout = DefaultTimeout

// A waiter bounds the waits of a Notifier's sends in the runtime's poller,
// and lets Close and a cancelled context interrupt them. There is one wait
// at a time: waits happen with the Notifier's lock held.
type waiter struct {
	mu      sync.Mutex
	f       *os.File // the file being waited on, or nil
	gen     uint64   // counts waits, so that a late cancellation hits none
	closing bool     // set by interrupt: no more waits
}

// past is a deadline that has passed: it ends a wait at once.
var past = time.Unix(1, 0)

// wait runs op, which waits for f in the runtime's poller (through f's
// SyscallConn), with f's deadline set to the earlier of ctx's deadline and
// sendTimeout from now. If ctx is cancelled, or interrupt called, the
// deadline moves to the past and op returns os.ErrDeadlineExceeded.
func (w *waiter) wait(ctx context.Context, f *os.File, op func() error) error {
	deadline := time.Now().Add(sendTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return os.ErrDeadlineExceeded
	}
	if err := f.SetDeadline(deadline); err != nil {
		w.mu.Unlock()
		return err
	}
	w.f = f
	w.gen++
	gen := w.gen
	w.mu.Unlock()

	var err error
	if ctx.Done() == nil { // never cancelled: the deadline is enough
		err = op()
	} else {
		stop := context.AfterFunc(ctx, func() { w.cancel(gen) })
		err = op()
		stop()
	}

	w.mu.Lock()
	w.f = nil
	w.mu.Unlock()
	return err
}

// cancel ends wait number gen, if it is still going.
func (w *waiter) cancel(gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil && w.gen == gen {
		w.f.SetDeadline(past)
	}
}

// interrupt ends the wait in progress, if any, and every later one.
func (w *waiter) interrupt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closing = true
	if w.f != nil {
		w.f.SetDeadline(past)
	}
}
