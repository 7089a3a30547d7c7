//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// Who may notify (NotifyAccess=, NOTIFYACCESS=), and who the main process
// is (MAINPID=).

func TestRunNotifyAccess(t *testing.T) {
	t.Parallel()
	childReady := `spawn:notify:READY=1\nSTATUS=from child;wait`
	t.Run("main-ignores-child", func(t *testing.T) {
		requireSubreaper(t)
		t.Parallel()
		s := startRun(t, args(flags("--timeout-start=500ms"), daemon(childReady, "wait"))...)
		s.expectExit(exitTimeout, "timeout")
		start := s.waitEvent("start", "", nil)
		ev := s.waitEvent("ignored", "READY=1", nil)
		if ev.PID == start.PID || ev.PID == 0 || !strings.Contains(ev.Reason, fmt.Sprintf("only the main process (pid %d)", start.PID)) {
			t.Errorf("ignored event %+v", ev)
		}
		if s.has("ready", "") {
			t.Errorf("the child's READY=1 counted")
		}
		// The child was stopped with its parent.
		s.waitEvent("signal", "and 1 other descendant(s)", nil)
	})
	t.Run("all-accepts-child", func(t *testing.T) {
		requireSubreaper(t)
		t.Parallel()
		s := startRun(t, args(flags("--notify-access=all"), daemon(childReady, "onterm:0", "wait"))...)
		start := s.waitEvent("start", "", nil)
		ready := s.waitEvent("ready", "", nil)
		if ready.PID == start.PID {
			t.Errorf("READY=1 came from the main process, not the child")
		}
		s.signal(syscall.SIGTERM)
		s.expectExit(0, "success")
	})
	t.Run("all-accepts-orphan-and-kills-it-at-the-end", func(t *testing.T) {
		requireSubreaper(t)
		t.Parallel()
		// The grandchild's parent exits at once: it is reparented to
		// sdnotify (a subreaper), and stays in the tree.
		s := startRun(t, args(flags("--notify-access=all", "--timeout-stop=2s"), daemon(`orphan:sleep:100ms;notify:READY=1\nSTATUS=from orphan;wait`, "sleep:500ms", "exit:3"))...)
		s.expectExit(3, "exit-code")
		ready := s.waitEvent("ready", "", nil)
		s.waitEvent("signal", fmt.Sprintf("left after the main process exited: [%d]", ready.PID), nil)
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", ready.PID)); err == nil {
			t.Errorf("the orphan %d is still there", ready.PID)
		}
	})
	t.Run("all-short-lived-child-with-barrier", func(t *testing.T) {
		t.Parallel()
		// A child that notifies and exits, reaped at once by its parent:
		// with BARRIER=1 before exiting, run has processed (attributed) its
		// message before the child can go, as the manager does.
		s := startRun(t, args(flags("--notify-access=all", "--timeout-start=3s"), daemon(`run:notify:READY=1\nSTATUS=child;barrier`, "wait"))...)
		ready := s.waitEvent("ready", "", nil)
		start := s.waitEvent("start", "", nil)
		if ready.PID == start.PID {
			t.Errorf("READY=1 from the main process")
		}
		s.waitEvent("barrier", "", nil)
		s.signal(syscall.SIGTERM)
		s.expectExit(143, "success") // SIGTERM is a clean end for systemd
	})
	t.Run("notifyaccess-assignment", func(t *testing.T) {
		requireSubreaper(t)
		t.Parallel()
		// NOTIFYACCESS=all from the main process lets the child in, as
		// systemd 254 does.
		s := startRun(t, args(flags("--timeout-start=2s"), daemon("notifyaccess:all", childReady, "onterm:0", "wait"))...)
		s.waitEvent("notify-access", "notify-access is now all", nil)
		s.waitEvent("ready", "", nil)
		s.signal(syscall.SIGTERM)
		s.expectExit(0, "success")
	})
	t.Run("none", func(t *testing.T) {
		requireQuickStart(t, 300) // ms: --timeout-start, before which COMMAND sends READY=1
		t.Parallel()
		s := startRun(t, args(flags("--notify-access=none", "--timeout-start=300ms"), daemon("ready", "wait"))...)
		s.expectExit(exitTimeout, "timeout")
		s.waitEvent("ignored", "NotifyAccess=none", nil)
	})
	t.Run("unrelated-sender", func(t *testing.T) {
		t.Parallel()
		// A process outside COMMAND's tree (sdnotify send run by the test
		// itself) is not COMMAND's, even with notify-access=all.
		s := startRun(t, args(flags("--notify-access=all", "--timeout-start=3s"), daemon("sleep:2s", "ready", "exit:0"))...)
		start := s.waitEvent("start", "", nil)
		sock := regexp.MustCompile(`NOTIFY_SOCKET=(\S+)`).FindStringSubmatch(start.Message)
		if sock == nil {
			t.Fatalf("no NOTIFY_SOCKET in %q", start.Message)
		}
		if code, _, stderr := runTool(t, toolEnv("NOTIFY_SOCKET="+sock[1]), "send", "--pid=self", "--ready"); code != 0 {
			t.Fatalf("sdnotify send: exit %d: %s", code, stderr)
		}
		s.waitEvent("ignored", "is not a process of the unit", nil)
		s.expectExit(0, "success")
	})
}

