// Command quickstart is the smallest Type=notify daemon: it tells systemd
// when it is ready, what it is doing, and when it stops.
package main

import (
	"log"
	"time"

	"github.com/gosdnotify/sdnotify"
)

func main() {
	n := sdnotify.New() // reads NOTIFY_SOCKET; outside systemd every send is a no-op
	defer n.Close()

	// ... start up: open files, bind sockets ...
	if err := n.Send(sdnotify.Ready(), sdnotify.Status("Serving")); err != nil {
		log.Printf("notify: %v", err) // systemd acts on a missing READY=1 itself
	}

	for i := 1; i <= 3; i++ {
		n.Send(sdnotify.Statusf("Working on task %d of 3", i))
		time.Sleep(100 * time.Millisecond)
	}

	n.Send(sdnotify.Stopping())
}
