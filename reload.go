package sdnotify

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// ReloadOptions are the optional parts of Notifier.ServeReloads.
type ReloadOptions struct {
	// Signal is the signal that asks for a reload: the unit's
	// ReloadSignal=, which the manager does not tell the service. Nil
	// means SIGHUP, the default. SIGKILL and SIGSTOP cannot be caught and
	// are refused.
	Signal os.Signal

	// Ready holds assignments to send with READY=1 when the service is
	// ready and after each successful reload, such as Status("Serving").
	// A reload function that reports its own status sends it with
	// Notifier.Send before it returns, and leaves Ready empty.
	Ready []Assignment

	// Failed, if not nil, is called from ServeReloads's goroutine with
	// each error that ServeReloads goes on after: a failed reload (the
	// error wraps the reload function's, which errors.Is finds in it), or
	// a notification that could not be sent in time (a busy manager).
	Failed func(error)
}

// ServeReloads is a Type=notify-reload service's reload loop, and sends
// the service's READY=1. It starts catching the reload signal, then sends
// READY=1 (with ReloadOptions.Ready), and from then on, for each reload
// signal, until ctx ends:
//
//  1. sends RELOADING=1 with MONOTONIC_USEC= (Reloading), which the
//     manager needs to hear before it counts the reload as started;
//  2. calls reload;
//  3. sends READY=1, which ends the reload (systemctl reload returns).
//     If reload returned an error, READY=1 goes with STATUS="Reload
//     failed: ..." and, when the error wraps a syscall.Errno, ERRNO=;
//     the service keeps running, with whatever configuration reload
//     left in place. The next reload that has no errno to report sends
//     ERRNO=0, so that the manager's StatusErrno does not stay stale.
//
// Call it once the service is ready, instead of sending READY=1 yourself:
//
//	err := n.ServeReloads(ctx, func(ctx context.Context) error {
//		return loadConfig()
//	}, nil)
//
// The order matters. Go's runtime catches every signal from the start, so
// a Go service always looks to the manager as if it had a handler for
// SIGHUP (systemd 262 refuses to start a Type=notify-reload service
// without one); but unless the program asked for the signal with
// signal.Notify, the runtime ends the program on it: the first systemctl
// reload then stops the service. ServeReloads asks for the signal before
// READY=1 goes out, so there is no such moment.
//
// Signals that arrive during a reload are merged into one more reload
// after it. Outside systemd (a disabled Notifier) the sends do nothing and
// each signal still runs reload. ServeReloads returns nil when ctx ends,
// and stops catching the signal when it returns. It returns an error if
// its arguments are invalid, if READY=1 could not be sent (the manager
// will not consider the service started), or if a later send fails in a
// way that no later one can overcome (an invalid address, ErrClosed,
// errors.ErrUnsupported).
func (n *Notifier) ServeReloads(ctx context.Context, reload func(context.Context) error, opts *ReloadOptions) error {
	switch {
	case ctx == nil:
		return invalid("ServeReloads with a nil context")
	case reload == nil:
		return invalid("ServeReloads with a nil reload function")
	}
	if opts == nil {
		opts = &ReloadOptions{}
	}
	sig := opts.Signal
	if sig == nil {
		sig = syscall.SIGHUP
	}
	if err := checkReloadSignal(sig); err != nil {
		return err
	}
	ready := append([]Assignment{Ready()}, opts.Ready...)
	for _, a := range opts.Ready {
		if err := a.Err(); err != nil {
			return wrap("sdnotify: ServeReloads: ReloadOptions.Ready", err)
		}
	}

	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sig)
	defer signal.Stop(ch)
	if err := n.SendContext(ctx, ready...); err != nil {
		return wrap("sdnotify: ServeReloads: READY=1 not sent", err)
	}
	errnoSet := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		}
		if err := n.reloadOnce(ctx, reload, opts, ready, &errnoSet); err != nil {
			return err
		}
	}
}

// reloadOnce runs one reload cycle. It returns only errors that end
// ServeReloads; the rest go to opts.Failed.
func (n *Notifier) reloadOnce(ctx context.Context, reload func(context.Context) error, opts *ReloadOptions, ready []Assignment, errnoSet *bool) error {
	failed := func(err error) {
		if opts.Failed != nil {
			opts.Failed(err)
		}
	}
	if err := n.SendContext(ctx, Reloading()); err != nil {
		if permanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		failed(wrap("sdnotify: RELOADING=1 not sent", err))
	}
	rerr := reload(ctx)
	if ctx.Err() != nil {
		return nil // stopping: the manager no longer waits for the reload
	}
	as := ready
	var errno syscall.Errno
	if rerr != nil {
		as = []Assignment{Ready(), Status("Reload failed: " + rerr.Error())}
		errors.As(rerr, &errno)
		failed(wrap("sdnotify: reload failed", rerr))
	}
	if errno != 0 || *errnoSet { // set it, or clear the last one
		as = append(append([]Assignment(nil), as...), Errno(errno))
		*errnoSet = errno != 0
	}
	if err := n.SendContext(ctx, as...); err != nil {
		if permanent(err) {
			return err
		}
		if ctx.Err() == nil {
			failed(wrap("sdnotify: READY=1 after a reload not sent", err))
		}
	}
	return nil
}

// checkReloadSignal refuses a signal that ServeReloads cannot catch.
func checkReloadSignal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return invalid("ServeReloads: ReloadOptions.Signal " + quote(sig.String()) + " is not a syscall.Signal")
	}
	if s <= 0 || uncatchable(s) {
		return invalid("ServeReloads: ReloadOptions.Signal " + quote(sig.String()) + " (" + itoa(int(s)) + ") cannot be caught")
	}
	return nil
}
