//go:build linux

package sdnotify_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// wait bounds every wait for a datagram, so that a broken test fails
// instead of hanging.
const wait = 10 * time.Second

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// pair returns a fake manager and a Notifier that sends to it, both closed
// when the test ends.
func pair(t *testing.T) (*sdnotifytest.Listener, *sdnotify.Notifier) {
	t.Helper()
	l := sdnotifytest.New(t)
	n := l.Notifier()
	t.Cleanup(func() { n.Close() })
	return l, n
}

// pipe returns both ends of a new pipe, closed when the test ends.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// next returns the next datagram l receives, failing the test if none
// arrives in time.
func next(t *testing.T, l *sdnotifytest.Listener) *sdnotifytest.Message {
	t.Helper()
	m, err := l.Next(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// nothingArrives checks that l receives nothing within a short while.
func nothingArrives(t *testing.T, l *sdnotifytest.Listener) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if m, err := l.Next(ctx); err == nil {
		t.Fatalf("received %s; want nothing", m)
	}
}

func expectData(t *testing.T, l *sdnotifytest.Listener, want string) *sdnotifytest.Message {
	t.Helper()
	m := next(t, l)
	if string(m.Data) != want {
		t.Fatalf("received %q, want %q", m.Data, want)
	}
	return m
}

// listeners runs f with a listener on a path and one on an abstract address.
func listeners(t *testing.T, f func(t *testing.T, l *sdnotifytest.Listener)) {
	t.Run("path", func(t *testing.T) { f(t, sdnotifytest.New(t)) })
	t.Run("abstract", func(t *testing.T) { f(t, sdnotifytest.NewAbstract(t)) })
}

func TestNotifyExactBytes(t *testing.T) {
	listeners(t, func(t *testing.T, l *sdnotifytest.Listener) {
		l.Setenv(t)
		n := sdnotify.New()
		defer n.Close()
		if !n.Enabled() || n.Addr() != l.Addr {
			t.Fatalf("Enabled() = %v, Addr() = %q; want true, %q", n.Enabled(), n.Addr(), l.Addr)
		}
		for _, state := range []string{
			"READY=1",
			"READY=1\nSTATUS=Serving on :8080",
			"STATUS=trailing newline kept\n",
			"X_CUSTOM=anything at all",
			strings.Repeat("x", sdnotify.MaxStateLen),
		} {
			if err := n.Notify(state); err != nil {
				t.Fatalf("Notify(%q): %v", state, err)
			}
			m := expectData(t, l, state)
			if m.PID != os.Getpid() || m.UID != os.Getuid() || m.GID != os.Getgid() {
				t.Errorf("credentials pid=%d uid=%d gid=%d; want ours, %d %d %d", m.PID, m.UID, m.GID, os.Getpid(), os.Getuid(), os.Getgid())
			}
		}
	})
}

func TestHelpersExactBytes(t *testing.T) {
	l, n := pair(t)
	tests := []struct {
		name string
		send func() error
		want string
	}{
		{"Ready", func() error { return n.Send(sdnotify.Ready()) }, "READY=1"},
		{"Stopping", func() error { return n.Send(sdnotify.Stopping()) }, "STOPPING=1"},
		{"Watchdog", func() error { return n.Send(sdnotify.Watchdog()) }, "WATCHDOG=1"},
		{"Status", func() error { return n.Send(sdnotify.Status("Loading 3 of 7")) }, "STATUS=Loading 3 of 7"},
		{"Statusf", func() error { return n.Send(sdnotify.Statusf("Loading %d of %d", 3, 7)) }, "STATUS=Loading 3 of 7"},
		{"Send ready and status", func() error { return n.Send(sdnotify.Ready(), sdnotify.Status("up")) }, "READY=1\nSTATUS=up"},
		{"Errno", func() error { return n.Send(sdnotify.Status("cannot bind"), sdnotify.Errno(syscall.EADDRINUSE)) }, "STATUS=cannot bind\nERRNO=98"},
		{"Errno wrapped", func() error {
			_, err := os.Open("/nonexistent/sdnotify")
			return n.Send(sdnotify.Errno(err))
		}, "ERRNO=2"},
		{"Var private", func() error { return n.Send(sdnotify.Var("X_SESSIONS", "42")) }, "X_SESSIONS=42"},
		{"Var empty value", func() error { return n.Send(sdnotify.Var("STATUS", "")) }, "STATUS="},
		{"ExtendTimeout", func() error { return n.Send(sdnotify.ExtendTimeout(90 * time.Second)) }, "EXTEND_TIMEOUT_USEC=90000000"},
		{"WatchdogTimeout", func() error { return n.Send(sdnotify.SetWatchdogTimeout(1500 * time.Microsecond)) }, "WATCHDOG_USEC=1500"},
		{"WatchdogTrigger", func() error { return n.Send(sdnotify.WatchdogTrigger()) }, "WATCHDOG=trigger"},
		{"MainPID", func() error { return n.Send(sdnotify.MainPID(4242)) }, "MAINPID=4242"},
		{"ExitStatus", func() error { return n.Send(sdnotify.ExitStatus(3)) }, "EXIT_STATUS=3"},
		{"BusError", func() error { return n.Send(sdnotify.BusError("org.freedesktop.DBus.Error.TimedOut")) }, "BUSERROR=org.freedesktop.DBus.Error.TimedOut"},
		{"VarlinkError", func() error { return n.Send(sdnotify.VarlinkError("io.systemd.System.NoSuchUnit")) }, "VARLINKERROR=io.systemd.System.NoSuchUnit"},
		{"NotifyAccess", func() error { return n.Send(sdnotify.NotifyAccess(sdnotify.AccessAll)) }, "NOTIFYACCESS=all"},
		{"RestartReset", func() error { return n.Send(sdnotify.RestartReset()) }, "RESTART_RESET=1"},
		{"FDPoll", func() error { return n.Send(sdnotify.FDPollDisable()) }, "FDPOLL=0"},
		{"RemoveFiles", func() error { return n.Send(sdnotify.FDStoreRemove("conn-7")) }, "FDSTOREREMOVE=1\nFDNAME=conn-7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.send(); err != nil {
				t.Fatal(err)
			}
			m := expectData(t, l, tt.want)
			if m.Err != nil || len(m.Ignored) != 0 {
				t.Errorf("the listener reports %s", m)
			}
		})
	}
}

