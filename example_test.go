//go:build linux

package sdnotify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// fakeSystemd starts a fake service manager and points NOTIFY_SOCKET at it,
// as systemd does for a Type=notify service. It returns a function that
// prints what the manager received.
func fakeSystemd() (show func(), stop func()) {
	l, err := sdnotifytest.Listen("")
	if err != nil {
		log.Fatal(err)
	}
	os.Setenv("NOTIFY_SOCKET", l.Addr)
	show = func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			m, err := l.Next(ctx)
			cancel()
			if err != nil {
				return
			}
			fmt.Printf("systemd received %q\n", m.Data)
		}
	}
	stop = func() {
		os.Unsetenv("NOTIFY_SOCKET")
		l.Close()
	}
	return show, stop
}

// A daemon tells systemd when it is ready, what it is doing, and when it
// stops. This is the README's quickstart.
func Example() {
	show, stop := fakeSystemd() // systemd itself sets NOTIFY_SOCKET
	defer stop()

	n := sdnotify.New() // reads NOTIFY_SOCKET; outside systemd every send is a no-op
	defer n.Close()

	// ... start up: open files, bind sockets ...
	if err := n.Send(sdnotify.Ready(), sdnotify.Status("Serving")); err != nil {
		log.Printf("notify: %v", err) // systemd acts on a missing READY=1 itself
	}
	n.Send(sdnotify.Statusf("Working on task %d of %d", 1, 3))
	n.Send(sdnotify.Stopping())

	show()
	// Output:
	// systemd received "READY=1\nSTATUS=Serving"
	// systemd received "STATUS=Working on task 1 of 3"
	// systemd received "STOPPING=1"
}

// Notify sends its argument exactly as given, as Python's
// SystemdNotifier().notify does.
func ExampleNotifier_Notify() {
	show, stop := fakeSystemd()
	defer stop()
	n := sdnotify.New()
	defer n.Close()

	n.Notify("READY=1")
	n.Notify("STATUS=Loading\nEXTEND_TIMEOUT_USEC=5000000")
	err := n.Notify("")
	fmt.Println(err)

	show()
	// Output:
	// sdnotify: empty notification: systemd must never be sent one
	// systemd received "READY=1"
	// systemd received "STATUS=Loading\nEXTEND_TIMEOUT_USEC=5000000"
}

// Outside systemd every send does nothing and returns nil.
func ExampleNew_outsideSystemd() {
	os.Unsetenv("NOTIFY_SOCKET")
	n := sdnotify.New()
	fmt.Println(n.Enabled(), n.Send(sdnotify.Ready()))
	// Output: false <nil>
}

// Status repairs text from outside the program rather than refusing it, so
// that it cannot cost the READY=1 sent beside it; Var refuses what would
// split the notification.
func ExampleStatus() {
	fmt.Printf("%+q\n", sdnotify.Status("line one\nREADY=0 caf\xe9"))
	fmt.Println(sdnotify.Var("X_NAME", "a\nREADY=1").Err())
	// Output:
	// "STATUS=line one READY=0 caf\ufffd"
	// sdnotify: X_NAME="a\nREADY=1": byte '\n' at offset 1 would split or end the notification
}

// A failure: the reason as text and as an errno, which systemctl shows as
// StatusErrno.
func ExampleErrno() {
	show, stop := fakeSystemd()
	defer stop()
	n := sdnotify.New()
	defer n.Close()

	_, err := os.Open("/etc/daemon/missing.conf")
	n.Send(sdnotify.Status("Cannot read configuration"), sdnotify.Errno(err))

	show()
	// Output: systemd received "STATUS=Cannot read configuration\nERRNO=2"
}

// A slow start asks for more time before TimeoutStartSec= runs out.
func ExampleExtendTimeout() {
	fmt.Println(sdnotify.ExtendTimeout(30 * time.Second))
	fmt.Println(sdnotify.ExtendTimeout(-time.Second).Err())
	// Output:
	// EXTEND_TIMEOUT_USEC=30000000
	// sdnotify: EXTEND_TIMEOUT_USEC: -1s: want a positive duration
}

// A Type=notify-reload service handles SIGHUP: RELOADING=1 with
// MONOTONIC_USEC= in one notification when the reload starts, READY=1
// when it is done. (examples/daemon is a whole one.)
func ExampleReloading() {
	l, err := sdnotifytest.Listen("") // systemd, in a real service
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	n := sdnotify.NewAddr(l.Addr) // sdnotify.New(), in a real service
	defer n.Close()

	hup := make(chan os.Signal, 1)
	hup <- syscall.SIGHUP // signal.Notify(hup, syscall.SIGHUP), in a real service
	<-hup
	n.Send(sdnotify.Reloading())
	// ... reload the configuration ...
	n.Send(sdnotify.Ready())

	for i := 0; i < 2; i++ {
		m, _ := l.Next(context.Background())
		var parts []string
		for _, a := range m.Assignments {
			if a.Key == "MONOTONIC_USEC" {
				a.Value = "<CLOCK_MONOTONIC in µs>"
			}
			parts = append(parts, a.String())
		}
		fmt.Println(strings.Join(parts, " "))
	}
	// Output:
	// RELOADING=1 MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>
	// READY=1
}

// A process about to exit waits until the manager has processed what it
// sent, so that the manager can still tell which service sent it.
func ExampleNotifier_Barrier() {
	show, stop := fakeSystemd()
	defer stop()
	n := sdnotify.New()
	defer n.Close()

	n.Send(sdnotify.Status("Done"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Barrier(ctx); err != nil {
		log.Print(err)
	}
	fmt.Println("processed")

	show()
	// Output:
	// processed
	// systemd received "STATUS=Done"
	// systemd received "BARRIER=1"
}

// Files stored with the manager (FileDescriptorStoreMax= in the unit) come
// back in LISTEN_FDS and LISTEN_FDNAMES when the service restarts.
func ExampleFDStore() {
	show, stop := fakeSystemd()
	defer stop()
	n := sdnotify.New()
	defer n.Close()

	f, err := os.Open(os.DevNull) // a listening socket, a memfd with state...
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close() // the manager keeps its own copy
	if err := n.Send(sdnotify.FDStore("state", f)); err != nil {
		log.Print(err)
	}

	show()
	// Output: systemd received "FDSTORE=1\nFDNAME=state"
}

// Feeding the watchdog of a unit with WatchdogSec=, while a health check
// passes.
func ExampleNotifier_KeepAlive() {
	n := sdnotify.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		err := n.KeepAlive(ctx, &sdnotify.KeepAliveOptions{
			Healthy: func(ctx context.Context) error {
				return nil // e.g. check that the main loop made progress
			},
			Missed: func(err error) { log.Print(err) },
		})
		if err != nil {
			log.Print(err)
		}
	}()
}

// A send that must not wait for a busy manager longer than the caller
// allows.
func ExampleNotifier_SendContext() {
	n := sdnotify.New()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := n.SendContext(ctx, sdnotify.Watchdog()); errors.Is(err, context.DeadlineExceeded) {
		log.Print("manager busy; keep-alive not sent")
	}
}
