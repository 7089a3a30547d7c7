//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/realsystemd"
)

// TestRealSystemd proves "sdnotify send" and run's verdicts under a real
// systemd manager (every version of realsystemd.Versions, in private
// namespaces; skipped without root or without SDNOTIFY_REAL_SYSTEMD=1):
// in a shell ExecStart=, "sdnotify send --ready" makes a Type=notify unit
// active as "systemd-notify --ready" does, because it speaks for its
// parent, the shell, which is the main process; the options of
// systemd-notify 262 (--exec, --fd/--fdname, --fork/--quiet) work in
// units as they do there. Under Type=notify-reload
// (254+) it checks that run's reload-signal check agrees with each
// manager: 262 refuses a main process that neither catches nor blocks
// SIGHUP (or ignores it), as run --systemd=262 does, and older ones start
// it; a Go daemon that never asks for SIGHUP starts everywhere and dies of
// the first reload, which run says.
func TestRealSystemd(t *testing.T) {
	t.Parallel()
	for _, version := range realsystemd.Versions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			m := realsystemd.Start(t, version)
			t.Logf("manager: %s", m.Version())
			sdn := staticBin // as it ships (CGO_ENABLED=0), in binDir: 0755, readable by the manager
			type unit struct {
				name    string
				service string
				want    map[string]string
				from262 map[string]string // want, from systemd 262 on, where it differs
				min     int
				then    func(t *testing.T, unit string)
			}
			// The main process of the reload-signal scenarios is perl, not
			// the shell: dash blocks every signal for a moment as it forks
			// and waits, and 262, which reads the masks once, then starts
			// it by chance (seen once in five runs on a busy machine).
			// Perl's system() blocks SIGCHLD alone.
			perlReady := func(status string) string {
				return "exec perl -e \"system(q{" + sdn + "}, q{send}, q{--ready}, q{--status=" + status + "}) == 0 or die; exec q{sleep}, q{infinity}\""
			}
			unhandled := perlReady("unhandled")
			ignored := "trap \"\" HUP; " + perlReady("ignored")
			// refused is 262's verdict on a main process without a
			// handler for SIGHUP at READY=1; run must give the same.
			refused := map[string]string{"ActiveState": "failed", "Result": "protocol"}
			checkRun := func(t *testing.T, unit, script string) {
				got := runVerdict(t, m.Major(), script)
				want := "active"
				if m.Major() >= 262 {
					want = "protocol"
					logLine(t, m, unit+": Main process ", "lacks handler for reload signal HUP")
				}
				if got != want {
					t.Errorf("sdnotify run --systemd=%d: %s; systemd %d: %s", m.Major(), got, m.Major(), want)
				}
			}
			// script writes a shell script for a unit into the manager's
			// directory, and returns the ExecStart= that runs it.
			script := func(name, body string) string {
				p := filepath.Join(m.Dir(), name+".sh")
				if err := os.WriteFile(p, []byte("set -e\nSDN="+sdn+"\nOUT="+m.Dir()+"\n"+body), 0o755); err != nil {
					t.Fatal(err)
				}
				return "/bin/sh " + p
			}
			units := []unit{
				{
					name:    "send-ready",
					service: "Type=notify\nExecStart=/bin/sh -c '" + sdn + " send --ready --status=from-shell; exec sleep infinity'",
					want:    map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "from-shell"},
				},
				{
					// The control: the real systemd-notify, in the same shell.
					name:    "systemd-notify-ready",
					service: "Type=notify\nExecStart=/bin/sh -c 'systemd-notify --ready --status=from-systemd-notify; exec sleep infinity'",
					want:    map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "from-systemd-notify"},
				},
				{
					// Speaking for itself, it is not the main process:
					// NotifyAccess=main ignores it and the start times out.
					name:    "send-pid-self-ignored",
					service: "Type=notify\nTimeoutStartSec=2\nExecStart=/bin/sh -c '" + sdn + " send --pid=self --ready --status=from-child; exec sleep infinity'",
					want:    map[string]string{"ActiveState": "failed", "Result": "timeout"},
					then: func(t *testing.T, unit string) {
						m.WaitLog(t, "reception only permitted for main PID", 5*time.Second)
					},
				},
				{
					// --exec: sdnotify, the main process (its parent is the
					// manager, so it speaks for itself), becomes sleep.
					name:    "send-exec",
					service: "Type=notify\nExecStart=" + sdn + " send --ready --status=exec --exec \\; -- sleep infinity",
					want:    map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "exec"},
					then: func(t *testing.T, unit string) {
						pid := m.Show(unit, "MainPID")["MainPID"]
						if out, err := m.Run("cat", "/proc/"+pid+"/comm"); err != nil || strings.TrimSpace(out) != "sleep" {
							t.Errorf("MainPID %s is %q (%v), want sleep, the command of --exec", pid, out, err)
						}
					},
				},
				{
					// --fd/--fdname from the shell: the file is in the fd
					// store, and comes back by its name after a restart.
					name: "send-fd",
					service: "Type=notify\nFileDescriptorStoreMax=4\nExecStart=" + script("fd", `
if [ -n "$LISTEN_FDNAMES" ]; then
	echo "$LISTEN_FDS $LISTEN_FDNAMES" >$OUT/fd.out
	$SDN send --ready --status=restored
else
	exec 3</dev/null
	$SDN send --fd=3 --fdname=kept
	exec 3<&-
	$SDN send --ready --status=stored
fi
exec sleep infinity
`),
					want: map[string]string{"ActiveState": "active", "StatusText": "stored", "NFileDescriptorStore": "1"},
					then: func(t *testing.T, unit string) {
						if out, err := m.Systemctl("restart", unit); err != nil {
							t.Fatalf("systemctl restart: %v: %s", err, out)
						}
						m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "StatusText": "restored"}, 10*time.Second)
						if b, err := os.ReadFile(filepath.Join(m.Dir(), "fd.out")); err != nil || string(b) != "1 kept\n" {
							t.Errorf("after the restart, LISTEN_FDS and LISTEN_FDNAMES were %q (%v), want \"1 kept\"", b, err)
						}
					},
				},
				{
					// --fork: the shell waits until its own child is ready,
					// then is ready itself with the child's PID; --quiet
					// prints nothing.
					name: "send-fork",
					service: "Type=notify\nTimeoutStartSec=20\nExecStart=" + script("fork", `
child() { echo "sleep 0.3; $SDN send --no-block --ready --status=child; exec sleep infinity"; }
pid=$($SDN send --fork -- sh -c "$(child)")
$SDN send --fork --quiet -- sh -c "$(child)" >$OUT/quiet.out
$SDN send --ready --status="child $pid ready, quiet: $(wc -c <$OUT/quiet.out) bytes"
exec sleep infinity
`),
					want: map[string]string{"ActiveState": "active", "SubState": "running"},
					then: func(t *testing.T, unit string) {
						status := m.Show(unit, "StatusText")["StatusText"]
						var pid int
						var quiet string
						if _, err := fmt.Sscanf(status, "child %d ready, quiet: %s bytes", &pid, &quiet); err != nil || pid <= 1 || quiet != "0" {
							t.Errorf("StatusText=%q; want the forked child's PID, and no output from --quiet", status)
						}
					},
				},
				{
					// notify-reload (254): --reloading sends MONOTONIC_USEC=
					// with RELOADING=1, which the manager insists on. The
					// shell traps SIGHUP: 262 starts it.
					name: "send-reloading",
					min:  254,
					service: "Type=notify-reload\nExecStart=/bin/sh -c 'trap \"" + sdn + " send --reloading --status=reloading; " + sdn + " send --ready --status=reloaded\" HUP; " +
						sdn + " send --ready --status=from-shell; while :; do sleep 0.2 & wait $!; done'",
					want: map[string]string{"ActiveState": "active", "StatusText": "from-shell"},
					then: func(t *testing.T, unit string) {
						start := time.Now()
						if out, err := m.Systemctl("reload", unit); err != nil {
							t.Fatalf("systemctl reload: %v: %s", err, out)
						}
						t.Logf("systemctl reload returned after %v", time.Since(start).Round(time.Millisecond))
						got := m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "StatusText": "reloaded", "ReloadResult": "success"}, 10*time.Second)
						t.Logf("after reload: %s", showProps(got))
					},
				},
				{
					// A process that neither catches nor blocks SIGHUP.
					name:    "reload-unhandled",
					min:     254,
					service: "Type=notify-reload\nExecStart=/bin/sh -c '" + unhandled + "'",
					want:    map[string]string{"ActiveState": "active", "StatusText": "unhandled"},
					from262: refused,
					then:    func(t *testing.T, unit string) { checkRun(t, unit, unhandled) },
				},
				{
					// Ignoring SIGHUP is not enough for 262.
					name:    "reload-ignored",
					min:     254,
					service: "Type=notify-reload\nExecStart=/bin/sh -c '" + strings.ReplaceAll(ignored, `\"`, `\\"`) + "'",
					want:    map[string]string{"ActiveState": "active", "StatusText": "ignored"},
					from262: refused,
					then:    func(t *testing.T, unit string) { checkRun(t, unit, ignored) },
				},
				{
					// A Go daemon that never calls signal.Notify: its
					// runtime catches SIGHUP, so every manager starts it,
					// and the first reload kills it (a clean exit for
					// systemd); systemctl reload fails on 262 only.
					name:    "reload-go-bare",
					min:     254,
					service: "Type=notify-reload\nExecStart=" + reloadGo(t, "bare"),
					want:    map[string]string{"ActiveState": "active", "SubState": "running"},
					then: func(t *testing.T, unit string) {
						out, err := m.Systemctl("reload", unit)
						if (err != nil) != (m.Major() >= 262) {
							t.Errorf("systemd %d: systemctl reload: err=%v %s; want it to fail on 262 only", m.Major(), err, strings.TrimSpace(out))
						}
						got := m.WaitProps(t, unit, map[string]string{"ActiveState": "inactive", "Result": "success"}, 10*time.Second)
						t.Logf("after reload: %s", showProps(got))
						s := startRun(t, "--type=notify-reload", "--systemd="+strconv.Itoa(m.Major()), "--", reloadGo(t, "bare"))
						s.waitEvent("warning", "is a Go program that never calls signal.Notify", nil)
						s.waitEvent("ready", "", nil)
						s.signal(syscall.SIGHUP)
						s.waitEvent("warning", "died of SIGHUP, the reload signal", nil)
						s.expectExit(129, "success")
					},
				},
			}
			var run []unit
			for _, u := range units {
				if m.Major() >= u.min {
					run = append(run, u)
				}
			}
			for _, u := range run {
				m.WriteUnit(u.name+".service", "[Unit]\nDefaultDependencies=no\n\n[Service]\n"+u.service+"\n")
			}
			for _, u := range run {
				t.Run(u.name, func(t *testing.T) {
					t.Parallel()
					name := u.name + ".service"
					if err := m.StartUnit(name); err != nil {
						t.Fatal(err)
					}
					want := u.want
					if m.Major() >= 262 && u.from262 != nil {
						want = u.from262
					}
					got := m.WaitProps(t, name, want, 15*time.Second)
					t.Logf("systemctl show %s: %s", name, showProps(got))
					if u.then != nil {
						u.then(t, name)
					}
				})
			}
		})
	}
}

