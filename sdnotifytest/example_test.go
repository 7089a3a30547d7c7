//go:build linux

package sdnotifytest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// runDaemon stands for a daemon's startup code: it takes its Notifier as a
// parameter, or calls sdnotify.New(), which reads NOTIFY_SOCKET.
func runDaemon(n *sdnotify.Notifier) {
	n.Send(sdnotify.Status("Loading"))
	n.Send(sdnotify.Ready(), sdnotify.Status("Serving"))
}

// How a daemon's test checks that it reports ready. In a test, New(t)
// replaces Listen and closes the listener when the test ends, and
// l.Setenv(t) points NOTIFY_SOCKET at it; l.Env() does the same for a
// daemon started with os/exec.
func Example() {
	l, err := sdnotifytest.Listen("")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	go runDaemon(l.Notifier())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := l.WaitFor(ctx, "READY=1")
	if err != nil {
		log.Fatal(err) // t.Fatal(err) in a test: it says what arrived instead
	}
	fmt.Println("ready:", m.Value("STATUS"))
	// Output: ready: Serving
}
