package main

// The modes of the newer managers' scenarios (systemd 257 to 262) and of
// the notify-reload trap.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/internal/pidfd"
)

// newerModes are looked up by run for the modes it does not know itself.
var newerModes = map[string]func(n *sdnotify.Notifier) error{
	"reload-helper":     reloadHelper,
	"restart-reset":     restartReset,
	"varlink-error":     varlinkError,
	"mainpidfd":         func(n *sdnotify.Notifier) error { return handOver(n, "pidfd") },
	"mainpidfdid":       func(n *sdnotify.Notifier) error { return handOver(n, "pidfdid") },
	"mainpidfdid-wrong": func(n *sdnotify.Notifier) error { return handOver(n, "pidfdid-wrong") },
	"child-main":        childMain,
	"stopping-final":    stoppingFinal,
	"fdstore-files":     fdstoreFiles,
}

// reloadHelper is a Type=notify-reload daemon that reloads through
// ServeReloads: each reload makes a new configuration generation and
// reports it in STATUS=.
func reloadHelper(n *sdnotify.Notifier) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	generation := 1
	if err := n.Send(sdnotify.Statusf("Serving, configuration %d", generation)); err != nil {
		return err
	}
	err := n.ServeReloads(ctx, func(context.Context) error {
		time.Sleep(20 * time.Millisecond) // reading the configuration
		generation++
		observe("reloaded: configuration %d", generation)
		return n.Send(sdnotify.Statusf("Serving, configuration %d", generation))
	}, &sdnotify.ReloadOptions{Failed: func(err error) { observe("reload: %v", err) }})
	if err != nil {
		return err
	}
	return n.Send(sdnotify.Stopping(), sdnotify.Status("stopping"))
}

// restartReset fails its first two starts (the manager restarts it), then
// starts, and on SIGUSR1 sends RESTART_RESET=1 (systemd 258).
func restartReset(n *sdnotify.Notifier) error {
	b, _ := os.ReadFile(*out)
	run := strings.Count(string(b), "run ") + 1
	observe("run %d", run)
	if run <= 2 {
		n.Send(sdnotify.Statusf("failing start %d", run))
		barrier(n)
		os.Exit(1)
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	if err := n.Send(sdnotify.Ready(), sdnotify.Statusf("started after %d failures", run-1)); err != nil {
		return err
	}
	go func() {
		<-usr1
		if err := n.Send(sdnotify.RestartReset(), sdnotify.Status("restart counter reset")); err != nil {
			observe("RESTART_RESET=1: %v", err)
		}
	}()
	return waitForTermination(n)
}

// varlinkError fails its start with STATUS=, VARLINKERROR= (systemd 257)
// and BUSERROR=.
func varlinkError(n *sdnotify.Notifier) error {
	err := n.Send(sdnotify.Status("no such configuration"),
		sdnotify.VarlinkError("io.github.gosdnotify.NoSuchConfiguration"),
		sdnotify.BusError("io.github.gosdnotify.Error.NoSuchConfiguration"))
	if err != nil {
		return err
	}
	barrier(n)
	os.Exit(3)
	return nil
}

// handOver starts a child (-mode child-main) and names it the service's
// main process, in one notification with READY=1: with MAINPIDFD=1 and a
// pidfd of it ("pidfd"), with MAINPID= and its pidfd ID ("pidfdid"), or
// with MAINPID= and the pidfd ID of another process, this one
// ("pidfdid-wrong"). Then it exits.
func handOver(n *sdnotify.Notifier, how string) error {
	cmd := exec.Command("/proc/self/exe", "-mode", "child-main", "-out", *out)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	child := cmd.Process.Pid
	observe("handover child pid=%d", child)
	var as []sdnotify.Assignment
	switch how {
	case "pidfd":
		fd, err := unix.PidfdOpen(child, 0)
		if err != nil {
			return fmt.Errorf("pidfd_open(%d): %w", child, err)
		}
		f := os.NewFile(uintptr(fd), "pidfd")
		defer f.Close()
		as = []sdnotify.Assignment{sdnotify.MainPIDFD(f)}
	case "pidfdid", "pidfdid-wrong":
		of := child
		if how == "pidfdid-wrong" {
			of = os.Getpid()
		}
		id := pidfd.ID(of)
		if id == 0 {
			return fmt.Errorf("no pidfd ID for pid %d on this kernel", of)
		}
		as = []sdnotify.Assignment{sdnotify.MainPID(child), sdnotify.MainPIDFDID(id)}
	}
	as = append(as, sdnotify.Ready(), sdnotify.Statusf("handed over to %d", child))
	if err := n.Send(as...); err != nil {
		return err
	}
	if err := barrier(n); err != nil {
		return err
	}
	// Stay a moment, so that the manager decides on the notification while
	// this process is still its main process.
	time.Sleep(200 * time.Millisecond)
	observe("parent exits")
	return nil
}

// childMain is the process that handOver names the main process: it waits
// for SIGTERM and exits cleanly.
func childMain(n *sdnotify.Notifier) error {
	observe("child-main pid=%d", os.Getpid())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	observe("child-main got SIGTERM")
	return nil
}

// fdstoreFiles is fdstore through sdnotify.Files: after a restart it
// records the LISTEN_ variables (LISTEN_PIDFDID from systemd 259) and what
// Files made of them.
func fdstoreFiles(n *sdnotify.Notifier) error {
	observe("LISTEN_PID=%s LISTEN_PIDFDID=%s own=%d", os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_PIDFDID"), pidfd.ID(os.Getpid()))
	files, err := sdnotify.Files()
	if err != nil {
		observe("Files: %v", err)
		return err
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	observe("Files: %d %s", len(files), strings.Join(names, ","))
	if state, err := sdnotify.FilesNamed("state"); err == nil && len(state) == 1 {
		return restoreState(n, state[0])
	}
	return storeState(n)
}

// stoppingFinal sends STOPPING=1 while it starts, then READY=1: systemd
// 259 and later take no READY=1 after STOPPING=1.
func stoppingFinal(n *sdnotify.Notifier) error {
	if err := n.Send(sdnotify.Stopping(), sdnotify.Status("stopping")); err != nil {
		return err
	}
	observe("sent STOPPING=1")
	time.Sleep(300 * time.Millisecond)
	if err := n.Send(sdnotify.Ready(), sdnotify.Status("ready after stopping")); err != nil {
		return err
	}
	barrier(n)
	observe("sent READY=1")
	return waitForTermination(n)
}
