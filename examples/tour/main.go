// Command tour is a daemon that walks through the notification protocol on
// its own, to watch under "sdnotify run" (this is the README's
// demonstration):
//
//	go build -o /tmp/tour ./examples/tour && go run ./cmd/sdnotify run --watchdog=1s --timeout-start=2s -- /tmp/tour
//
// It reports its status while it starts and asks for more time to start,
// says it is ready, feeds the watchdog, keeps a file in the manager's file
// descriptor store, reloads its configuration (as a Type=notify-reload
// service does on SIGHUP; on its own here), says it is stopping, and waits
// with a barrier until the manager has processed all of it before it
// exits. Outside a service manager it does the same, and every
// notification is a no-op.
//
// Run it as a binary rather than with go run: go run would be the main
// process, and the notifications of its child would be ignored (as
// NotifyAccess=main ignores them), and the watchdog (WATCHDOG_PID) would
// not be the child's.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/gosdnotify/sdnotify"
)

func main() {
	log.SetFlags(0)
	n := sdnotify.New()
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Starting: say what is going on, and ask for more than the unit's
	// start timeout if it may take longer.
	must(n.Send(sdnotify.Status("Loading configuration"), sdnotify.ExtendTimeout(5*time.Second)))
	time.Sleep(100 * time.Millisecond)
	must(n.Send(sdnotify.Ready(), sdnotify.Status("Serving, configuration 1")))

	// Keep a file in the fd store: after a restart it comes back in
	// LISTEN_FDS and LISTEN_FDNAMES (FileDescriptorStoreMax= in the unit).
	state, err := os.CreateTemp("", "tour-state")
	if err != nil {
		log.Fatal(err)
	}
	os.Remove(state.Name())
	must(n.Send(sdnotify.FDStore("state", state)))
	state.Close() // the manager has its own copy

	// Feed the watchdog (WatchdogSec=, or run's --watchdog) every half
	// interval until told to stop. A keep-alive that cannot be sent in time
	// (a busy manager) is dropped and reported to Missed; the next one is
	// tried on time.
	fed := make(chan error, 1)
	go func() {
		fed <- n.KeepAlive(ctx, &sdnotify.KeepAliveOptions{
			Missed: func(err error) { log.Printf("tour: %v", err) },
		})
	}()

	time.Sleep(700 * time.Millisecond)

	// A reload: RELOADING=1 with MONOTONIC_USEC= first, READY=1 once the
	// new configuration is in use.
	must(n.Send(sdnotify.Reloading()))
	time.Sleep(100 * time.Millisecond)
	must(n.Send(sdnotify.Ready(), sdnotify.Status("Serving, configuration 2")))
	time.Sleep(300 * time.Millisecond)

	must(n.Send(sdnotify.Stopping(), sdnotify.Status("Shutting down")))
	cancel()
	must(<-fed)
	// Exit only once the manager has processed every notification: one
	// that arrives after the sender is gone may not be attributed to the
	// service.
	bctx, bcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer bcancel()
	must(n.Barrier(bctx))
}

// must logs a failed notification. A daemon carries on: the manager acts on
// a missing notification itself (a start timeout, a watchdog kill).
func must(err error) {
	if err != nil {
		log.Printf("tour: %v", err)
	}
}
