//go:build linux

package sdnotify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// serveReloads runs ServeReloads in a goroutine and returns a function that
// ends it and returns its error.
func serveReloads(t *testing.T, n *sdnotify.Notifier, reload func(context.Context) error, opts *sdnotify.ReloadOptions) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.ServeReloads(ctx, reload, opts) }()
	stopped := false
	var err error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(wait):
				t.Fatal("ServeReloads did not return after its context ended")
			}
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// signalSelf sends sig to this process.
func signalSelf(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		t.Fatal(err)
	}
}

// expectReloading waits for RELOADING=1 with a MONOTONIC_USEC= of now.
func expectReloading(t *testing.T, l *sdnotifytest.Listener) {
	t.Helper()
	m := next(t, l)
	if len(m.Assignments) != 2 || !m.Has("RELOADING=1") || m.Value("MONOTONIC_USEC") == "" {
		t.Fatalf("received %q, want RELOADING=1 and MONOTONIC_USEC= alone", m.Data)
	}
}

// TestServeReloads runs three reload cycles, the second of which fails,
// and checks every notification: READY=1 (with Ready) once the signal is
// caught, then for each SIGHUP RELOADING=1 + MONOTONIC_USEC=, the reload,
// and READY=1; after the failure with STATUS= and ERRNO=, after the next
// success with ERRNO=0.
func TestServeReloads(t *testing.T) {
	l, n := pair(t)
	var mu sync.Mutex
	var calls int
	var failures []error
	reload := func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 2 {
			return fmt.Errorf("open /etc/mydaemon.conf: %w", syscall.ENOENT)
		}
		return nil
	}
	stop := serveReloads(t, n, reload, &sdnotify.ReloadOptions{
		Ready: []sdnotify.Assignment{sdnotify.Status("Serving")},
		Failed: func(err error) {
			mu.Lock()
			failures = append(failures, err)
			mu.Unlock()
		},
	})
	// SIGHUP right after READY=1 arrives: with the signal not caught by
	// then, this test binary would die of it.
	expectData(t, l, "READY=1\nSTATUS=Serving")

	signalSelf(t, syscall.SIGHUP)
	expectReloading(t, l)
	expectData(t, l, "READY=1\nSTATUS=Serving")

	signalSelf(t, syscall.SIGHUP)
	expectReloading(t, l)
	expectData(t, l, "READY=1\nSTATUS=Reload failed: open /etc/mydaemon.conf: no such file or directory\nERRNO=2")

	signalSelf(t, syscall.SIGHUP)
	expectReloading(t, l)
	expectData(t, l, "READY=1\nSTATUS=Serving\nERRNO=0")

	if err := stop(); err != nil {
		t.Errorf("ServeReloads returned %v after its context ended; want nil", err)
	}
	nothingArrives(t, l)
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Errorf("reload called %d times, want 3", calls)
	}
	if len(failures) != 1 || !errors.Is(failures[0], syscall.ENOENT) || !strings.Contains(failures[0].Error(), "reload failed") {
		t.Errorf("Failed got %v; want one error that says the reload failed and wraps ENOENT", failures)
	}
}

// TestServeReloadsFailureWithoutErrno: a failed reload whose error has no
// errno sends STATUS= only, and the next success sends no ERRNO=.
func TestServeReloadsFailureWithoutErrno(t *testing.T) {
	l, n := pair(t)
	fail := true
	serveReloads(t, n, func(context.Context) error {
		if fail {
			fail = false
			return errors.New("bad line 3\nin config")
		}
		return nil
	}, nil)
	expectData(t, l, "READY=1")
	signalSelf(t, syscall.SIGHUP)
	expectReloading(t, l)
	expectData(t, l, "READY=1\nSTATUS=Reload failed: bad line 3 in config")
	signalSelf(t, syscall.SIGHUP)
	expectReloading(t, l)
	expectData(t, l, "READY=1")
}

// TestServeReloadsSignal: ReloadOptions.Signal replaces SIGHUP.
func TestServeReloadsSignal(t *testing.T) {
	l, n := pair(t)
	reloaded := make(chan struct{}, 1)
	serveReloads(t, n, func(context.Context) error { reloaded <- struct{}{}; return nil },
		&sdnotify.ReloadOptions{Signal: syscall.SIGUSR2})
	expectData(t, l, "READY=1")
	signalSelf(t, syscall.SIGUSR2)
	expectReloading(t, l)
	expectData(t, l, "READY=1")
	select {
	case <-reloaded:
	default:
		t.Error("READY=1 arrived, but reload was not called")
	}
}

