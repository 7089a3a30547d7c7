//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemon returns the arguments that run the test daemon with steps.
func daemon(steps ...string) []string { return append([]string{"--", daemonBin}, steps...) }

func flags(f ...string) []string { return f }

func args(f []string, d []string) []string { return append(f, d...) }

func TestRunReadyAndStop(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags(), daemon("onterm:0", "checkwd", "status:Serving on :8080", "ready", "wait"))...)
	start := s.waitEvent("start", "", nil)
	ready := s.waitEvent("ready", "", nil)
	s.signal(syscall.SIGTERM)
	s.expectExit(0, "success")

	if start.PID == 0 || len(start.Argv) != 6 || start.Argv[0] != daemonBin {
		t.Errorf("start event %+v", start)
	}
	if !strings.Contains(start.Message, "NOTIFY_SOCKET=/") || !strings.Contains(start.Message, "MANAGERPID=") || strings.Contains(start.Message, "WATCHDOG") {
		t.Errorf("start event does not show the environment as it should: %q", start.Message)
	}
	if ready.PID != start.PID || ready.DurationMS == nil {
		t.Errorf("ready event %+v", ready)
	}
	// The notifications, their senders and assignments.
	var status event
	for _, ev := range s.all() {
		if ev.Event == "notify" && len(ev.Assignments) > 0 && ev.Assignments[0].Key == "STATUS" && strings.HasPrefix(ev.Assignments[0].Value, "Serving") {
			status = ev
		}
	}
	if status.PID != start.PID || status.UID == nil || *status.UID != os.Getuid() || status.Data == nil || *status.Data != "STATUS=Serving on :8080" {
		t.Errorf("STATUS notification: %+v", status)
	}
	// No watchdog without --watchdog: the daemon saw none.
	if !s.has("notify", `STATUS="wd=0s pid=false"`) {
		t.Errorf("the daemon saw a watchdog, or WATCHDOG_PID, without --watchdog")
	}
	s.waitEvent("signal", "SIGTERM forwarded to main process "+strconv.Itoa(start.PID), nil)
	// Stopping already (SIGTERM, as systemctl stop): STOPPING=1 changes
	// nothing, as in the manager.
	s.waitEvent("notify", "[no effect STOPPING=1: the unit is stopping", nil)
	exit := s.waitEvent("exit", "exited with status 0", nil)
	if exit.Status == nil || *exit.Status != 0 || exit.PID != start.PID {
		t.Errorf("exit event %+v", exit)
	}
}

// TestRunTextOutput checks the text format: a time, the event, details.
func TestRunTextOutput(t *testing.T) {
	requireSubreaper(t)
	t.Parallel()
	code, stdout, stderr := runTool(t, toolEnv(), args(flags("run"), daemon("status:two words", "ready", "exit:0"))...)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	line := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d [a-z-]+ +\S.*$`)
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if !line.MatchString(l) {
			t.Errorf("line %q is not TIME EVENT DETAILS", l)
		}
	}
	for _, want := range []string{" start ", ` notify    pid `, `: STATUS="two words"`, ": READY=1", " ready     READY=1 ", " exit      main process ", " result    success: exit 0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestRunOutputFile checks --output: the events go to the file, and
// stdout keeps COMMAND's output only.
func TestRunOutputFile(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "events.jsonl")
	code, stdout, _ := runTool(t, toolEnv(), "run", "--json", "--output="+out, "--", "/bin/sh", "-c", "echo daemon-output; "+toolBin+" send --ready")
	if code != 0 || stdout != "daemon-output\n" {
		t.Errorf("exit %d, stdout %q; want 0 and the command's output only", code, stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"event":"ready"`) || !strings.Contains(string(b), `"event":"result"`) {
		t.Errorf("--output file:\n%s", b)
	}
}

