// Command term is a Go daemon of cmd/sdnotify's reload tests that asks for
// SIGTERM with signal.NotifyContext, as most daemons do, but not for
// SIGHUP: its executable has os/signal.Notify, so nothing outside can
// tell that the first SIGHUP kills it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gosdnotify/sdnotify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := sdnotify.New().Send(sdnotify.Ready()); err != nil {
		fmt.Fprintln(os.Stderr, "term:", err)
		os.Exit(1)
	}
	<-ctx.Done()
}
