//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
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
)

// The binaries the tests drive, built by TestMain into a directory that a
// real systemd manager can read (0755, not go test's private 0700 dir).
var (
	binDir    string
	toolBin   string // this command
	daemonBin string // testdata/daemon
	toolRace  bool   // built with -race
	staticBin string // this command as it ships: CGO_ENABLED=0 (toolBin unless toolRace)
	goTool    string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	goTool = "go"
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	} else if p := "/usr/local/go/bin/go"; fileExists(p) {
		goTool = p
	}
	dir, err := os.MkdirTemp("", "sdnotify-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	binDir = dir
	toolBin = filepath.Join(dir, "sdnotify")
	daemonBin = filepath.Join(dir, "daemon")
	// Under -race, build the tool with -race too, so that the
	// supervisor's goroutines are checked; else build it as it ships,
	// static (CGO_ENABLED=0).
	if raceEnabled {
		if out, err := goBuild(toolBin, ".", "-race"); err == nil {
			toolRace = true
		} else {
			fmt.Fprintf(os.Stderr, "note: cannot build the tool with -race (%v), testing a normal build\n%s", err, out)
		}
	}
	staticBin = toolBin
	if toolRace {
		staticBin = filepath.Join(dir, "sdnotify-static")
	}
	if out, err := goBuild(staticBin, ".", "", "CGO_ENABLED=0"); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	if out, err := goBuild(daemonBin, "./testdata/daemon", "", "CGO_ENABLED=0"); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./testdata/daemon: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func goBuild(out, pkg, flag string, env ...string) ([]byte, error) {
	args := []string{"build", "-o", out}
	if flag != "" {
		args = append(args, flag)
	}
	cmd := exec.Command(goTool, append(args, pkg)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// toolEnv is the environment the tool runs in: ours, without the
// variables a manager would set, and with the race detector's exit pause
// off.
func toolEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "MANAGERPID", "FDSTORE", "LISTEN_FDS", "LISTEN_PID", "GORACE":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GORACE=atexit_sleep_ms=0")
	return append(env, extra...)
}

// collector reads a pipe to the end into a buffer.
type collector struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func collect(r *os.File, line func(string)) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.buf.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			if line != nil {
				line(sc.Text())
			}
		}
	}()
	return c
}

func (c *collector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// A session is one "sdnotify run --json ..." under test.
type session struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *collector
	stderr *collector
	exited chan struct{}

	mu      sync.Mutex
	events  []event
	bad     []string // stdout lines that are not JSON
	changed chan struct{}
}

// startRun starts "sdnotify run --json ARGS...".
func startRun(t *testing.T, args ...string) *session {
	t.Helper()
	s := &session{t: t, exited: make(chan struct{}), changed: make(chan struct{})}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(toolBin, append([]string{"run", "--json"}, args...)...)
	s.cmd.Env = toolEnv()
	s.cmd.Stdout, s.cmd.Stderr = outW, errW
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	errW.Close()
	s.stdout = collect(outR, s.line)
	s.stderr = collect(errR, nil)
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.exited
		}
	})
	return s
}

// line takes one line of the tool's stdout: a JSON event, or the test
// daemon's own output.
func (s *session) line(l string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ev event
	if strings.HasPrefix(l, "{") {
		if err := json.Unmarshal([]byte(l), &ev); err == nil && ev.Event != "" && ev.Time != "" {
			s.events = append(s.events, ev)
		} else {
			s.bad = append(s.bad, l)
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitEvent waits for an event of kind whose message contains substr
// (and that match accepts, if not nil), and returns it.
func (s *session) waitEvent(kind, substr string, match func(event) bool) event {
	s.t.Helper()
	return s.waitNth(kind, substr, 1, match)
}

// waitNth waits for the nth event of kind whose message contains substr
// (and that match accepts, if not nil), and returns it.
func (s *session) waitNth(kind, substr string, n int, match func(event) bool) event {
	s.t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		seen := 0
		for _, ev := range s.events {
			if ev.Event == kind && strings.Contains(ev.Message, substr) && (match == nil || match(ev)) {
				if seen++; seen < n {
					continue
				}
				s.mu.Unlock()
				return ev
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-s.stdout.done:
			s.t.Fatalf("no %s event with %q before the end of the output:\n%s\nstderr:\n%s", kind, substr, s.stdout, s.stderr)
		case <-timeout.C:
			s.t.Fatalf("no %s event with %q within 10s:\n%s\nstderr:\n%s", kind, substr, s.stdout, s.stderr)
		}
	}
}

// has reports whether an event of kind with substr arrived.
func (s *session) has(kind, substr string) bool {
	for _, ev := range s.all() {
		if ev.Event == kind && strings.Contains(ev.Message, substr) {
			return true
		}
	}
	return false
}

func (s *session) all() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.events...)
}

func (s *session) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the tool to exit, and for its output to end (every
// process that held it gone), and returns its exit code. It checks that
// every line of output was a JSON event ending with a result.
func (s *session) wait() int {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Signal(syscall.SIGQUIT)
		<-s.exited
		s.t.Fatalf("sdnotify run did not exit within 15s:\n%s\nstderr:\n%s", s.stdout, s.stderr)
	}
	for _, c := range []*collector{s.stdout, s.stderr} {
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			s.t.Fatalf("the output stayed open 5s after sdnotify run exited: a process was left behind\n%s", s.stdout)
		}
	}
	if strings.Contains(s.stderr.String(), "DATA RACE") {
		s.t.Errorf("the race detector found a race in sdnotify run:\n%s", s.stderr)
	}
	evs := s.all()
	if len(evs) == 0 || evs[len(evs)-1].Event != "result" {
		s.t.Errorf("the output does not end with a result event:\n%s", s.stdout)
	}
	if len(s.bad) > 0 {
		s.t.Errorf("lines of output that are not JSON events: %q", s.bad)
	}
	code := s.cmd.ProcessState.ExitCode()
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		s.t.Fatalf("sdnotify run was killed by %v:\n%s\nstderr:\n%s", ws.Signal(), s.stdout, s.stderr)
	}
	s.t.Logf("sdnotify run exited %d; output:\n%s%s", code, s.stdout, s.stderr)
	return code
}

