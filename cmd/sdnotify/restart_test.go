//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/procfs"
)

// restarts returns the restart events.
func (s *session) restarts() []event {
	var out []event
	for _, ev := range s.all() {
		if ev.Event == "restart" {
			out = append(out, ev)
		}
	}
	return out
}

// TestRunRestartPolicies: which ends of the main process each --restart
// policy restarts, as systemd's Restart= does, and run's exit status then:
// the last process's. The daemon counts its generations in a file; the
// first (gen 0) ends as the case says, the next one as the rest of the
// steps say.
func TestRunRestartPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		flags    []string
		steps    []string
		restarts []string // the Result= of each restart
		code     int
		result   string
	}{
		{"no", []string{"--restart=no"}, []string{"ready", "on:0:exit:3", "exit:0"}, nil, 3, "exit-code"},
		{"on-failure/exit-code", []string{"--restart=on-failure"}, []string{"ready", "on:0:exit:3", "exit:0"}, []string{"exit-code"}, 0, "success"},
		{"on-failure/success", []string{"--restart=on-failure"}, []string{"ready", "exit:0"}, nil, 0, "success"},
		// SIGTERM is a clean end for systemd: not a failure.
		{"on-failure/sigterm", []string{"--restart=on-failure"}, []string{"ready", "on:0:kill:TERM", "exit:3"}, nil, 143, "success"},
		{"on-failure/sigkill", []string{"--restart=on-failure"}, []string{"ready", "on:0:kill:KILL", "exit:0"}, []string{"signal"}, 0, "success"},
		// Status 0 before READY=1 is Result=protocol: a failure.
		{"on-failure/protocol", []string{"--restart=on-failure"}, []string{"on:0:exit:0", "ready", "exit:0"}, []string{"protocol"}, 0, "success"},
		{"on-failure/timeout", []string{"--restart=on-failure", "--timeout-start=2s"}, []string{"on:0:wait", "ready", "exit:0"}, []string{"timeout"}, 0, "success"},
		{"on-success", []string{"--restart=on-success"}, []string{"ready", "on:0:exit:0", "exit:3"}, []string{"success"}, 3, "exit-code"},
		{"on-abnormal/exit-code", []string{"--restart=on-abnormal"}, []string{"ready", "exit:3"}, nil, 3, "exit-code"},
		{"on-abnormal/timeout", []string{"--restart=on-abnormal", "--timeout-start=2s"}, []string{"on:0:wait", "ready", "exit:0"}, []string{"timeout"}, 0, "success"},
		{"on-abort", []string{"--restart=on-abort"}, []string{"ready", "on:0:kill:KILL", "exit:3"}, []string{"signal"}, 3, "exit-code"},
		{"on-watchdog", []string{"--restart=on-watchdog"}, []string{"ready", "on:0:trigger", "on:0:wait", "exit:5"}, []string{"watchdog"}, 5, "exit-code"},
		{"on-watchdog/exit-code", []string{"--restart=on-watchdog"}, []string{"ready", "exit:5"}, nil, 5, "exit-code"},
		// Stopped with SIGTERM once the fifth process is ready.
		{"always", []string{"--restart=always"}, []string{"onterm:7", "ready", "on:0:exit:0", "on:1:kill:KILL", "on:2:exit:4", "on:3:kill:TERM", "wait"}, []string{"success", "signal", "exit-code", "success"}, 7, "exit-code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gen := filepath.Join(t.TempDir(), "gen")
			// Up to 5 starts: within the default start limit.
			s := startRun(t, args(append(tc.flags, "--restart-sec=20ms"), daemon(append([]string{"count:" + gen}, tc.steps...)...))...)
			if tc.name == "always" {
				last := s.waitEvent("start", "(restart 4)", nil)
				s.waitEvent("ready", "", func(ev event) bool { return ev.PID == last.PID })
				s.signal(syscall.SIGTERM)
			}
			s.expectExit(tc.code, tc.result)
			var got []string
			for _, ev := range s.restarts() {
				got = append(got, ev.Reason)
			}
			if strings.Join(got, " ") != strings.Join(tc.restarts, " ") {
				t.Errorf("restarts after Result= %q, want %q", got, tc.restarts)
			}
			r := s.result()
			if tc.flags[0] != "--restart=no" && (r.Restarts == nil || *r.Restarts != len(tc.restarts)) {
				t.Errorf("result event %+v: want restarts=%d", r, len(tc.restarts))
			}
			why := "not restarted: --restart="
			if tc.name == "always" {
				why = "not restarted: sdnotify run was asked to stop"
			}
			if tc.flags[0] != "--restart=no" && !strings.Contains(r.Message, why) {
				t.Errorf("result event does not say why the last process was not restarted: %s", r.Message)
			}
			starts := 0
			for _, ev := range s.all() {
				if ev.Event == "start" {
					starts++
					if want := starts - 1; (want == 0) != (ev.Restarts == nil) || (ev.Restarts != nil && *ev.Restarts != want) {
						t.Errorf("start event %d: %+v", starts, ev)
					}
				}
			}
			if starts != len(tc.restarts)+1 {
				t.Errorf("%d starts, want %d", starts, len(tc.restarts)+1)
			}
		})
	}
}

