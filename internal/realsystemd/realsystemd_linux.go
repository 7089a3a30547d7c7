//go:build linux

package realsystemd

import (
	"bufio"
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

// Start boots a private manager of the given version ("252" or "host" for
// the host's /lib/systemd/systemd, "254" for the unpacked backports build),
// waits until `systemctl is-system-running` says running or degraded, and
// registers a t.Cleanup that stops it. It skips the test when the manager
// cannot run here (see the package documentation).
func Start(t testing.TB, version string) *Manager {
	t.Helper()
	cgRoot, sd254, err := preflight(version)
	if err != nil {
		t.Skipf("realsystemd: %v", err)
	}
	sweepStale(cgRoot)

	begin := time.Now()
	n := seq.Add(1)
	name := fmt.Sprintf("%s%d-%d", cgroupPrefix, os.Getpid(), n)
	m := &Manager{
		t:         t,
		requested: version,
		cgroup:    filepath.Join(cgRoot, name),
		supDone:   make(chan struct{}),
		logDone:   make(chan struct{}),
	}

	if err := m.prepareFiles(n); err != nil {
		m.cleanupPartial()
		t.Fatalf("realsystemd: %v", err)
	}
	overlays, err := overlaySpecs(sd254)
	if err != nil {
		m.cleanupPartial()
		t.Fatalf("realsystemd: %v", err)
	}
	if err := m.launch(cgRoot, overlays); err != nil {
		m.cleanupPartial()
		t.Fatalf("realsystemd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("realsystemd: manager %s log tail:\n%s", m.requested, m.diagTail(logTailLines))
		}
		if err := m.Stop(); err != nil {
			t.Errorf("realsystemd: %v", err)
		}
	})

	if err := m.waitBoot(); err != nil {
		t.Fatalf("realsystemd: systemd %s did not boot: %v\nmanager log tail:\n%s", version, err, m.diagTail(logTailLines))
	}
	out, err := m.Systemctl("--version")
	if err != nil {
		t.Fatalf("realsystemd: systemctl --version: %v: %s", err, out)
	}
	m.versionLine, _, _ = strings.Cut(strings.TrimSpace(out), "\n")
	m.major = parseMajor(m.versionLine)
	if want := wantMajor(version); want != 0 && m.major != want {
		t.Fatalf("realsystemd: asked for systemd %s, manager reports %q", version, m.versionLine)
	}
	t.Logf("realsystemd: %s (pid %d, cgroup %s) up in %v", m.versionLine, m.pid1, m.cgroup, time.Since(begin).Round(time.Millisecond))
	return m
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
var busNoise = regexp.MustCompile(`^(Got message type=|Sent message type=|Bus private-bus-connection|Bus n/a: changing state|Got disconnect on private connection|sd-bus: starting bus|Accepting direct incoming connection|(Unr|R)egistering bus object implementation|Got notification message from PID \d+ \(\)$|CPUID )`)

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

// Stop kills the manager and everything in its namespaces, removes its
// cgroup and temp dir, and waits for that. It is idempotent and is also run
// by the t.Cleanup that Start registers.
func (m *Manager) Stop() error {
	m.stopOnce.Do(func() { m.stopErr = m.stop() })
	return m.stopErr
}

func (m *Manager) stop() error {
	m.stopped.Store(true)
	var errs []error
	m.supIn.Close() // the supervisor kills and removes everything
	select {
	case <-m.supDone:
		if m.supErr != nil {
			errs = append(errs, fmt.Errorf("supervisor: %v", m.supErr))
		}
	case <-time.After(stopTimeout):
		errs = append(errs, fmt.Errorf("supervisor did not finish in %v", stopTimeout))
		m.sup.Process.Kill()
		<-m.supDone
	}
	// Belt and braces: the supervisor should have done all of this.
	if err := removeCgroup(m.cgroup, 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	if m.pid1 > 0 && processAlive(m.pid1) {
		errs = append(errs, fmt.Errorf("manager pid %d still alive after stop", m.pid1))
	}
	if err := os.RemoveAll(m.root); err != nil {
		errs = append(errs, err)
	}
	m.ptySlave.Close()
	select {
	case <-m.logDone:
	case <-time.After(2 * time.Second):
	}
	m.ptyMaster.Close()
	<-m.logDone
	return errors.Join(errs...)
}

// cleanupPartial undoes a Start that failed before the supervisor ran.
func (m *Manager) cleanupPartial() {
	if m.root != "" {
		os.RemoveAll(m.root)
	}
	os.Remove(m.cgroup)
	if m.ptySlave != nil {
		m.ptySlave.Close()
	}
	if m.ptyMaster != nil {
		m.ptyMaster.Close()
	}
}

func (m *Manager) prepareFiles(n int64) error {
	base := "/tmp"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = os.TempDir()
	}
	root, err := os.MkdirTemp(base, fmt.Sprintf("%s%d-%d-", tmpPrefix, os.Getpid(), n))
	if err != nil {
		return err
	}
	m.root = root
	m.unitDir = filepath.Join(root, "units")
	m.dir = filepath.Join(root, "d")
	for _, d := range []string{root, m.unitDir, m.dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	for _, u := range stubUnits {
		c := "[Unit]\nDescription=sdnotify harness stub " + u + "\nDefaultDependencies=no\n"
		if err := os.WriteFile(filepath.Join(m.unitDir, u), []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) launch(cgRoot string, overlays []string) error {
	origProcs, err := ownCgroupProcs(cgRoot)
	if err != nil {
		return err
	}
	master, slave, slaveName, err := openPTY()
	if err != nil {
		return fmt.Errorf("pty: %w", err)
	}
	m.ptyMaster, m.ptySlave = master, slave
	go m.readLog()

	if err := os.Mkdir(m.cgroup, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}

	args := []string{"-c", supervisorScript, "sdnotify-rs-supervisor", m.cgroup, origProcs, m.root}
	// If the supervisor itself is killed (say, with the CI job's cgroup, which
	// the manager's cgroup is not part of), unshare dies with it, and
	// --kill-child takes the manager down.
	if _, err := exec.LookPath("setpriv"); err == nil {
		args = append(args, "setpriv", "--pdeathsig", "KILL", "--")
	}
	args = append(args, "unshare", "--kill-child=SIGKILL", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net",
		"--cgroup", "--mount-proc", "--propagation", "private", "--",
		"/bin/sh", "-c", initScript, "sdnotify-rs-init", slaveName, m.unitDir, m.root)
	args = append(args, overlays...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdout = slave
	cmd.Stderr = slave
	// Its own session: a ^C to the test's process group must not reach it;
	// it cleans up when our end of the pipe closes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		in.Close()
		return fmt.Errorf("start supervisor: %w", err)
	}
	m.sup, m.supIn = cmd, in
	go func() {
		m.supErr = cmd.Wait()
		close(m.supDone)
	}()
	return nil
}

func (m *Manager) readLog() {
	defer close(m.logDone)
	buf := make([]byte, 32<<10)
	for {
		n, err := m.ptyMaster.Read(buf)
		if n > 0 {
			b := bytes.ReplaceAll(buf[:n], []byte{'\r'}, nil)
			m.logMu.Lock()
			m.log.Write(b)
			m.logMu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// waitBoot finds the namespace's PID 1 and waits for the manager to finish
// starting up.
func (m *Manager) waitBoot() error {
	deadline := time.Now().Add(bootTimeout)
	for m.pid1 == 0 {
		select {
		case <-m.supDone:
			return fmt.Errorf("supervisor exited early: %v", m.supErr)
		default:
		}
		if p := findPid1(m.cgroup); p > 0 {
			m.pid1 = p
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PID 1 appeared in cgroup %s within %v", m.cgroup, bootTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var out string
	var err error
	for {
		select {
		case <-m.supDone:
			return fmt.Errorf("supervisor exited early: %v", m.supErr)
		default:
		}
		if !processAlive(m.pid1) {
			return fmt.Errorf("manager (pid %d) died", m.pid1)
		}
		out, err = m.Systemctl("is-system-running")
		state := strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}
	return fmt.Errorf("`systemctl is-system-running` still says %q (%v) after %v", strings.TrimSpace(out), err, bootTimeout)
}

// preflight decides whether a manager can run; the error is the skip reason.
func preflight(version string) (cgRoot, sd254 string, err error) {
	if os.Getenv(EnvEnable) != "1" {
		return "", "", fmt.Errorf("set %s=1 to run the real-systemd suite", EnvEnable)
	}
	if os.Geteuid() != 0 {
		return "", "", errors.New("needs root (namespaces, cgroups, mounts)")
	}
	for _, tool := range []string{"unshare", "nsenter", "find"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", "", fmt.Errorf("%s not found: %v", tool, err)
		}
	}
	cgRoot = findCgroup2()
	if cgRoot == "" {
		return "", "", errors.New("no cgroup2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup")
	}
	switch version {
	case "254":
		sd254 = os.Getenv(Env254Dir)
		if sd254 == "" {
			sd254 = Default254Dir
		}
		if !fileExists(filepath.Join(sd254, "lib/systemd/systemd")) && !fileExists(filepath.Join(sd254, "usr/lib/systemd/systemd")) {
			return "", "", fmt.Errorf("systemd 254 is not unpacked in %s (run `bash .ci/systemd254.sh [DIR]`, and set %s if DIR is not the default)", sd254, Env254Dir)
		}
		if !fileExists(filepath.Join(sd254, "usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-254.so")) {
			libs, _ := filepath.Glob(filepath.Join(sd254, "usr/lib/*/systemd/libsystemd-shared-254.so"))
			if len(libs) == 0 {
				return "", "", fmt.Errorf("%s has no libsystemd-shared-254.so (re-run .ci/systemd254.sh)", sd254)
			}
		}
	case "252", "host":
		if !fileExists(hostSystemd) {
			return "", "", fmt.Errorf("%s not found (systemd not installed)", hostSystemd)
		}
		if version == "252" {
			out, err := exec.Command(hostSystemd, "--version").Output()
			if err != nil {
				return "", "", fmt.Errorf("%s --version: %v", hostSystemd, err)
			}
			line, _, _ := strings.Cut(string(out), "\n")
			if parseMajor(line) != 252 {
				return "", "", fmt.Errorf("host systemd is %q, not 252", line)
			}
		}
	default:
		return "", "", fmt.Errorf("unknown systemd version %q (want 252, host or 254)", version)
	}
	return cgRoot, sd254, nil
}

// overlaySpecs returns "target=lowerdir1:lowerdir2:target" for each host dir
// the unpacked 254 packages have files for.
func overlaySpecs(sd254 string) ([]string, error) {
	if sd254 == "" {
		return nil, nil
	}
	if strings.ContainsAny(sd254, ":,= \t\n") {
		return nil, fmt.Errorf("systemd 254 dir %q contains a character overlayfs options cannot take", sd254)
	}
	sd254, err := filepath.Abs(sd254)
	if err != nil {
		return nil, err
	}
	// Where each package dir lands on a merged-/usr Debian 12.
	targets := []struct {
		target  string
		sources []string
	}{
		{"/usr/lib/systemd", []string{"usr/lib/systemd", "lib/systemd"}},
		{"/usr/bin", []string{"usr/bin", "bin"}},
		{"/usr/sbin", []string{"usr/sbin", "sbin"}},
		{"/usr/lib/x86_64-linux-gnu/systemd", []string{"usr/lib/x86_64-linux-gnu/systemd", "lib/x86_64-linux-gnu/systemd"}},
	}
	var specs []string
	for _, tg := range targets {
		if !dirExists(tg.target) {
			continue
		}
		var lower []string
		for _, s := range tg.sources {
			p := filepath.Join(sd254, s)
			if dirExists(p) {
				lower = append(lower, p)
			}
		}
		if len(lower) == 0 {
			continue
		}
		lower = append(lower, tg.target)
		specs = append(specs, tg.target+"="+strings.Join(lower, ":"))
	}
	return specs, nil
}

func findCgroup2() string {
	for _, p := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st syscall.Statfs_t
		if syscall.Statfs(p, &st) == nil && st.Type == cgroup2Magic {
			return p
		}
	}
	return ""
}

// ownCgroupProcs returns the cgroup.procs file of this process's cgroup2
// cgroup (the supervisor moves itself back there).
func ownCgroupProcs(cgRoot string) (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			p := filepath.Join(cgRoot, filepath.Clean("/"+rest), "cgroup.procs")
			if fileExists(p) {
				return p, nil
			}
		}
	}
	p := filepath.Join(cgRoot, "cgroup.procs")
	if fileExists(p) {
		return p, nil
	}
	return "", fmt.Errorf("cannot find this process's cgroup2 cgroup under %s", cgRoot)
}

// findPid1 returns the host pid of the process in the cgroup tree that is
// PID 1 of its own (child) pid namespace.
func findPid1(cg string) int {
	for _, pid := range cgroupPids(cg) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
				f := strings.Fields(rest)
				if len(f) == 2 && f[1] == "1" {
					return pid
				}
			}
		}
	}
	return 0
}

// cgroupPids lists the pids in a cgroup tree.
func cgroupPids(cg string) []int {
	var pids []int
	filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if n, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}

// killCgroup SIGKILLs everything in a cgroup tree.
func killCgroup(cg string) {
	if err := os.WriteFile(filepath.Join(cg, "cgroup.kill"), []byte("1"), 0); err == nil {
		return
	}
	for _, pid := range cgroupPids(cg) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// removeCgroup kills what is left in a cgroup tree and removes its
// directories bottom-up, retrying while they are still populated.
func removeCgroup(cg string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if !dirExists(cg) {
			return nil
		}
		killCgroup(cg)
		var dirs []string
		filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		var lastErr error
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
				lastErr = err
			}
		}
		if !dirExists(cg) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot remove cgroup %s: %v (pids %v)", cg, lastErr, cgroupPids(cg))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var staleName = regexp.MustCompile(`^(?:` + cgroupPrefix + `|` + tmpPrefix + `)(\d+)-\d+`)

// sweepStale removes cgroups and temp dirs of harness runs whose test
// process is gone (normally their supervisor already did).
func sweepStale(cgRoot string) {
	stale := func(name string) bool {
		mm := staleName.FindStringSubmatch(name)
		if mm == nil {
			return false
		}
		pid, _ := strconv.Atoi(mm[1])
		return pid != os.Getpid() && !processAlive(pid)
	}
	if ents, err := os.ReadDir(cgRoot); err == nil {
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), cgroupPrefix) && stale(e.Name()) {
				removeCgroup(filepath.Join(cgRoot, e.Name()), 2*time.Second)
			}
		}
	}
	for _, base := range []string{"/tmp", os.TempDir()} {
		ents, err := os.ReadDir(base)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), tmpPrefix) && stale(e.Name()) {
				os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie is dead for our purposes.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(data, ')'); i >= 0 && i+2 < len(data) {
		return data[i+2] != 'Z'
	}
	return true
}

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
