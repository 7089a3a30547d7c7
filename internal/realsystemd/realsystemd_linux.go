//go:build linux

package realsystemd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// EnvEnable gates the whole harness: Start skips unless it is "1".
	EnvEnable = "SDNOTIFY_REAL_SYSTEMD"
	// Env254Dir names the directory .ci/systemd254.sh unpacked systemd 254 into.
	Env254Dir = "SDNOTIFY_SYSTEMD254_DIR"
	// Default254Dir is where .ci/systemd254.sh unpacks systemd 254 by default.
	Default254Dir = "/var/cache/sdnotify-systemd254"

	cgroupPrefix = "sdnotify-rs-" // cgroup names: sdnotify-rs-<pid>-<seq>
	tmpPrefix    = "sdnrs-"       // temp dirs: /tmp/sdnrs-<pid>-<seq>-<random>
	hostSystemd  = "/lib/systemd/systemd"

	bootTimeout  = 30 * time.Second
	stopTimeout  = 20 * time.Second
	cmdTimeout   = 30 * time.Second
	pollInterval = 20 * time.Millisecond
	logTailLines = 80

	cgroup2Magic = 0x63677270
)

// Properties always fetched by WaitProp/WaitProps, for the failure message.
var diagProps = []string{
	"Id", "LoadState", "ActiveState", "SubState", "Result", "StatusText",
	"StatusErrno", "MainPID", "ExecMainCode", "ExecMainStatus", "NotifyAccess",
}

// Manager is one private systemd manager; see the package documentation.
type Manager struct {
	t           testing.TB
	requested   string
	sysroot     string // the root it boots from (257, 262), or ""
	versionLine string
	major       int

	cgroup  string // host path of the manager's cgroup
	root    string // temp root (bind-mounted rw inside)
	unitDir string
	dir     string
	pid1    int // host pid of the namespace's PID 1

	sup     *exec.Cmd
	supIn   io.WriteCloser
	supDone chan struct{}
	supErr  error

	ptyMaster *os.File
	ptySlave  *os.File
	logMu     sync.Mutex
	log       bytes.Buffer
	logDone   chan struct{}

	stopOnce sync.Once
	stopErr  error
	stopped  atomic.Bool
}

var seq atomic.Int64

// supervisorScript runs on the host, in its own session, as the parent of
// unshare. Args: cgroup dir, the cgroup.procs file to move back into, the
// temp root, then the unshare command line.
const supervisorScript = `
cg=$1 orig=$2 root=$3
shift 3
echo $$ > "$cg/cgroup.procs" || { echo "sdnotify-rs: cannot join cgroup $cg" >&2; exit 1; }
"$@" </dev/null &
upid=$!
echo $$ > "$orig" || echo "sdnotify-rs: cannot leave cgroup $cg" >&2
# Block until the test process closes the pipe (Stop) or dies.
read -r _ || :
procs() { cat $(find "$cg" -name cgroup.procs 2>/dev/null) 2>/dev/null; }
# Kill the namespace's PID 1 first and let unshare reap it: killing both at
# once would orphan the manager to the host's init, which reaps when it likes.
for p in $(procs); do
	grep -Eq '^NSpid:[[:space:]]+[0-9]+[[:space:]]+1$' "/proc/$p/status" 2>/dev/null && kill -9 "$p"
done
i=0
while [ $i -lt 100 ]; do
	st=$(cut -d' ' -f3 "/proc/$upid/stat" 2>/dev/null) || break
	case "$st" in Z|X|'') break ;; esac
	sleep 0.02
	i=$((i+1))
done
kill_all() {
	[ -w "$cg/cgroup.kill" ] && echo 1 > "$cg/cgroup.kill" 2>/dev/null
	for p in $(procs); do kill -9 "$p" 2>/dev/null; done
}
kill_all
wait
i=0
while [ -d "$cg" ] && [ $i -lt 200 ]; do
	find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	[ -d "$cg" ] || break
	kill_all
	sleep 0.05
	i=$((i+1))
done
case "$root" in */` + tmpPrefix + `*) rm -rf "$root" ;; esac
if [ -d "$cg" ]; then echo "sdnotify-rs: cgroup $cg not removed" >&2; exit 1; fi
exit 0
`

