// Command zerodowntime is an HTTP server that restarts without refusing a
// connection. It takes its listening socket from the service manager, from
// a .socket unit (socket activation) or from its own earlier process
// through the fd store, and binds one only when there is none, which it
// then stores with the manager. On SIGTERM it stops accepting and finishes
// the requests under way. Meanwhile the socket stays open in the manager,
// and the kernel queues new connections until the next process accepts
// them.
//
// Run it under systemd with a unit such as:
//
//	[Service]
//	Type=notify
//	ExecStart=/usr/local/bin/zerodowntime -addr=127.0.0.1:8080
//	FileDescriptorStoreMax=1
//
// and restart it with systemctl restart while a client runs. (With a
// .socket unit, name its socket FileDescriptorName=http.) Or, without
// systemd, see main_test.go, which restarts it ten times under a client
// that makes requests back to back, and counts what fails.
//
// With -bind it binds a new socket on every start and stores nothing, as
// most servers do: then the connections made while it restarts are
// refused.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/listen"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the address to bind when the manager passes no socket")
	bind := flag.Bool("bind", false, "bind a new socket on every start and store none (connections are refused while it restarts)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("zerodowntime: ")
	if err := run(*addr, *bind); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, bind bool) error {
	n := sdnotify.New()
	defer n.Close()

	ln, err := listener(n, addr, bind)
	if err != nil {
		return err
	}
	var open atomic.Int64 // connections accepted and not closed yet
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from pid %d\n", os.Getpid())
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := n.Send(sdnotify.Ready(), sdnotify.Statusf("Serving on %s", ln.Addr())); err != nil {
		log.Printf("telling the manager: %v", err)
	}
	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	// Stop accepting. The manager's copy of the socket stays open, and
	// the kernel queues new connections for the next process.
	n.Send(sdnotify.Stopping(), sdnotify.Status("Finishing the requests under way"))
	ln.Close()
	<-served // every connection accepted is counted in open now
	// Answer one more request on each connection, then close it, before
	// Shutdown: Shutdown alone closes, unanswered, a connection whose
	// request it reads after it began.
	srv.SetKeepAlivesEnabled(false)
	deadline := time.Now().Add(30 * time.Second)
	for open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	drain, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil {
		return fmt.Errorf("finishing the requests on %s: %w", ln.Addr(), err)
	}
	return nil
}

// listener returns the socket that the manager passed as "http" or, if it
// passed none, a new one bound to addr and stored with the manager, which
// needs FileDescriptorStoreMax= for it; without, the next process binds
// its own. With bind, it binds a new one and stores nothing.
func listener(n *sdnotify.Notifier, addr string, bind bool) (net.Listener, error) {
	if bind {
		return net.Listen("tcp", addr)
	}
	ln, passed, err := listen.Listen("http", "tcp", addr)
	if err != nil || passed {
		return ln, err
	}
	f, err := listen.File(ln)
	if err != nil {
		ln.Close()
		return nil, err
	}
	defer f.Close()
	if err := n.Send(sdnotify.FDStore("http", f)); err != nil {
		log.Printf("storing the socket on %s with the manager: %v", ln.Addr(), err)
	}
	return ln, nil
}