func showProps(p map[string]string) string {
	var parts []string
	for _, k := range []string{"ActiveState", "SubState", "Result", "StatusText", "StatusErrno", "MainPID", "ReloadResult"} {
		if v, ok := p[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// runVerdict runs a shell script as a Type=notify-reload COMMAND under
// "sdnotify run --systemd=MAJOR", and returns "active" if it started (it
// is then stopped) or the result's Result= if run refused it.
func runVerdict(t *testing.T, major int, script string) string {
	t.Helper()
	s := startRun(t, "--type=notify-reload", "--systemd="+strconv.Itoa(major), "--timeout-stop=5s", "--", "/bin/sh", "-c", script)
	deadline := time.Now().Add(10 * time.Second)
	for !s.has("ready", "") && !s.has("result", "") {
		if time.Now().After(deadline) {
			t.Fatalf("sdnotify run: neither ready nor a result within 10s:\n%s", s.stdout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.has("ready", "") {
		s.signal(syscall.SIGTERM)
		s.wait()
		return "active"
	}
	s.wait()
	return s.result().Reason
}

// logLine waits for a line of the manager's log that has both a and b.
func logLine(t *testing.T, m *realsystemd.Manager, a, b string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range strings.Split(m.Log(), "\n") {
			if strings.Contains(l, a) && strings.Contains(l, b) {
				t.Logf("systemd %d: %s", m.Major(), strings.TrimSpace(l))
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q and %q in the manager's log within 5s:\n%s", a, b, m.LogTail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
