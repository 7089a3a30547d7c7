//go:build linux

package realsystemd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The daemons the scenarios run, built once from this module.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// bins builds examples/daemon, examples/zerodowntime and
// internal/testdaemon, static (CGO_ENABLED=0), and returns the directory
// that holds them.
func bins(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "/usr/local/go/bin/go"
		}
		if binDir, buildErr = os.MkdirTemp("", "sdnotify-bins"); buildErr != nil {
			return
		}
		os.Chmod(binDir, 0o755)
		for _, pkg := range []string{"examples/daemon", "examples/zerodowntime", "internal/testdaemon"} {
			cmd := exec.Command(goTool, "build", "-o", filepath.Join(binDir, filepath.Base(pkg)), "../../"+pkg)
			// Static: they also run inside the Debian roots of 257 and 262.
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// A scenario is one unit and what the manager must conclude about it.
type scenario struct {
	name    string
	service string            // the [Service] section, less ExecStart's directory: {bin} and {out} are replaced
	min     int               // the oldest systemd that supports it (0: any; -N: N and older only)
	want    map[string]string // systemctl show properties to reach
	older   map[string]string // if set, what a manager older than min reaches instead (the scenario runs there too)
	timeout time.Duration
	then    func(t *testing.T, m *Manager, unit, out string)
}

func scenarios() []scenario {
	return append(newerScenarios(), []scenario{
		{
			name:    "ready-status",
			service: "Type=notify\nExecStart={bin}/daemon",
			want:    map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "Serving, configuration 1"},
			then: func(t *testing.T, m *Manager, unit, _ string) {
				// Stopping: STOPPING=1, then exit; the unit stops cleanly.
				if out, err := m.Systemctl("stop", unit); err != nil {
					t.Fatalf("systemctl stop: %v: %s", err, out)
				}
				m.WaitProps(t, unit, map[string]string{"ActiveState": "inactive", "Result": "success"}, 10*time.Second)
				logHas(t, m, "STOPPING=1")
			},
		},
		{
			name:    "never-ready",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode never-ready\nTimeoutStartSec=2",
			want:    map[string]string{"ActiveState": "failed", "Result": "timeout", "StatusText": "never ready"},
		},
		{
			name:    "errno",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode fail-errno",
			want:    map[string]string{"ActiveState": "failed", "Result": "exit-code", "StatusErrno": "2", "StatusText": "cannot open configuration"},
		},
		{
			name:    "extend-timeout",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode slow-start -status started\nTimeoutStartSec=2",
			want:    map[string]string{"ActiveState": "active", "StatusText": "started"},
		},
		{
			name:    "watchdog-fed",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode watchdog-fed\nWatchdogSec=1",
			want:    map[string]string{"ActiveState": "active", "StatusText": "watchdog 1s"},
			then: func(t *testing.T, m *Manager, unit, _ string) {
				time.Sleep(3 * time.Second) // three timeouts
				m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "SubState": "running", "Result": "success"}, time.Second)
			},
		},
		{
			name:    "watchdog-starved",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode watchdog-starved\nWatchdogSec=1",
			want:    map[string]string{"ActiveState": "failed", "Result": "watchdog"},
		},
		{
			name:    "watchdog-unhealthy",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode watchdog-unhealthy\nWatchdogSec=1",
			want:    map[string]string{"ActiveState": "failed", "Result": "watchdog"},
		},
		{
			name:    "watchdog-trigger",
			service: "Type=notify\nExecStart={bin}/testdaemon -mode watchdog-trigger\nWatchdogSec=60",
			want:    map[string]string{"ActiveState": "failed", "Result": "watchdog"},
		},
		{
			name:    "notifyaccess-main-child-ignored",
			service: "Type=notify\nNotifyAccess=main\nExecStart={bin}/testdaemon -mode child-ready -out {out}\nTimeoutStartSec=3",
			want:    map[string]string{"ActiveState": "failed", "Result": "timeout"},
			then: func(t *testing.T, m *Manager, _, out string) {
				logHas(t, m, "reception only permitted for main PID")
				fileHas(t, out, "child enabled=true")
			},
		},
		{
			name:    "notifyaccess-all-child-accepted",
			service: "Type=notify\nNotifyAccess=all\nExecStart={bin}/testdaemon -mode child-ready -out {out}",
			want:    map[string]string{"ActiveState": "active", "StatusText": "ready from child"},
		},
		{
			// NewUnsetenv: the child cannot even try, although the unit
			// would accept it.
			name:    "unsetenv-child-cannot-notify",
			service: "Type=notify\nNotifyAccess=all\nExecStart={bin}/testdaemon -mode unsetenv-child -status main -out {out}",
			want:    map[string]string{"ActiveState": "active", "StatusText": "main"},
			then: func(t *testing.T, m *Manager, _, out string) {
				fileHas(t, out, "child enabled=false")
			},
		},
		{
			name:    "notifyaccess-assignment",
			service: "Type=notify\nNotifyAccess=main\nExecStart={bin}/testdaemon -mode notifyaccess-all -out {out}\nTimeoutStartSec=3",
			want:    map[string]string{"ActiveState": "active", "StatusText": "ready from child"},
			min:     254,
		},
		{
			// 252 does not know NOTIFYACCESS=: the child stays unheard.
			name:    "notifyaccess-assignment-ignored-by-252",
			service: "Type=notify\nNotifyAccess=main\nExecStart={bin}/testdaemon -mode notifyaccess-all -out {out}\nTimeoutStartSec=3",
			want:    map[string]string{"ActiveState": "failed", "Result": "timeout"},
			min:     -252,
		},
		{
			name:    "fdstore",
			service: "Type=notify\nFileDescriptorStoreMax=4\nExecStart={bin}/testdaemon -mode fdstore -out {out}",
			want:    map[string]string{"ActiveState": "active", "StatusText": "stored", "NFileDescriptorStore": "1"},
			then: func(t *testing.T, m *Manager, unit, out string) {
				if outp, err := m.Systemctl("restart", unit); err != nil {
					t.Fatalf("systemctl restart: %v: %s", err, outp)
				}
				m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "StatusText": "restored generation 1", "NFileDescriptorStore": "1"}, 10*time.Second)
				fileHas(t, out, "LISTEN_FDS=1 LISTEN_FDNAMES=state")
			},
		},
		{
			// Without the barrier, a message from a process that exits at
			// once is sometimes not attributed to the unit.
			name:    "barrier-from-helper",
			service: "Type=notify\nNotifyAccess=all\nExecStart={bin}/testdaemon -mode helper-barrier -out {out}",
			want:    map[string]string{"ActiveState": "active", "StatusText": "ready from child"},
		},
		{
			name:    "notify-reload",
			service: "Type=notify-reload\nExecStart={bin}/daemon",
			want:    map[string]string{"ActiveState": "active", "StatusText": "Serving, configuration 1"},
			min:     254,
			then: func(t *testing.T, m *Manager, unit, _ string) {
				start := time.Now()
				if out, err := m.Systemctl("reload", unit); err != nil {
					t.Fatalf("systemctl reload: %v: %s", err, out)
				}
				t.Logf("systemctl reload returned in %v", time.Since(start))
				m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "SubState": "running", "StatusText": "Serving, configuration 2", "ReloadResult": "success"}, 10*time.Second)
			},
		},
	}...)
}

