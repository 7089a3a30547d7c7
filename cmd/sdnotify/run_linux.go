package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/internal/fdstore"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// The states of the service, as far as run tells them apart.
type svcState int

const (
	stateStarting  svcState = iota // started, no READY=1 yet
	stateRunning                   // READY=1 received
	stateReloading                 // RELOADING=1 received, READY=1 not yet
	stateStopping                  // STOPPING=1, a forwarded SIGTERM/SIGINT, or a failure
)

// The exit codes of run's own failures.
const (
	exitTimeout  = 124
	exitWatchdog = 125
	exitNoExec   = 126
	exitNotFound = 127
)

// syncKey is the assignment of the marker run sends to its own socket to
// know that everything queued before it has been read.
const syncKey = "X_SDNOTIFY_RUN_SYNC"

// finalKillWait bounds the wait for processes after SIGKILL.
const finalKillWait = 5 * time.Second

// mainProc is the service's main process.
type mainProc struct {
	pid   int
	pidfd int      // -1 if pidfd_open failed; signals then go by PID
	watch *os.File // for a main process that is not our child: a pidfd that becomes readable when it exits
}

// reloadState follows a reload cycle.
type reloadState struct {
	byHUP     bool      // started by a forwarded SIGHUP
	hup       time.Time // when SIGHUP was forwarded
	hupMono   uint64    // CLOCK_MONOTONIC then, in µs
	reloading time.Time // when RELOADING=1 arrived (zero: not yet)
	deadline  time.Time
}

type supervisor struct {
	o      *runOptions
	em     *emitter
	stderr io.Writer
	self   int
	start  time.Time

	l       *sdnotifytest.Listener
	syncN   *sdnotify.Notifier
	syncSeq int
	msgs    chan *sdnotifytest.Message
	sigs    chan os.Signal
	gone    chan int // a main process that is not our child exited

	origPID int
	main    *mainProc
	access  string
	state   svcState
	ready   bool // READY=1 seen once

	failure  string // systemd's Result= for a failure of ours: timeout, watchdog
	failCode int
	failMsg  string

	startDeadline time.Time
	stopDeadline  time.Time // SIGKILL then
	killedAt      time.Time // when SIGKILL was sent
	wdInterval    time.Duration
	wdDeadline    time.Time
	reload        *reloadState

	fds *fdstore.Store // the fd store, kept across restarts
	restartState

	done     bool
	exitCode int
	exitDesc string
	result   string
}

func runCommand(o *runOptions, stdout, stderr io.Writer) int {
	// Pdeathsig is tied to the thread that started the child: keep the
	// main goroutine on its thread for good.
	runtime.LockOSThread()

	out := stdout
	if o.output != "" {
		f, err := os.OpenFile(o.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "sdnotify run: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	s := &supervisor{
		o:      o,
		em:     &emitter{w: out, json: o.json, now: time.Now},
		stderr: stderr,
		self:   os.Getpid(),
		access: o.access,
		msgs:   make(chan *sdnotifytest.Message),
		sigs:   make(chan os.Signal, 64),
		gone:   make(chan int, 4),
		fds:    fdstore.New(o.fdStoreMax),
	}
	return s.run()
}

func (s *supervisor) fatal(format string, args ...any) int {
	fmt.Fprintf(s.stderr, "sdnotify run: "+format+"\n", args...)
	return 1
}

func (s *supervisor) run() int {
	if s.o.readyFile != "" {
		if err := prepareReadyFile(s.o.readyFile); err != nil {
			return s.fatal("--ready-file: %v", err)
		}
	}
	path, code, err := resolveCommand(s.o.argv[0])
	if err != nil {
		fmt.Fprintf(s.stderr, "sdnotify run: %v\n", err)
		return code
	}

	l, err := sdnotifytest.Listen("")
	if err != nil {
		return s.fatal("%v", err)
	}
	defer l.Close()
	// Release each barrier only once every notification before it has been
	// processed (as the manager does), not as soon as it is read.
	l.HoldBarriers()
	s.l = l
	s.syncN = sdnotify.NewAddr(l.Addr)
	defer s.syncN.Close()

	// Orphaned descendants are reparented to us, so that they stay in the
	// service's process tree (notify-access=all, the final clean-up).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(s.stderr, "sdnotify run: warning: cannot become a child subreaper: %v\n", err)
	}
	signal.Notify(s.sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGCHLD)
	defer signal.Stop(s.sigs)

	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return s.fatal("%v", err)
	}
	defer devnull.Close()
	s.devnull = devnull
	if err := s.bindListeners(); err != nil {
		return s.fatal("%v", err)
	}
	defer s.closeListeners()
	if code, err := s.startMain(path); err != nil {
		fmt.Fprintf(s.stderr, "sdnotify run: %v\n", err)
		return code
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.readMessages(ctx)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.serve(timer)
		if !s.restart(path) {
			break
		}
	}
	s.cleanUp()
	return s.exitCode
}