func TestRunTimeoutStart(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags("--timeout-start=300ms"), daemon("status:starting", "wait"))...)
	start := time.Now()
	s.expectExit(exitTimeout, "timeout")
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("stopped after %v, before --timeout-start", d)
	}
	s.waitEvent("timeout", "no READY=1 within 300ms", nil)
	s.waitEvent("signal", "SIGTERM to main process", nil)
	s.waitEvent("exit", "killed by SIGTERM", nil)
	if !strings.Contains(s.stderr.String(), "did not send READY=1 within 300ms") {
		t.Errorf("stderr does not say why: %q", s.stderr)
	}
}

// TestRunTimeoutStop checks SIGKILL after --timeout-stop, for a daemon
// that ignores SIGTERM: after a start time-out, and after a forwarded
// SIGTERM.
func TestRunTimeoutStop(t *testing.T) {
	t.Parallel()
	t.Run("after-start-timeout", func(t *testing.T) {
		requireQuickStart(t, 200) // ms: --timeout-start, before which COMMAND ignores SIGTERM
		t.Parallel()
		s := startRun(t, args(flags("--timeout-start=200ms", "--timeout-stop=200ms"), daemon("ignore:TERM", "wait"))...)
		s.expectExit(exitTimeout, "timeout")
		s.waitEvent("timeout", "--timeout-stop", nil)
		ev := s.waitEvent("exit", "killed by SIGKILL", nil)
		if *ev.Status != 137 {
			t.Errorf("exit status %d, want 137", *ev.Status)
		}
	})
	t.Run("after-forwarded-sigterm", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags("--timeout-stop=200ms"), daemon("ignore:TERM", "ready", "wait"))...)
		s.waitEvent("ready", "", nil)
		s.signal(syscall.SIGTERM)
		s.waitEvent("signal", "SIGTERM forwarded", nil)
		s.expectExit(137, "signal")
		s.waitEvent("timeout", "still running 200ms after it was asked to stop", nil)
	})
}

func TestRunExtendTimeout(t *testing.T) {
	t.Parallel()
	t.Run("extended", func(t *testing.T) {
		requireQuickStart(t, 250) // ms: --timeout-start, before which COMMAND sends EXTEND_TIMEOUT_USEC=
		t.Parallel()
		s := startRun(t, args(flags("--timeout-start=250ms"), daemon("extend:700ms", "sleep:450ms", "ready", "exit:0"))...)
		s.expectExit(0, "success")
		s.waitEvent("extend-timeout", "start deadline now 700ms from now", nil)
		s.waitEvent("ready", "", nil)
	})
	t.Run("not-enough", func(t *testing.T) {
		requireQuickStart(t, 250) // ms: --timeout-start, before which COMMAND sends EXTEND_TIMEOUT_USEC=
		t.Parallel()
		s := startRun(t, args(flags("--timeout-start=250ms"), daemon("extend:400ms", "sleep:1s", "ready", "exit:0"))...)
		start := time.Now()
		s.expectExit(exitTimeout, "timeout")
		if d := time.Since(start); d < 350*time.Millisecond {
			t.Errorf("timed out after %v, before the extended deadline", d)
		}
	})
	t.Run("never-shortens", func(t *testing.T) {
		requireQuickStart(t, 300) // ms: --timeout-start less the daemon's sleep before READY=1
		t.Parallel()
		// EXTEND_TIMEOUT_USEC only ever moves a deadline later.
		s := startRun(t, args(flags("--timeout-start=600ms"), daemon("extend:50ms", "sleep:300ms", "ready", "exit:0"))...)
		s.expectExit(0, "success")
		s.waitEvent("extend-timeout", "nothing to extend", nil)
	})
}

