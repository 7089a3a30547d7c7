package sdnotify

import (
	"context"
	"sync/atomic"
)

// Waiting on a context takes a select statement, and the runtime code
// behind it costs every program that contains one about 8 KB. The sends
// that take no context pass a nil ctx and never wait on one. The code that
// does is reached only through contextWaits, which the functions taking a
// context (NotifyContext and SendMessage, which the others call) fill in
// before their first use, so that a program that never calls them does not
// contain it.

// noContext is the nil ctx passed by the sends that take no context, which
// never wait on one: they are bounded by DefaultTimeout alone.
var noContext context.Context

type contextFuncs struct {
	// lock takes sem, giving up when ctx ends.
	lock func(sem chan struct{}, ctx context.Context) error
	// watch calls wake if cancelled is closed before finished is.
	watch func(cancelled, finished <-chan struct{}, wake func())
}

var contextWaits atomic.Pointer[contextFuncs]

// useContext fills in contextWaits.
func useContext() {
	if contextWaits.Load() == nil {
		contextWaits.Store(&contextFuncs{lock: lockContext, watch: watchContext})
	}
}

func lockContext(sem chan struct{}, ctx context.Context) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return wrap("sdnotify: waiting for another send", ctx.Err())
	}
}

func watchContext(cancelled, finished <-chan struct{}, wake func()) {
	select {
	case <-cancelled:
		wake()
	case <-finished:
	}
}
