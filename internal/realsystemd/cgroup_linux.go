package realsystemd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