// TestRunRestartStop: a SIGTERM to run stops the service for good, as
// systemctl stop does, whether the main process is running or run is
// waiting to restart it.
func TestRunRestartStop(t *testing.T) {
	t.Parallel()
	t.Run("running", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags("--restart=always"), daemon("onterm:0", "ready", "wait"))...)
		s.waitEvent("ready", "", nil)
		s.signal(syscall.SIGTERM)
		s.expectExit(0, "success")
		if len(s.restarts()) != 0 || !strings.Contains(s.result().Message, "asked to stop") {
			t.Errorf("restarted after SIGTERM, or the result does not say why not: %+v", s.result())
		}
	})
	t.Run("waiting", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, args(flags("--restart=always", "--restart-sec=1m"), daemon("ready", "exit:3"))...)
		s.waitEvent("restart", "restart 1 in 1m0s (--restart=always, Result=exit-code)", nil)
		begin := time.Now()
		s.signal(syscall.SIGTERM)
		s.expectExit(3, "exit-code")
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("run took %v to stop during --restart-sec", d)
		}
		s.waitEvent("signal", "SIGTERM while waiting to restart: not restarting", nil)
		if s.has("start", "(restart 1)") {
			t.Errorf("started again after SIGTERM")
		}
	})
}

// TestRunStartLimit: a crash loop stops at the start limit, systemd's 5
// starts in 10 s by default.
func TestRunStartLimit(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags("--restart=always", "--restart-sec=0"), daemon("ready", "exit:0"))...)
	s.expectExit(1, "start-limit-hit")
	if n := len(s.restarts()); n != 5 {
		t.Errorf("%d restart events, want 5 (the fifth one refused)", n)
	}
	s.waitEvent("start-limit", "more than 5 starts within 10s", nil)
	if !s.has("start", "(restart 4)") || s.has("start", "(restart 5)") {
		t.Errorf("want 5 starts exactly")
	}
	if !strings.Contains(s.stderr.String(), "start request repeated too quickly") {
		t.Errorf("stderr: %s", s.stderr)
	}
}

// TestRunRestartHandOver: on a restart, the new process gets the --listen
// sockets and then the fd store, newest first, as systemd hands them:
// FDSTOREREMOVE=1 honoured, a pipe whose writer went with the old process
// dropped, unless stored with FDPOLL=0, and the same open files (what the
// old process wrote into a pipe is there to read).
func TestRunRestartHandOver(t *testing.T) {
	t.Parallel()
	gen := filepath.Join(t.TempDir(), "gen")
	s := startRun(t, args(flags("--listen=tcp:127.0.0.1:0:web", "--restart=on-failure"), daemon(
		"count:"+gen, "files",
		"on:0:storepipe:hup:hup", "on:0:storepipe:nopoll:nopoll", "on:0:storepipe:both:both",
		"on:0:store:gone:1", "on:0:remove:gone",
		"ready", "on:0:barrier", "on:0:exit:3",
		"readfd:nopoll", "readfd:both", "readfd:hup", "serve:web:1", "exit:0"))...)
	addr := listenAddrs(s, 1)["web"]
	s.waitEvent("notify", "files pid=ok pidfdid=", nil)
	s.waitEvent("notify", "n=1 names=web", nil)

	restart := s.waitEvent("restart", "", nil)
	if restart.Reason != "exit-code" || restart.Restarts == nil || *restart.Restarts != 1 ||
		!strings.Contains(restart.Message, "handing over 1 listening socket(s) (web) and 3 stored fd(s) (both, both, nopoll)") {
		t.Errorf("restart event %+v", restart)
	}
	hup := s.waitEvent("fdstore", "peer hung up", nil)
	if hup.Reason != "hangup" || !strings.Contains(hup.Message, ": hup;") {
		t.Errorf("hang-up event %+v", hup)
	}
	start := s.waitEvent("start", "(restart 1)", nil)
	var files []string
	for _, f := range start.Files {
		files = append(files, fmt.Sprintf("%d:%s:%s", f.FD, f.Name, f.From))
	}
	if got, want := strings.Join(files, " "), "3:web:listen 4:both:fdstore 5:both:fdstore 6:nopoll:fdstore"; got != want {
		t.Errorf("handed over %s, want %s", got, want)
	}
	s.waitEvent("notify", "files pid=ok", func(ev event) bool { return ev.PID == start.PID })
	s.waitEvent("notify", "n=4 names=web:both:both:nopoll", nil)
	s.waitEvent("notify", "read nopoll=from gen 0", nil)
	s.waitEvent("notify", "read both=from gen 0", nil)
	s.waitEvent("notify", "read hup=none", nil)
	got, err := ask("tcp", addr, "after the restart")
	if want := fmt.Sprintf("pid=%d gen=1 after the restart\n", start.PID); err != nil || got != want {
		t.Errorf("answer %q, %v; want %q", got, err, want)
	}
	s.expectExit(0, "success")
}

