//go:build linux

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunGoRunHint: a daemon started by a wrapper (go run, a shell) is
// not the main process, so NotifyAccess=main ignores its READY=1 and the
// start times out; run says why and what to do, once.
func TestRunGoRunHint(t *testing.T) {
	requireSubreaper(t)
	t.Parallel()
	dir := t.TempDir()
	// A stand-in for the go command: "go run ." builds and starts the
	// program as its child.
	goStub := filepath.Join(dir, "go")
	if err := os.WriteFile(goStub, []byte("#!/bin/sh\n"+daemonBin+" ready wait\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		argv []string
		hint string
	}{
		{"go run", []string{"--", goStub, "run", "."}, "build it first (go build -o /tmp/prog . && sdnotify run -- /tmp/prog), or pass --notify-access=all"},
		{"shell", []string{"--", "/bin/sh", "-c", daemonBin + " ready wait; :"}, "run the daemon itself (exec it from a script), or pass --notify-access=all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startRun(t, append([]string{"--timeout-start=1s", "--timeout-stop=2s"}, tc.argv...)...)
			s.expectExit(exitTimeout, "timeout")
			n := 0
			for _, ev := range s.all() {
				n += strings.Count(ev.Message, tc.hint)
			}
			if n != 2 {
				// Once in the ignored event, once in the result.
				t.Errorf("the hint %q is in the events %d times, want 2:\n%s", tc.hint, n, s.stdout)
			}
			if !strings.Contains(s.stderr.String(), tc.hint) || !strings.Contains(s.stderr.String(), "a descendant, which notify-access=main ignores") {
				t.Errorf("stderr lacks the hint: %q", s.stderr)
			}
		})
	}
}

// TestRunEndSignals: a signal that ends run (here SIGPIPE from a reader
// that went away, as "sdnotify run ... | head -1" has it, and others)
// stops COMMAND and leaves nothing behind: no socket directory, no
// process, no --listen socket file; run exits 128+N.
func TestRunEndSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGPIPE, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGALRM} {
		t.Run(signalName(sig), func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			sock := filepath.Join(tmp, "listen.sock")
			cmd := exec.Command(toolBin, "run", "--listen=unix:"+sock+":admin", "--", daemonBin, "ready", "ping:20ms", "wait")
			cmd.Env = toolEnv("TMPDIR=" + tmp)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			r := bufio.NewReader(out)
			var pid string
			for pid == "" {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("no start event: %v", err)
				}
				if m := regexp.MustCompile(` start +pid (\d+)`).FindStringSubmatch(line); m != nil {
					pid = m[1]
				}
			}
			if sig == syscall.SIGPIPE {
				out.Close() // as head does after its line: the next event gets EPIPE
			} else {
				cmd.Process.Signal(sig)
				go r.WriteTo(discard{})
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("run did not end after %v; stderr:\n%s", sig, stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) {
				t.Errorf("exit %d (%v), want %d; stderr:\n%s", code, cmd.ProcessState, 128+int(sig), stderr.String())
			}
			entries, _ := os.ReadDir(tmp)
			for _, e := range entries {
				t.Errorf("left behind in TMPDIR: %s", e.Name())
			}
			if _, err := os.Stat("/proc/" + pid); err == nil {
				t.Errorf("COMMAND (pid %s) is still there", pid)
			}
			if strings.Count(stderr.String(), signalName(sig)) == 0 {
				t.Errorf("stderr does not say why run ended: %q", stderr.String())
			}
		})
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// TestMessagesSaidOnce: no message says a prefix, a hint or a status
// twice (issue 14: "sdnotify send: Failed to notify init system:
// sdnotify: ...", "(sdnotify send --help)" then "Try 'sdnotify send
// --help'.", "killed by SIGKILL (status 137) (exit 137)").
func TestMessagesSaidOnce(t *testing.T) {
	t.Parallel()
	doubled := regexp.MustCompile(`sdnotify[a-z ]*: .*sdnotify[a-z]*: |\(status \d+\)|--help\).*\n.*--help|sdnotifytest:`)
	var outputs []string
	for _, args := range [][]string{
		{"send"},
		{"send", "--ready"},
		{"send", "--bogus"},
		{"send", "READY"},
		{"run", "--", daemonBin, "ready", "kill:KILL"},
		{"run", "--", daemonBin, "exit:0"},
		{"run", "--timeout-start=300ms", "--", daemonBin, "wait"},
	} {
		env := toolEnv("NOTIFY_SOCKET=/nonexistent/notify")
		_, stdout, stderr := runTool(t, env, args...)
		outputs = append(outputs, stdout+stderr)
	}
	for _, o := range outputs {
		if m := doubled.FindString(o); m != "" {
			t.Errorf("said twice: %q in\n%s", m, o)
		}
	}
	if !strings.Contains(strings.Join(outputs, ""), "was killed by SIGKILL (exit 137)") {
		t.Errorf("no \"was killed by SIGKILL (exit 137)\" in:\n%s", strings.Join(outputs, "\n"))
	}
}

// TestNoTestingDependency: the command depends on no package that
// imports testing (it used to import sdnotifytest).
func TestNoTestingDependency(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" || strings.HasSuffix(pkg, "/sdnotifytest") {
			t.Errorf("the command depends on %s", pkg)
		}
	}
}
