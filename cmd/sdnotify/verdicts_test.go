//go:build linux

package main

import (
	"strings"
	"syscall"
	"testing"
)

// The verdicts of run that are systemd's: the end of a run (Result=, exit
// status), what the manager drops, ignores and lets win, and reloads.

// TestRunReload: reload cycles. RELOADING=1 alone from a running service
// is a reload for the manager, with or without MONOTONIC_USEC= (issue 14:
// run and sdnotifytest disagreed); only a Type=notify-reload unit that
// the manager signalled (SIGHUP to run) waits for one whose
// MONOTONIC_USEC= is not older than its signal.
func TestRunReload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ, mode string
		ignored   string // why notify-reload ignores the answer ("" if it counts)
	}{
		{"notify", "reload", ""},
		{"notify", "nomono", ""},
		{"notify", "stale", ""},
		{"notify-reload", "reload", ""},
		{"notify-reload", "nomono", "[no effect RELOADING=1: no MONOTONIC_USEC= in the same datagram"},
		{"notify-reload", "stale", "[no effect RELOADING=1: its MONOTONIC_USEC= is older than the reload signal"},
	} {
		t.Run(tc.typ+"/"+tc.mode, func(t *testing.T) {
			t.Parallel()
			s := startRun(t, args(flags("--type="+tc.typ, "--timeout-start=1s"), daemon("onterm:0", "onhup:"+tc.mode, "ready", "wait"))...)
			s.waitEvent("ready", "", nil)
			cycles := 2
			if tc.ignored != "" {
				cycles = 1
			}
			for i := 0; i < cycles; i++ {
				s.signal(syscall.SIGHUP)
				if tc.ignored != "" {
					s.waitEvent("notify", tc.ignored, nil)
					s.waitEvent("notify", "[no effect READY=1: the manager still waits for RELOADING=1", nil)
					s.waitEvent("timeout", "no READY=1 within 1s after SIGHUP", nil)
					continue
				}
				rl := s.waitNth("reloading", "after SIGHUP", i+1, nil)
				done := s.waitNth("reloaded", "reload done", i+1, nil)
				if rl.DurationMS == nil || done.DurationMS == nil || *done.DurationMS < 25 || *done.DurationMS < *rl.DurationMS {
					t.Errorf("reload durations: reloading %+v, reloaded %+v", rl, done)
				}
			}
			s.signal(syscall.SIGTERM)
			s.expectExit(0, "success")
			if got := count(s, "reloaded"); tc.ignored == "" && got != 2 {
				t.Errorf("%d reload cycles reported, want 2", got)
			}
			if s.has("warning", "") {
				t.Errorf("a warning: the verdicts are in the notify events")
			}
		})
	}
	t.Run("ready-without-reloading", func(t *testing.T) {
		requireQuickStart(t, 300) // ms: --timeout-start, before which COMMAND sends READY=1
		t.Parallel()
		s := startRun(t, args(flags("--type=notify-reload", "--timeout-start=300ms"), daemon("onterm:0", "onhup:readyonly", "ready", "wait"))...)
		s.waitEvent("ready", "", nil)
		s.signal(syscall.SIGHUP)
		s.waitEvent("notify", "[no effect READY=1: the manager still waits for RELOADING=1", nil)
		s.waitEvent("timeout", "no READY=1 within 300ms after SIGHUP", nil)
		s.signal(syscall.SIGTERM)
		s.expectExit(0, "success")
	})
	t.Run("timeout", func(t *testing.T) {
		requireQuickStart(t, 300) // ms: --timeout-start, before which COMMAND sends READY=1
		t.Parallel()
		// No answer to SIGHUP: a reload time-out (ReloadResult=timeout),
		// and the service runs on.
		s := startRun(t, args(flags("--type=notify-reload", "--timeout-start=300ms"), daemon("onterm:0", "onhup:silent", "ready", "wait"))...)
		s.waitEvent("ready", "", nil)
		s.signal(syscall.SIGHUP)
		s.waitEvent("timeout", "no READY=1 within 300ms after SIGHUP", nil)
		s.signal(syscall.SIGTERM)
		s.expectExit(0, "success")
	})
	t.Run("notify-reload-needs-253", func(t *testing.T) {
		t.Parallel()
		code, _, stderr := runTool(t, toolEnv(), "run", "--systemd=252", "--type=notify-reload", "--", "/bin/true")
		if code != 2 || !strings.Contains(stderr, "needs --systemd=253 or later") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

// count returns how many events of kind arrived.
func count(s *session, kind string) int {
	n := 0
	for _, ev := range s.all() {
		if ev.Event == kind {
			n++
		}
	}
	return n
}

// TestRunExitStatus: run's exit status and systemd's Result=. A main
// process that ends cleanly before READY=1 fails the unit with
// Result=protocol, and run exits 123 (issue 14: "run -- /bin/true" ended
// "result protocol: exit 0" with status 0).
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		argv   []string
		code   int
		result string
	}{
		{"status", daemon("ready", "exit:3"), 3, "exit-code"},
		{"zero", daemon("ready", "exit:0"), 0, "success"},
		{"killed", daemon("ready", "kill:KILL"), 137, "signal"},
		{"before-ready", daemon("exit:4"), 4, "exit-code"},
		{"zero-before-ready", daemon("status:no ready", "exit:0"), exitProtocol, "protocol"},
		{"sigterm-before-ready", daemon("kill:TERM"), exitProtocol, "protocol"},
		{"bin-true", []string{"--", "/bin/true"}, exitProtocol, "protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startRun(t, tc.argv...)
			s.expectExit(tc.code, tc.result)
			if tc.name == "status" || tc.name == "zero" || tc.name == "killed" {
				return
			}
			// Said once on each channel: in the result event and on
			// stderr, not also in a warning.
			if r := s.result(); !strings.Contains(r.Message, "before READY=1") {
				t.Errorf("result event %q does not say it ended before READY=1", r.Message)
			}
			if s.has("warning", "") {
				t.Errorf("a warning repeats the result")
			}
			if got := strings.Count(s.stderr.String(), "before READY=1"); got != 1 {
				t.Errorf("stderr says it %d times: %q", got, s.stderr)
			}
		})
	}
}