func TestRunWatchdog(t *testing.T) {
	t.Parallel()
	t.Run("fed", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags("--watchdog=200ms"), daemon("checkwd", "keepalive", "ready", "sleep:800ms", "exit:0"))...)
		s.expectExit(0, "success")
		start := s.waitEvent("start", "", nil)
		if !strings.Contains(start.Message, "WATCHDOG_USEC=200000") || !strings.Contains(start.Message, "WATCHDOG_PID="+strconv.Itoa(start.PID)) {
			t.Errorf("start event: %q", start.Message)
		}
		// The daemon's own view: WatchdogTimeout found WATCHDOG_PID to
		// be its own PID.
		s.waitEvent("notify", `STATUS="wd=200ms pid=true"`, nil)
		if n := strings.Count(s.stdout.String(), `"data":"WATCHDOG=1"`); n < 3 {
			t.Errorf("%d keep-alives in 800ms, want several", n)
		}
	})
	t.Run("starved", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags("--watchdog=200ms"), daemon("ready", "wait"))...)
		ready := time.Now()
		s.expectExit(exitWatchdog, "watchdog")
		if d := time.Since(ready); d < 150*time.Millisecond {
			t.Errorf("watchdog fired after %v", d)
		}
		s.waitEvent("timeout", "no WATCHDOG=1 within 200ms", nil)
		s.waitEvent("signal", "SIGABRT to main process", nil)
		ev := s.waitEvent("exit", "killed by SIGABRT", nil)
		if *ev.Status != 134 {
			t.Errorf("exit status %d, want 134", *ev.Status)
		}
		if !strings.Contains(s.stderr.String(), "watchdog: no WATCHDOG=1 within 200ms") {
			t.Errorf("stderr: %q", s.stderr)
		}
	})
	t.Run("not-before-ready", func(t *testing.T) {
		t.Parallel()
		// As systemd: the watchdog counts from READY=1, not from the start.
		s := startRun(t, args(flags("--watchdog=150ms"), daemon("sleep:400ms", "ready", "keepalive", "sleep:300ms", "exit:0"))...)
		s.expectExit(0, "success")
	})
	t.Run("trigger", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags("--watchdog=1m"), daemon("ready", "status:about to fail", "trigger", "wait"))...)
		s.expectExit(exitWatchdog, "watchdog")
		s.waitEvent("timeout", "WATCHDOG=trigger", nil)
		s.waitEvent("exit", "killed by SIGABRT", nil)
	})
	t.Run("trigger-without-watchdog", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags(), daemon("ready", "trigger", "wait"))...)
		s.expectExit(exitWatchdog, "watchdog")
	})
	t.Run("usec-longer", func(t *testing.T) {
		t.Parallel()
		// Pings every 250ms would starve a 150ms watchdog; the daemon
		// asks for 600ms first.
		s := startRun(t, args(flags("--watchdog=150ms"), daemon("ready", "wdusec:600ms", "ping:250ms", "sleep:1s", "exit:0"))...)
		s.expectExit(0, "success")
		ev := s.waitEvent("watchdog", "interval is now 600ms (was 150ms)", nil)
		if ev.DurationMS == nil || *ev.DurationMS != 600 {
			t.Errorf("watchdog event %+v", ev)
		}
	})
	t.Run("usec-shorter", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags("--watchdog=1m"), daemon("ready", "wdusec:150ms", "wait"))...)
		start := time.Now()
		s.expectExit(exitWatchdog, "watchdog")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("watchdog fired after %v", d)
		}
		s.waitEvent("timeout", "no WATCHDOG=1 within 150ms", nil)
	})
	t.Run("usec-without-flag", func(t *testing.T) {
		t.Parallel()
		// WATCHDOG_USEC= starts a watchdog even without WatchdogSec=.
		s := startRun(t, args(flags(), daemon("ready", "wdusec:150ms", "wait"))...)
		s.expectExit(exitWatchdog, "watchdog")
		s.waitEvent("watchdog", "interval is now 150ms (was none)", nil)
	})
}

