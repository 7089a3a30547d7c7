//go:build linux

package realsystemd

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// versions are the managers every test runs on: see Versions.
var versions = Versions

// started records every manager the tests booted, for TestZZNoLeftovers.
var (
	startedMu sync.Mutex
	started   []*Manager
)

func startManager(t *testing.T, version string) *Manager {
	t.Helper()
	m := Start(t, version)
	startedMu.Lock()
	started = append(started, m)
	startedMu.Unlock()
	return m
}

// TestHarness boots one manager per version and runs the scenarios on it.
func TestHarness(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			m := startManager(t, v)

			t.Run("Version", func(t *testing.T) {
				if want := "systemd " + v + " "; !strings.HasPrefix(m.Version(), want) {
					t.Errorf("Version() = %q, want prefix %q", m.Version(), want)
				}
				if m.Major() != atoi(v) {
					t.Errorf("Major() = %d, want %s", m.Major(), v)
				}
				// The manager binary itself, not only systemctl.
				out, err := m.Run("/lib/systemd/systemd", "--version")
				if err != nil || !strings.HasPrefix(out, "systemd "+v+" ") {
					t.Errorf("/lib/systemd/systemd --version inside: %q, %v", out, err)
				}
				if !strings.Contains(m.Log(), "systemd "+v) {
					t.Errorf("manager log does not mention systemd %s", v)
				}
			})

			t.Run("Namespace", func(t *testing.T) {
				// The manager raised the notify queue in its own netns.
				if out, err := m.Run("cat", "/proc/sys/net/unix/max_dgram_qlen"); err != nil || strings.TrimSpace(out) != "512" {
					t.Errorf("max_dgram_qlen inside = %q, %v; want 512", out, err)
				}
				if m.sysroot == "" {
					// Host files are read-only inside.
					if out, err := m.Run("sh", "-c", "touch /sdnotify-rs-probe"); err == nil {
						t.Errorf("could create a file in / inside the namespace: %s", out)
						os.Remove("/sdnotify-rs-probe")
					}
				} else {
					checkRoot(t, m)
				}
				// Dir() is writable.
				if out, err := m.Run("touch", filepath.Join(m.Dir(), "probe")); err != nil {
					t.Errorf("cannot write to Dir() inside: %v: %s", err, out)
				}
				if out, err := m.Run("cat", "/proc/1/comm"); err != nil || strings.TrimSpace(out) != "systemd" {
					t.Errorf("PID 1 inside is %q, %v", out, err)
				}
			})

			t.Run("ReadyStatus", func(t *testing.T) {
				m.WriteUnit("ready.service", `[Unit]
DefaultDependencies=no
[Service]
Type=notify
NotifyAccess=all
ExecStart=/bin/sh -c 'systemd-notify --ready --status=hello; exec sleep infinity'
`)
				if err := m.StartUnit("ready.service"); err != nil {
					t.Fatal(err)
				}
				p := m.WaitProps(t, "ready.service", map[string]string{
					"ActiveState": "active", "SubState": "running", "StatusText": "hello",
				}, 15*time.Second)
				if p["MainPID"] == "0" || p["MainPID"] == "" {
					t.Errorf("MainPID = %q", p["MainPID"])
				}
				line := m.WaitLog(t, "Got notification message from PID", 5*time.Second)
				if !strings.Contains(line, "READY=1") {
					t.Errorf("notification log line has no READY=1: %q", line)
				}
			})

			t.Run("NeverReadyTimesOut", func(t *testing.T) {
				m.WriteUnit("never-ready.service", `[Unit]
DefaultDependencies=no
[Service]
Type=notify
TimeoutStartSec=2
ExecStart=/bin/sleep infinity
`)
				begin := time.Now()
				if err := m.StartUnit("never-ready.service"); err != nil {
					t.Fatal(err)
				}
				if p := m.Show("never-ready.service", "ActiveState"); p["ActiveState"] != "activating" {
					t.Logf("right after start: ActiveState=%q", p["ActiveState"])
				}
				p := m.WaitProps(t, "never-ready.service", map[string]string{
					"ActiveState": "failed", "Result": "timeout",
				}, 15*time.Second)
				if d := time.Since(begin); d < 1500*time.Millisecond {
					t.Errorf("failed after %v, before TimeoutStartSec=2", d)
				}
				_ = p
			})

			t.Run("DirExecutable", func(t *testing.T) {
				script := filepath.Join(m.Dir(), "daemon.sh")
				mark := filepath.Join(m.Dir(), "ran")
				err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$NOTIFY_SOCKET\" > "+mark+"\necho sdnotify-rs-output-marker\nexec systemd-notify --ready --status=from-dir\n"), 0o755)
				if err != nil {
					t.Fatal(err)
				}
				m.WriteUnit("fromdir.service", "[Unit]\nDefaultDependencies=no\n[Service]\nType=notify\nNotifyAccess=all\nRemainAfterExit=yes\nExecStart="+script+"\n")
				if err := m.StartUnit("fromdir.service"); err != nil {
					t.Fatal(err)
				}
				m.WaitProps(t, "fromdir.service", map[string]string{"ActiveState": "active", "StatusText": "from-dir"}, 15*time.Second)
				data, err := os.ReadFile(mark)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.TrimSpace(string(data)); got != "/run/systemd/notify" {
					t.Errorf("NOTIFY_SOCKET = %q", got)
				}
				// Units' stdout goes to the console, i.e. into Log().
				if line := m.WaitLog(t, "\nsdnotify-rs-output-marker", 5*time.Second); line != "sdnotify-rs-output-marker" {
					t.Errorf("output line in log = %q", line)
				}
			})
		})
	}
}

