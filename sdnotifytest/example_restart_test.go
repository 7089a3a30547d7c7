//go:build linux

package sdnotifytest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// How a test restarts a daemon that keeps its listening socket in the fd
// store (FileDescriptorStoreMax=1), and checks that the next process gets
// the same socket. daemonCommand("http") stands for
// exec.Command("./mydaemon"): a daemon that calls
// listen.Listen("http", "tcp", "127.0.0.1:0"), stores the socket with
// sdnotify.FDStore("http", f), sends READY=1 and serves until SIGTERM.
func ExampleListener_Restart() {
	l, err := sdnotifytest.Listen("")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	l.EnableFDStore(1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	first := daemonCommand("http")
	if err := l.Start(first); err != nil {
		log.Fatal(err)
	}
	m, err := l.WaitFor(ctx, "READY=1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first:", m.Value("STATUS"))

	next := daemonCommand("http")
	if err := l.Restart(ctx, first, next); err != nil {
		log.Fatal(err)
	}
	m, err = l.WaitFor(ctx, "READY=1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("next:", m.Value("STATUS"))
	for _, f := range l.Stored() {
		fmt.Println("stored:", f.Name)
	}
	if err := l.Stop(ctx, next); err != nil {
		log.Fatal(err)
	}
	// Output:
	// first: bound a new socket, stored as "http"
	// next: took the socket stored as "http"
	// stored: http
}