func TestRunBarrier(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags(), daemon("ready", "status:before the barrier", "barrier", "exit:0"))...)
	s.expectExit(0, "success")
	b := s.waitEvent("barrier", "released", nil)
	if b.FDs != 1 {
		t.Errorf("barrier event %+v", b)
	}
	s.waitEvent("notify", "barrier returned after", nil)
	// The barrier came after the status, which was processed first.
	evs := s.all()
	var order []string
	for _, ev := range evs {
		if ev.Event == "notify" || ev.Event == "barrier" {
			order = append(order, ev.Event)
		}
	}
	if strings.Join(order, ",") != "notify,notify,barrier,notify" {
		t.Errorf("order of events: %v", order)
	}
}

func TestRunFDStore(t *testing.T) {
	t.Parallel()
	// The barrier keeps the daemon, which holds the write ends of the
	// stored pipes, alive until every notification was processed: its
	// exit makes them hang up.
	s := startRun(t, args(flags("--fd-store-max=5"), daemon(
		"store:http:1", "store:db:2", "storetwice:cache", "store:-:1", "store:extra:2",
		"remove:db", "remove:missing", "notify:FDSTOREREMOVE=1", "sendfd", "ready", "barrier", "exit:0"))...)
	s.expectExit(0, "success")
	stores := func(reason string) [][]string {
		var out [][]string
		for _, ev := range s.all() {
			if ev.Event == "fdstore" && ev.Reason == reason && ev.FDStore != nil {
				out = append(out, *ev.FDStore)
			}
		}
		return out
	}
	// Newest first, as systemd keeps the store and passes it back.
	got := fmt.Sprint(stores("store"))
	want := "[[http] [db db http] [cache db db http] [cache db db http] [stored cache db db http] [stored cache db db http]]"
	if got != want {
		t.Errorf("store after each FDSTORE=1: %s, want %s", got, want)
	}
	got = fmt.Sprint(stores("remove"))
	want = "[[stored cache http] [stored cache http]]"
	if got != want {
		t.Errorf("store after each FDSTOREREMOVE=1: %s, want %s", got, want)
	}
	s.waitEvent("fdstore", `"cache", 1 already in the store`, nil)
	s.waitEvent("fdstore", "2 closed: the store is full (--fd-store-max=5", nil)
	s.waitEvent("fdstore", `removed 2 fd(s) named "db"`, nil)
	s.waitEvent("warning", "FDSTOREREMOVE=1 without a valid FDNAME=", nil)
	s.waitEvent("warning", "without FDSTORE=1: closed", nil)
	// The daemon's exit closed the write ends: the pipes hung up, and
	// went, as systemd drops them (in one go, or in several while the
	// kernel closes the daemon's files).
	var dropped []string
	var left *[]string
	for _, ev := range s.all() {
		if ev.Event == "fdstore" && ev.Reason == "hangup" {
			_, names, _ := strings.Cut(ev.Message, "as systemd drops them: ")
			names, _, _ = strings.Cut(names, ";")
			dropped = append(dropped, strings.Split(names, ", ")...)
			left = ev.FDStore
		}
	}
	slices.Sort(dropped)
	if fmt.Sprint(dropped) != "[cache http stored]" || left == nil || len(*left) != 0 {
		t.Errorf("dropped on hang-up: %v, leaving %v; want cache, http and stored, leaving none", dropped, left)
	}
	if s.has("fdstore", "at exit:") {
		t.Errorf("files left in the store at exit, though their peers hung up")
	}
}

func TestRunSignals(t *testing.T) {
	t.Parallel()
	t.Run("sigint", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags(), daemon("ready", "wait"))...)
		s.waitEvent("ready", "", nil)
		s.signal(syscall.SIGINT)
		s.expectExit(130, "success") // SIGINT is a clean end for systemd; the exit status is the shell's
		s.waitEvent("signal", "SIGINT forwarded", nil)
		s.waitEvent("exit", "killed by SIGINT", nil)
	})
	t.Run("sighup-before-ready", func(t *testing.T) {
		requireQuickStart(t, 100) // ms: the sleep before SIGHUP
		t.Parallel()
		s := startRun(t, args(flags(), daemon("onhup:reload", "sleep:300ms", "ready", "exit:0"))...)
		s.waitEvent("start", "", nil)
		time.Sleep(100 * time.Millisecond)
		s.signal(syscall.SIGHUP)
		s.waitEvent("signal", "not a reload for a Type=notify manager", nil)
		s.expectExit(0, "success")
	})
}

func TestRunReadyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rf := filepath.Join(dir, "ready")
	if err := os.WriteFile(rf, []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startRun(t, args(flags("--ready-file="+rf), daemon("sleep:400ms", "onterm:0", "ready", "wait"))...)
	start := s.waitEvent("start", "", nil)
	if _, err := os.Stat(rf); err == nil {
		t.Errorf("the stale ready file is still there after start")
	}
	s.waitEvent("ready", "", nil)
	b, err := os.ReadFile(rf)
	if err != nil || string(b) != strconv.Itoa(start.PID)+"\n" {
		t.Errorf("ready file: %q, %v; want the main PID %d", b, err, start.PID)
	}
	s.signal(syscall.SIGTERM)
	s.expectExit(0, "success")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the ready file's directory: %v", entries)
	}
}

func TestRunReadyFileBadDir(t *testing.T) {
	t.Parallel()
	code, _, stderr := runTool(t, toolEnv(), args(flags("run", "--ready-file=/nonexistent/dir/ready"), daemon("ready"))...)
	if code != 1 || !strings.Contains(stderr, "--ready-file") {
		t.Errorf("exit %d, stderr %q; want 1 and a message", code, stderr)
	}
}

func TestRunCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"run", "--", "/nonexistent/daemon"}, exitNotFound, "command not found"},
		{[]string{"run", "sdnotify-no-such-command"}, exitNotFound, "command not found"},
		{[]string{"run", "--", notExec}, exitNoExec, "cannot execute"},
		{[]string{"run", "--watchdog=1s", "--", "/nonexistent/daemon"}, exitNotFound, "command not found"},
		{[]string{"run", "--watchdog=1s", "--", notExec}, exitNoExec, "cannot execute"},
	} {
		code, _, stderr := runTool(t, toolEnv(), tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("sdnotify %q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.stderr)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"run"}, "missing COMMAND"},
		{[]string{"run", "--"}, "missing COMMAND"},
		{[]string{"run", "--json"}, "missing COMMAND"},
		{[]string{"run", "--bogus", "true"}, "unknown flag: --bogus"},
		{[]string{"run", "--timeout-start=soon", "true"}, `invalid value "soon" for flag --timeout-start`},
		{[]string{"run", "--timeout-stop=-1s", "true"}, "not negative"},
		{[]string{"run", "--watchdog=1ns", "true"}, "at least 1µs"},
		{[]string{"run", "--watchdog", "true"}, `invalid value "true" for flag --watchdog`},
		{[]string{"run", "--notify-access=everyone", "true"}, "want main, all, exec or none"},
		{[]string{"run", "--fd-store-max=-1", "true"}, "want 0 or more"},
		{[]string{"run", "--fd-store-max=x", "true"}, "invalid value"},
		{[]string{"run", "--json=maybe", "true"}, "invalid boolean value"},
		{[]string{"run", "--", ""}, "COMMAND is empty"},
		{[]string{"run", "--ready-file"}, "flag needs an argument: --ready-file"},
	} {
		code, stdout, stderr := runTool(t, toolEnv(), tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.stderr) || !strings.Contains(stderr, "sdnotify run --help") || stdout != "" {
			t.Errorf("sdnotify %q: exit %d, stderr %q, stdout %q; want exit 2 and %q", tc.args, code, stderr, stdout, tc.stderr)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1.5s": 1500 * time.Millisecond, "300ms": 300 * time.Millisecond, "2m": 2 * time.Minute,
		"5": 5 * time.Second, "0.25": 250 * time.Millisecond, "0": 0, "infinity": 0,
	} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1", "-1s", "1ns", "0x10", "1e10", "NaN", "inf"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}