// serve runs the main loop until the main process is gone.
func (s *supervisor) serve(timer *time.Timer) {
	for !s.done {
		s.armTimer(timer)
		select {
		case m := <-s.msgs:
			s.handle(m)
		case sig := <-s.sigs:
			switch sig {
			case syscall.SIGCHLD:
				s.reap()
			case syscall.SIGTERM, syscall.SIGINT:
				s.stopRequested = true // as systemctl stop: no restart
				s.forward(sig.(syscall.Signal))
			default:
				s.forward(sig.(syscall.Signal))
			}
		case pid := <-s.gone:
			s.alienExited(pid)
		case <-timer.C:
			s.deadlines()
		}
	}
}

// environment returns COMMAND's environment, and the part of it that run
// sets, for the start event.
func (s *supervisor) environment() (env []string, shown string) {
	drop := map[string]bool{"NOTIFY_SOCKET": true, "WATCHDOG_USEC": true, "WATCHDOG_PID": true, "FDSTORE": true, "MANAGERPID": true,
		"LISTEN_PID": true, "LISTEN_PIDFDID": true, "LISTEN_FDS": true, "LISTEN_FDNAMES": true}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	add := []string{s.l.Env(), "MANAGERPID=" + strconv.Itoa(s.self)}
	if s.o.watchdog > 0 {
		add = append(add, "WATCHDOG_USEC="+strconv.FormatInt(s.o.watchdog.Microseconds(), 10))
	}
	if s.o.fdStoreMax > 0 {
		add = append(add, "FDSTORE="+strconv.Itoa(s.o.fdStoreMax))
	}
	env = append(env, add...)
	if s.o.watchdog > 0 {
		add = append(add, "WATCHDOG_PID=$PID")
	}
	return env, strings.Join(add, " ")
}

// resolveCommand finds COMMAND as a shell would, with the exit code for a
// failure: 127 if it is not found, 126 if it cannot be executed.
func resolveCommand(name string) (string, int, error) {
	path, err := exec.LookPath(name)
	if errors.Is(err, exec.ErrDot) {
		err = nil
	}
	if err == nil {
		return path, 0, nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return "", exitNotFound, fmt.Errorf("%s: command not found", name)
	}
	return "", exitNoExec, fmt.Errorf("%s: cannot execute: %v", name, unwrapAll(err))
}

func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// runShim is the re-executed sdnotify that starts COMMAND under --watchdog:
// it sets WATCHDOG_PID to its own PID, which COMMAND keeps, and execs it.
// args are COMMAND's path and then its argv.
func runShim(args []string, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "sdnotify: internal command: want PATH ARGV0 [ARGS...]")
		return 2
	}
	env := append(os.Environ(), "WATCHDOG_PID="+strconv.Itoa(os.Getpid()))
	err := syscall.Exec(args[0], args[1:], env)
	fmt.Fprintf(stderr, "sdnotify run: cannot execute %s: %v\n", args[1], err)
	if errors.Is(err, syscall.ENOENT) {
		return exitNotFound
	}
	return exitNoExec
}

// rawFd returns f's descriptor without Fd's side effect (it makes the file
// blocking, which would change it for the process that sent it, too).
func rawFd(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(u uintptr) { fd = int(u) })
	return fd
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// prepareReadyFile removes a ready file left from an earlier run, and
// checks that one can be made in its directory.
func prepareReadyFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// writeReadyFile creates path, holding pid, atomically: a temporary file in
// the same directory, renamed.
func writeReadyFile(path string, pid int) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d\n", pid)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// exitStatus returns the shell's exit code for a wait status, and a
// description.
func exitStatus(ws unix.WaitStatus) (int, string) {
	switch {
	case ws.Exited():
		return ws.ExitStatus(), fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		d := fmt.Sprintf("was killed by %s", signalName(ws.Signal()))
		if ws.CoreDump() {
			d += " (core dumped)"
		}
		return 128 + int(ws.Signal()), d + fmt.Sprintf(" (status %d)", 128+int(ws.Signal()))
	}
	return 1, fmt.Sprintf("ended with wait status %#x", uint32(ws))
}

func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return "signal " + strconv.Itoa(int(sig))
}

func stateName(st svcState) string {
	return [...]string{"starting", "running", "reloading", "stopping"}[st]
}

func durationOrInfinity(d time.Duration) string {
	if d <= 0 {
		return "unlimited time"
	}
	return d.String()
}

func showArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = showValue(a)
		if a == "" {
			parts[i] = `""`
		}
	}
	return strings.Join(parts, " ")
}

func monotonicUsec() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}
