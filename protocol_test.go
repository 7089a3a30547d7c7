//go:build linux

package sdnotify_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

func TestStoreFiles(t *testing.T) {
	l, n := pair(t)
	r, w := pipe(t)
	if err := n.Send(sdnotify.FDStore("pipe-1", r, w)); err != nil {
		t.Fatal(err)
	}
	m := expectData(t, l, "FDSTORE=1\nFDNAME=pipe-1")
	if len(m.Files) != 2 {
		t.Fatalf("received %d files; want 2", len(m.Files))
	}
	// The files still belong to us, and the received ones are the same pipe.
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatalf("our write end after StoreFiles: %v", err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(m.Files[0], buf); err != nil || buf[0] != 'x' {
		t.Fatalf("reading the received read end: %q, %v", buf, err)
	}

	if err := n.Send(sdnotify.FDStore("", r)); err != nil {
		t.Fatal(err)
	}
	if m := expectData(t, l, "FDSTORE=1"); len(m.Files) != 1 {
		t.Fatalf("received %d files; want 1", len(m.Files))
	}
}

func TestMaxFiles(t *testing.T) {
	l, n := pair(t)
	files := make([]*os.File, sdnotify.MaxFiles)
	for i := range files {
		files[i] = os.Stdin
	}
	if err := n.Send(sdnotify.FDStore("many", files...)); err != nil {
		t.Fatalf("StoreFiles with %d files: %v", len(files), err)
	}
	if m := next(t, l); len(m.Files) != sdnotify.MaxFiles || m.Err != nil {
		t.Fatalf("received %d files (%v); want %d", len(m.Files), m.Err, sdnotify.MaxFiles)
	}
}

func TestSendWithFilesDoesNotBlockThem(t *testing.T) {
	l, n := pair(t)
	r, _ := pipe(t) // the write end stays open: reads wait
	if err := n.Send(sdnotify.FDStore("p", r)); err != nil {
		t.Fatal(err)
	}
	next(t, l)
	// A file passed to the library keeps its deadlines working: the library
	// did not switch it to blocking mode (as (*os.File).Fd would).
	if err := r.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatalf("SetReadDeadline after the send: %v", err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with deadline = %v; want os.ErrDeadlineExceeded", err)
	}
}

func TestBarrier(t *testing.T) {
	l, n := pair(t)
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Fatal(err)
	}
	if err := n.Barrier(ctxFor(t)); err != nil {
		t.Fatalf("Barrier released by the listener: %v", err)
	}
	expectData(t, l, "READY=1")
	m := expectData(t, l, "BARRIER=1")
	if len(m.Files) != 1 || m.Err != nil {
		t.Fatalf("barrier arrived as %s; want alone with one fd", m)
	}

	l.HoldBarriers()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := n.Barrier(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Barrier with a receiver that never closes = %v; want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Barrier returned after %v; want about 100ms", elapsed)
	}

	done := make(chan error)
	go func() { done <- n.Barrier(context.Background()) }()
	expectData(t, l, "BARRIER=1") // the timed-out one
	expectData(t, l, "BARRIER=1") // the waiting one
	l.ReleaseBarriers()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Barrier after ReleaseBarriers: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Barrier not released")
	}
}

func TestBarrierReceiverGone(t *testing.T) {
	l, err := sdnotifytest.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	n := l.Notifier()
	defer n.Close()
	l.Close()
	if err := n.Barrier(ctxFor(t)); err == nil {
		t.Fatal("Barrier with nobody listening = nil; want an error")
	}
}

