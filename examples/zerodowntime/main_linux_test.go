package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/loadclient"
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
			t.Logf("%d restarts: %d requests, %d failed, served by %d processes", restarts, c.Requests, c.Failures, len(c.PIDs))
			for _, e := range c.Errors {
				t.Logf("failed: %v", e)
			}
			switch {
			case tc.wantFailures && c.Failures == 0:
				t.Errorf("no request failed: the test cannot tell a server that refuses connections")
			case !tc.wantFailures && c.Failures > 0:
				t.Errorf("%d of %d requests failed", c.Failures, c.Requests)
			}
			if len(c.PIDs) < 2 {
				t.Errorf("requests were served by %d process(es); the restarts did not happen", len(c.PIDs))
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

// restartUnderLoad starts the server, restarts it while a client makes
// requests, and returns what the client saw.
func restartUnderLoad(t *testing.T, bin string, args []string) loadclient.Counts {
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

	cl := loadclient.New("http://"+addr+"/", nil)
	cl.Start(ctx)
	defer cl.Stop()

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
	c := cl.Stop()
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