func TestRunDroppedAndIgnored(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags(), daemon(`raw:"READY=1\x00X"`, "big:4097", "big:4096", `raw:"STATUS=\xff\nX_A=1"`, `raw:""`, `raw:"BARRIER=1\nREADY=1"`, `notify:READY=2`, `raw:"STATUS=trailing\\"`, `notify:ready=1\nSTAUS=x\nX_OWN=1`, "ready", "exit:0"))...)
	s.expectExit(0, "success")
	s.waitEvent("dropped", "NUL byte", nil)
	s.waitEvent("dropped", "4097 bytes", nil)
	s.waitEvent("dropped", "BARRIER=1 with other assignments", nil)
	s.waitEvent("dropped", "a backslash at the end escapes nothing", nil)
	s.waitEvent("notify", `"" (no assignment) [empty:`, nil)
	s.waitEvent("notify", "X_BIG=", func(ev event) bool { return ev.Data != nil && len(*ev.Data) == 4096 })
	ev := s.waitEvent("notify", "X_A=1", nil)
	if len(ev.Ignored) != 1 || ev.Ignored[0].Key != "STATUS" || !strings.Contains(ev.Ignored[0].Reason, "not valid UTF-8") {
		t.Errorf("ignored assignments: %+v", ev.Ignored)
	}
	s.waitEvent("notify", "[ignored READY=2: only READY=1 means anything]", nil)
	// Misspelt keys are flagged; private ones are not.
	ev = s.waitEvent("notify", "X_OWN=1", nil)
	if len(ev.Ignored) != 2 || !strings.Contains(ev.Ignored[0].Reason, "did you mean READY=?") || !strings.Contains(ev.Ignored[1].Reason, "did you mean STATUS=?") {
		t.Errorf("misspelt keys: %+v", ev.Ignored)
	}
	// Only the real READY=1 made it ready.
	n := 0
	for _, ev := range s.all() {
		if ev.Event == "ready" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d ready events", n)
	}
}

// TestRunPrecedence: READY=1, RELOADING=1 and STOPPING=1 in one datagram.
// systemd 252 lets the last one win, 253+ ranks STOPPING=1 over READY=1
// over RELOADING=1; and STOPPING=1 counts only while the unit runs (or
// reloads), so a starting unit stays starting. (Both as the managers do,
// see internal/realsystemd's model test.)
func TestRunPrecedence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, data string
		ready         bool
		code          int
		result        string
		noEffect      string
	}{
		{"254", `READY=1\nSTOPPING=1`, false, exitProtocol, "protocol", "[no effect READY=1: STOPPING=1 in the same datagram wins]"},
		{"252", `READY=1\nSTOPPING=1`, false, exitProtocol, "protocol", "[no effect READY=1: a later READY=1"},
		{"254", `READY=1\nRELOADING=1`, true, 0, "success", "[no effect RELOADING=1: READY=1 in the same datagram wins]"},
		{"252", `READY=1\nRELOADING=1`, false, exitProtocol, "protocol", "[no effect READY=1: a later"},
	} {
		t.Run(tc.version+"/"+tc.data, func(t *testing.T) {
			t.Parallel()
			s := startRun(t, args(flags("--systemd="+tc.version), daemon("notify:"+tc.data, "exit:0"))...)
			s.expectExit(tc.code, tc.result)
			s.waitEvent("notify", tc.noEffect, nil)
			if s.has("ready", "") != tc.ready || s.has("stopping", "") {
				t.Errorf("ready %v (want %v), stopping %v", s.has("ready", ""), tc.ready, s.has("stopping", ""))
			}
		})
	}
}
