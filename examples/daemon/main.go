// Command daemon is a small service that speaks the whole everyday
// protocol: it reports its status while it starts, says when it is ready,
// feeds the watchdog if the unit has one, reloads its configuration on
// SIGHUP as a Type=notify-reload service must, and says when it stops.
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
//	go build -o /tmp/daemon ./examples/daemon && go run ./cmd/sdnotify run --watchdog=1s -- /tmp/daemon
package main

import (
	"context"
	"log"
	"os"
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
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)

	notify(n.Send(sdnotify.Status("Loading configuration")))
	generation := loadConfig(1)
	notify(n.Send(sdnotify.Ready(), sdnotify.Statusf("Serving, configuration %d", generation)))

	// Feed the watchdog (if the unit has WatchdogSec=) for as long as the
	// daemon is healthy.
	go func() { notify(n.KeepAlive(ctx, &sdnotify.KeepAliveOptions{Healthy: healthy})) }()

	for {
		select {
		case <-hup:
			// Type=notify-reload: RELOADING=1 with MONOTONIC_USEC= first,
			// READY=1 when the new configuration is in use.
			notify(n.Send(sdnotify.Reloading()))
			generation = loadConfig(generation + 1)
			notify(n.Send(sdnotify.Ready(), sdnotify.Statusf("Serving, configuration %d", generation)))
		case <-ctx.Done():
			notify(n.Send(sdnotify.Stopping(), sdnotify.Status("Shutting down")))
			// ... drain connections, flush buffers ...
			return
		}
	}
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