func TestReloadingOneDatagram(t *testing.T) {
	l, n := pair(t)
	before := monotonicNow(t)
	if err := n.Send(sdnotify.Reloading()); err != nil {
		t.Fatal(err)
	}
	after := monotonicNow(t)
	m := next(t, l)
	if !m.Has("RELOADING=1") || len(m.Assignments) != 2 || m.Assignments[1].Key != "MONOTONIC_USEC" {
		t.Fatalf("received %s; want RELOADING=1 and MONOTONIC_USEC= in one datagram", m)
	}
	var usec uint64
	if _, err := fmt.Sscan(m.Value("MONOTONIC_USEC"), &usec); err != nil || usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%s; want CLOCK_MONOTONIC between %d and %d", m.Value("MONOTONIC_USEC"), before, after)
	}
}

func TestDisabled(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	check := func(t *testing.T, n *sdnotify.Notifier) {
		t.Helper()
		if n.Enabled() || n.Addr() != "" {
			t.Errorf("Enabled() = %v, Addr() = %q; want false, \"\"", n.Enabled(), n.Addr())
		}
		for name, err := range map[string]error{
			"Notify":     n.Notify("READY=1"),
			"Notify bad": n.Notify(""), // not even checked: nothing is sent
			"Send":       n.Send(sdnotify.Ready()),
			"Status":     n.Send(sdnotify.Statusf("%d", 1)),
			"Open":       n.Open(),
			"Barrier":    n.Barrier(context.Background()),
			"StoreFiles": n.Send(sdnotify.FDStore("x", os.Stdin)),
		} {
			if err != nil {
				t.Errorf("%s on a disabled Notifier: %v; want nil", name, err)
			}
		}
	}
	t.Run("New", func(t *testing.T) { check(t, sdnotify.New()) })
	t.Run("zero", func(t *testing.T) { check(t, new(sdnotify.Notifier)) })
	t.Run("nil", func(t *testing.T) {
		var n *sdnotify.Notifier
		check(t, n)
		if err := n.Close(); err != nil {
			t.Errorf("Close on nil: %v", err)
		}
		if d, err := n.WatchdogTimeout(); d != 0 || err != nil {
			t.Errorf("WatchdogTimeout on nil = %v, %v; want 0, nil", d, err)
		}
	})
}

