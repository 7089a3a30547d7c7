//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/realsystemd"
)

// TestRealSystemdSendOptions runs shell units that use send's options of
// systemd-notify 262 (--exec, --fd/--fdname, --fork/--quiet) under every
// real manager (SDNOTIFY_REAL_SYSTEMD=1, root), and checks what the manager
// made of them.
func TestRealSystemdSendOptions(t *testing.T) {
	t.Parallel()
	for _, version := range realsystemd.Versions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			m := realsystemd.Start(t, version)
			t.Logf("manager: %s", m.Version())
			sdn := staticBin // as it ships (CGO_ENABLED=0): it runs in the Debian roots too
			dir := m.Dir()
			script := func(name, body string) string {
				p := filepath.Join(dir, name+".sh")
				if err := os.WriteFile(p, []byte("set -e\nSDN="+sdn+"\nOUT="+dir+"\n"+body), 0o755); err != nil {
					t.Fatal(err)
				}
				return "/bin/sh " + p
			}
			units := []struct {
				name, service string
				want          map[string]string
				then          func(t *testing.T, unit string)
			}{
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
						if b, err := os.ReadFile(filepath.Join(dir, "fd.out")); err != nil || string(b) != "1 kept\n" {
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
			}
			for _, u := range units {
				m.WriteUnit(u.name+".service", "[Unit]\nDefaultDependencies=no\n\n[Service]\n"+u.service+"\n")
			}
			for _, u := range units {
				t.Run(u.name, func(t *testing.T) {
					t.Parallel()
					name := u.name + ".service"
					if err := m.StartUnit(name); err != nil {
						t.Fatal(err)
					}
					got := m.WaitProps(t, name, u.want, 20*time.Second)
					t.Logf("systemctl show %s: %s", name, showProps(got))
					if u.then != nil {
						u.then(t, name)
					}
				})
			}
		})
	}
}
