//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// What this machine cannot give some tests, probed, not guessed from
// GOARCH: under qemu-user (the arm64 run of .ci/arches.sh) a process
// cannot become a child subreaper, a freshly started Go program takes
// tens of milliseconds to reach main, and /proc/PID/exe names the
// emulator, not the program. Natively every probe passes and nothing is
// skipped.

// subreaperErr is why this process cannot become a child subreaper, nil
// if it can. It is probed while the package's variables are initialized,
// before any test has started a child, and undone at once: no orphan can
// be reparented to the test binary in between.
var subreaperErr = probeSubreaper()

func probeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("set, then cannot unset: %w", err)
	}
	return nil
}

// requireSubreaper skips a test that needs `sdnotify run` to be a child
// subreaper: orphaned descendants reparented to it, so that it finds and
// stops them, and no warning on stderr. The tool runs on the same
// machine, and under the same emulator, as the test binary.
func requireSubreaper(t *testing.T) {
	t.Helper()
	if subreaperErr == nil {
		return
	}
	errno := ""
	var e unix.Errno
	if errors.As(subreaperErr, &e) {
		errno = unix.ErrnoName(e) + ": "
	}
	t.Skipf("prctl(PR_SET_CHILD_SUBREAPER) fails here (%s%v), as it does under qemu-user, which does not emulate it: sdnotify run cannot be a child subreaper, and this test needs it to be", errno, subreaperErr)
}

// startCost is the fastest of five runs of testdata/daemon doing nothing
// ("exit:0"), from fork to reaped: the least a started Go program takes
// to reach main and set up what its first steps ask.
var startCost struct {
	once sync.Once
	d    time.Duration
	err  error
}

// requireQuickStart skips a test that gives a freshly started daemon
// only budgetMS milliseconds for its first steps (a --timeout-start, or
// the wait before the test signals it), where starting a Go program
// takes more than a quarter of that at best (the fastest of five starts):
// with the tests running in parallel, the daemon then misses the budget.
// Natively a start costs a few milliseconds; under qemu-user, which
// translates the Go runtime's start-up, about 100ms at best, and up to
// 550ms while the suite runs.
func requireQuickStart(t *testing.T, budgetMS int) {
	t.Helper()
	budget := time.Duration(budgetMS) * time.Millisecond
	startCost.once.Do(func() {
		for i := 0; i < 5; i++ {
			cmd := exec.Command(daemonBin, "exit:0")
			cmd.Env = toolEnv()
			t0 := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				startCost.err = fmt.Errorf("%s exit:0: %v: %s", daemonBin, err, out)
				return
			}
			if d := time.Since(t0); i == 0 || d < startCost.d {
				startCost.d = d
			}
		}
	})
	if startCost.err != nil {
		t.Fatal(startCost.err)
	}
	if startCost.d > budget/4 {
		t.Skipf("a Go program takes %v here to start and exit (testdata/daemon exit:0, fastest of 5), more than a quarter of the %v this test gives a new daemon for its first steps: process start-up is slow here, as under qemu-user", startCost.d.Round(time.Millisecond), budget)
	}
}

// interp is what /proc/PID/exe names for a started testdata/daemon when
// that is not the daemon: the interpreter that binfmt_misc started for it
// (qemu-user for a foreign architecture); "" natively.
var interp struct {
	once sync.Once
	link string
	err  error
}

func interpreter(t *testing.T) string {
	t.Helper()
	interp.once.Do(func() {
		cmd := exec.Command(daemonBin, "wait")
		cmd.Env = toolEnv()
		if interp.err = cmd.Start(); interp.err != nil {
			return
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		// Start returns once the child has exec'd: the link is final.
		proc := fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)
		got, err := os.Stat(proc)
		if err != nil {
			interp.err = err
			return
		}
		want, err := os.Stat(daemonBin)
		if err != nil {
			interp.err = err
			return
		}
		if !os.SameFile(got, want) {
			interp.link, _ = os.Readlink(proc)
			if interp.link == "" {
				interp.link = "another program"
			}
		}
	})
	if interp.err != nil {
		t.Fatal(interp.err)
	}
	return interp.link
}

// requireExeSeen skips a test that needs run to read a main process's
// executable through /proc/PID/exe, which names the interpreter where
// binfmt_misc started one.
func requireExeSeen(t *testing.T) {
	t.Helper()
	if link := interpreter(t); link != "" {
		t.Skipf("/proc/PID/exe of a started %s is %s: the program runs under an interpreter that binfmt_misc started (qemu-user here), so run cannot read a main process's executable, which this test needs", daemonBin, link)
	}
}