// result is the run's result event.
func (s *session) result() event {
	evs := s.all()
	if len(evs) == 0 {
		return event{}
	}
	return evs[len(evs)-1]
}

// expectExit waits for the end and checks the exit code and the result.
func (s *session) expectExit(code int, result string) {
	s.t.Helper()
	if got := s.wait(); got != code {
		s.t.Errorf("exit code %d, want %d", got, code)
	}
	r := s.result()
	if r.Reason != result || r.ExitCode == nil || *r.ExitCode != code {
		s.t.Errorf("result event %+v, want Result=%s exit_code=%d", r, result, code)
	}
}

// runTool runs the tool to the end, bounded, and returns its exit code,
// stdout and stderr.
func runTool(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, toolBin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("sdnotify %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("sdnotify %q did not exit within 15s", args)
	}
	if strings.Contains(stderr.String(), "DATA RACE") {
		t.Errorf("the race detector found a race in sdnotify:\n%s", stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestBuildStaticWithoutNet checks that the command builds with
// CGO_ENABLED=0 into a static binary and does not import package net.
func TestBuildStaticWithoutNet(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "net" {
			t.Errorf("the command imports package net")
		}
	}
	bin := filepath.Join(t.TempDir(), "sdnotify")
	if out, err := goBuild(bin, ".", "", "CGO_ENABLED=0"); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the CGO_ENABLED=0 binary is dynamically linked (%v)", p.Type)
		}
	}
}

// TestTopLevel checks the top-level usage, help and version.
func TestTopLevel(t *testing.T) {
	t.Parallel()
	env := toolEnv()
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{nil, 2, "", "missing subcommand"},
		{[]string{"frobnicate"}, 2, "", `unknown subcommand "frobnicate"`},
		{[]string{"--ready"}, 2, "", `unknown flag "--ready"`},
		{[]string{"--help"}, 0, "sdnotify run [FLAGS]", ""},
		{[]string{"-h"}, 0, "sdnotify send [OPTIONS]", ""},
		{[]string{"help"}, 0, "sdnotify run [FLAGS]", ""},
		{[]string{"help", "run"}, 0, "--timeout-start=D", ""},
		{[]string{"help", "send"}, 0, "--no-block", ""},
		{[]string{"help", "frobnicate"}, 2, "", "unknown subcommand"},
		{[]string{"--version"}, 0, "sdnotify " + version + " (", ""},
		{[]string{"version"}, 0, "sdnotify " + version + " (", ""},
		{[]string{"run", "--help"}, 0, "Exit status:", ""},
		{[]string{"run", "-h"}, 0, "--notify-access=A", ""},
		{[]string{"send", "--help"}, 0, "2  a usage error", ""},
		{[]string{"send", "--version"}, 0, "sdnotify " + version, ""},
	} {
		code, stdout, stderr := runTool(t, env, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("sdnotify %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.args, code, trim(stdout), stderr, tc.code, tc.stdout, tc.stderr)
		}
		if tc.code == 0 && stderr != "" {
			t.Errorf("sdnotify %q: unexpected stderr %q", tc.args, stderr)
		}
	}
}

func trim(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
