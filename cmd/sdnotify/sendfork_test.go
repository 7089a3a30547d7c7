//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/procfs"
)

// forkChild is a command for --fork that sends READY=1 (without a barrier,
// which systemd-notify 262's socket refuses) and then stays, as sleep.
func forkChild(before string) []string {
	return []string{"sh", "-c", before + toolBin + " send --no-block --ready; exec sleep 60"}
}

// forkedPID reads the PID --fork printed, and has the test kill that
// process at its end.
func forkedPID(t *testing.T, stdout string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSuffix(stdout, "\n"))
	if err != nil || pid <= 1 || !strings.HasSuffix(stdout, "\n") {
		t.Fatalf("--fork printed %q, want a PID and a newline", stdout)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// running reports whether process pid runs: it exists and is not a
// zombie.
func running(pid int) bool {
	st, err := procfs.ReadStat(pid)
	return err == nil && !st.Zombie()
}

// TestSendForkMatchesSystemdNotify262 runs --fork with sdnotify send and
// with systemd-notify 262: the same exit status, the same output, and the
// command left running once ready.
func TestSendForkMatchesSystemdNotify262(t *testing.T) {
	t.Parallel()
	real := systemdNotifyFromRoot(t, "262")
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		ready bool // the command is left running
	}{
		{"ready", append([]string{"--fork", "--"}, forkChild("")...), 0, true},
		{"ready-quiet", append([]string{"--fork", "-q", "--"}, forkChild("")...), 0, true},
		{"ready-after-a-while", append([]string{"--fork", "--"}, forkChild("sleep 0.2; ")...), 0, true},
		{"exits-first", []string{"--fork", "--", "sh", "-c", "exit 7"}, 7, false},
		{"exits-0-first", []string{"--fork", "--", "true"}, 0, false},
		{"killed-first", []string{"--fork", "--", "sh", "-c", "kill -TERM $$"}, 1, false},
		{"not-found", []string{"--fork", "--", "/nonexistent/command"}, exitExec, false},
		{"not-a-command", []string{"--fork", "X=1", "--", "true"}, exitExec, false},
		// READY=1 from another process (speaking for itself) does not count.
		{"ready-from-another", []string{"--fork", "--", "sh", "-c", toolBin + " send --no-block --pid=self --ready; exit 5"}, 5, false},
		{"no-command", []string{"--fork"}, 1, false},
		{"with-ready", []string{"--fork", "--ready", "--", "true"}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range []sender{real, ours()} {
				c := captureSend(t, s, captureOpts{}, tc.args...)
				code := tc.code
				if s.name == ours().name && usageErrors[fmt.Sprintf("%q", tc.args)] {
					code = 2
				}
				if c.code != code {
					t.Errorf("%s %q: exit %d, want %d (stderr %q)", s.name, tc.args, c.code, code, c.stderr)
				}
				quiet := strings.Contains(strings.Join(tc.args, " "), " -q ")
				switch {
				case tc.ready && quiet && c.stdout != "":
					t.Errorf("%s %q: printed %q", s.name, tc.args, c.stdout)
				case tc.ready && !quiet:
					if pid := forkedPID(t, c.stdout); !running(pid) {
						t.Errorf("%s %q: the command (%d) is not running", s.name, tc.args, pid)
					}
				}
				// Upward, only ERRNO=71 for a command killed before it is
				// ready (and 262's EXIT_STATUS=).
				var msgs []string
				for _, m := range c.msgs {
					if m = noExitStatus(m); m != "" {
						msgs = append(msgs, m)
					}
				}
				want := ""
				switch tc.name {
				case "killed-first":
					want = `from=<self> uid=0 gid=0 fds=0 "ERRNO=71"`
				case "no-command", "with-ready":
					want = `from=<self> uid=0 gid=0 fds=0 "ERRNO=22"`
				}
				if os.Geteuid() == 0 && strings.Join(msgs, "\n") != want {
					t.Errorf("%s %q: sent %q upward, want %q", s.name, tc.args, msgs, want)
				}
			}
		})
	}
}

// TestSendForkSignals checks that --fork passes a signal on to the command
// while it waits, and then exits with the command's status. (systemd-notify
// 262 does too, but not reliably: under load it sometimes dies of the
// signal itself, before its handlers are set up, so it is not compared.)
func TestSendForkSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1} {
		dir := t.TempDir()
		started := filepath.Join(dir, "started")
		script := fmt.Sprintf(`trap 'echo got >%s/got; exit 3' %s; touch %s; while :; do sleep 0.05; done`, dir, strings.TrimPrefix(signalName(sig), "SIG"), started)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, toolBin, "send", "--fork", "-q", "--", "sh", "-c", script)
		cmd.Env = toolEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Once the command runs (sdnotify catches the signals before it
		// starts the command).
		for running(cmd.Process.Pid) {
			if _, err := os.Stat(started); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		cmd.Wait()
		cancel()
		got, _ := os.ReadFile(filepath.Join(dir, "got"))
		if code := cmd.ProcessState.ExitCode(); code != 3 || string(got) != "got\n" {
			t.Errorf("sdnotify send --fork, %v while waiting: exit %d, the command's trap wrote %q; want exit 3 and \"got\"", sig, code, got)
		}
	}
}

// TestSendForkOutput checks that $(sdnotify send --fork ...) returns once
// the command is ready, though the command stays: it does not hold the
// output, which goes to /dev/null (its standard error stays).
func TestSendForkOutput(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, toolBin, append([]string{"send", "--fork", "--"}, forkChild("echo to-stdout; echo to-stderr >&2; ")...)...)
	cmd.Env = toolEnv()
	// A file: the command keeps its standard error, sdnotify's.
	errFile := tempFile(t)
	cmd.Stderr = errFile
	out, err := cmd.Output()
	stderr := readAll(t, errFile)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	pid := forkedPID(t, string(out))
	if !running(pid) {
		t.Errorf("the command (%d) is not running", pid)
	}
	if !strings.Contains(stderr, "to-stderr") || strings.Contains(stderr+string(out), "to-stdout") {
		t.Errorf("stdout %q, stderr %q; want only the PID on stdout, and the command's standard error on stderr", out, stderr)
	}
}

// TestSendForkBarrier checks where --fork departs from systemd-notify
// 262: barriers the command sends before READY=1 are answered (262's
// socket refuses descriptors, so that a `systemd-notify --status=...` in
// the command fails its barrier with EPERM).
func TestSendForkBarrier(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := toolBin + " send --status=loading; echo $? >" + dir + "/code; " + toolBin + " send --no-block --ready; exec sleep 60"
	c := captureSend(t, ours(), captureOpts{}, "--fork", "--", "sh", "-c", script)
	forkedPID(t, c.stdout)
	code, err := os.ReadFile(dir + "/code") // written before READY=1
	if c.code != 0 || string(code) != "0\n" {
		t.Errorf("--fork exit %d; the command's `sdnotify send --status=loading` exited %q (%v; stderr %q)", c.code, code, err, c.stderr)
	}
}
