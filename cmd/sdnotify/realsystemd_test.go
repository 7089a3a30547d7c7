//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/realsystemd"
)

// TestRealSystemd proves "sdnotify send" under a real systemd manager (252
// and 254, in private namespaces; skipped without root or without
// SDNOTIFY_REAL_SYSTEMD=1): in a shell ExecStart=, "sdnotify send --ready"
// makes a Type=notify unit active as "systemd-notify --ready" does, because
// it speaks for its parent, the shell, which is the main process.
func TestRealSystemd(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"252", "254"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			m := realsystemd.Start(t, version)
			t.Logf("manager: %s", m.Version())
			sdn := staticBin // as it ships (CGO_ENABLED=0), in binDir: 0755, readable by the manager
			type unit struct {
				name    string
				service string
				want    map[string]string
				min     int
				then    func(t *testing.T, unit string)
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
					// notify-reload (254): --reloading sends MONOTONIC_USEC=
					// with RELOADING=1, which the manager insists on.
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
					got := m.WaitProps(t, name, u.want, 15*time.Second)
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
