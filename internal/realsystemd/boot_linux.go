package realsystemd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

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
		sysroot:   sysroot(version),
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
		"--cgroup", "--mount-proc", "--propagation", "private", "--")
	args = append(args, m.initArgs(slaveName, overlays)...)
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
		if err := rootPreflight(version); err != nil {
			return "", "", err
		}
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
