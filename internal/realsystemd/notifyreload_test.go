//go:build linux

package realsystemd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// reloads is how many times TestNotifyReloadTrap reloads the helper's
// daemon.
const reloads = 5

// TestNotifyReloadTrap proves sdnotify.Notifier.ServeReloads under
// Type=notify-reload (254 and later), against the trap it exists for:
//
//   - reload-helper.service runs testdaemon -mode reload-helper, which
//     sends READY=1 and serves reloads through ServeReloads. It is
//     reloaded five times with systemctl reload: each must succeed and
//     leave the new configuration's status, and the service must end as it
//     began: active, the same MainPID, NRestarts=0.
//   - reload-trap.service, the control, runs testdaemon -mode ready: a Go
//     daemon that sends READY=1 and never asks for SIGHUP. The Go runtime
//     has a handler for every signal, so even 262, which refuses to start a
//     notify-reload service without a handler for its reload signal,
//     starts it; the first systemctl reload then ends it (the runtime exits
//     on a SIGHUP nobody asked for): the service is inactive with its main
//     process killed by SIGHUP, which systemd counts as a clean exit.
//     systemctl reload reports success on 254 and 257, failure on 262.
//   - reload-shell.service, a process that neither catches nor blocks
//     SIGHUP, shows the check that Go's runtime passes: 262 refuses its
//     READY=1 (Result=protocol); older managers start it. The main process
//     is systemd-notify, which sends READY=1 and then execs sleep
//     (--exec): a shell that waited for systemd-notify would block every
//     signal for a moment while it forks and waits (dash does), and 262,
//     which reads the masks once, then sometimes starts it.
func TestNotifyReloadTrap(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			m := startManager(t, v)
			if m.Major() < 254 {
				t.Skipf("systemd %d has no Type=notify-reload (253+)", m.Major())
			}
			dir := bins(t)
			out := m.Dir() + "/reload-helper.out"
			m.WriteUnit("reload-helper.service", "[Unit]\nDefaultDependencies=no\n[Service]\nType=notify-reload\nExecStart="+dir+"/testdaemon -mode reload-helper -out "+out+"\n")
			m.WriteUnit("reload-trap.service", "[Unit]\nDefaultDependencies=no\n[Service]\nType=notify-reload\nExecStart="+dir+"/testdaemon -mode ready -status trap\n")
			m.WriteUnit("reload-shell.service", "[Unit]\nDefaultDependencies=no\n[Service]\nType=notify-reload\nNotifyAccess=all\nTimeoutStartSec=10\n"+
				"ExecStart=systemd-notify --ready --status=shell --exec \\; -- sleep infinity\n")

			t.Run("helper", func(t *testing.T) {
				t.Parallel()
				unit := "reload-helper.service"
				if err := m.StartUnit(unit); err != nil {
					t.Fatal(err)
				}
				before := m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "Serving, configuration 1"}, 15*time.Second)
				for i := 1; i <= reloads; i++ {
					begin := time.Now()
					if outp, err := m.Systemctl("reload", unit); err != nil {
						t.Fatalf("systemctl reload #%d: %v: %s", i, err, outp)
					}
					p := m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "SubState": "running",
						"ReloadResult": "success", "StatusText": fmt.Sprintf("Serving, configuration %d", i+1)}, 10*time.Second)
					t.Logf("reload #%d: systemctl reload returned in %v; %s", i, time.Since(begin).Round(time.Millisecond), showLine(p))
				}
				after := m.Show(unit, "ActiveState", "SubState", "Result", "MainPID", "NRestarts")
				checkProps(t, m, unit, after, map[string]string{"ActiveState": "active", "SubState": "running",
					"Result": "success", "MainPID": before["MainPID"], "NRestarts": "0"})
				fileHas(t, out, fmt.Sprintf("reloaded: configuration %d", reloads+1))
			})

			t.Run("trap", func(t *testing.T) {
				t.Parallel()
				unit := "reload-trap.service"
				if err := m.StartUnit(unit); err != nil {
					t.Fatal(err)
				}
				m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "trap"}, 15*time.Second)
				outp, err := m.Systemctl("reload", unit)
				t.Logf("systemctl reload: err=%v %s", err, strings.TrimSpace(outp))
				switch {
				case m.Major() >= 262 && err == nil:
					t.Errorf("systemd %d: systemctl reload succeeded; want it to fail, the service having died", m.Major())
				case m.Major() < 262 && err != nil:
					t.Errorf("systemd %d: systemctl reload failed (%v); as observed, it reports success although the service died", m.Major(), err)
				}
				p := m.WaitProps(t, unit, map[string]string{"ActiveState": "inactive", "Result": "success"}, 10*time.Second)
				t.Logf("after one reload: %s", showLine(p))
				// From the log: the unit, inactive, may have been unloaded
				// (its ExecMain* properties gone) by now.
				logHas(t, m, unit+": Main process exited, code=killed, status=1/HUP")
			})

			t.Run("shell", func(t *testing.T) {
				t.Parallel()
				unit := "reload-shell.service"
				if err := m.StartUnit(unit); err != nil {
					t.Fatal(err)
				}
				if m.Major() >= 262 {
					m.WaitProps(t, unit, map[string]string{"ActiveState": "failed", "Result": "protocol"}, 15*time.Second)
					logHas(t, m, "lacks handler for reload signal")
					return
				}
				m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "shell"}, 15*time.Second)
			})
		})
	}
}
