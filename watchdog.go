package sdnotify

import (
	"context"
	"errors"
	"math"
	"os"
	"time"
)

// WatchdogTimeout returns the service's watchdog timeout (what libsystemd's
// sd_watchdog_enabled and go-systemd's SdWatchdogEnabled tell), read from
// WATCHDOG_USEC and WATCHDOG_PID when the Notifier was made, with
// sd_watchdog_enabled's rules: 0 if WATCHDOG_USEC is unset (no watchdog)
// or WATCHDOG_PID names another process (the watchdog is not ours); an
// error matching ErrInvalid if WATCHDOG_USEC is 0, infinite or not a
// number, or WATCHDOG_PID is not a process ID. Both must be plain decimal
// numbers (no sign, no leading zeros). An unset WATCHDOG_PID means the
// watchdog is ours. The service must send Watchdog more often than this;
// KeepAlive sends it every half timeout. SetWatchdogTimeout changes it.
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

// KeepAliveOptions are the optional parts of Notifier.KeepAlive.
type KeepAliveOptions struct {
	// Healthy, if not nil, is called before each keep-alive with a context
	// that ends when the keep-alive is due; the keep-alive is sent only if
	// it returns nil. A daemon whose health check fails, or hangs, stops
	// feeding the watchdog, and the manager kills and (with Restart=)
	// restarts it.
	Healthy func(context.Context) error

	// Missed, if not nil, is called from KeepAlive's goroutine once for
	// each keep-alive not sent, with the reason: the health check's error
	// (which errors.Is finds in it), or the send's (a busy manager that did
	// not take it in time, for one). KeepAlive goes on with the next one.
	Missed func(error)
}

// KeepAlive feeds the service's watchdog until ctx ends: it sends
// WATCHDOG=1 at once and then every half WatchdogTimeout (each time the
// health check, if any, passes), and returns nil when ctx ends. Run it in
// its own goroutine:
//
//	go func() {
//		if err := n.KeepAlive(ctx, nil); err != nil {
//			log.Print(err) // an invalid address, say: the watchdog will fire
//		}
//	}()
//
// A keep-alive that cannot be sent before the next one is due (the manager
// is busy in a daemon-reload, say) is dropped, and the next one is tried on
// time: a busy manager delays keep-alives but never ends them. Neither does
// a failed health check (see KeepAliveOptions.Healthy). Only an error that
// no later keep-alive can overcome ends KeepAlive, which returns it: an
// invalid address (*AddressError), ErrClosed, errors.ErrUnsupported (a
// NewAddr Notifier on a system other than Linux), or malformed watchdog
// variables (the error of WatchdogTimeout). If there is no watchdog for
// this process, KeepAlive returns nil at once.
func (n *Notifier) KeepAlive(ctx context.Context, opts *KeepAliveOptions) error {
	d, err := n.WatchdogTimeout()
	if err != nil || d == 0 {
		return err
	}
	if ctx == nil {
		return invalid("KeepAlive with a nil context")
	}
	if opts == nil {
		opts = &KeepAliveOptions{}
	}
	interval := d / 2
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := n.keepAlive(ctx, interval, opts.Healthy)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && permanent(err):
			return err
		case err != nil && opts.Missed != nil:
			opts.Missed(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// keepAlive sends one keep-alive, if healthy allows, within interval.
func (n *Notifier) keepAlive(ctx context.Context, interval time.Duration, healthy func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, interval)
	defer cancel()
	if healthy != nil {
		if err := healthy(ctx); err != nil {
			return wrap("sdnotify: watchdog keep-alive withheld: health check failed", err)
		}
	}
	if err := n.SendContext(ctx, Watchdog()); err != nil {
		return wrap("sdnotify: watchdog keep-alive dropped", err)
	}
	return nil
}

// permanent reports whether a keep-alive failed for a reason that no later
// one can overcome.
func permanent(err error) bool {
	var ae *AddressError
	return errors.As(err, &ae) || errors.Is(err, ErrClosed) || errors.Is(err, errors.ErrUnsupported)
}
