//go:build linux

package sdnotifytest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawSend sends b to addr with a plain socket, bypassing the library's checks.
func rawSend(t *testing.T, addr string, b []byte) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Sendto(fd, b, 0, &syscall.SockaddrUnix{Name: addr}); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		data        string
		dropped     bool
		assignments []string
		ignored     []string
	}{
		{name: "ready", data: "READY=1", assignments: []string{"READY=1"}},
		{name: "several", data: "READY=1\nSTATUS=x=y", assignments: []string{"READY=1", "STATUS=x=y"}},
		{name: "carriage return splits", data: "STATUS=a\rREADY=1", assignments: []string{"STATUS=a", "READY=1"}},
		{name: "empty lines and no '='", data: "\n\nREADY=1\nnonsense\n", assignments: []string{"READY=1"}},
		{name: "exactly 4096", data: "X_A=" + strings.Repeat("x", 4092), assignments: []string{"X_A=" + strings.Repeat("x", 4092)}},
		{name: "empty is read as nothing", data: ""},
		{name: "4097 bytes", data: "X_A=" + strings.Repeat("x", 4093), dropped: true},
		{name: "one NUL at the end", data: "READY=1\x00", assignments: []string{"READY=1"}},
		{name: "NUL inside", data: "READY=1\x00\n", dropped: true},
		{name: "status not UTF-8", data: "READY=1\nSTATUS=caf\xe9", assignments: []string{"READY=1"}, ignored: []string{"STATUS=caf\xe9"}},
		{name: "reloading alone", data: "RELOADING=1", assignments: []string{"RELOADING=1"}},
		{name: "reloading with monotonic", data: "RELOADING=1\nMONOTONIC_USEC=5", assignments: []string{"RELOADING=1", "MONOTONIC_USEC=5"}},
		{name: "READY=0", data: "READY=0", ignored: []string{"READY=0"}},
		{name: "bad errno", data: "ERRNO=x", ignored: []string{"ERRNO=x"}},
		{name: "errno by name", data: "ERRNO=EINVAL", assignments: []string{"ERRNO=EINVAL"}},
		{name: "errno 4096", data: "ERRNO=4096", ignored: []string{"ERRNO=4096"}},
		{name: "watchdog off", data: "WATCHDOG_USEC=0", assignments: []string{"WATCHDOG_USEC=0"}},
		{name: "numbers as systemd reads them", data: "WATCHDOG_USEC= 0x0F4240\nEXTEND_TIMEOUT_USEC=0b101", assignments: []string{"WATCHDOG_USEC= 0x0F4240", "EXTEND_TIMEOUT_USEC=0b101"}},
		{name: "bad watchdog", data: "WATCHDOG=2", ignored: []string{"WATCHDOG=2"}},
		{name: "bad fdname", data: "FDSTORE=1\nFDNAME=a:b", assignments: []string{"FDSTORE=1"}, ignored: []string{"FDNAME=a:b"}},
		{name: "bad notifyaccess", data: "NOTIFYACCESS=some", ignored: []string{"NOTIFYACCESS=some"}},
		{name: "misspelt keys", data: "ready=1\nSTAUS=x", ignored: []string{"ready=1", "STAUS=x"}},
		{name: "backslash escapes", data: `STATUS=C:\path`, assignments: []string{"STATUS=C:path"}},
		{name: "trailing backslash", data: "READY=1\nSTATUS=x\\", dropped: true},
		{name: "private key", data: "X_ANYTHING=\xff", assignments: []string{"X_ANYTHING=\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdnotifytest.Parse([]byte(tt.data))
			if got := m.Err != nil; got != tt.dropped {
				t.Fatalf("Err = %v; want dropped %v", m.Err, tt.dropped)
			}
			if tt.dropped && !errors.Is(m.Err, sdnotifytest.ErrDropped) {
				t.Errorf("Err %v does not match ErrDropped", m.Err)
			}
			var got, ignored []string
			for _, a := range m.Assignments {
				got = append(got, a.String())
			}
			for _, ig := range m.Ignored {
				ignored = append(ignored, ig.String())
				if ig.Reason == "" {
					t.Errorf("ignored %q without a reason", ig.String())
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.assignments, "|") || strings.Join(ignored, "|") != strings.Join(tt.ignored, "|") {
				t.Fatalf("assignments %q, ignored %q; want %q, %q", got, ignored, tt.assignments, tt.ignored)
			}
		})
	}
}

func TestListenerReportsDrops(t *testing.T) {
	l := sdnotifytest.New(t)
	rawSend(t, l.Addr, []byte("READY=1\n"+strings.Repeat("x", 5000)))
	big := append([]byte("READY=1\n"), make([]byte, 100000)...)
	rawSend(t, l.Addr, big)
	rawSend(t, l.Addr, []byte("READY=1"))
	for _, want := range []string{"5008 bytes", "100008 bytes"} {
		m, err := l.Next(ctxFor(t))
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(m.Err, sdnotifytest.ErrDropped) || !strings.Contains(m.Err.Error(), want) || len(m.Assignments) != 0 {
			t.Fatalf("message %s: want dropped, %s", m, want)
		}
	}
	// WaitFor does not count what systemd would drop, and the next one is whole.
	m, err := l.WaitFor(ctxFor(t), "READY=1")
	if err != nil || string(m.Data) != "READY=1" {
		t.Fatalf("WaitFor = %v, %v", m, err)
	}
}

