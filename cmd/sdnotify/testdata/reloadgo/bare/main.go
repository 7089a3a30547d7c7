// Command bare is a Go daemon of cmd/sdnotify's reload tests that sends
// READY=1 and never calls signal.Notify: its executable has no
// os/signal.Notify, and the first SIGHUP kills it although its runtime
// shows SIGHUP as caught.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/gosdnotify/sdnotify"
)

func main() {
	if err := sdnotify.New().Send(sdnotify.Ready()); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	for {
		time.Sleep(time.Hour)
	}
}
