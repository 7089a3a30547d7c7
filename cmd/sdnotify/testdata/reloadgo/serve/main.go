// Command serve is a Go daemon of cmd/sdnotify's reload tests that serves
// reloads with sdnotify's ServeReloads (which sends READY=1 once it
// catches SIGHUP) until SIGTERM, then exits 0.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	n := sdnotify.New()
	generation := 1
	err := n.ServeReloads(ctx, func(context.Context) error {
		time.Sleep(10 * time.Millisecond) // stands for reading the configuration
		generation++
		return n.Send(sdnotify.Statusf("Serving, configuration %d", generation))
	}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
