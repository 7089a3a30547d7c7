//go:build linux

package realsystemd

import (
	"os"
	"regexp"
	"testing"
	"time"
)

// newerScenarios are the scenarios of what systemd 257 to 262 added to
// the protocol. Each runs on every version: where an older manager does
// not know the assignment, the scenario says what it concludes instead
// (older), so that each side shows the other could have happened.
func newerScenarios() []scenario {
	return []scenario{
		{
			// RESTART_RESET=1 (258): two failed starts, then a start;
			// NRestarts=2; on SIGUSR1 the daemon sends RESTART_RESET=1.
			name:    "restart-reset",
			service: "Type=notify\nRestart=on-failure\nRestartSec=100ms\nExecStart={bin}/testdaemon -mode restart-reset -out {out}",
			want:    map[string]string{"ActiveState": "active", "StatusText": "started after 2 failures", "NRestarts": "2"},
			then: func(t *testing.T, m *Manager, unit, _ string) {
				if out, err := m.Systemctl("kill", "--signal=SIGUSR1", unit); err != nil {
					t.Fatalf("systemctl kill: %v: %s", err, out)
				}
				// RESTART_RESET=1 comes in one datagram with this status.
				m.WaitProp(t, unit, "StatusText", "restart counter reset", 10*time.Second)
				if m.Major() >= 258 {
					m.WaitProp(t, unit, "NRestarts", "0", 5*time.Second)
					logHas(t, m, unit+": Got RESTART_RESET=1, resetting restart counter from 2.")
				} else if p := m.Show(unit, "NRestarts"); p["NRestarts"] != "2" {
					t.Errorf("NRestarts = %q after RESTART_RESET=1 on systemd %d; want 2 (ignored)", p["NRestarts"], m.Major())
				}
			},
		},
		{
			// VARLINKERROR= (257), with BUSERROR=, on a failed start.
			name:    "varlink-error",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode varlink-error",
			min:     257,
			want: map[string]string{"ActiveState": "failed", "Result": "exit-code", "StatusText": "no such configuration",
				"StatusVarlinkError": "io.github.gosdnotify.NoSuchConfiguration",
				"StatusBusError":     "io.github.gosdnotify.Error.NoSuchConfiguration"},
		},
		{
			// MAINPIDFD=1 with a pidfd (257): the daemon names a child
			// its main process and exits; the child is the service.
			name:    "mainpidfd",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode mainpidfd -out {out}",
			min:     257,
			want:    map[string]string{"ActiveState": "active", "SubState": "running"},
			// Older managers ignore it: the service ends with the
			// daemon, and the child is stopped with it.
			older: map[string]string{"ActiveState": "inactive", "Result": "success"},
			then:  checkHandOver(257),
		},
		{
			// MAINPID= with MAINPIDFDID= (257), the child's pidfd ID:
			// every manager makes the child the main process (before 257
			// on MAINPID= alone).
			name:    "mainpidfdid",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode mainpidfdid -out {out}",
			want:    map[string]string{"ActiveState": "active", "SubState": "running"},
			then:    checkHandOver(0),
		},
		{
			// MAINPID= with the pidfd ID of another process: 257 and
			// later refuse the change, so the service ends with the
			// daemon; older managers take MAINPID= alone. This shows that
			// the manager checks the ID that mainpidfdid passes.
			name:    "mainpidfdid-wrong",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode mainpidfdid-wrong -out {out}",
			min:     257,
			want:    map[string]string{"ActiveState": "inactive", "Result": "success"},
			older:   map[string]string{"ActiveState": "active", "SubState": "running"},
			then: func(t *testing.T, m *Manager, unit, out string) {
				if m.Major() >= 257 {
					logHas(t, m, "mismatches with received MAINPIDFDID=")
					childGone(t, m, out)
					return
				}
				checkHandOver(0)(t, m, unit, out)
			},
		},
		{
			// STOPPING=1 is final (259): STOPPING=1 while starting, then
			// READY=1. 259 and later refuse the READY=1 and the start
			// times out; older managers take it.
			name:    "stopping-final",
			service: "Type=notify\nTimeoutStartSec=2\nExecStart={bin}/testdaemon -mode stopping-final -out {out}",
			min:     259,
			want:    map[string]string{"ActiveState": "failed", "Result": "timeout"},
			older:   map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "ready after stopping"},
			then: func(t *testing.T, m *Manager, _, out string) {
				fileHas(t, out, "sent READY=1")
				if m.Major() >= 259 {
					logHas(t, m, "Service must stop after STOPPING=1 notification, refusing attempted transition to READY.")
				}
			},
		},
		{
			// The fd store through sdnotify.Files across a restart:
			// LISTEN_PIDFDID (259) names the new process, and Files
			// accepts it; before 259 there is no LISTEN_PIDFDID.
			name:    "fdstore-pidfdid",
			service: "Type=notify\nFileDescriptorStoreMax=4\nExecStart={bin}/testdaemon -mode fdstore-files -out {out}",
			want:    map[string]string{"ActiveState": "active", "StatusText": "stored", "NFileDescriptorStore": "1"},
			then: func(t *testing.T, m *Manager, unit, out string) {
				if outp, err := m.Systemctl("restart", unit); err != nil {
					t.Fatalf("systemctl restart: %v: %s", err, outp)
				}
				m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "StatusText": "restored generation 1"}, 10*time.Second)
				fileHas(t, out, "Files: 1 state")
				b, _ := os.ReadFile(out)
				mm := regexp.MustCompile(`LISTEN_PID=(\d+) LISTEN_PIDFDID=(\d*) own=(\d+)`).FindStringSubmatch(string(b))
				if mm == nil {
					t.Fatalf("no LISTEN_PID line after the restart in %q", b)
				}
				t.Logf("after the restart: LISTEN_PID=%s LISTEN_PIDFDID=%q, the process's pidfd ID %s", mm[1], mm[2], mm[3])
				switch {
				case m.Major() >= 259 && (mm[2] == "" || mm[2] != mm[3]):
					t.Errorf("systemd %d: LISTEN_PIDFDID=%q, want the new process's pidfd ID %s", m.Major(), mm[2], mm[3])
				case m.Major() < 259 && mm[2] != "":
					t.Errorf("systemd %d set LISTEN_PIDFDID=%s; it was added in 259", m.Major(), mm[2])
				}
			},
		},
	}
}