func TestZeroNotifierReadsEnvironmentOnFirstUse(t *testing.T) {
	l := sdnotifytest.New(t)
	var n sdnotify.Notifier // made before NOTIFY_SOCKET is set
	l.Setenv(t)
	defer n.Close()
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Fatal(err)
	}
	expectData(t, l, "READY=1")
}

func TestNewReadsEnvironmentOnce(t *testing.T) {
	l := sdnotifytest.New(t)
	l.Setenv(t)
	n := sdnotify.New()
	defer n.Close()
	os.Setenv("NOTIFY_SOCKET", "/nonexistent/elsewhere")
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Fatal(err)
	}
	expectData(t, l, "READY=1")
}

func TestAddressErrors(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale")
	l, err := sdnotifytest.Listen(stale)
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // removes the socket file
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	staleSocket := bindAndClose(t, filepath.Join(dir, "stale-socket"))
	tests := []struct {
		name, addr string
		errno      syscall.Errno
	}{
		{"empty", "", syscall.EPROTO},
		{"relative", "notify", syscall.EPROTO},
		{"too long", "/" + strings.Repeat("x", 107), syscall.ENAMETOOLONG},
		{"malformed vsock", "vsock:x:y", syscall.EINVAL},
		{"nothing there", filepath.Join(dir, "missing"), syscall.ENOENT},
		{"stale socket file", staleSocket, syscall.ECONNREFUSED},
		{"regular file", stale, syscall.ECONNREFUSED},
		{"unbound abstract name", fmt.Sprintf("@sdnotify-test-unbound-%d", os.Getpid()), syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.addr)
			n := sdnotify.New()
			defer n.Close()
			if !n.Enabled() {
				t.Fatalf("Enabled() = false with NOTIFY_SOCKET=%q; want true (set, though unusable)", tt.addr)
			}
			for i := 0; i < 2; i++ { // the error is the same every time
				err := n.Send(sdnotify.Ready())
				if !errors.Is(err, tt.errno) {
					t.Fatalf("Ready() = %v; want an error wrapping %v", err, tt.errno)
				}
				if !strings.HasPrefix(err.Error(), "sdnotify: ") || !strings.Contains(err.Error(), tt.addr) {
					t.Errorf("error %q does not start with sdnotify: and name %q", err, tt.addr)
				}
			}
		})
	}
}

