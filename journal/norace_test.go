//go:build !race && linux

package journal_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/journal"
)

// TestAllocations checks that a record of strings and ints, once the
// handler is warm, is sent without allocating. (The race detector's
// instrumentation allocates, hence the build tag.) AllocsPerRun counts the
// whole process, so the receiver here is a plain read loop that does not
// allocate, not the fake journald.
func TestAllocations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socket")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	var last atomic.Bool // the last datagram had the last attribute
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			n, err := unix.Read(fd, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				return
			}
			last.Store(bytes.Contains(buf[:n], []byte("\nMETHOD=GET\n")))
			got.Add(1)
		}
	}()
	defer func() {
		unix.Shutdown(fd, unix.SHUT_RDWR)
		<-done
		unix.Close(fd)
	}()

	c := journal.NewConn(path)
	defer c.Close()
	h := journal.NewNativeHandler(&journal.HandlerOptions{Conn: c})
	logger := slog.New(h.WithAttrs([]slog.Attr{slog.String("svc", "api")}))
	ctx := context.Background()
	n := testing.AllocsPerRun(200, func() {
		logger.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("user", "ann"), slog.Int("id", 42),
			slog.String("path", "/x"), slog.Int("status", 200), slog.String("method", "GET"))
	})
	if n != 0 {
		t.Errorf("%v allocations a record, want 0", n)
	}
	// Every send returned; the receiver has them all once the queue drains.
	for deadline := time.Now().Add(10 * time.Second); got.Load() < 201; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 201 entries arrived", got.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if !last.Load() {
		t.Error("the last entry lacks METHOD=GET")
	}
}