// TestRunRestartZeroDowntime is the point of --listen with --restart: a
// client making requests back to back, one connection each, through 10
// restarts of the daemon, sees no failure: the listening socket stays
// open in run, and connections made while no process accepts wait in its
// backlog for the next one. The daemon ends in turn by exiting after 20
// requests, by killing itself (SIGKILL) after 20, by a SIGKILL and by a
// SIGTERM from the test after 20 (between two requests, once it has
// answered one: a process killed while it holds a connection loses it,
// whoever restarts it).
func TestRunRestartZeroDowntime(t *testing.T) {
	t.Parallel()
	const restarts, perProcess = 10, 20
	gen := filepath.Join(t.TempDir(), "gen")
	begin := time.Now()
	s := startRun(t, args(flags("--listen=tcp:127.0.0.1:0:web", "--restart=always", "--start-limit-burst=0"), daemon(
		"count:"+gen, "ready",
		"on:0%4:serve:web:20", "on:0%4:exit:0",
		"on:1%4:serve:web:20", "on:1%4:kill:KILL",
		"serve:web:0"))...)
	addr := listenAddrs(s, 1)["web"]

	deadline := begin.Add(20 * time.Second)
	served := map[int]int{} // requests answered, by generation
	var requests, failures int
	var slowest time.Duration
	for served[restarts] < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d restarts within 20s (%d requests)", len(s.restarts()), requests)
		}
		requests++
		line := "request " + strconv.Itoa(requests)
		t0 := time.Now()
		got, err := ask("tcp", addr, line)
		if d := time.Since(t0); d > slowest {
			slowest = d
		}
		var pid, g int
		if _, serr := fmt.Sscanf(got, "pid=%d gen=%d ", &pid, &g); err != nil || serr != nil || !strings.HasSuffix(got, " "+line+"\n") {
			failures++
			t.Errorf("%s: answer %q, %v", line, got, err)
			continue
		}
		served[g]++
		if served[g] == perProcess && (g%4 == 2 || g%4 == 3) && g < restarts {
			sig := syscall.SIGKILL
			if g%4 == 3 {
				sig = syscall.SIGTERM
			}
			syscall.Kill(pid, sig)
			waitDead(t, pid)
		}
	}
	s.signal(syscall.SIGTERM)
	s.expectExit(143, "success") // gen 10 serves for ever: SIGTERM kills it, a clean end
	if n := len(s.restarts()); n != restarts {
		t.Errorf("%d restarts, want %d", n, restarts)
	}
	t.Logf("%d requests through %d restarts in %v: %d failed; slowest %v", requests, restarts, time.Since(begin).Round(time.Millisecond), failures, slowest.Round(time.Millisecond))
	if failures > 0 {
		t.Errorf("%d of %d requests failed", failures, requests)
	}
	// The request after a process's last waited in the backlog through
	// the restart (--restart-sec, 100ms, and the start).
	if slowest < 100*time.Millisecond {
		t.Errorf("no request waited for a restart: the slowest took %v", slowest)
	}
}

// waitDead waits until pid has exited (a zombie, or gone): its files are
// closed then.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if st, err := procfs.ReadStat(pid); err != nil || st.Zombie() {
			return
		}
	}
	t.Fatalf("pid %d still running 10s after a signal", pid)
}
