//go:build linux

package sdnotify_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
	"golang.org/x/sys/unix"
)

// drain is a receiver that counts whole datagrams without allocating or
// keeping them: for tests that send more than a Listener should hold.
type drain struct {
	Addr   string
	fd     int
	count  atomic.Int64
	bad    atomic.Int64 // datagrams that are not what the test sent
	want   func([]byte) bool
	stop   atomic.Bool
	closed chan struct{}
}

func newDrain(t *testing.T, addr string, want func([]byte) bool) *drain {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 20000})
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	d := &drain{Addr: sa.(*unix.SockaddrUnix).Name, fd: fd, want: want, closed: make(chan struct{})}
	go func() {
		defer close(d.closed)
		buf := make([]byte, 8192)
		for !d.stop.Load() {
			n, err := unix.Read(fd, buf)
			if err != nil {
				continue
			}
			if d.want(buf[:n]) {
				d.count.Add(1)
			} else {
				d.bad.Add(1)
			}
		}
	}()
	t.Cleanup(d.close)
	return d
}

// close stops the receiver and closes its socket; the path is left behind.
func (d *drain) close() {
	if d.stop.Swap(true) {
		return
	}
	<-d.closed
	unix.Close(d.fd)
}

// waitCount waits until d has counted n datagrams.
func (d *drain) waitCount(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for d.count.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := d.count.Load(); got != n || d.bad.Load() != 0 {
		t.Fatalf("receiver counted %d whole datagrams and %d others; want %d and 0", got, d.bad.Load(), n)
	}
}

func TestFaultAddressKinds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	stream := filepath.Join(dir, "stream")
	sfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sfd)
	if err := unix.Bind(sfd, &unix.SockaddrUnix{Name: stream}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(sfd, 1)
	for _, tt := range []struct {
		name, addr string
		errno      syscall.Errno
	}{
		{"directory", dir, syscall.ECONNREFUSED},
		{"FIFO", fifo, syscall.ECONNREFUSED},
		{"stream socket", stream, syscall.EPROTOTYPE},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := sdnotify.NewAddr(tt.addr)
			defer n.Close()
			done := make(chan error, 1)
			go func() { done <- n.Send(sdnotify.Ready()) }()
			select {
			case err := <-done:
				if !errors.Is(err, tt.errno) {
					t.Fatalf("Ready() to a %s = %v; want %v", tt.name, err, tt.errno)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Ready() to a %s hangs", tt.name)
			}
		})
	}
}

// TestFaultSignals sends signals to the process all through a run of sends:
// none fails and none is lost or sent twice.
func TestFaultSignals(t *testing.T) {
	d := newDrain(t, "", func(b []byte) bool { return string(b) == "WATCHDOG=1" })
	n := sdnotify.NewAddr(d.Addr)
	defer n.Close()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	stop := make(chan struct{})
	var signalled atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				syscall.Kill(os.Getpid(), syscall.SIGUSR1)
				signalled.Add(1)
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	go func() {
		for range sigs {
		}
	}()
	const sends = 20000
	for i := 0; i < sends; i++ {
		if err := n.Send(sdnotify.Watchdog()); err != nil {
			close(stop)
			t.Fatalf("send %d with signals arriving: %v", i, err)
		}
	}
	close(stop)
	d.waitCount(t, sends)
	t.Logf("%d signals during %d sends", signalled.Load(), sends)
}

// TestFaultCloseWhileSending closes a Notifier while 16 goroutines send: no
// panic, no race, and every send returns nil or ErrClosed.
func TestFaultCloseWhileSending(t *testing.T) {
	d := newDrain(t, "", func(b []byte) bool {
		return strings.HasPrefix(string(b), "X_G=") || strings.HasPrefix(string(b), "STATUS=X_G=")
	})
	n := sdnotify.NewAddr(d.Addr)
	var wg sync.WaitGroup
	var sent, closed atomic.Int64
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				var err error
				switch i % 3 {
				case 0:
					err = n.Notify("X_G=1")
				case 1:
					err = n.Send(sdnotify.Var("X_G", "2"))
				default:
					err = n.Send(sdnotify.Statusf("X_G=%d", i))
				}
				switch {
				case err == nil:
					sent.Add(1)
				case errors.Is(err, sdnotify.ErrClosed):
					closed.Add(1)
					return
				default:
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("send during Close: %v; want nil or ErrClosed", err)
	}
	if closed.Load() != 16 {
		t.Fatalf("%d goroutines saw ErrClosed; want all 16", closed.Load())
	}
	d.waitCount(t, sent.Load())
}

