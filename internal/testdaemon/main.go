//go:build linux

// Command testdaemon is a Type=notify service with one behaviour per
// scenario of the real-systemd suite (internal/realsystemd). It is built on
// package sdnotify and nothing else, and is not an example to copy: see
// examples/ for those.
//
// Usage: testdaemon -mode MODE [-status TEXT] [-out FILE] [-creds A,B]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify"
)

var (
	mode   = flag.String("mode", "ready", "scenario")
	status = flag.String("status", "running", "status text to send with READY=1")
	out    = flag.String("out", "", "file to write observations to")
	creds  = flag.String("creds", "", "credentials mode: comma-separated names to read with sdnotify.Credential")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testdaemon:", err)
		os.Exit(1)
	}
}

func run() error {
	switch *mode {
	case "child-send-ready":
		// Run as a child by the parent modes below: it sends READY=1 for
		// the unit if it can, and says whether it could.
		n := sdnotify.New()
		defer n.Close()
		observe("child enabled=%v", n.Enabled())
		if !n.Enabled() {
			return nil
		}
		if err := n.Send(sdnotify.Ready(), sdnotify.Status("ready from child")); err != nil {
			return err
		}
		return barrier(n)
	case "unsetenv-child":
		n := sdnotify.NewUnsetenv()
		defer n.Close()
		if err := child(); err != nil {
			return err
		}
		if err := n.Send(sdnotify.Ready(), sdnotify.Status(*status)); err != nil {
			return err
		}
		return waitForTermination(n)
	}

	n := sdnotify.New()
	defer n.Close()
	switch *mode {
	case "ready":
		if err := n.Send(sdnotify.Ready(), sdnotify.Status(*status)); err != nil {
			return err
		}
		return waitForTermination(n)
	case "never-ready":
		n.Send(sdnotify.Status("never ready"))
		sleepForever()
	case "fail-errno":
		if err := n.Send(sdnotify.Status("cannot open configuration"), sdnotify.Errno(syscall.ENOENT)); err != nil {
			return err
		}
		barrier(n)
		os.Exit(3)
	case "slow-start":
		// Four seconds of startup under TimeoutStartSec=2, extended by a
		// second and a half every second.
		for i := 0; i < 4; i++ {
			if err := n.Send(sdnotify.ExtendTimeout(1500*time.Millisecond), sdnotify.Statusf("starting, step %d", i)); err != nil {
				return err
			}
			time.Sleep(time.Second)
		}
		if err := n.Send(sdnotify.Ready(), sdnotify.Status(*status)); err != nil {
			return err
		}
		return waitForTermination(n)
	case "watchdog-fed", "watchdog-starved", "watchdog-unhealthy":
		d, err := n.WatchdogTimeout()
		if err != nil || d == 0 {
			return fmt.Errorf("no watchdog: %v, %v", d, err)
		}
		if err := n.Send(sdnotify.Ready(), sdnotify.Statusf("watchdog %v", d)); err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var healthy func(context.Context) error
		switch *mode {
		case "watchdog-starved":
			go func() { time.Sleep(time.Second); cancel() }() // stop feeding
		case "watchdog-unhealthy":
			start := time.Now()
			healthy = func(context.Context) error {
				if time.Since(start) > time.Second {
					return errors.New("wedged")
				}
				return nil
			}
		}
		// Missed keep-alives and KeepAlive's end go to stderr, which the
		// manager shows in its log, and to -out, for the test to count.
		missed := func(err error) {
			fmt.Fprintln(os.Stderr, "testdaemon: keep-alive missed:", err)
			observe("keep-alive missed: %v", err)
		}
		go func() {
			err := n.KeepAlive(ctx, &sdnotify.KeepAliveOptions{Healthy: healthy, Missed: missed})
			fmt.Fprintln(os.Stderr, "testdaemon: KeepAlive returned:", err)
			observe("KeepAlive returned: %v", err)
		}()
		return waitForTermination(n)
	case "watchdog-trigger":
		if err := n.Send(sdnotify.Ready()); err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
		if err := n.Send(sdnotify.WatchdogTrigger()); err != nil {
			return err
		}
		sleepForever()
	case "child-ready":
		// The main process never says READY=1; a child does.
		n.Send(sdnotify.Status("waiting for the child"))
		if err := child(); err != nil {
			return err
		}
		return waitForTermination(n)
	case "notifyaccess-all":
		// NOTIFYACCESS=all from the main process (systemd 254), then a
		// child's READY=1.
		if err := n.Send(sdnotify.NotifyAccess(sdnotify.AccessAll)); err != nil {
			return err
		}
		if err := child(); err != nil {
			return err
		}
		return waitForTermination(n)
	case "fdstore":
		return fdstore(n)
	case "credentials":
		return credentials(n)
	case "helper-barrier":
		// A short-lived helper sends READY=1 and a barrier and exits at
		// once; the main process never does.
		if err := child(); err != nil {
			return err
		}
		return waitForTermination(n)
	}
	if f, ok := newerModes[*mode]; ok {
		return f(n)
	}
	return fmt.Errorf("unknown mode %q", *mode)
}