// initScript runs as PID 1 of the new namespaces and execs systemd.
// Args: pty slave, unit dir, temp root, then overlay specs "target=lowerdirs".
const initScript = `
set -e
pts=$1 units=$2 root=$3
shift 3
mount --bind "$root" "$root"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
# Shared within these namespaces (this tmpfs has no peer on the host): the
# manager sets up a unit's credentials in a child's mount namespace and
# moves them to /run/credentials/<unit>, which reaches the manager's
# namespace only through propagation; a private /run leaves the directory
# empty. (On a host, systemd makes / rshared itself; with container= set
# it leaves that to the container manager.)
mount --make-shared /run
# daemon-reload resets what came from the command line to the config files'
# values, so the settings that must survive reloads live in a drop-in.
mkdir -p /run/systemd/system.conf.d
printf '%s\n' '[Manager]' LogLevel=debug LogTarget=console LogColor=no LogLocation=no \
	ShowStatus=no DefaultStandardOutput=tty DefaultStandardError=tty \
	> /run/systemd/system.conf.d/sdnotify-rs.conf
mount --bind /proc/sys /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,ro /proc/sys
mount -o remount,bind,ro /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount --bind "$pts" /dev/console
for spec in "$@"; do
	mount -t overlay -o "ro,lowerdir=${spec#*=}" sdnotify-rs "${spec%%=*}"
done
mount -o remount,bind,ro /
exec env -i container=other TERM=dumb \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	SYSTEMD_UNIT_PATH="$units" SYSTEMD_GENERATOR_PATH= SYSTEMD_ENVIRONMENT_GENERATOR_PATH= \
	/lib/systemd/systemd --system --unit=default.target \
	--log-target=console --log-level=debug --log-color=no --log-location=no --show-status=no
`

var stubUnits = []string{
	"default.target", "sysinit.target", "basic.target", "sockets.target",
	"timers.target", "paths.target", "slices.target", "local-fs.target",
	"local-fs-pre.target", "swap.target", "network.target", "network-pre.target",
	"multi-user.target", "shutdown.target", "umount.target", "final.target",
	"emergency.target", "rescue.target", "system.slice",
}

// Version returns the first line of `systemctl --version` run inside, e.g.
// "systemd 254 (254.26-1~bpo12+1)".
func (m *Manager) Version() string { return m.versionLine }

// Major returns the major version the manager reports (252, 254, ...).
func (m *Manager) Major() int { return m.major }

// Dir returns a host directory outside /run, visible and writable inside the
// namespaces at the same path, for unit executables and files. It is removed
// when the manager stops.
func (m *Manager) Dir() string { return m.dir }

// Pid returns the host pid of the namespace's PID 1 (the manager).
func (m *Manager) Pid() int { return m.pid1 }

// WriteUnit writes a unit file into the manager's unit directory and runs
// daemon-reload. It fails the test on error.
func (m *Manager) WriteUnit(name, content string) {
	m.t.Helper()
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		m.t.Fatalf("realsystemd: bad unit name %q", name)
	}
	if err := os.WriteFile(filepath.Join(m.unitDir, name), []byte(content), 0o644); err != nil {
		m.t.Fatalf("realsystemd: %v", err)
	}
	if out, err := m.Systemctl("daemon-reload"); err != nil {
		m.t.Fatalf("realsystemd: daemon-reload after writing %s: %v: %s\nmanager log tail:\n%s", name, err, out, m.diagTail(logTailLines))
	}
}

// Run runs a command inside all of the manager's namespaces (nsenter -a) and
// returns its combined output. It gives up after 30 s.
func (m *Manager) Run(args ...string) (string, error) {
	if m.stopped.Load() {
		return "", errors.New("realsystemd: manager stopped")
	}
	if len(args) == 0 {
		return "", errors.New("realsystemd: Run: no command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	nsArgs := append([]string{"-t", strconv.Itoa(m.pid1), "-a", "--"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", nsArgs...)
	// Own process group: a ^C to the test must not kill nsenter before its
	// child inside the namespace, or that child becomes an orphan of the
	// host's init and the namespace's teardown waits until init reaps it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat", "PAGER=cat",
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: timed out after %v", strings.Join(args, " "), cmdTimeout)
	}
	return string(out), err
}

// Systemctl runs systemctl inside the manager's namespaces and returns its
// combined output.
func (m *Manager) Systemctl(args ...string) (string, error) {
	return m.Run(append([]string{"systemctl"}, args...)...)
}

// StartUnit queues a start job (systemctl start --no-block) and returns
// without waiting for the unit to come up: use WaitProp to see the outcome.
func (m *Manager) StartUnit(name string) error {
	out, err := m.Systemctl("start", "--no-block", name)
	if err != nil {
		return fmt.Errorf("systemctl start --no-block %s: %v: %s", name, err, strings.TrimSpace(out))
	}
	return nil
}

// Show returns the unit's properties (systemctl show -p ...); all of them
// when props is empty. It fails the test if systemctl fails.
func (m *Manager) Show(name string, props ...string) map[string]string {
	m.t.Helper()
	p, out, err := m.show(name, props...)
	if err != nil {
		m.t.Fatalf("realsystemd: systemctl show %s: %v: %s", name, err, out)
	}
	return p
}

func (m *Manager) show(name string, props ...string) (map[string]string, string, error) {
	args := []string{"show"}
	if len(props) > 0 {
		args = append(args, "-p", strings.Join(props, ","))
	}
	args = append(args, "--", name)
	out, err := m.Systemctl(args...)
	res := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			res[k] = v
		}
	}
	return res, out, err
}