func TestFaultBarrierReleasedEarly(t *testing.T) {
	// A receiver that closes the barrier pipe at once (as the listener
	// does) releases it; one that never does was tested in TestBarrier.
	l, n := pair(t)
	for i := 0; i < 100; i++ {
		if err := n.Barrier(ctxFor(t)); err != nil {
			t.Fatalf("barrier %d: %v", i, err)
		}
	}
	if got := len(l.Messages()); got > 100 {
		t.Fatalf("%d messages for 100 barriers", got)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

// steadyGoroutines returns the number of goroutines once it has not
// changed for 100ms (at most 5s): the baseline, without goroutines of
// earlier tests that are still ending.
func steadyGoroutines() int {
	n := runtime.NumGoroutine()
	for deadline, since := time.Now().Add(5*time.Second), time.Now(); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		} else if time.Since(since) >= 100*time.Millisecond {
			break
		}
	}
	return n
}

// goroutinesAfterSettling waits for goroutines that are ending to be gone.
func goroutinesAfterSettling(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return runtime.NumGoroutine()
}

func TestHygiene(t *testing.T) {
	if testing.Short() {
		t.Skip("110,000 sends")
	}
	d := newDrain(t, "", func(b []byte) bool { return true })
	fds0, gs0 := openFDs(t), steadyGoroutines()

	n := sdnotify.NewAddr(d.Addr)
	for i := 0; i < 100000; i++ {
		if err := n.Send(sdnotify.Watchdog()); err != nil {
			t.Fatal(err)
		}
	}
	n.Close()
	for i := 0; i < 10000; i++ {
		n := sdnotify.NewAddr(d.Addr)
		if err := n.Send(sdnotify.Ready()); err != nil {
			t.Fatal(err)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	d.waitCount(t, 110000)
	fds1, gs1 := openFDs(t), goroutinesAfterSettling(gs0)
	t.Logf("open fds %d -> %d, goroutines %d -> %d", fds0, fds1, gs0, gs1)
	if fds1 > fds0 || gs1 > gs0 {
		t.Fatalf("open fds %d -> %d, goroutines %d -> %d; want no more than before", fds0, fds1, gs0, gs1)
	}
}

// TestHygieneBarrierPipeCloseOnExec checks, while a barrier waits, that
// the pipes it made are close-on-exec, and that none is left afterwards.
func TestHygieneBarrierPipeCloseOnExec(t *testing.T) {
	l, n := pair(t)
	if err := n.Open(); err != nil { // the socket stays open: not what is counted
		t.Fatal(err)
	}
	l.HoldBarriers()
	before := pipeFDs(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Barrier(ctx) }()
	if _, err := l.WaitFor(ctxFor(t), "BARRIER=1"); err != nil {
		t.Fatal(err)
	}
	made := 0
	for fd, cloexec := range pipeFDs(t) {
		if _, ok := before[fd]; ok {
			continue // not ours: inherited from whoever started the test
		}
		made++
		if !cloexec {
			t.Errorf("barrier pipe fd %d is not close-on-exec", fd)
		}
	}
	if made == 0 {
		t.Fatal("found no new pipe while the barrier waits")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Barrier = %v; want context.Canceled", err)
	}
	l.ReleaseBarriers()
	if after := pipeFDs(t); len(after) != len(before) {
		t.Fatalf("%d pipe fds after the barrier; want %d as before", len(after), len(before))
	}
}

// pipeFDs maps this process's pipe fds to whether they are close-on-exec.
func pipeFDs(t *testing.T) map[int]bool {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	fds := make(map[int]bool)
	for _, e := range entries {
		link, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if !strings.HasPrefix(link, "pipe:") {
			continue
		}
		var fd int
		fmt.Sscan(e.Name(), &fd)
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds[fd] = flags&unix.FD_CLOEXEC != 0
		}
	}
	return fds
}

// TestStress sends 64 x 10,000 datagrams through one Notifier with mixed
// helpers and counts them all, whole, at the receiver.
func TestStress(t *testing.T) {
	if testing.Short() {
		t.Skip("640,000 sends")
	}
	const goroutines, sends = 64, 10000
	d := newDrain(t, "", func(b []byte) bool {
		s := string(b)
		return s == "WATCHDOG=1" || s == "READY=1\nSTATUS=busy" || s == "X_PROGRESS=1" || strings.HasPrefix(s, "STATUS=request ")
	})
	n := sdnotify.NewAddr(d.Addr)
	defer n.Close()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < sends; i++ {
				var err error
				switch i % 4 {
				case 0:
					err = n.Send(sdnotify.Watchdog())
				case 1:
					err = n.Send(sdnotify.Ready(), sdnotify.Status("busy"))
				case 2:
					err = n.Notify("X_PROGRESS=1")
				default:
					err = n.Send(sdnotify.Statusf("request %d", i))
				}
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d sends failed", failed.Load())
	}
	d.waitCount(t, goroutines*sends)
}

// TestStressReceiverRestarted restarts the receiver at the same path in the
// middle of a run: a datagram can be lost only while nobody is bound, and
// then the send that lost it returns an error. Every datagram is either
// received or reported.
func TestStressReceiverRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("stress")
	}
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "notify")
	ok := func(b []byte) bool { return string(b) == "WATCHDOG=1" }
	d1 := newDrain(t, path, ok)
	n := sdnotify.NewAddr(path)
	defer n.Close()
	const goroutines, sends = 16, 5000
	var wg sync.WaitGroup
	var failed, done atomic.Int64
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < sends; i++ {
				if err := n.Send(sdnotify.Watchdog()); err != nil {
					if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
						t.Errorf("send: %v; want ECONNREFUSED or ENOENT while the receiver is away", err)
					}
					failed.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	for done.Load() < goroutines*sends/3 {
		time.Sleep(time.Millisecond)
	}
	d1.close()
	os.Remove(path)
	time.Sleep(5 * time.Millisecond) // sends fail meanwhile
	d2 := newDrain(t, path, ok)
	wg.Wait()
	// Every send has returned: wait for what is in flight to be counted,
	// until the count stops changing.
	for last := int64(-1); ; {
		c := d1.count.Load() + d2.count.Load()
		if c == last || c+failed.Load() == goroutines*sends {
			break
		}
		last = c
		time.Sleep(100 * time.Millisecond)
	}
	// Datagrams queued in the first receiver's socket when it closed are
	// gone with it: the kernel had accepted them, so their sends reported
	// success. At most its queue's worth.
	received := d1.count.Load() + d2.count.Load()
	lostQueued := goroutines*sends - received - failed.Load()
	t.Logf("sent %d: received %d (%d before the restart, %d after), %d failed while no receiver was bound, %d lost in the closed receiver's queue",
		goroutines*sends, received, d1.count.Load(), d2.count.Load(), failed.Load(), lostQueued)
	if d2.count.Load() == 0 || failed.Load() == 0 {
		t.Fatalf("the restart was not exercised: %d after, %d failed", d2.count.Load(), failed.Load())
	}
	qlen := 10
	if b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen"); err == nil {
		fmt.Sscan(string(b), &qlen)
	}
	if lostQueued < 0 || lostQueued > int64(qlen)+1 {
		t.Fatalf("%d datagrams neither received nor reported; want at most the closed socket's queue, max_dgram_qlen+1 = %d", lostQueued, qlen+1)
	}
}

