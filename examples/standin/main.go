// Command standin runs a command under an embedded stand-in for systemd, so
// that a Type=notify daemon can be watched at work without systemd: it
// points NOTIFY_SOCKET at a fake manager (package sdnotifytest), prints
// every notification as it arrives, and once the daemon is ready asks it to
// reload (SIGHUP) and then to stop (SIGTERM), as systemctl reload and
// systemctl stop would.
//
// Usage:
//
//	go run ./examples/standin [-hold 500ms] [-reload=false] [-watchdog 200ms] -- COMMAND [ARGS...]
//
// A COMMAND that is a directory is taken for a Go package: standin builds
// it (with the go command) and runs the binary, so that signals reach the
// daemon itself rather than go run.
//
// It exits with the command's exit status, or 1 if the command never
// became ready.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

func main() {
	hold := flag.Duration("hold", 500*time.Millisecond, "how long to let the daemon run before each signal")
	reload := flag.Bool("reload", true, "send SIGHUP once the daemon is ready, and wait for it to be ready again")
	watchdog := flag.Duration("watchdog", 0, "if set, give the daemon a watchdog with this timeout (WATCHDOG_USEC)")
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait for each READY=1 (go run compiles first)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: standin [flags] -- COMMAND [ARGS...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(flag.Args(), *hold, *reload, *watchdog, *timeout))
}

func run(args []string, hold time.Duration, reload bool, watchdog, timeout time.Duration) int {
	l, err := sdnotifytest.Listen("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		return 1
	}
	defer l.Close()
	fmt.Printf("standin: fake systemd listening on %s\n", l.Addr)

	if fi, err := os.Stat(args[0]); err == nil && fi.IsDir() {
		bin, cleanup, err := build(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "standin:", err)
			return 1
		}
		defer cleanup()
		args = append([]string{bin}, args[1:]...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), l.Env())
	if watchdog > 0 {
		// No WATCHDOG_PID: the watchdog is then the command's own.
		cmd.Env = append(cmd.Env, fmt.Sprintf("WATCHDOG_USEC=%d", watchdog.Microseconds()))
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		return 1
	}
	fmt.Printf("standin: started %s (pid %d)\n", strings.Join(args, " "), cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	ready := make(chan struct{}, 4)
	go func() {
		for {
			m, err := l.Next(context.Background())
			if err != nil {
				return
			}
			fmt.Printf("standin: received from pid %d: %s\n", m.PID, describe(m))
			if m.Has("READY=1") {
				ready <- struct{}{}
			}
		}
	}()

	signal := func(sig syscall.Signal) {
		fmt.Printf("standin: sending %v\n", sig)
		cmd.Process.Signal(sig)
	}
	waitReady := func() bool {
		select {
		case <-ready:
			return true
		case err := <-exited:
			fmt.Printf("standin: command exited before READY=1: %v\n", err)
		case <-time.After(timeout):
			fmt.Printf("standin: no READY=1 within %v\n", timeout)
			signal(syscall.SIGKILL)
		}
		return false
	}
	if !waitReady() {
		return 1
	}
	time.Sleep(hold)
	if reload {
		signal(syscall.SIGHUP)
		if !waitReady() {
			return 1
		}
		time.Sleep(hold)
	}
	signal(syscall.SIGTERM)
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(10 * time.Second):
		signal(syscall.SIGKILL)
		werr = <-exited
	}
	time.Sleep(50 * time.Millisecond) // let the last datagrams be printed
	fmt.Printf("standin: command exited: %v\n", exitText(werr))
	if werr != nil {
		if ee, ok := werr.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			return ee.ExitCode()
		}
		return 1
	}
	return 0
}

// build builds the Go package in dir into a temporary directory.
func build(dir string) (bin string, cleanup func(), err error) {
	tmp, err := os.MkdirTemp("", "standin")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(tmp, filepath.Base(filepath.Clean(dir)))
	fmt.Printf("standin: building %s\n", dir)
	out, err := exec.Command("go", "build", "-o", bin, "./"+filepath.Clean(dir)).CombinedOutput()
	if err != nil {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("go build %s: %v\n%s", dir, err, out)
	}
	return bin, func() { os.RemoveAll(tmp) }, nil
}

func describe(m *sdnotifytest.Message) string {
	var parts []string
	for _, a := range m.Assignments {
		parts = append(parts, a.String())
	}
	s := strings.Join(parts, " | ")
	if len(m.Files) > 0 {
		s += fmt.Sprintf(" (+%d fds)", len(m.Files))
	}
	if m.Err != nil {
		s = fmt.Sprintf("%q dropped: %v", m.Data, m.Err)
	}
	for _, ig := range m.Ignored {
		s += fmt.Sprintf(" [ignored %s: %s]", ig.String(), ig.Reason)
	}
	return s
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}