// bindAndClose leaves a socket file behind with nobody listening on it.
func bindAndClose(t *testing.T, path string) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRelativePathNeverUsed checks that a relative NOTIFY_SOCKET is refused
// even where a socket by that name exists in the working directory, which
// Python's sdnotify and go-systemd would connect to.
func TestRelativePathNeverUsed(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := sdnotifytest.Listen(filepath.Join(dir, "notify"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Chdir(dir)
	t.Setenv("NOTIFY_SOCKET", "notify")
	n := sdnotify.New()
	defer n.Close()
	if err := n.Send(sdnotify.Ready()); !errors.Is(err, syscall.EPROTO) {
		t.Fatalf("Ready() = %v; want EPROTO", err)
	}
	nothingArrives(t, l)
}

func TestValidation(t *testing.T) {
	l, n := pair(t)
	tests := []struct {
		name string
		send func() error
	}{
		{"empty", func() error { return n.Notify("") }},
		{"NUL", func() error { return n.Notify("READY=1\x00") }},
		{"too long", func() error { return n.Notify(strings.Repeat("x", sdnotify.MaxStateLen+1)) }},
		{"no assignments", func() error { return n.Send() }},
		{"zero assignment", func() error { return n.Send(sdnotify.Ready(), sdnotify.Assignment{}) }},
		{"newline in value", func() error { return n.Send(sdnotify.Ready(), sdnotify.Var("X_NAME", "a\nREADY=1")) }},
		{"carriage return in value", func() error { return n.Send(sdnotify.Var("X_NAME", "a\rSTOPPING=1")) }},
		{"NUL in value", func() error { return n.Send(sdnotify.Var("X_NAME", "a\x00")) }},
		{"bad key", func() error { return n.Send(sdnotify.Var("X=Y", "1")) }},
		{"key with digit first", func() error { return n.Send(sdnotify.Var("1X", "1")) }},
		{"empty key", func() error { return n.Send(sdnotify.Var("", "1")) }},
		{"Var STATUS not UTF-8", func() error { return n.Send(sdnotify.Var("STATUS", "\xff")) }},
		{"Errno without errno", func() error { return n.Send(sdnotify.Errno(errors.New("plain"))) }},
		{"Errno nil", func() error { return n.Send(sdnotify.Errno(nil)) }},
		{"Errno 4096", func() error { return n.Send(sdnotify.Errno(syscall.Errno(4096))) }},
		{"backslash in value", func() error { return n.Send(sdnotify.Var("X_PATH", `C:\`), sdnotify.Ready()) }},
		{"backslash at the end", func() error { return n.Notify("READY=1\nX_A=\\") }},
		{"negative duration", func() error { return n.Send(sdnotify.ExtendTimeout(-time.Second)) }},
		{"zero duration", func() error { return n.Send(sdnotify.SetWatchdogTimeout(0)) }},
		{"sub-microsecond duration", func() error { return n.Send(sdnotify.ExtendTimeout(1500 * time.Nanosecond)) }},
		{"MainPID 0", func() error { return n.Send(sdnotify.MainPID(0)) }},
		{"ExitStatus 256", func() error { return n.Send(sdnotify.ExitStatus(256)) }},
		{"NotifyAccess bogus", func() error { return n.Send(sdnotify.NotifyAccess("some")) }},
		{"BusError one element", func() error { return n.Send(sdnotify.BusError("Failed")) }},
		{"BusError digit", func() error { return n.Send(sdnotify.BusError("org.1x.Failed")) }},
		{"VarlinkError lower-case", func() error { return n.Send(sdnotify.VarlinkError("io.systemd.failed")) }},
		{"FDName colon", func() error { return n.Send(sdnotify.FDStoreRemove("a:b")) }},
		{"FDName control", func() error { return n.Send(sdnotify.FDStoreRemove("a\tb")) }},
		{"FDName non-ASCII", func() error { return n.Send(sdnotify.FDStoreRemove("é")) }},
		{"FDName too long", func() error { return n.Send(sdnotify.FDStoreRemove(strings.Repeat("a", 256))) }},
		{"FDName empty", func() error { return n.Send(sdnotify.FDStoreRemove("")) }},
		{"FDName backslash", func() error { return n.Send(sdnotify.FDStoreRemove(`a\b`)) }},
		{"too long assembled", func() error {
			return n.Send(sdnotify.Ready(), sdnotify.Var("X_BIG", strings.Repeat("x", sdnotify.MaxStateLen)))
		}},
		{"StoreFiles without files", func() error { return n.Send(sdnotify.FDStore("x")) }},
		{"too many files", func() error {
			files := make([]*os.File, sdnotify.MaxFiles+1)
			for i := range files {
				files[i] = os.Stdin
			}
			return n.Send(sdnotify.FDStore("x", files...))
		}},
		{"nil file", func() error { return n.Send(sdnotify.FDStore("x", nil)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.send()
			if !errors.Is(err, sdnotify.ErrInvalid) || !strings.HasPrefix(err.Error(), "sdnotify: ") {
				t.Fatalf("got %v; want an sdnotify: error matching ErrInvalid", err)
			}
			nothingArrives(t, l)
		})
	}
}

func TestStatusRepair(t *testing.T) {
	l, n := pair(t)
	tests := []struct {
		name, text, want string
	}{
		{"plain", "ok", "STATUS=ok"},
		{"newline", "line one\nREADY=1", "STATUS=line one READY=1"},
		{"carriage return", "a\r\nb", "STATUS=a  b"},
		{"invalid UTF-8", "caf\xe9", "STATUS=caf\uFFFD"},
		{"NUL", "a\x00b", "STATUS=a\uFFFDb"},
		{"valid UTF-8 kept", "häuser ✓", "STATUS=häuser ✓"},
		{"backslash doubled", `C:\x`, `STATUS=C:\\x`},
		{"backslash at the end", `a\`, `STATUS=a\\`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A bad status must never cost the READY=1 beside it.
			if err := n.Send(sdnotify.Ready(), sdnotify.Status(tt.text)); err != nil {
				t.Fatal(err)
			}
			m := expectData(t, l, "READY=1\n"+tt.want)
			if !m.Has("READY=1") || m.Err != nil || len(m.Ignored) != 0 || len(m.Assignments) != 2 {
				t.Errorf("the listener reports %s; want READY=1 and one STATUS, both acted on", m)
			}
		})
	}
}

func TestStatusShortenedToFit(t *testing.T) {
	l, n := pair(t)
	text := strings.Repeat("é", sdnotify.MaxStateLen) // 2 bytes each
	if err := n.Send(sdnotify.Ready(), sdnotify.Status(text)); err != nil {
		t.Fatal(err)
	}
	m := next(t, l)
	if len(m.Data) > sdnotify.MaxStateLen || len(m.Data) < sdnotify.MaxStateLen-1 {
		t.Fatalf("datagram is %d bytes; want %d or one less (a character boundary)", len(m.Data), sdnotify.MaxStateLen)
	}
	if !m.Has("READY=1") || m.Err != nil || len(m.Ignored) != 0 || !strings.HasPrefix(text, m.Value("STATUS")) {
		t.Fatalf("the listener reports %s; want READY=1 and a prefix of the status", m)
	}
}

func TestReceiverRestartedAtSamePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notify")
	if len(path) >= 108 {
		t.Skipf("temp path %q too long for a socket", path)
	}
	l1, err := sdnotifytest.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	n := sdnotify.NewAddr(path)
	defer n.Close()
	if err := n.Notify("STATUS=first"); err != nil {
		t.Fatal(err)
	}
	expectData(t, l1, "STATUS=first")
	l1.Close()
	l2, err := sdnotifytest.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := n.Notify("STATUS=second"); err != nil {
		t.Fatalf("send after the receiver restarted: %v", err)
	}
	expectData(t, l2, "STATUS=second")
}

func TestReceiverGone(t *testing.T) {
	l, err := sdnotifytest.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	n := l.Notifier()
	defer n.Close()
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := n.Send(sdnotify.Ready()); !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("send with the receiver gone = %v; want ECONNREFUSED or ENOENT", err)
	}
}

func TestConcurrentSends(t *testing.T) {
	l, n := pair(t)
	const goroutines, sends = 16, 100
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < sends; i++ {
				var err error
				switch i % 3 {
				case 0:
					err = n.Notify(fmt.Sprintf("X_G=%d\nX_I=%d", g, i))
				case 1:
					err = n.Send(sdnotify.Var("X_G", fmt.Sprint(g)), sdnotify.Var("X_I", fmt.Sprint(i)))
				default:
					err = n.SendContext(context.Background(), sdnotify.Var("X_G", fmt.Sprint(g)), sdnotify.Var("X_I", fmt.Sprint(i)))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for i := 0; i < goroutines*sends; i++ {
		m := next(t, l)
		if len(m.Assignments) != 2 || m.Assignments[0].Key != "X_G" || m.Assignments[1].Key != "X_I" {
			t.Fatalf("datagram %q is not whole", m.Data)
		}
		if seen[string(m.Data)] {
			t.Fatalf("datagram %q received twice", m.Data)
		}
		seen[string(m.Data)] = true
	}
	nothingArrives(t, l)
}

func TestCloseOnExec(t *testing.T) {
	_, n := pair(t)
	before := socketLinks(t)
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	var ours []string
	for link := range socketLinks(t) {
		if !before[link] {
			ours = append(ours, link)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("Open added sockets %q; want exactly one", ours)
	}
	out, err := exec.Command("/bin/sh", "-c", `for f in /proc/$$/fd/*; do readlink "$f"; done`).Output()
	if err != nil {
		t.Skipf("cannot list a child's fds: %v", err)
	}
	if strings.Contains(string(out), ours[0]) {
		t.Fatalf("child inherited the notify socket %s:\n%s", ours[0], out)
	}
}

func socketLinks(t *testing.T) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	links := make(map[string]bool)
	for _, e := range entries {
		if link, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(link, "socket:") {
			links[link] = true
		}
	}
	return links
}

func TestClose(t *testing.T) {
	l := sdnotifytest.New(t)
	n := l.Notifier()
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Notify":  n.Notify("READY=1"),
		"Send":    n.Send(sdnotify.Ready()),
		"Open":    n.Open(),
		"Barrier": n.Barrier(context.Background()),
	} {
		if !errors.Is(err, sdnotify.ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", name, err)
		}
	}
	expectData(t, l, "READY=1")
	nothingArrives(t, l)

	t.Run("disabled", func(t *testing.T) {
		os.Unsetenv("NOTIFY_SOCKET")
		n := sdnotify.New()
		n.Close()
		if err := n.Send(sdnotify.Ready()); !errors.Is(err, sdnotify.ErrClosed) {
			t.Errorf("Ready after Close on a disabled Notifier = %v; want ErrClosed", err)
		}
	})
}

func TestOpenEarlyThenPathGone(t *testing.T) {
	dir := t.TempDir()
	l, err := sdnotifytest.Listen(filepath.Join(dir, "notify"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := sdnotify.NewAddr(l.Addr)
	defer n.Close()
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	// As after a chroot: the path no longer leads to the socket.
	if err := os.Rename(l.Addr, filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Fatalf("send on a socket opened early: %v", err)
	}
	expectData(t, l, "READY=1")
}

func TestOpenReportsUnreachable(t *testing.T) {
	n := sdnotify.NewAddr(filepath.Join(t.TempDir(), "missing"))
	defer n.Close()
	if err := n.Open(); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Open() = %v; want ENOENT", err)
	}
}

func TestBoundedSend(t *testing.T) {
	l, n := pair(t)
	l.Pause()
	// Fill the receiver's queue: a send that would block returns the
	// context's error in time instead.
	var err error
	sent := 0
	for sent < 100000 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		err = n.SendContext(ctx, sdnotify.Var("X_FILL", "1"))
		elapsed := time.Since(start)
		cancel()
		if err != nil {
			if elapsed > 5*time.Second {
				t.Errorf("bounded send returned after %v", elapsed)
			}
			break
		}
		sent++
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after %d sends, send to a full queue = %v; want context.DeadlineExceeded", sent, err)
	}
	t.Logf("queue full after %d datagrams", sent)

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := n.SendContext(ctx, sdnotify.Ready()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled send = %v; want context.Canceled", err)
	}

	restore := sdnotify.SetSendTimeout(50 * time.Millisecond)
	err = n.Send(sdnotify.Ready())
	restore()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("plain send to a full queue = %v; want os.ErrDeadlineExceeded after DefaultTimeout", err)
	}

	l.Resume()
	for i := 0; i < sent; i++ {
		expectData(t, l, "X_FILL=1")
	}
	// The socket still works once the queue drains, and nothing that
	// timed out was sent.
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Fatal(err)
	}
	expectData(t, l, "READY=1")
	nothingArrives(t, l)
}

// fill sends until the queue of a paused receiver is full, which a send
// bounded by a short timeout reports with context.DeadlineExceeded.
func fill(t *testing.T, n *sdnotify.Notifier) {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := n.SendContext(ctx, sdnotify.Var("X_FILL", "1"))
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("send to a full queue = %v; want context.DeadlineExceeded", err)
			}
			return
		}
	}
}

func TestWaitingForLockHonoursContext(t *testing.T) {
	l, n := pair(t)
	l.Pause()
	fill(t, n)
	blocked := make(chan error)
	go func() { blocked <- n.Notify("X_BLOCKED=1") }() // holds the lock, waiting
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.SendContext(ctx, sdnotify.Var("X_OTHER", "1")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send waiting behind a blocked one = %v; want context.DeadlineExceeded", err)
	}
	// Close interrupts the blocked plain send.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, sdnotify.ErrClosed) {
			t.Fatalf("blocked send after Close = %v; want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not interrupt a blocked send")
	}
}

func TestStatusfRepairsAndFits(t *testing.T) {
	l, n := pair(t)
	if err := n.Send(sdnotify.Statusf("%s and %s", "one\nREADY=1", "caf\xe9")); err != nil {
		t.Fatal(err)
	}
	expectData(t, l, "STATUS=one READY=1 and caf\uFFFD")
	if err := n.Send(sdnotify.Statusf("%s", strings.Repeat("é", sdnotify.MaxStateLen))); err != nil {
		t.Fatal(err)
	}
	m := next(t, l)
	if len(m.Data) != sdnotify.MaxStateLen-1 || m.Err != nil || len(m.Ignored) != 0 {
		t.Fatalf("long status arrived as %d bytes (%v, %v); want %d, whole characters", len(m.Data), m.Err, m.Ignored, sdnotify.MaxStateLen-1)
	}
}

func TestAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("measures allocations")
	}
	if raceEnabled {
		// CI runs this test without -race too.
		t.Skip("the race detector moves the buffers handed to system calls to the heap")
	}
	// A receiver that the test reads itself, one datagram after each send,
	// without allocating (a Listener's allocations would be counted). The
	// queue never holds more than one datagram, so every send finds room
	// however busy the machine is, and takes the path measured here. (A
	// receiver of its own goroutine fell behind on a loaded machine: the
	// queue filled, and the sends that waited for room allocated.)
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{}); err != nil { // autobind: an abstract name
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := sa.(*syscall.SockaddrUnix).Name
	tv := syscall.NsecToTimeval(int64(wait))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	var rerr error
	receive := func() {
		// A plain read(2): the kernel closes any descriptors passed.
		if _, err := syscall.Read(fd, buf); err != nil && rerr == nil {
			rerr = err
		}
	}

	n := sdnotify.NewAddr(addr)
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := n.Send(sdnotify.Ready()); err != nil { // opens the socket
		t.Fatal(err)
	}
	receive()
	for _, tt := range []struct {
		name string
		max  float64
		send func() error
	}{
		{"Notify", 0, func() error { return n.Notify("WATCHDOG=1") }},
		{"Send", 0, func() error { return n.Send(sdnotify.Watchdog()) }},
		{"Send two", 0, func() error { return n.Send(sdnotify.Ready(), sdnotify.Status("serving")) }},
		// fmt's: the boxed argument and the formatted string.
		{"Statusf", 2, func() error { return n.Send(sdnotify.Statusf("request %d", 123456)) }},
		// The slice of FDStore's variadic files, which the Assignment keeps.
		{"FDStore", 1, func() error { return n.Send(sdnotify.FDStore("state", os.Stdin)) }},
		{"SendContext", 0, func() error { return n.SendContext(ctx, sdnotify.Watchdog()) }},
	} {
		var serr error
		got := testing.AllocsPerRun(100, func() {
			if err := tt.send(); err != nil {
				serr = err
			}
			receive()
		})
		if serr != nil || rerr != nil {
			t.Fatalf("%s: send: %v; receive: %v", tt.name, serr, rerr)
		}
		if got > tt.max {
			t.Errorf("%s: %v allocations per send; want at most %v", tt.name, got, tt.max)
		}
	}
	os.Unsetenv("NOTIFY_SOCKET")
	off := sdnotify.New()
	if got := testing.AllocsPerRun(100, func() { off.Notify("READY=1"); off.Send(sdnotify.Status("x")) }); got > 0 {
		t.Errorf("disabled: %v allocations; want none", got)
	}
}
