package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// restarts is how many times each run restarts the server.
const restarts = 10

// TestRestartRefusesNoConnection restarts the server ten times under
// sdnotifytest's fake manager, as systemctl restart does, while a client
// makes requests back to back, each on a new connection. Taking its socket
// from the fd store, the server fails none of them; binding on start
// (-bind), it refuses those made while it restarts, which shows that the
// test can tell.
func TestRestartRefusesNoConnection(t *testing.T) {
	bin := build(t)
	for _, tc := range []struct {
		name         string
		args         []string
		wantFailures bool
	}{
		{name: "fd store", wantFailures: false},
		{name: "bind on start", args: []string{"-bind"}, wantFailures: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := restartUnderLoad(t, bin, tc.args)
			t.Logf("%d restarts: %d requests, %d failed, served by %d processes", restarts, c.requests, c.failures, len(c.pids))
			for _, e := range c.errors {
				t.Logf("failed: %v", e)
			}
			switch {
			case tc.wantFailures && c.failures == 0:
				t.Errorf("no request failed: the test cannot tell a server that refuses connections")
			case !tc.wantFailures && c.failures > 0:
				t.Errorf("%d of %d requests failed", c.failures, c.requests)
			}
			if len(c.pids) < 2 {
				t.Errorf("requests were served by %d process(es); the restarts did not happen", len(c.pids))
			}
		})
	}
}

// build builds the example into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the example: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "zerodowntime")
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// counts is what the client saw.
type counts struct {
	mu       sync.Mutex
	requests int
	failures int
	errors   []error        // the first few
	pids     map[string]int // requests served, by the pid that answered
}

func (c *counts) add(pid string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	if err != nil {
		c.failures++
		if len(c.errors) < 5 {
			c.errors = append(c.errors, err)
		}
		return
	}
	c.pids[pid]++
}

// restartUnderLoad starts the server, restarts it while a client makes
// requests, and returns what the client saw.
func restartUnderLoad(t *testing.T, bin string, args []string) *counts {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	l := sdnotifytest.New(t)
	l.EnableFDStore(1) // FileDescriptorStoreMax=1
	var stderr lockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("the servers' standard error:\n%s", stderr.String())
		}
	}()
	start := func(addr string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"-addr", addr}, args...)...)
		cmd.Stderr = &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.WaitDelay = 5 * time.Second
		return cmd
	}

	cmd := start("127.0.0.1:0")
	if err := l.Start(cmd); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			l.Stop(ctx, cmd)
		}
	}()
	addr, err := ready(ctx, l, cmd)
	if err != nil {
		t.Fatal(err)
	}

	c := &counts{pids: map[string]int{}}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client(ctx, "http://"+addr+"/", c, stop)
	}()
	stopClient := sync.OnceFunc(func() {
		close(stop)
		<-done
	})
	defer stopClient()

	for range restarts {
		time.Sleep(20 * time.Millisecond) // let this one serve a while
		next := start(addr)
		err := l.Restart(ctx, cmd, next)
		cmd = next
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ready(ctx, l, cmd); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	stopClient()
	if err := l.Stop(ctx, cmd); err != nil {
		t.Error(err)
	}
	return c
}

// ready waits for cmd's READY=1, and returns the address it serves on.
func ready(ctx context.Context, l *sdnotifytest.Listener, cmd *exec.Cmd) (string, error) {
	m, err := l.WaitFor(ctx, "READY=1")
	if err != nil {
		return "", err
	}
	if m.PID != cmd.Process.Pid {
		return "", fmt.Errorf("READY=1 from pid %d, not from the server just started (pid %d)", m.PID, cmd.Process.Pid)
	}
	addr, ok := strings.CutPrefix(m.Value("STATUS"), "Serving on ")
	if !ok {
		return "", fmt.Errorf("READY=1 with STATUS=%q", m.Value("STATUS"))
	}
	return addr, nil
}

// client makes requests to url back to back, each on a new connection,
// until stop is closed or ctx ends, and counts them in c.
func client(ctx context.Context, url string, c *counts, stop <-chan struct{}) {
	hc := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		c.add(get(ctx, hc, url))
	}
}

// get makes one request, and returns the pid that answered it.
func get(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	pid, ok := strings.CutPrefix(strings.TrimSpace(line), "hello from pid ")
	if resp.StatusCode != http.StatusOK || !ok {
		return "", fmt.Errorf("answer %s: %q", resp.Status, line)
	}
	return pid, nil
}

// lockedBuffer is a strings.Builder for several writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