// TestHygieneAfterWaits checks that the sends that wait for a full queue
// (bounded by a deadline, a cancelled context, DefaultTimeout, Close) leave
// no descriptor (the eventfd they wait with) and no goroutine (the one
// watching their context) behind once the Notifier is closed.
func TestHygieneAfterWaits(t *testing.T) {
	l, n := pair(t)
	fds0, gs0 := openFDs(t), steadyGoroutines()
	l.Pause()
	fill(t, n)
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Millisecond, cancel)
		if err := n.SendContext(ctx, sdnotify.Watchdog()); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled send = %v; want context.Canceled", err)
		}
	}
	restore := sdnotify.SetSendTimeout(10 * time.Millisecond)
	err := n.Send(sdnotify.Ready())
	restore()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("plain send to a full queue = %v; want os.ErrDeadlineExceeded", err)
	}
	blocked := make(chan error)
	go func() { blocked <- n.Notify("X_BLOCKED=1") }()
	time.Sleep(20 * time.Millisecond)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; !errors.Is(err, sdnotify.ErrClosed) {
		t.Fatalf("send blocked at Close = %v; want ErrClosed", err)
	}
	// The socket (not open at the start) and the eventfd are closed.
	fds1, gs1 := openFDs(t), goroutinesAfterSettling(gs0)
	t.Logf("open fds %d -> %d, goroutines %d -> %d", fds0, fds1, gs0, gs1)
	if fds1 > fds0 || gs1 > gs0 {
		t.Fatalf("open fds %d -> %d, goroutines %d -> %d; want no more than before", fds0, fds1, gs0, gs1)
	}
}

// TestDroppedNotifierLeaksNothing checks that Notifiers dropped without
// Close, as a port of Python's SystemdNotifier().notify("READY=1") drops
// them, have their sockets (and the eventfd of one that waited) closed by
// the garbage collector, as an *os.File's would be.
func TestDroppedNotifierLeaksNothing(t *testing.T) {
	l := sdnotifytest.New(t)
	fds0 := openFDs(t)
	// No collection until the count below, or it would close some of the
	// dropped sockets early and the check that they were open would fail.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for i := 0; i < 100; i++ {
		if err := sdnotify.NewAddr(l.Addr).Notify("READY=1"); err != nil {
			t.Fatal(err)
		}
	}
	l.Pause()
	n := sdnotify.NewAddr(l.Addr)
	fill(t, n) // the last send waited, with an eventfd
	n = nil
	l.Resume()
	if fds := openFDs(t); fds < fds0+50 {
		t.Fatalf("%d open fds after 101 Notifiers, from %d: the test is not testing anything", fds, fds0)
	}
	var fds int
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if fds = openFDs(t); fds == fds0 {
			break
		}
	}
	t.Logf("open fds: %d, then 102 more with 101 dropped Notifiers (one with its eventfd), then %d after collection", fds0, fds)
	if fds != fds0 {
		t.Fatalf("open fds %d -> %d after the dropped Notifiers were collected; want no change", fds0, fds)
	}
}