func TestSpeakForPID(t *testing.T) {
	l, n := pair(t)

	// Our own PID, explicitly: always allowed.
	if err := n.SendContext(context.Background(), sdnotify.Ready(), sdnotify.Sender(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	if m := expectData(t, l, "READY=1"); m.PID != os.Getpid() {
		t.Fatalf("pid %d; want ours, %d", m.PID, os.Getpid())
	}

	// Another live process: privileged senders speak for it, others are
	// refused by the kernel and fall back to their own credentials.
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Skipf("cannot start a child: %v", err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	if err := n.SendContext(context.Background(), sdnotify.MainPID(child.Process.Pid), sdnotify.Sender(child.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	m := expectData(t, l, "MAINPID="+strconv.Itoa(child.Process.Pid))
	want := os.Getpid()
	if os.Geteuid() == 0 {
		want = child.Process.Pid
	}
	if m.PID != want {
		t.Fatalf("received with pid %d; want %d (euid %d)", m.PID, want, os.Geteuid())
	}

	// A process that does not exist: the kernel says ESRCH, and the message
	// goes out with our own credentials, as libsystemd does.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip(err)
	}
	if err := n.SendContext(context.Background(), sdnotify.Status("x"), sdnotify.Sender(gone.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	if m := expectData(t, l, "STATUS=x"); m.PID != os.Getpid() {
		t.Fatalf("pid %d after falling back; want ours, %d", m.PID, os.Getpid())
	}
}

func TestWatchdogTimeout(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		name      string
		usec, pid string // "-" means unset
		want      time.Duration
		wantErr   bool
	}{
		{"unset", "-", "-", 0, false},
		{"ours", "2000000", self, 2 * time.Second, false},
		{"pid unset", "1500", "-", 1500 * time.Microsecond, false},
		{"other pid", "2000000", "1", 0, false},
		{"zero", "0", self, 0, true},
		{"infinity", "18446744073709551615", self, 0, true},
		{"garbage", "2s", self, 0, true},
		{"negative", "-5", self, 0, true},
		{"empty", "", self, 0, true},
		{"overflow", "18446744073709551614", self, 0, true},
		{"bad pid", "1000", "x", 0, true},
		{"zero pid", "1000", "0", 0, true},
		{"bad usec, other pid", "x", "1", 0, true},
		{"leading zero pid", "1000", "0" + self, 0, true},
		{"leading zero usec", "01000", self, 0, true},
		{"signed usec", "+1000", self, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setOrUnset(t, "WATCHDOG_USEC", tt.usec)
			setOrUnset(t, "WATCHDOG_PID", tt.pid)
			got, err := sdnotify.New().WatchdogTimeout()
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("WatchdogTimeout() = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, sdnotify.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
		})
	}
}

func setOrUnset(t *testing.T, key, value string) {
	t.Helper()
	t.Setenv(key, value) // restores the old value after the test
	if value == "-" {
		os.Unsetenv(key)
	}
}

func TestKeepAlive(t *testing.T) {
	l := sdnotifytest.New(t)
	l.Setenv(t)
	t.Setenv("WATCHDOG_USEC", "100000") // 100ms: a keep-alive every 50ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := sdnotify.New()
	defer n.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.KeepAlive(ctx, nil) }()
	var times []time.Time
	for len(times) < 4 {
		m, err := l.WaitFor(ctxFor(t), "WATCHDOG=1")
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, m.Received)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("KeepAlive returned %v when its context ended; want nil", err)
	}
	// The interval itself (half the timeout) is KeepAlive's arithmetic; a
	// busy machine can delay one tick, so only a loop that stalled for ten
	// timeouts fails here, not scheduling.
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap > time.Second {
			t.Errorf("keep-alives %v apart; the timeout is 100ms", gap)
		}
	}

	// Unhealthy: no keep-alive goes out.
	l2 := sdnotifytest.New(t)
	l2.Setenv(t)
	n2 := sdnotify.New()
	defer n2.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	wedged := errors.New("wedged")
	checks, missed := 0, 0
	err := n2.KeepAlive(ctx2, &sdnotify.KeepAliveOptions{
		Healthy: func(context.Context) error { checks++; return wedged },
		Missed: func(err error) {
			missed++
			if !errors.Is(err, wedged) {
				t.Errorf("Missed(%v); want the health check's error", err)
			}
		},
	})
	if err != nil {
		t.Fatalf("KeepAlive = %v; want nil after its context ends", err)
	}
	// The check that ran as the context ended is not a miss.
	if checks < 2 || missed < checks-1 {
		t.Errorf("health check ran %d times, %d reported missed; want at least 2, each reported", checks, missed)
	}
	nothingArrives(t, l2)
}

// TestKeepAliveSurvivesBusyManager pauses the manager with its queue full
// for three keep-alive intervals, as PID 1 busy in a daemon-reload is: the
// keep-alives due meanwhile are dropped and reported, and they go out again
// once the manager reads. (Before, KeepAlive returned at the first one that
// could not be sent, and the manager later killed a healthy daemon.)
func TestKeepAliveSurvivesBusyManager(t *testing.T) {
	l := sdnotifytest.New(t)
	l.Setenv(t)
	t.Setenv("WATCHDOG_USEC", "200000") // a keep-alive every 100ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := sdnotify.New()
	defer n.Close()
	l.Pause()
	fill(t, n)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	misses := make(chan error, 100)
	done := make(chan error, 1)
	go func() {
		done <- n.KeepAlive(ctx, &sdnotify.KeepAliveOptions{Missed: func(err error) { misses <- err }})
	}()
	for i := 0; i < 3; i++ {
		select {
		case err := <-misses:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("missed keep-alive %d: %v; want context.DeadlineExceeded", i, err)
			}
		case err := <-done:
			t.Fatalf("KeepAlive returned %v after %d dropped keep-alives; want it to go on", err, i)
		case <-time.After(wait):
			t.Fatal("no keep-alive reported missed while the manager was not reading")
		}
	}
	l.Resume()
	for i := 0; i < 2; i++ {
		if _, err := l.WaitFor(ctxFor(t), "WATCHDOG=1"); err != nil {
			t.Fatalf("keep-alive %d after the manager resumed: %v", i, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("KeepAlive = %v; want nil once its context ends", err)
	}
}

func TestKeepAlivePermanentErrors(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	ctx := ctxFor(t)
	var ae *sdnotify.AddressError
	if err := sdnotify.NewAddr("run/notify").KeepAlive(ctx, nil); !errors.As(err, &ae) {
		t.Errorf("KeepAlive with a relative address = %v; want an *AddressError", err)
	}
	_, n := pair(t)
	n.Close()
	if err := n.KeepAlive(ctx, nil); !errors.Is(err, sdnotify.ErrClosed) {
		t.Errorf("KeepAlive after Close = %v; want ErrClosed", err)
	}
}

func TestKeepAliveWithoutWatchdog(t *testing.T) {
	os.Unsetenv("WATCHDOG_USEC")
	l, n := pair(t)
	if err := n.KeepAlive(context.Background(), nil); err != nil {
		t.Fatalf("KeepAlive without a watchdog = %v; want nil at once", err)
	}
	t.Setenv("WATCHDOG_USEC", "bogus")
	if err := sdnotify.NewAddr(l.Addr).KeepAlive(context.Background(), nil); !errors.Is(err, sdnotify.ErrInvalid) {
		t.Fatalf("KeepAlive with WATCHDOG_USEC=bogus = %v; want ErrInvalid", err)
	}
}

func TestNewUnsetenv(t *testing.T) {
	l := sdnotifytest.New(t)
	l.Setenv(t)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := sdnotify.NewUnsetenv()
	defer n.Close()
	for _, key := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		if v, ok := os.LookupEnv(key); ok {
			t.Errorf("%s=%q still in the environment", key, v)
		}
	}
	// The Notifier kept what it read.
	if d, err := n.WatchdogTimeout(); d != 3*time.Second || err != nil {
		t.Errorf("WatchdogTimeout() = %v, %v; want 3s", d, err)
	}
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Fatal(err)
	}
	expectData(t, l, "READY=1")
	// A child cannot see the socket.
	out, err := exec.Command("/bin/sh", "-c", "echo \"[$NOTIFY_SOCKET][$WATCHDOG_USEC]\"").Output()
	if err != nil {
		t.Skip(err)
	}
	if got := strings.TrimSpace(string(out)); got != "[][]" {
		t.Errorf("child sees %s; want [][]", got)
	}
}

func TestFailedSendKeepsErrno(t *testing.T) {
	n := sdnotify.NewAddr("@sdnotify-test-nobody-" + strconv.Itoa(os.Getpid()))
	defer n.Close()
	err := n.Send(sdnotify.Ready())
	var sysErr *os.SyscallError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &sysErr) {
		t.Fatalf("Ready() = %v; want an *os.SyscallError wrapping ECONNREFUSED", err)
	}
}

// TestSpeakForPIDRefused runs this test binary as nobody, which may not
// speak for PID 1: the kernel refuses the credentials with EPERM and the
// message goes out with the child's own.
func TestSpeakForPIDRefused(t *testing.T) {
	if os.Getenv("SDNOTIFY_TEST_SPEAK_FOR_1") == "1" {
		n := sdnotify.New()
		defer n.Close()
		err := n.SendContext(context.Background(), sdnotify.Status("from nobody"), sdnotify.Sender(1))
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to start a child as nobody")
	}
	l := sdnotifytest.NewAbstract(t) // no file permissions to get in the way
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := dir + "/test"
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestSpeakForPIDRefused$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), l.Env(), "SDNOTIFY_TEST_SPEAK_FOR_1=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child as nobody: %v\n%s", err, out)
	}
	m, err := l.WaitFor(ctxFor(t), "STATUS=from nobody")
	if err != nil {
		t.Fatal(err)
	}
	if m.PID != cmd.Process.Pid || m.UID != 65534 {
		t.Fatalf("received from pid %d uid %d; want the child's own, %d and 65534", m.PID, m.UID, cmd.Process.Pid)
	}
}
