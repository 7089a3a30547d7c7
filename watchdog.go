package sdnotify

import (
	"context"
	"io"
	"math"
	"os"
	"time"
)

// barrier is BARRIER=1, which travels alone with the write end of a pipe.
var barrier = text("BARRIER", "1")

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
	r, w, err := os.Pipe() // close-on-exec, and in the poller, on Linux
	if err != nil {
		return wrap("sdnotify: barrier", err)
	}
	defer r.Close()
	err = n.SendMessage(ctx, Message{Assignments: []Assignment{barrier}, Files: []*os.File{w}})
	w.Close()
	if err != nil {
		return err
	}
	if err := waitEOF(ctx, r); err != nil {
		return wrap("sdnotify: barrier: waiting for the manager", err)
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
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Unix(1, 0)) })
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

// WatchdogTimeout returns the service's watchdog timeout, read from
// WATCHDOG_USEC and WATCHDOG_PID when the Notifier was made, with
// sd_watchdog_enabled's rules: 0 if WATCHDOG_USEC is unset (no watchdog)
// or WATCHDOG_PID names another process (the watchdog is not ours); an
// error matching ErrInvalid if WATCHDOG_USEC is 0, infinite or not a
// number, or WATCHDOG_PID is not a process ID. Both must be plain decimal
// numbers (no sign, no leading zeros). An unset WATCHDOG_PID means
// the watchdog is ours. The service must send Watchdog more often than
// this (KeepAlive sends it every half timeout).
func (n *Notifier) WatchdogTimeout() (time.Duration, error) {
	if n == nil {
		return 0, nil
	}
	n.init()
	return watchdogTimeout(n.env, os.Getpid())
}

func watchdogTimeout(e environment, self int) (time.Duration, error) {
	if !e.watchdogUsecSet {
		return 0, nil
	}
	u, ok := parseDecimal(e.watchdogUsec)
	if !ok || u == 0 || u == math.MaxUint64 {
		return 0, invalid("WATCHDOG_USEC=" + quote(e.watchdogUsec) + ": want a decimal number of microseconds, more than 0 and finite")
	}
	if u > math.MaxInt64/uint64(time.Microsecond) {
		return 0, invalid("WATCHDOG_USEC=" + quote(e.watchdogUsec) + ": too large for a time.Duration")
	}
	if e.watchdogPIDSet {
		pid, ok := parseDecimal(e.watchdogPID)
		if !ok || pid == 0 || pid > math.MaxInt32 {
			return 0, invalid("WATCHDOG_PID=" + quote(e.watchdogPID) + ": want a process ID in decimal")
		}
		if int(pid) != self {
			return 0, nil
		}
	}
	return time.Duration(u) * time.Microsecond, nil
}

// KeepAlive feeds the service's watchdog until ctx ends: it sends Watchdog
// (WATCHDOG=1) at once and then every half WatchdogTimeout. If healthy is
// not nil, each keep-alive is sent only if healthy returns nil: a daemon
// whose health check fails, or hangs, stops feeding the watchdog, and the
// manager kills and (with Restart=) restarts it.
//
// KeepAlive returns nil when ctx ends, and at once if there is no watchdog
// for this process; the error of WatchdogTimeout if the variables are
// malformed; and the error of the first keep-alive that could not be sent.
// Each keep-alive gives up after half the timeout, so that a busy manager
// cannot stall the loop. Run it in its own goroutine:
//
//	go n.KeepAlive(ctx, nil)
func (n *Notifier) KeepAlive(ctx context.Context, healthy func(context.Context) error) error {
	d, err := n.WatchdogTimeout()
	if err != nil || d == 0 {
		return err
	}
	interval := d / 2
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if healthy == nil || healthy(ctx) == nil {
			sctx, cancel := context.WithTimeout(ctx, interval)
			err := n.SendContext(sctx, Watchdog)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