// TestStopCleansUp stops a manager explicitly and checks that nothing is
// left: no manager process, no cgroup, no temp dir.
func TestStopCleansUp(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			m := startManager(t, v)
			pid, cg, root := m.Pid(), m.cgroup, m.root
			if !processAlive(pid) {
				t.Fatalf("manager pid %d not alive", pid)
			}
			if err := m.Stop(); err != nil {
				t.Fatal(err)
			}
			if processAlive(pid) {
				t.Errorf("manager pid %d alive after Stop", pid)
			}
			if dirExists(cg) {
				t.Errorf("cgroup %s still exists", cg)
			}
			if _, err := os.Stat(root); !os.IsNotExist(err) {
				t.Errorf("temp dir %s: %v", root, err)
			}
			if _, err := m.Systemctl("is-system-running"); err == nil {
				t.Errorf("Systemctl works after Stop")
			}
			if err := m.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

// TestZZNoLeftovers runs last: every manager the tests above started (and
// stopped through t.Cleanup) must be gone, with its cgroup and temp dir.
func TestZZNoLeftovers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	startedMu.Lock()
	ms := append([]*Manager(nil), started...)
	startedMu.Unlock()
	if len(ms) == 0 {
		t.Skip("no manager was started in this run")
	}
	for _, m := range ms {
		if processAlive(m.Pid()) {
			t.Errorf("manager pid %d (%s) still alive", m.Pid(), m.Version())
		}
		if dirExists(m.cgroup) {
			t.Errorf("cgroup %s left behind", m.cgroup)
		}
		if _, err := os.Stat(m.root); !os.IsNotExist(err) {
			t.Errorf("temp dir %s left behind (%v)", m.root, err)
		}
	}
	// No process of the harness left in the host pid namespace: nothing in
	// a cgroup of ours, and no `systemd --system` at all from this binary.
	mine := fmt.Sprintf("/%s%d-", cgroupPrefix, os.Getpid())
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cg, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cmdline := strings.ReplaceAll(string(cmd), "\x00", " ")
		if strings.Contains(string(cg), mine) {
			t.Errorf("pid %d (%s) is still in a harness cgroup", pid, cmdline)
		}
		if strings.Contains(cmdline, "systemd --system") {
			for _, m := range ms {
				if pid == m.Pid() {
					t.Errorf("manager pid %d still running: %s", pid, cmdline)
				}
			}
		}
	}
	if root := findCgroup2(); root != "" {
		left, _ := filepath.Glob(filepath.Join(root, fmt.Sprintf("%s%d-*", cgroupPrefix, os.Getpid())))
		if len(left) > 0 {
			t.Errorf("cgroups left behind: %v", left)
		}
	}
	left, _ := filepath.Glob(fmt.Sprintf("/tmp/%s%d-*", tmpPrefix, os.Getpid()))
	if len(left) > 0 {
		t.Errorf("temp dirs left behind: %v", left)
	}
}

// checkRoot checks the root a manager booted from: it is not the host's,
// and what is written to it inside stays inside, in the tmpfs over it.
func checkRoot(t *testing.T, m *Manager) {
	t.Helper()
	host, _ := os.ReadFile("/etc/debian_version")
	inside, err := m.Run("cat", "/etc/debian_version")
	if err != nil || inside == string(host) {
		t.Errorf("/etc/debian_version inside = %q (%v), the host's is %q: not the manager's own root", inside, err, host)
	}
	probe := "/sdnotify-rs-probe-" + strconv.Itoa(m.Pid())
	if out, err := m.Run("touch", probe); err != nil {
		t.Errorf("cannot write to / inside (a tmpfs overlay): %v: %s", err, out)
	}
	for _, p := range []string{probe, filepath.Join(m.sysroot, probe)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a file written to / inside appeared on the host as %s", p)
			os.Remove(p)
		}
	}
	// The host directories are there, read-only.
	if out, err := m.Run("touch", "/tmp/sdnotify-rs-probe"); err == nil {
		t.Errorf("could create a file in the host's /tmp inside: %s", out)
		os.Remove("/tmp/sdnotify-rs-probe")
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