// TestScenarios runs the daemons built from this module as units of a real
// manager, per version, and checks what the manager concluded.
func TestScenarios(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			m := startManager(t, v)
			dir := bins(t)
			var run []scenario
			for _, s := range scenarios() {
				if s.min > 0 && m.Major() < s.min && s.older != nil {
					s.want = s.older
				} else if s.min > 0 && m.Major() < s.min || s.min < 0 && m.Major() > -s.min {
					continue
				}
				run = append(run, s)
			}
			// Write every unit first, reload the manager once, then start
			// them all at once.
			outs := make(map[string]string)
			for _, s := range run {
				outs[s.name] = filepath.Join(m.Dir(), s.name+".out")
				service := strings.NewReplacer("{bin}", dir, "{out}", outs[s.name]).Replace(s.service)
				writeUnitFile(t, m, s.name+".service", service)
			}
			if out, err := m.Systemctl("daemon-reload"); err != nil {
				t.Fatalf("daemon-reload: %v: %s", err, out)
			}
			for _, s := range run {
				t.Run(s.name, func(t *testing.T) {
					t.Parallel()
					unit := s.name + ".service"
					if err := m.StartUnit(unit); err != nil {
						t.Fatal(err)
					}
					timeout := s.timeout
					if timeout == 0 {
						timeout = 15 * time.Second
					}
					got := m.WaitProps(t, unit, s.want, timeout)
					t.Logf("%s", showLine(got))
					if s.then != nil {
						s.then(t, m, unit, outs[s.name])
					}
				})
			}
		})
	}
}

func showLine(p map[string]string) string {
	var parts []string
	for _, k := range []string{"ActiveState", "SubState", "Result", "StatusText", "StatusErrno", "NFileDescriptorStore", "ReloadResult"} {
		if v, ok := p[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

func logHas(t *testing.T, m *Manager, substr string) {
	t.Helper()
	m.WaitLog(t, substr, 5*time.Second)
}

func fileHas(t *testing.T, path, line string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), line) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q; want a line %q", path, b, line)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