// WaitProp polls the unit until property prop equals want and returns the
// last properties read (prop plus ActiveState, SubState, Result, StatusText,
// MainPID, ...). On timeout it fails the test with them and the tail of the
// manager's log.
func (m *Manager) WaitProp(t testing.TB, name, prop, want string, timeout time.Duration) map[string]string {
	t.Helper()
	return m.WaitProps(t, name, map[string]string{prop: want}, timeout)
}

// WaitProps is WaitProp for several properties at once (all must match).
func (m *Manager) WaitProps(t testing.TB, name string, want map[string]string, timeout time.Duration) map[string]string {
	t.Helper()
	props := append([]string(nil), diagProps...)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(props, k) {
			props = append(props, k)
		}
	}
	deadline := time.Now().Add(timeout)
	var last map[string]string
	var lastErr error
	for {
		p, out, err := m.show(name, props...)
		if err == nil {
			last, lastErr = p, nil
			if matches(p, want) {
				return p
			}
		} else {
			lastErr = fmt.Errorf("%v: %s", err, strings.TrimSpace(out))
		}
		if time.Now().After(deadline) {
			break
		}
		if err := m.alive(); err != nil {
			t.Fatalf("realsystemd: %s: waiting for %s: %v\nmanager log tail:\n%s", name, fmtWant(keys, want), err, m.diagTail(logTailLines))
		}
		time.Sleep(pollInterval)
	}
	var b strings.Builder
	for _, k := range props {
		if v, ok := last[k]; ok {
			fmt.Fprintf(&b, "  %s=%s\n", k, v)
		}
	}
	if lastErr != nil {
		fmt.Fprintf(&b, "  (last systemctl show failed: %v)\n", lastErr)
	}
	t.Fatalf("realsystemd: %s (%s): timed out after %v waiting for %s\nlast systemctl show:\n%smanager log tail:\n%s",
		name, m.versionLine, timeout, fmtWant(keys, want), b.String(), m.diagTail(logTailLines))
	return last
}

// WaitLog waits until the manager's log contains substr and returns the
// first line containing it; it fails the test on timeout. Start substr with
// "\n" to match at the start of a line (e.g. a unit's own output).
func (m *Manager) WaitLog(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := m.Log()
		if i := strings.Index(log, substr); i >= 0 {
			// The line holding the first character after any leading newlines.
			i += len(substr) - len(strings.TrimLeft(substr, "\n"))
			start := strings.LastIndexByte(log[:i], '\n') + 1
			end := strings.IndexByte(log[i:], '\n')
			if end < 0 {
				return log[start:]
			}
			return log[start : i+end]
		}
		if time.Now().After(deadline) {
			break
		}
		if err := m.alive(); err != nil {
			t.Fatalf("realsystemd: waiting for %q in the log: %v\nmanager log tail:\n%s", substr, err, m.diagTail(logTailLines))
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("realsystemd: %q not in the manager log after %v\nmanager log tail:\n%s", substr, timeout, m.diagTail(logTailLines))
	return ""
}

// Log returns the manager's console log so far (debug level; '\r' removed).
// It stays available after Stop.
func (m *Manager) Log() string {
	m.logMu.Lock()
	defer m.logMu.Unlock()
	return m.log.String()
}

// LogTail returns the last n lines of Log.
func (m *Manager) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(m.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// busNoise matches the log lines that the harness's own systemctl calls
// cause; diagTail leaves them out.
var busNoise = regexp.MustCompile(`^(Got message type=|Sent message type=|Bus private-bus-connection|Bus n/a: changing state|Got disconnect on private connection|sd-bus: starting bus|Accepting direct incoming connection|Accepted new private connection|(Unr|R)egistering bus object implementation|Got notification message from PID \d+ \(\)$|CPUID )`)

// diagTail is LogTail without the bus chatter of the harness's own polling,
// for failure messages.
func (m *Manager) diagTail(n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(m.Log(), "\n"), "\n") {
		if !busNoise.MatchString(l) {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return "(D-Bus chatter of the harness's systemctl calls omitted)\n" + strings.Join(keep, "\n")
}

// alive reports why the manager can no longer answer, or nil.
func (m *Manager) alive() error {
	if m.stopped.Load() {
		return errors.New("manager was stopped")
	}
	if !processAlive(m.pid1) {
		return fmt.Errorf("manager (pid %d) died", m.pid1)
	}
	return nil
}

var staleName = regexp.MustCompile(`^(?:` + cgroupPrefix + `|` + tmpPrefix + `)(\d+)-\d+`)

var majorRE = regexp.MustCompile(`^systemd (\d+)`)

func parseMajor(line string) int {
	mm := majorRE.FindStringSubmatch(strings.TrimSpace(line))
	if mm == nil {
		return 0
	}
	n, _ := strconv.Atoi(mm[1])
	return n
}

func wantMajor(version string) int {
	n, _ := strconv.Atoi(version)
	return n
}

func matches(got, want map[string]string) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func fmtWant(keys []string, want map[string]string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, want[k])
	}
	return strings.Join(parts, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