func TestRunMainPID(t *testing.T) {
	requireQuickStart(t, 50) // ms: the daemon's sleep before MAINPID=
	t.Parallel()
	// COMMAND starts a worker, names it in MAINPID= with READY=1, and
	// exits; the worker is then the main process: SIGTERM goes to it,
	// and its exit status is run's.
	s := startRun(t, args(flags(), daemon("spawn:onterm:5;status:worker;wait", "sleep:50ms", "mainpid", "exit:0"))...)
	start := s.waitEvent("start", "", nil)
	mp := s.waitEvent("mainpid", "the main process is now", nil)
	if mp.PID == start.PID {
		t.Fatalf("mainpid event %+v", mp)
	}
	s.waitEvent("exit", fmt.Sprintf("pid %d (no longer the main process", start.PID), nil)
	s.signal(syscall.SIGTERM)
	s.expectExit(5, "exit-code")
	s.waitEvent("signal", fmt.Sprintf("SIGTERM forwarded to main process %d", mp.PID), nil)
	s.waitEvent("exit", fmt.Sprintf("main process %d exited with status 5", mp.PID), nil)
	// Before MAINPID=, the worker was not the main process.
	s.waitEvent("ignored", "STATUS=worker", nil)
}

// TestRunMainPIDNotChild checks a main process that is not run's child:
// a worker whose parent (COMMAND) stays alive and does not reap it. Its
// exit is seen through a pidfd, its status read while it is a zombie.
func TestRunMainPIDNotChild(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags(), daemon("spawn:sleep:300ms;exit:6", "mainpid", "wait"))...)
	start := s.waitEvent("start", "", nil)
	mp := s.waitEvent("mainpid", "the main process is now", nil)
	s.expectExit(6, "exit-code")
	s.waitEvent("exit", fmt.Sprintf("main process %d exited with status 6", mp.PID), nil)
	// COMMAND itself, still running, was stopped as a leftover.
	s.waitEvent("signal", fmt.Sprintf("left after the main process exited: [%d]", start.PID), nil)
}

// TestRunMainPIDOutsider checks MAINPID= naming a process outside COMMAND's
// tree: accepted because the sender is root, as systemd accepts it.
func TestRunMainPIDOutsider(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: only a privileged sender may name a process outside the service")
	}
	outsider := exec.Command("sleep", "30")
	if err := outsider.Start(); err != nil {
		t.Fatal(err)
	}
	defer outsider.Wait()
	defer outsider.Process.Kill()
	pid := outsider.Process.Pid
	s := startRun(t, args(flags(), daemon(fmt.Sprintf(`notify:MAINPID=%d\nREADY=1`, pid), "wait"))...)
	s.waitEvent("mainpid", "accepted because the sender is root", nil)
	s.waitEvent("ready", "", nil)
	outsider.Process.Signal(syscall.SIGTERM) // not reaped until the test ends
	s.expectExit(143, "success")
	s.waitEvent("exit", fmt.Sprintf("main process %d was killed by SIGTERM", pid), nil)
}

func TestRunMainPIDRefused(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags("--timeout-start=2s"), daemon("notify:MAINPID=1", "notify:MAINPID=999999999", "notify:MAINPID=0", "ready", "exit:0"))...)
	s.expectExit(0, "success")
	s.waitEvent("mainpid", "MAINPID=1 refused", nil)
	s.waitEvent("mainpid", "MAINPID=999999999 refused: no such process", nil)
	s.waitEvent("notify", "[ignored MAINPID=0: not a process ID (out of range)]", nil)
	for _, ev := range s.all() {
		if ev.Event == "mainpid" && ev.Reason != "refused" {
			t.Errorf("main process changed: %+v", ev)
		}
	}
}
