package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/internal/notifysock"
)

// errnoEPROTO is the ERRNO= systemd-notify --fork reports when the command
// is killed before it is ready.
const errnoEPROTO = 71

// exitExec is the exit status when the command cannot be started: systemd's
// EXIT_EXEC, as systemd-notify --fork's child exits with.
const exitExec = 203

// forkSignals are forwarded to the command while --fork waits for it, as
// systemd-notify does.
var forkSignals = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2}

// forkEnd is the marker forkMain sends itself, after the command's exit, to
// know it has read everything the command sent.
const forkEnd = "X_SDNOTIFY_FORK_END=1"

// forkMain is --fork: it plays the manager for o.exec. It starts the
// command with NOTIFY_SOCKET set to a socket of its own, standard input
// and output on /dev/null (so that $(sdnotify send --fork ...) returns at
// once) and standard error its own, prints its PID unless --quiet, and
// exits 0 as soon as the command sends READY=1, leaving it running. If the
// command exits first, forkMain exits with its status; if it is killed, 1.
func forkMain(o *sendOptions, stdout, stderr io.Writer) int {
	// Found and executable, checked before the fork: a failed exec then
	// cannot happen in the child (short of a race), which qemu-user, for
	// one, sometimes deadlocks on.
	path, _, err := resolveCommand(o.exec[0])
	if err != nil {
		fmt.Fprintf(stderr, "sdnotify send: --fork: %v\n", err)
		return exitExec
	}
	sock, err := notifysock.Listen("@")
	if err != nil {
		fmt.Fprintf(stderr, "sdnotify send: --fork: %v\n", err)
		return 1
	}
	defer sock.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "sdnotify send: --fork: %v\n", err)
		return 1
	}
	cmd := &exec.Cmd{
		Path:  path,
		Args:  o.exec,
		Env:   append(withoutEnv(os.Environ(), "NOTIFY_SOCKET"), "NOTIFY_SOCKET="+sock.Addr),
		Stdin: null, Stdout: null, Stderr: os.Stderr,
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forkSignals...)
	defer signal.Stop(sigs)
	err = cmd.Start()
	null.Close()
	if err != nil {
		fmt.Fprintf(stderr, "sdnotify send: --fork: Failed to execute %q: %v\n", strings.Join(o.exec, " "), err)
		return exitExec
	}
	pid := cmd.Process.Pid
	if !o.quiet {
		fmt.Fprintln(stdout, pid)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	msgs := make(chan *notifysock.Datagram)
	go func() {
		for {
			d, err := sock.Receive()
			if err != nil {
				close(msgs)
				return
			}
			msgs <- d
		}
	}()
	var waitErr error
	done := false
	for {
		select {
		case s := <-sigs:
			cmd.Process.Signal(s)
			continue
		case waitErr = <-exited:
			// Everything the command sent is queued before this marker.
			done = true
			n := sdnotify.NewAddr(sock.Addr)
			n.Notify(forkEnd)
			n.Close()
			exited = nil
			continue
		case d, ok := <-msgs:
			if !ok {
				fmt.Fprintln(stderr, "sdnotify send: --fork: the notification socket failed")
				return 1
			}
			d.CloseFiles() // a barrier's pipe: closing it answers the barrier
			if done && d.PID == os.Getpid() && bytes.Equal(d.Data, []byte(forkEnd)) {
				return forkExited(o, stderr, pid, waitErr)
			}
			if d.PID != pid {
				fmt.Fprintf(stderr, "sdnotify send: --fork: ignoring a notification from process %d, not the command (%d)\n", d.PID, pid)
				continue
			}
			if hasReady(d.Data) {
				return 0
			}
		}
	}
}

// hasReady reports whether a notification has a READY=1 line.
func hasReady(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		if string(line) == "READY=1" {
			return true
		}
	}
	return false
}

// forkExited reports a command that ended before it was ready, and returns
// the exit status: the command's, or 1 if a signal killed it.
func forkExited(o *sendOptions, stderr io.Writer, pid int, err error) int {
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintf(stderr, "sdnotify send: --fork: waiting for %d: %v\n", pid, err)
			return 1
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			fmt.Fprintf(stderr, "sdnotify send: --fork: %s (%d) was killed by %s before it sent READY=1\n", o.exec[0], pid, signalName(ws.Signal()))
			sendErrno(errnoEPROTO)
			return 1
		}
		code = ee.ExitCode()
	}
	fmt.Fprintf(stderr, "sdnotify send: --fork: %s (%d) exited with status %d before it sent READY=1\n", o.exec[0], pid, code)
	return code
}

// withoutEnv returns env without the variable key.
func withoutEnv(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}