// sleepForever blocks without ending the process: a bare select{} would
// make the runtime exit, finding every goroutine asleep.
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// child runs this program again as a child that sends READY=1.
func child() error {
	cmd := exec.Command("/proc/self/exe", "-mode", "child-send-ready", "-out", *out)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// fdstore restores a memfd named "state" if the manager passed one back,
// and otherwise stores a new one.
func fdstore(n *sdnotify.Notifier) error {
	if names := os.Getenv("LISTEN_FDNAMES"); names != "" {
		observe("LISTEN_FDS=%s LISTEN_FDNAMES=%s", os.Getenv("LISTEN_FDS"), names)
		for i, name := range strings.Split(names, ":") {
			if name != "state" {
				continue
			}
			return restoreState(n, os.NewFile(uintptr(3+i), name))
		}
		return fmt.Errorf("no state among LISTEN_FDNAMES=%q", names)
	}
	return storeState(n)
}

// restoreState reports the content of the state file the manager passed
// back, with READY=1, and waits.
func restoreState(n *sdnotify.Notifier, f *os.File) error {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<10))
	if err != nil {
		return err
	}
	return readyThenWait(n, "restored "+string(b))
}

// storeState stores a new memfd named "state" with the manager, says
// READY=1 and waits.
func storeState(n *sdnotify.Notifier) error {
	fd, err := unix.MemfdCreate("state", unix.MFD_CLOEXEC)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "state")
	if _, err := f.WriteString("generation 1"); err != nil {
		return err
	}
	if err := n.Send(sdnotify.FDStore("state", f)); err != nil {
		return err
	}
	f.Close()
	return readyThenWait(n, "stored")
}

// credentials reads each credential of -creds with sdnotify.Credential
// and records, one line each, its value or the error, then says READY=1
// with how many it could read.
func credentials(n *sdnotify.Notifier) error {
	observe("CREDENTIALS_DIRECTORY=%s", os.Getenv("CREDENTIALS_DIRECTORY"))
	read := 0
	names := strings.Split(*creds, ",")
	for _, name := range names {
		b, err := sdnotify.Credential(name)
		if err != nil {
			observe("credential %s error (not-exist=%v): %v", name, errors.Is(err, fs.ErrNotExist), err)
			continue
		}
		read++
		observe("credential %s=%q", name, b)
	}
	return readyThenWait(n, fmt.Sprintf("read %d of %d credentials", read, len(names)))
}

func readyThenWait(n *sdnotify.Notifier, text string) error {
	if err := n.Send(sdnotify.Ready(), sdnotify.Status(text)); err != nil {
		return err
	}
	return waitForTermination(n)
}

// waitForTermination waits for SIGTERM and stops as a service should.
func waitForTermination(n *sdnotify.Notifier) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	return n.Send(sdnotify.Stopping(), sdnotify.Status("stopping"))
}

// barrier waits until the manager has processed what was sent, before the
// process exits.
func barrier(n *sdnotify.Notifier) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Barrier(ctx)
}

// observe appends a line to the -out file, for the test to read.
func observe(format string, args ...any) {
	if *out == "" {
		return
	}
	f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}
