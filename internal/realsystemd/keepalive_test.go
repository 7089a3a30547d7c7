//go:build linux

package realsystemd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// reloadLoop is how long the manager is kept reloading.
	reloadLoop = 10 * time.Second
	// fillerUnits are loaded (not started) so that each daemon-reload has
	// real work to do: with 3000 of them a reload takes 1 to 2 s on an
	// idle machine, on both versions, longer than WatchdogSec=1.
	fillerUnits = 3000
)

// TestKeepAliveDaemonReload is the real-manager check of a KeepAlive fix.
// The bug: KeepAlive ended for good after one keep-alive failed to go out
// within half the watchdog timeout, while PID 1 was busy in a
// daemon-reload, and the manager later killed a healthy daemon.
//
// keepalive.service (Type=notify, WatchdogSec=1, Restart=no, so that a
// watchdog kill shows as failed) runs testdaemon, which feeds the watchdog
// with KeepAlive and logs every missed keep-alive to stderr (the manager's
// log) and to a file. With 3000 more units loaded, the test runs
// `systemctl daemon-reload` back to back for 10 s, waits two watchdog
// timeouts more, and wants the unit still running: active, Result=success,
// NRestarts=0, the same MainPID, and a keep-alive received after the
// reloads.
//
// So that the check can fail, keepalive-ends.service, whose daemon ends
// its KeepAlive after a second (what the bug did), runs through the same
// reloads and must be killed by the watchdog (Result=watchdog).
//
// What this does not reproduce: a keep-alive that cannot be sent. The
// manager's queue holds 512 datagrams; the keep-alives that arrive during
// a reload wait there and are read, before the overdue watchdog timer
// fires, when it ends. Only other traffic that fills the queue makes a
// send wait, and then whether the daemon gets a freed slot before the
// manager goes idle after the reload is up to the scheduler, whatever its
// keep-alive loop: that is no verdict for a test.
func TestKeepAliveDaemonReload(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			m := startManager(t, v)
			dir := bins(t)
			out := filepath.Join(m.Dir(), "keepalive.out")
			watchdog := "Type=notify\nWatchdogSec=1\nRestart=no\nExecStart=" + dir + "/testdaemon -mode "
			writeUnitFile(t, m, "keepalive.service", watchdog+"watchdog-fed -out "+out)
			writeUnitFile(t, m, "keepalive-ends.service", watchdog+"watchdog-starved")
			loadFillers(t, m, fillerUnits) // and daemon-reload

			if err := m.StartUnit("keepalive.service"); err != nil {
				t.Fatal(err)
			}
			before := m.WaitProps(t, "keepalive.service", map[string]string{
				"ActiveState": "active", "SubState": "running", "StatusText": "watchdog 1s",
			}, 30*time.Second)
			pid := before["MainPID"]
			if pid == "" || pid == "0" {
				t.Fatalf("MainPID = %q", pid)
			}

			logStart := len(m.Log())
			loopStart := monotonicUsec(t)
			if err := m.StartUnit("keepalive-ends.service"); err != nil {
				t.Fatal(err)
			}
			durs := reloadFor(t, m, reloadLoop)
			loopEnd := monotonicUsec(t)
			t.Logf("%d daemon-reloads in %v with %d extra units: %s", len(durs), reloadLoop, fillerUnits, durStats(durs))

			// A keep-alive loop that ended during the last reloads has
			// its daemon killed within one timeout: wait for two.
			time.Sleep(2 * time.Second)

			got := m.Show("keepalive.service", "ActiveState", "SubState", "Result", "NRestarts", "MainPID",
				"StatusText", "WatchdogTimestampMonotonic")
			checkProps(t, m, "keepalive.service", got, map[string]string{
				"ActiveState": "active", "SubState": "running", "Result": "success",
				"NRestarts": "0", "MainPID": pid,
			})
			if ts := atou(got["WatchdogTimestampMonotonic"]); ts < loopEnd {
				t.Errorf("keepalive.service: last keep-alive received at %d µs, before the reloads ended (%d µs)", ts, loopEnd)
			}
			b, _ := os.ReadFile(out)
			if strings.Contains(string(b), "KeepAlive returned") {
				t.Errorf("KeepAlive returned while its context was live: %s", b)
			}
			if t.Failed() {
				t.Logf("the daemon's observations:\n%s", b)
			}

			// The control: its daemon stopped feeding the watchdog, and
			// the manager killed it, in the reloads or (on a machine so
			// slow that it started late) soon after.
			m.WaitProps(t, "keepalive-ends.service", map[string]string{"ActiveState": "failed", "Result": "watchdog"}, 30*time.Second)
			ctl := m.Show("keepalive-ends.service", "InactiveEnterTimestampMonotonic")
			if ts := atou(ctl["InactiveEnterTimestampMonotonic"]); ts > loopStart {
				when := "during the reloads"
				if ts > loopEnd {
					when = "after the reloads"
				}
				t.Logf("keepalive-ends.service: killed by the watchdog %v after the reloads began (%s)",
					time.Duration(ts-loopStart)*time.Microsecond, when)
			}

			// What the daemon and the manager saw during the reloads.
			// "PID N (WATCHDOG=1" before 257, "PID N: WATCHDOG=1" since.
			received := strings.Count(m.Log()[logStart:], "Got notification message from PID "+pid+" (WATCHDOG=1") +
				strings.Count(m.Log()[logStart:], "Got notification message from PID "+pid+": WATCHDOG=1")
			t.Logf("keepalive.service: %d keep-alives received by the manager, %d reported missed by the daemon",
				received, strings.Count(string(b), "keep-alive missed:"))
		})
	}
}