// checkHandOver checks a service whose daemon named a child its main
// process and exited (from min on; 0: any version): MainPID is the child,
// which stays running after the daemon exits and is gone after systemctl
// stop. Before min the service ended with the daemon, and the child with
// it.
func checkHandOver(min int) func(t *testing.T, m *Manager, unit, out string) {
	return func(t *testing.T, m *Manager, unit, out string) {
		t.Helper()
		if m.Major() < min {
			childGone(t, m, out)
			return
		}
		defer func() {
			if t.Failed() {
				t.Logf("the manager's log about %s:\n%s", unit, unitLog(m, unit, 60))
			}
		}()
		child := childPid(t, out)
		m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "MainPID": child, "StatusText": "handed over to " + child}, 10*time.Second)
		fileHas(t, out, "parent exits")
		// The daemon is gone; the child carries the service on.
		time.Sleep(200 * time.Millisecond)
		p := m.Show(unit, "ActiveState", "SubState", "MainPID")
		if p["ActiveState"] != "active" || p["MainPID"] != child {
			t.Errorf("after the daemon exited: %s; want active with MainPID=%s", fmtProps(p), child)
		}
		// systemctl stop ends the child. (How cleanly varies: the child is
		// not the manager's own child, so the manager does not wait for it
		// after SIGTERM and SIGKILLs what is left at once; the service
		// ends inactive or failed with Result=signal, by timing.)
		if out, err := m.Systemctl("stop", unit); err != nil {
			t.Fatalf("systemctl stop: %v: %s", err, out)
		}
		p = m.Show(unit, "ActiveState", "MainPID")
		if (p["ActiveState"] != "inactive" && p["ActiveState"] != "failed") || p["MainPID"] != "0" {
			t.Errorf("after systemctl stop: %s; want inactive or failed, MainPID=0", fmtProps(p))
		}
		if out, err := m.Run("kill", "-0", child); err == nil {
			t.Errorf("the child (pid %s inside) still runs after systemctl stop: %s", child, out)
		}
	}
}

// childPid returns the pid (inside) of the child that a hand-over daemon
// started, from its -out file.
func childPid(t *testing.T, out string) string {
	t.Helper()
	fileHas(t, out, "child-main pid=")
	b, _ := os.ReadFile(out)
	mm := regexp.MustCompile(`child-main pid=(\d+)`).FindAllStringSubmatch(string(b), -1)
	if len(mm) != 1 {
		t.Fatalf("want one child in %q", b)
	}
	return mm[0][1]
}

// childGone checks that the child of a hand-over daemon that was not made
// the main process went with the service.
func childGone(t *testing.T, m *Manager, out string) {
	t.Helper()
	child := childPid(t, out)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := m.Run("kill", "-0", child)
		if err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child (pid %s inside) still runs after its service ended", child)
		}
		time.Sleep(pollInterval)
	}
}