// TestServeReloadsDisabled: outside systemd nothing is sent, and each
// signal still runs the reload.
func TestServeReloadsDisabled(t *testing.T) {
	var n *sdnotify.Notifier // disabled
	reloaded := make(chan struct{}, 1)
	stop := serveReloads(t, n, func(context.Context) error { reloaded <- struct{}{}; return nil },
		&sdnotify.ReloadOptions{Signal: syscall.SIGUSR2})
	// ServeReloads catches the signal before it returns from its first
	// (no-op) send; give it a moment to get there, then signal until a
	// reload runs.
	deadline := time.After(wait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-reloaded:
			done = true
		case <-tick.C:
			signalSelf(t, syscall.SIGUSR2)
		case <-deadline:
			t.Fatal("no reload ran on SIGUSR2 with a disabled Notifier")
		}
	}
	if err := stop(); err != nil {
		t.Errorf("ServeReloads: %v", err)
	}
}

// TestServeReloadsInvalid: bad arguments are refused at once, with
// ErrInvalid and a message that names them, and nothing is sent.
func TestServeReloadsInvalid(t *testing.T) {
	l, n := pair(t)
	ok := func(context.Context) error { return nil }
	ctx := context.Background()
	cases := []struct {
		name   string
		ctx    context.Context
		reload func(context.Context) error
		opts   *sdnotify.ReloadOptions
		want   string
	}{
		{"nil context", nil, ok, nil, "nil context"},
		{"nil reload", ctx, nil, nil, "nil reload function"},
		{"SIGKILL", ctx, ok, &sdnotify.ReloadOptions{Signal: syscall.SIGKILL}, `"killed" (9) cannot be caught`},
		{"SIGSTOP", ctx, ok, &sdnotify.ReloadOptions{Signal: syscall.SIGSTOP}, "cannot be caught"},
		{"signal 0", ctx, ok, &sdnotify.ReloadOptions{Signal: syscall.Signal(0)}, "cannot be caught"},
		{"not a syscall.Signal", ctx, ok, &sdnotify.ReloadOptions{Signal: fakeSignal{}}, "is not a syscall.Signal"},
		{"bad Ready", ctx, ok, &sdnotify.ReloadOptions{Ready: []sdnotify.Assignment{sdnotify.MainPID(-1)}}, "ReloadOptions.Ready: MAINPID=-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := n.ServeReloads(c.ctx, c.reload, c.opts)
			if !errors.Is(err, sdnotify.ErrInvalid) || !strings.Contains(fmt.Sprint(err), c.want) {
				t.Errorf("ServeReloads: %v; want ErrInvalid saying %q", err, c.want)
			}
		})
	}
	nothingArrives(t, l)
}

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

// TestServeReloadsReadyNotSent: when READY=1 cannot be sent, ServeReloads
// says so at once instead of serving reloads for a service that the
// manager will never see started.
func TestServeReloadsReadyNotSent(t *testing.T) {
	n := sdnotify.NewAddr("relative/path")
	defer n.Close()
	err := n.ServeReloads(context.Background(), func(context.Context) error { return nil }, nil)
	var ae *sdnotify.AddressError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "READY=1 not sent") {
		t.Errorf("ServeReloads with a bad address: %v; want an *AddressError saying READY=1 was not sent", err)
	}
}

// A Type=notify-reload service sends its READY=1 through ServeReloads,
// which catches SIGHUP first and then answers each one with RELOADING=1 and
// MONOTONIC_USEC=, the reload, and READY=1.
func ExampleNotifier_ServeReloads() {
	l, err := sdnotifytest.Listen("") // systemd, in a real service
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	n := sdnotify.NewAddr(l.Addr) // sdnotify.New(), in a real service
	defer n.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- n.ServeReloads(ctx, func(ctx context.Context) error {
			// ... read the configuration again ...
			return nil
		}, &sdnotify.ReloadOptions{Ready: []sdnotify.Assignment{sdnotify.Status("Serving")}})
	}()

	m, _ := l.Next(context.Background())
	fmt.Println(strings.ReplaceAll(string(m.Data), "\n", " "))
	syscall.Kill(os.Getpid(), syscall.SIGHUP) // systemctl reload, in a real service
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
	cancel()
	fmt.Println("ServeReloads returned", <-done)
	// Output:
	// READY=1 STATUS=Serving
	// RELOADING=1 MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>
	// READY=1 STATUS=Serving
	// ServeReloads returned <nil>
}