// writeUnitFile writes a unit with the given [Service] section, without a
// daemon-reload.
func writeUnitFile(t *testing.T, m *Manager, name, service string) {
	t.Helper()
	unit := "[Unit]\nDefaultDependencies=no\n[Service]\n" + service + "\n"
	if err := os.WriteFile(filepath.Join(m.unitDir, name), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadFillers loads n service units that never start: a started target
// orders itself after all of them, which loads them and keeps them loaded,
// and every daemon-reload serializes and reloads them.
func loadFillers(t *testing.T, m *Manager, n int) {
	t.Helper()
	var names strings.Builder
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("filler-%04d.service", i)
		writeUnitFile(t, m, name, "ExecStart=/bin/true")
		names.WriteString(" " + name)
	}
	m.WriteUnit("fillers.target", "[Unit]\nDefaultDependencies=no\nAfter="+names.String()+"\n")
	if out, err := m.Systemctl("start", "fillers.target"); err != nil {
		t.Fatalf("systemctl start fillers.target: %v: %s", err, out)
	}
	out, err := m.Run("sh", "-c", "systemctl list-units --all --no-legend --plain 'filler-*' | wc -l")
	if got, _ := strconv.Atoi(strings.TrimSpace(out)); err != nil || got != n {
		t.Fatalf("%s filler units loaded (%v), want %d", strings.TrimSpace(out), err, n)
	}
}

// reloadFor runs `systemctl daemon-reload` back to back for d and returns
// how long each took.
func reloadFor(t *testing.T, m *Manager, d time.Duration) []time.Duration {
	t.Helper()
	var durs []time.Duration
	for begin := time.Now(); time.Since(begin) < d; {
		start := time.Now()
		if out, err := m.Systemctl("daemon-reload"); err != nil {
			t.Fatalf("daemon-reload #%d: %v: %s", len(durs)+1, err, out)
		}
		durs = append(durs, time.Since(start))
	}
	return durs
}

// checkProps reports each property of got that differs from want.
func checkProps(t *testing.T, m *Manager, unit string, got, want map[string]string) {
	t.Helper()
	var bad []string
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			bad = append(bad, fmt.Sprintf("%s=%q, want %q", k, got[k], want[k]))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s (%s): %s\nall: %s\nthe manager's last log lines about it:\n%s",
			unit, m.Version(), strings.Join(bad, "; "), fmtProps(got), unitLog(m, unit, 40))
	}
}

// unitLog returns the last n lines of the manager's log that name unit.
func unitLog(m *Manager, unit string, n int) string {
	var keep []string
	for _, l := range strings.Split(m.Log(), "\n") {
		if strings.Contains(l, unit) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

func sortedKeys(p map[string]string) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func fmtProps(p map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(p) {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

// durStats summarizes reload durations: min, median, max.
func durStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v, median %v, max %v", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}

// monotonicUsec reads CLOCK_MONOTONIC in microseconds, the clock of the
// manager's *TimestampMonotonic properties (there is no time namespace).
func monotonicUsec(t *testing.T) uint64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}

func atou(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}
