// Command daemon is a small service that speaks the whole everyday
// protocol: it reports its status while it starts, says when it is ready,
// feeds the watchdog if the unit has one, reloads its configuration on
// SIGHUP as a Type=notify-reload service must (with ServeReloads, which
// catches SIGHUP before it sends READY=1), and says when it stops.
//
// Run it under systemd with a unit such as:
//
//	[Service]
//	Type=notify-reload    # systemd 253+; Type=notify and ExecReload=kill -HUP $MAINPID before
//	ExecStart=/usr/local/bin/daemon
//	WatchdogSec=10
//
// or, without systemd, under sdnotify run, which forwards SIGHUP (a reload)
// and SIGTERM (a stop) to it:
//
//	go build -o /tmp/daemon ./examples/daemon && go run ./cmd/sdnotify run --type=notify-reload --watchdog=1s -- /tmp/daemon
package main

import (
	"context"
	"log"
	"os/signal"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify"
)

func main() {
	log.SetFlags(0)
	n := sdnotify.New()
	defer n.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	notify(n.Send(sdnotify.Status("Loading configuration")))
	generation := loadConfig(1)
	notify(n.Send(sdnotify.Statusf("Serving, configuration %d", generation)))

	// Feed the watchdog (if the unit has WatchdogSec=) for as long as the
	// daemon is healthy.
	go func() { notify(n.KeepAlive(ctx, &sdnotify.KeepAliveOptions{Healthy: healthy})) }()

	// Type=notify-reload: ServeReloads catches SIGHUP, then sends READY=1;
	// for each SIGHUP it sends RELOADING=1 with MONOTONIC_USEC=, reloads,
	// and sends READY=1 when the new configuration is in use; until
	// SIGTERM. (Catching SIGHUP before READY=1 matters: Go's runtime
	// would end the daemon on a SIGHUP it did not ask for.)
	err := n.ServeReloads(ctx, func(context.Context) error {
		generation = loadConfig(generation + 1)
		notify(n.Send(sdnotify.Statusf("Serving, configuration %d", generation)))
		return nil
	}, &sdnotify.ReloadOptions{Failed: notify})
	if err != nil {
		log.Printf("daemon: %v", err) // READY=1 not sent: systemd will time the start out
		<-ctx.Done()
	}
	notify(n.Send(sdnotify.Stopping(), sdnotify.Status("Shutting down")))
	// ... drain connections, flush buffers ...
}

func loadConfig(generation int) int {
	time.Sleep(50 * time.Millisecond) // stands for reading files, opening sockets
	return generation
}

// healthy is the daemon's health check: here it always passes. A real one
// would check that the main loop still makes progress.
func healthy(context.Context) error { return nil }

// notify logs a failed notification: systemd acts on a missing one itself
// (a start timeout, a watchdog kill), so there is nothing else to do.
func notify(err error) {
	if err != nil {
		log.Printf("daemon: %v", err)
	}
}