func TestWaitForPassesOverAndExplains(t *testing.T) {
	l := sdnotifytest.NewAbstract(t)
	if !strings.HasPrefix(l.Addr, "@") {
		t.Fatalf("abstract listener address %q", l.Addr)
	}
	n := l.Notifier()
	defer n.Close()
	n.Notify("STATUS=starting")
	n.Notify("READY=1\nSTATUS=up")
	m, err := l.WaitFor(ctxFor(t), "READY=1")
	if err != nil || m.Value("STATUS") != "up" {
		t.Fatalf("WaitFor = %v, %v", m, err)
	}
	if m.PID != os.Getpid() || m.UID != os.Getuid() {
		t.Errorf("credentials %d/%d; want ours", m.PID, m.UID)
	}
	if got := len(l.Messages()); got != 2 {
		t.Errorf("Messages() has %d; want 2", got)
	}

	n.Notify("STATUS=still going")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = l.WaitFor(ctx, "STOPPING=1")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still going") {
		t.Fatalf("WaitFor that times out = %v; want DeadlineExceeded naming what arrived", err)
	}
	if _, err := l.WaitFor(ctx, "READY"); err == nil {
		t.Fatal("WaitFor without '=' = nil error")
	}
}

func TestEnvForChild(t *testing.T) {
	l := sdnotifytest.New(t)
	// The child is this test binary, running TestChildSends with the
	// environment that Env gives it.
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildSends$")
	cmd.Env = append(os.Environ(), l.Env(), "SDNOTIFYTEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	m, err := l.WaitFor(ctxFor(t), "READY=1")
	if err != nil {
		t.Fatal(err)
	}
	if m.PID != cmd.Process.Pid {
		t.Errorf("pid %d; want the child's, %d", m.PID, cmd.Process.Pid)
	}
}

// TestChildSends is run by TestEnvForChild in a child process.
func TestChildSends(t *testing.T) {
	if os.Getenv("SDNOTIFYTEST_CHILD") != "1" {
		t.Skip("run by TestEnvForChild")
	}
	addr := os.Getenv("NOTIFY_SOCKET")
	rawSend(t, addr, []byte("READY=1"))
}

func TestPauseResume(t *testing.T) {
	l := sdnotifytest.New(t)
	l.Pause()
	time.Sleep(10 * time.Millisecond)
	rawSend(t, l.Addr, []byte("X_QUEUED=1"))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if m, err := l.Next(ctx); err == nil {
		t.Fatalf("received %s while paused", m)
	}
	l.Resume()
	m, err := l.Next(ctxFor(t))
	if err != nil || string(m.Data) != "X_QUEUED=1" {
		t.Fatalf("after Resume: %v, %v", m, err)
	}
}

func TestCloseRemovesDirAndStopsWaiters(t *testing.T) {
	l, err := sdnotifytest.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(l.Addr)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory %s: %v, mode %v; want 0700", dir, err, fi.Mode().Perm())
	}
	waiting := make(chan error)
	go func() {
		_, err := l.Next(context.Background())
		waiting <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case err := <-waiting:
		if err == nil {
			t.Fatal("Next returned nil error after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release a waiting Next")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory %s still there after Close: %v", dir, err)
	}
}

func TestListenErrors(t *testing.T) {
	for _, addr := range []string{"relative", "/nonexistent-dir/sdnotify/notify"} {
		if l, err := sdnotifytest.Listen(addr); err == nil {
			l.Close()
			t.Errorf("Listen(%q) = nil error", addr)
		}
	}
}

func TestDiscard(t *testing.T) {
	l := sdnotifytest.New(t)
	n := l.Notifier()
	defer n.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := n.SendContext(context.Background(), sdnotify.FDStore("", w)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	n.Notify("STATUS=two")
	n.Notify("STATUS=three")
	first, err := l.Next(ctxFor(t))
	if err != nil || len(first.Files) != 1 {
		t.Fatalf("Next = %v, %v; want the message with a file", first, err)
	}
	if _, err := l.WaitFor(ctxFor(t), "STATUS=two"); err != nil {
		t.Fatal(err)
	}
	// Wait for the third to arrive before discarding.
	deadline := time.Now().Add(10 * time.Second)
	for len(l.Messages()) < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	l.Discard()
	if ms := l.Messages(); len(ms) != 1 || ms[0].Value("STATUS") != "three" {
		t.Fatalf("after Discard, Messages() = %v; want only the one not yet returned", ms)
	}
	if m, err := l.Next(ctxFor(t)); err != nil || m.Value("STATUS") != "three" {
		t.Fatalf("Next after Discard = %v, %v", m, err)
	}
	l.Discard()
	if ms := l.Messages(); len(ms) != 0 {
		t.Fatalf("Messages() = %v; want none", ms)
	}
	// The discarded message's file is the caller's now: Close leaves it
	// open, so the pipe's write end is still there.
	l.Close()
	if _, err := first.Files[0].Stat(); err != nil {
		t.Fatalf("discarded message's file: %v; want it left open", err)
	}
	first.Files[0].Close()
}

// TestWaitForReloadingAlone: the manager acts on a plain RELOADING=1 from
// a running service (issue 14: WaitFor("RELOADING=1") timed out, while
// sdnotify run took it as a reload); and a misspelt key is reported.
func TestWaitForReloadingAlone(t *testing.T) {
	l := sdnotifytest.New(t)
	rawSend(t, l.Addr, []byte("RELOADING=1\nSTAUS=reloading"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := l.WaitFor(ctx, "RELOADING=1")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Ignored) != 1 || !strings.Contains(m.Ignored[0].Reason, "did you mean STATUS=?") || !strings.Contains(m.String(), "did you mean STATUS=?") {
		t.Errorf("the misspelt STAUS= is not flagged: %s", m)
	}
}
