package sdnotifytest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify/internal/spawn"
)

// A test binary that imports this package is also the trampoline of
// Start: Start runs it again, and here, before any test runs, it sets
// LISTEN_PID to its own process ID and execs the command.
func init() { spawn.Init() }

// Variables of the manager's that a started service must not inherit
// from the test's environment.
var managerVars = []string{
	"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES",
	"FDSTORE", "WATCHDOG_USEC", "WATCHDOG_PID",
}

// Start starts cmd as the manager starts a service: with NOTIFY_SOCKET
// set to l.Addr, and files passed from descriptor 3 on, as in socket
// activation: files first, then the files of l's fd store (see
// EnableFDStore), named in LISTEN_FDNAMES, counted in LISTEN_FDS, and
// meant for cmd's process by LISTEN_PID (and LISTEN_PIDFDID where the
// kernel has pidfd inode IDs), so that sdnotify.Files in cmd takes them.
// With an fd store, FDSTORE is set to its maximum. Variables of an outer
// manager (NOTIFY_SOCKET, LISTEN_*, FDSTORE, WATCHDOG_*) are removed from
// cmd.Env (or from os.Environ() when cmd.Env is nil).
//
// Set everything else of cmd (Stdout, SysProcAttr...) before, but not
// ExtraFiles. The manager sets LISTEN_PID in the new process before it
// runs the service; to do the same, Start runs the test binary itself
// (os.Executable) with cmd.Args and a marker in its environment, and the
// init function of this package, on seeing the marker, sets the
// variables and execs the command in the same process. So with files,
// Start sets cmd.Path to the test binary (cmd.Args stay the command's);
// the process is the test binary for a moment (its package
// initialization runs up to this package's), and then the command:
// cmd.Process is the service's process. This works in any program that
// imports this package.
//
// The caller waits for cmd (Wait), or has Stop or Restart do it.
func (l *Listener) Start(cmd *exec.Cmd, files ...File) error {
	if cmd.Process != nil {
		return errors.New("sdnotifytest: Start: the command was already started")
	}
	if len(cmd.ExtraFiles) > 0 {
		return errors.New("sdnotifytest: Start: cmd.ExtraFiles is set; pass the files to Start")
	}
	if cmd.Err != nil {
		return fmt.Errorf("sdnotifytest: Start: %w", cmd.Err)
	}
	all := make([]spawn.File, 0, len(files))
	for _, f := range files {
		all = append(all, spawn.File(f))
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = withoutVars(env, managerVars)
	env = append(env, l.Env())
	if st := l.fdStore(); st != nil {
		all = append(all, st.Files()...)
		env = append(env, "FDSTORE="+strconv.Itoa(st.Max()))
	}
	cmd.Env = env
	if err := spawn.Prepare(cmd, all); err != nil {
		return fmt.Errorf("sdnotifytest: Start %s: %w", cmd.Path, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sdnotifytest: Start: %w", err)
	}
	return nil
}

func withoutVars(env, drop []string) []string {
	var kept []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			kept = append(kept, kv)
		}
	}
	return kept
}

// Stop stops cmd, started with Start, as the manager stops a service: it
// sends SIGTERM and waits for the process to exit (it calls cmd.Wait; do
// not call it yourself). If ctx ends first, it sends SIGKILL, waits, and
// returns an error. When the process has exited, Stop waits until l has
// handled every notification it sent (see Sync), as the manager handles
// them before it sees the exit.
//
// The error is nil when the process exited with status 0 or was killed by
// SIGTERM (the manager counts both as a clean stop); otherwise it says how
// the process ended. cmd.ProcessState tells it, too.
func (l *Listener) Stop(ctx context.Context, cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return errors.New("sdnotifytest: Stop: the command was not started")
	}
	if cmd.ProcessState != nil {
		return errors.New("sdnotifytest: Stop: the command was already waited for")
	}
	name := cmd.Path
	if len(cmd.Args) > 0 {
		name = cmd.Args[0]
	}
	name = fmt.Sprintf("%s (pid %d)", name, cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM) // an error: it has exited already; Wait tells
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
		err = stopResult(name, cmd, err)
	case <-ctx.Done():
		cmd.Process.Kill()
		<-exited
		err = fmt.Errorf("sdnotifytest: %s did not exit after SIGTERM; killed: %w", name, ctx.Err())
	}
	// The notifications it sent are in the socket by now; have them
	// handled, within a bound of their own if ctx has ended.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncBound)
	defer cancel()
	return errors.Join(err, l.Sync(sctx))
}

// syncBound bounds Stop's wait for the notifications of a process that
// has exited.
const syncBound = 10 * time.Second

// stopResult is nil for an exit that the manager counts as a clean stop.
func stopResult(name string, cmd *exec.Cmd, err error) error {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		if err != nil {
			return fmt.Errorf("sdnotifytest: %s: %w", name, err)
		}
		return nil
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
		return nil
	}
	return fmt.Errorf("sdnotifytest: %s stopped badly: %w", name, err)
}

// Restart restarts a service as systemctl restart does: it stops old as
// Stop does, then starts next with Start, which passes files and the
// files in l's fd store as the manager hands them to the new process
// (with FDSTOREREMOVE=1, hang-ups and FDPOLL=0 applied). next is started
// even if old did not stop cleanly; the error joins Stop's and Start's.
func (l *Listener) Restart(ctx context.Context, old, next *exec.Cmd, files ...File) error {
	stopErr := l.Stop(ctx, old)
	return errors.Join(stopErr, l.Start(next, files...))
}
