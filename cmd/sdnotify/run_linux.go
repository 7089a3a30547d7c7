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

// newMain makes pid the main process, with a pidfd to signal it safely and,
// if it is not our child, to notice its exit.
func (s *supervisor) newMain(pid int) *mainProc {
	m := &mainProc{pid: pid, pidfd: -1}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err == nil {
		m.pidfd = fd
	}
	if pid != s.origPID && parentOf(pid) != s.self && fd >= 0 {
		if dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
			m.watch = os.NewFile(uintptr(dup), "pidfd")
			go s.watchExit(pid, m.watch)
		}
	}
	return m
}

// watchExit reports on s.gone when the process of the pidfd f exits,
// unless f is closed first.
func (s *supervisor) watchExit(pid int, f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	first := true
	err = rc.Read(func(uintptr) bool {
		if first {
			first = false
			return false // wait until it is readable: the process exited
		}
		return true
	})
	if err == nil {
		s.gone <- pid // buffered; the main loop reads it until the end
	}
}

func (m *mainProc) release() {
	if m.watch != nil {
		m.watch.Close()
		m.watch = nil
	}
	if m.pidfd >= 0 {
		unix.Close(m.pidfd)
		m.pidfd = -1
	}
}

func (s *supervisor) readMessages(ctx context.Context) {
	for {
		m, err := s.l.Next(ctx)
		if err != nil {
			return
		}
		// The listener need not keep it: a run may last for days. Its
		// files are ours now; handle closes or stores them.
		s.l.Discard()
		select {
		case s.msgs <- m:
		case <-ctx.Done():
			closeFiles(m.Files)
			return
		}
	}
}

// armTimer sets timer to the earliest deadline.
func (s *supervisor) armTimer(timer *time.Timer) {
	var next time.Time
	for _, d := range []time.Time{s.startDeadline, s.stopDeadline, s.wdDeadline, s.reloadDeadline(), s.finalDeadline()} {
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.IsZero() {
		timer.Stop()
		return
	}
	timer.Reset(time.Until(next))
}

func (s *supervisor) reloadDeadline() time.Time {
	if s.reload == nil {
		return time.Time{}
	}
	return s.reload.deadline
}

func (s *supervisor) finalDeadline() time.Time {
	if s.killedAt.IsZero() {
		return time.Time{}
	}
	return s.killedAt.Add(finalKillWait)
}

// deadlines acts on the deadlines that have passed.
func (s *supervisor) deadlines() {
	now := time.Now()
	passed := func(d time.Time) bool { return !d.IsZero() && !now.Before(d) }
	if passed(s.startDeadline) && s.state == stateStarting {
		s.startDeadline = time.Time{}
		msg := fmt.Sprintf("no READY=1 within %v (--timeout-start)", s.o.timeoutStart)
		s.em.emit(&event{Event: "timeout", Reason: "start", Message: msg + ": stopping COMMAND with SIGTERM", PID: s.main.pid})
		s.fail("timeout", exitTimeout, "COMMAND did not send READY=1 within "+s.o.timeoutStart.String()+" (--timeout-start); it was stopped")
		s.stopAll(syscall.SIGTERM, "start time-out")
	}
	if passed(s.wdDeadline) {
		s.wdDeadline = time.Time{}
		s.watchdogFire(fmt.Sprintf("no WATCHDOG=1 within %v", s.wdInterval))
	}
	if s.reload != nil && passed(s.reload.deadline) {
		r := s.reload
		s.reload = nil
		what := "RELOADING=1"
		if r.byHUP && r.reloading.IsZero() {
			what = "SIGHUP"
		}
		s.em.emit(&event{Event: "timeout", Reason: "reload", Message: fmt.Sprintf("no READY=1 within %v after %s: a Type=notify-reload unit's reload would fail (ReloadResult=timeout); the service keeps running", s.o.timeoutStart, what)})
		if s.state == stateReloading {
			s.state = stateRunning
		}
	}
	if passed(s.stopDeadline) && s.killedAt.IsZero() {
		s.stopDeadline = time.Time{}
		s.em.emit(&event{Event: "timeout", Reason: "stop", Message: fmt.Sprintf("still running %v after it was asked to stop (--timeout-stop): SIGKILL", s.o.timeoutStop), PID: s.main.pid})
		s.killAll(syscall.SIGKILL, "stop time-out")
		s.killedAt = now
	}
	if passed(s.finalDeadline()) {
		s.killedAt = time.Time{}
		s.fail("timeout", 1, fmt.Sprintf("main process %d still there %v after SIGKILL; gave up on it", s.main.pid, finalKillWait))
		s.em.emit(&event{Event: "warning", Message: s.failMsg})
		s.mainExited(nil)
	}
}

func (s *supervisor) fail(result string, code int, msg string) {
	if s.failure == "" {
		s.failure, s.failCode, s.failMsg = result, code, msg
	}
}

// enterStopping stops the watchdog and the reload, and gives the main
// process --timeout-stop to exit.
func (s *supervisor) enterStopping() {
	if s.state == stateStopping {
		return
	}
	s.state = stateStopping
	s.wdDeadline = time.Time{}
	s.startDeadline = time.Time{}
	s.reload = nil
	if s.o.timeoutStop > 0 {
		s.stopDeadline = time.Now().Add(s.o.timeoutStop)
	}
}

// stopAll sends sig, then SIGCONT, to the main process and all its
// descendants (KillMode=control-group), and waits --timeout-stop.
func (s *supervisor) stopAll(sig syscall.Signal, why string) {
	s.enterStopping()
	s.killAll(sig, why)
	s.killAll(syscall.SIGCONT, "")
}

// killAll sends sig to the main process and to every other descendant.
func (s *supervisor) killAll(sig syscall.Signal, why string) {
	s.signalMain(sig)
	others := 0
	for _, pid := range descendants(s.self) {
		if pid != s.main.pid {
			unix.Kill(pid, sig)
			others++
		}
	}
	if why == "" {
		return
	}
	msg := fmt.Sprintf("%s to main process %d", signalName(sig), s.main.pid)
	if others > 0 {
		msg += fmt.Sprintf(" and %d other descendant(s)", others)
	}
	s.em.emit(&event{Event: "signal", Signal: signalName(sig), PID: s.main.pid, Reason: why, Message: msg + " (" + why + ")"})
}

func (s *supervisor) signalMain(sig syscall.Signal) error {
	if s.main.pidfd >= 0 {
		return unix.PidfdSendSignal(s.main.pidfd, sig, nil, 0)
	}
	return unix.Kill(s.main.pid, sig)
}

// forward passes a signal sent to run on to the main process.
func (s *supervisor) forward(sig syscall.Signal) {
	// The reload begins before the signal is sent, as for systemd: a
	// MONOTONIC_USEC= from the reload it asks for is never older.
	hup, hupMono := time.Now(), monotonicUsec()
	msg := fmt.Sprintf("%s forwarded to main process %d", signalName(sig), s.main.pid)
	if err := s.signalMain(sig); err != nil {
		msg += fmt.Sprintf(": %v", err)
	}
	switch {
	case sig == syscall.SIGHUP && s.state == stateRunning:
		s.reload = &reloadState{byHUP: true, hup: hup, hupMono: hupMono}
		if s.o.timeoutStart > 0 {
			s.reload.deadline = s.reload.hup.Add(s.o.timeoutStart)
		}
		msg += ": expecting RELOADING=1 (with MONOTONIC_USEC=), then READY=1"
	case sig == syscall.SIGHUP:
		msg += fmt.Sprintf(" (not a reload: the service is %s)", stateName(s.state))
	case s.state != stateStopping:
		msg += fmt.Sprintf(": it has %s to exit (--timeout-stop)", durationOrInfinity(s.o.timeoutStop))
	}
	s.em.emit(&event{Event: "signal", Signal: signalName(sig), PID: s.main.pid, Reason: "forwarded", Message: msg})
	if sig == syscall.SIGTERM || sig == syscall.SIGINT {
		s.enterStopping()
	}
}

// watchdogFire acts on a watchdog time-out or WATCHDOG=trigger.
func (s *supervisor) watchdogFire(why string) {
	if s.state == stateStopping {
		return
	}
	s.em.emit(&event{Event: "timeout", Reason: "watchdog", PID: s.main.pid, Message: "watchdog: " + why + ": SIGABRT to COMMAND, as systemd's WatchdogSignal="})
	s.fail("watchdog", exitWatchdog, "watchdog: "+why+"; COMMAND got SIGABRT")
	s.stopAll(syscall.SIGABRT, "watchdog")
}

// resetWatchdog restarts the watchdog's interval, if there is one.
func (s *supervisor) resetWatchdog() {
	if s.wdInterval <= 0 || s.state == stateStopping {
		s.wdDeadline = time.Time{}
		return
	}
	s.wdDeadline = time.Now().Add(s.wdInterval)
}

// reap collects every child that has exited.
func (s *supervisor) reap() {
	eachExited(func(pid int, ws unix.WaitStatus) {
		switch {
		case !s.done && pid == s.main.pid:
			// Process what it sent before exiting first: it may have
			// named another main process.
			s.syncMessages()
			if pid == s.main.pid {
				s.mainExited(&ws)
			} else {
				s.formerExited(pid, ws)
			}
		case pid == s.origPID:
			s.formerExited(pid, ws)
		}
	})
}

// eachExited calls f for every child that has exited, without waiting for
// any that has not.
func eachExited(f func(pid int, ws unix.WaitStatus)) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		f(pid, ws)
	}
}

// formerExited reports the exit of COMMAND after it handed over MAINPID=.
func (s *supervisor) formerExited(pid int, ws unix.WaitStatus) {
	code, desc := exitStatus(ws)
	s.em.emit(&event{Event: "exit", PID: pid, Status: ptr(code), Message: fmt.Sprintf("pid %d (no longer the main process, which is %d) %s", pid, s.main.pid, desc)})
}

// alienExited handles the exit of a main process that is not our child.
func (s *supervisor) alienExited(pid int) {
	if s.done || pid != s.main.pid {
		return
	}
	// Its parent may reap it any moment: read its status first.
	ws, known := zombieStatus(pid)
	s.reap() // it may have been reparented to us, and reaped
	if s.done || pid != s.main.pid {
		return
	}
	s.syncMessages()
	if pid != s.main.pid {
		return
	}
	if known {
		s.mainExited(&ws)
		return
	}
	s.mainExited(nil)
}

// mainExited ends the run: ws is the main process's wait status, nil if
// unknown.
func (s *supervisor) mainExited(ws *unix.WaitStatus) {
	s.done = true
	code, desc, result := 0, "exited (status unknown: it was not sdnotify's child, and its parent reaped it first)", "success"
	var sig string
	if ws != nil {
		code, desc = exitStatus(*ws)
		switch {
		case ws.Signaled() && ws.CoreDump():
			result = "core-dump"
		case ws.Signaled():
			result = "signal"
		case code != 0:
			result = "exit-code"
		}
		if ws.Signaled() {
			sig = signalName(ws.Signal())
		}
	}
	s.em.emit(&event{Event: "exit", PID: s.main.pid, Status: ptr(code), Signal: sig, Message: fmt.Sprintf("main process %d %s", s.main.pid, desc)})
	s.exitCode = code
	s.exitDesc = fmt.Sprintf("main process %d %s", s.main.pid, desc)
	if !s.ready && s.failure == "" {
		// Type=notify: exiting without READY=1 fails the start; with
		// status 0, systemd calls that a protocol violation.
		if result == "success" {
			result = "protocol"
		}
		msg := fmt.Sprintf("COMMAND exited before READY=1: systemd would mark the unit failed (Result=%s)", result)
		s.em.emit(&event{Event: "warning", Message: msg})
		fmt.Fprintf(s.stderr, "sdnotify run: warning: %s\n", msg)
	}
	s.result = result
	if s.failure != "" {
		s.result, s.exitCode = s.failure, s.failCode
	}
}

// cleanUp stops what is left of the service, and reports the result.
func (s *supervisor) cleanUp() {
	s.state = stateStopping
	s.main.release()
	s.killLeftovers()
	s.closeFDStore()
	msg := fmt.Sprintf("%s: exit %d", s.result, s.exitCode)
	if s.failMsg != "" {
		msg += ": " + s.failMsg
	}
	ev := &event{Event: "result", Reason: s.result, ExitCode: ptr(s.exitCode)}
	ev.Message = msg + s.restartSummary(ev)
	s.em.emit(ev)
	switch {
	case s.failMsg != "":
		fmt.Fprintf(s.stderr, "sdnotify run: %s (exit %d)\n", s.failMsg, s.exitCode)
	case s.exitCode != 0:
		fmt.Fprintf(s.stderr, "sdnotify run: %s (exit %d)\n", s.exitDesc, s.exitCode)
	}
}

// killLeftovers gives the descendants still running SIGTERM, then SIGKILL
// after --timeout-stop, as systemd stops the rest of a unit's cgroup.
func (s *supervisor) killLeftovers() {
	left := descendants(s.self)
	if len(left) == 0 {
		// Reap what is dying or dead.
		t := time.NewTimer(finalKillWait)
		defer t.Stop()
		s.waitGone(t.C)
		return
	}
	s.em.emit(&event{Event: "signal", Signal: "SIGTERM", Reason: "leftover", Message: fmt.Sprintf("SIGTERM to %d process(es) left after the main process exited: %v", len(left), left)})
	for _, pid := range left {
		unix.Kill(pid, syscall.SIGTERM)
		unix.Kill(pid, syscall.SIGCONT)
	}
	var deadline <-chan time.Time
	if s.o.timeoutStop > 0 {
		t := time.NewTimer(s.o.timeoutStop)
		defer t.Stop()
		deadline = t.C
	}
	if s.waitGone(deadline) {
		return
	}
	left = descendants(s.self)
	s.em.emit(&event{Event: "signal", Signal: "SIGKILL", Reason: "leftover", Message: fmt.Sprintf("SIGKILL to %d process(es) still there: %v", len(left), left)})
	for _, pid := range left {
		unix.Kill(pid, syscall.SIGKILL)
	}
	t := time.NewTimer(finalKillWait)
	defer t.Stop()
	if !s.waitGone(t.C) {
		s.em.emit(&event{Event: "warning", Message: fmt.Sprintf("processes still there after SIGKILL: %v", descendants(s.self))})
	}
}

// waitGone waits until no descendant is left, reaping them, or until
// deadline or a SIGTERM or SIGINT to run (then it returns false).
func (s *supervisor) waitGone(deadline <-chan time.Time) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.reapQuietly()
		if len(anyDescendants(s.self)) == 0 {
			return true
		}
		select {
		case <-deadline:
			return false
		case sig := <-s.sigs:
			if sig == syscall.SIGTERM || sig == syscall.SIGINT {
				s.stopRequested = true
				return false
			}
		case m := <-s.msgs:
			s.handle(m)
		case <-tick.C:
		}
	}
}

func (s *supervisor) reapQuietly() {
	eachExited(func(pid int, ws unix.WaitStatus) {
		if pid == s.origPID && pid != s.main.pid {
			s.formerExited(pid, ws)
		}
	})
}

// syncMessages processes every notification sent before now: it sends a
// marker to its own socket and handles what arrives until the marker does
// (datagrams are queued in order), for at most a second.
func (s *supervisor) syncMessages() {
	s.syncSeq++
	marker := strconv.Itoa(s.syncSeq)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.syncN.SendContext(ctx, sdnotify.Var(syncKey, marker)); err != nil {
		return
	}
	for {
		select {
		case m := <-s.msgs:
			if m.PID == s.self && m.Value(syncKey) == marker {
				return
			}
			s.handle(m)
		case <-ctx.Done():
			return
		}
	}
}

// handle processes one notification as the manager does.
func (s *supervisor) handle(m *sdnotifytest.Message) {
	if m.PID == s.self && m.Value(syncKey) != "" {
		return
	}
	if m.Err != nil {
		closeFiles(m.Files)
		ev := s.msgEvent("dropped", m)
		ev.Reason = strings.TrimPrefix(m.Err.Error(), "sdnotifytest: ")
		ev.Message = fmt.Sprintf("pid %d: %s (%s): systemd would drop it whole", m.PID, quoteData(m.Data), ev.Reason)
		s.em.emit(ev)
		return
	}
	if m.Has("BARRIER=1") {
		closeFiles(m.Files) // release it: everything before it was processed
		s.em.emit(&event{Event: "barrier", PID: m.PID, UID: ptr(m.UID), GID: ptr(m.GID), Data: ptr(string(m.Data)), FDs: len(m.Files), Message: fmt.Sprintf("pid %d: BARRIER=1 released: every notification before it was processed", m.PID)})
		return
	}
	if ok, why := s.authorized(m.PID); !ok {
		closeFiles(m.Files)
		ev := s.msgEvent("ignored", m)
		ev.Reason = why
		ev.Message = fmt.Sprintf("pid %d: %s: %s", m.PID, describe(m), why)
		s.em.emit(ev)
		return
	}
	ev := s.msgEvent("notify", m)
	ev.Message = fmt.Sprintf("pid %d: %s", m.PID, describe(m))
	s.em.emit(ev)
	s.apply(m)
}

// msgEvent starts the event of a notification.
func (s *supervisor) msgEvent(name string, m *sdnotifytest.Message) *event {
	ev := &event{Event: name, PID: m.PID, UID: ptr(m.UID), GID: ptr(m.GID), Data: ptr(string(m.Data)), FDs: len(m.Files)}
	for _, a := range m.Assignments {
		ev.Assignments = append(ev.Assignments, jsonAssign{Key: a.Key, Value: a.Value})
	}
	for _, ig := range m.Ignored {
		ev.Ignored = append(ev.Ignored, jsonAssign{Key: ig.Key, Value: ig.Value, Reason: ig.Reason})
	}
	return ev
}

// describe shows a notification's assignments for the text output.
func describe(m *sdnotifytest.Message) string {
	var parts []string
	for _, a := range m.Assignments {
		parts = append(parts, showAssign(a.Key, a.Value))
	}
	if len(parts) == 0 && len(m.Ignored) == 0 {
		parts = append(parts, quoteData(m.Data)+" (no assignment)")
	}
	s := strings.Join(parts, " ")
	if len(m.Files) > 0 {
		s += fmt.Sprintf(" +%d fd(s)", len(m.Files))
	}
	for _, ig := range m.Ignored {
		s += fmt.Sprintf(" [ignored %s: %s]", showAssign(ig.Key, ig.Value), ig.Reason)
	}
	return strings.TrimSpace(s)
}

func quoteData(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q... (%d bytes)", b[:200], len(b))
	}
	return strconv.Quote(string(b))
}

// authorized applies NotifyAccess=.
func (s *supervisor) authorized(pid int) (bool, string) {
	switch s.access {
	case "none":
		return false, "notify-access=none: every notification is ignored"
	case "main", "exec":
		if pid == s.main.pid {
			return true, ""
		}
		return false, fmt.Sprintf("notify-access=%s: only the main process (pid %d) may notify", s.access, s.main.pid)
	}
	if pid == s.main.pid {
		return true, ""
	}
	desc, gone := isDescendant(pid, s.self)
	switch {
	case desc:
		return true, ""
	case gone:
		return false, fmt.Sprintf("notify-access=all: pid %d is already gone, so it cannot be told whether it is COMMAND's (systemd: \"Cannot find unit for notify message\"); a sender should send BARRIER=1 before it exits", pid)
	}
	return false, fmt.Sprintf("notify-access=all: pid %d is not COMMAND or one of its descendants", pid)
}

// apply acts on an accepted notification, in the manager's order.
func (s *supervisor) apply(m *sdnotifytest.Message) {
	active := s.state != stateStopping
	if v := m.Value("MAINPID"); v != "" && active {
		s.setMainPID(v, m)
	}
	lines := strings.FieldsFunc(string(m.Data), func(r rune) bool { return r == '\n' || r == '\r' })
	for i := len(lines) - 1; i >= 0; i-- { // the last of them wins
		switch lines[i] {
		case "READY=1":
			s.onReady(m)
		case "RELOADING=1":
			s.onReloading(m)
		case "STOPPING=1":
			s.onStopping(m)
		default:
			continue
		}
		break
	}
	if v := m.Value("NOTIFYACCESS"); v != "" && v != s.access {
		s.em.emit(&event{Event: "notify-access", PID: m.PID, Reason: v, Message: fmt.Sprintf("NOTIFYACCESS=%s: notify-access is now %s (was %s), as systemd 254+ allows; 252 ignores it", v, v, s.access)})
		s.access = v
	}
	if v := m.Value("EXTEND_TIMEOUT_USEC"); v != "" {
		if usec, err := strconv.ParseUint(v, 10, 64); err == nil && usec > 0 && usec < 1<<62/1000 {
			s.extend(time.Duration(usec) * time.Microsecond)
		}
	}
	switch m.Value("WATCHDOG") {
	case "1":
		if s.state != stateStopping {
			s.resetWatchdog()
		}
	case "trigger":
		s.watchdogFire("WATCHDOG=trigger")
	}
	if v := m.Value("WATCHDOG_USEC"); v != "" {
		if usec, err := strconv.ParseUint(v, 10, 64); err == nil && usec > 0 && usec < 1<<62/1000 {
			old := s.wdInterval
			s.wdInterval = time.Duration(usec) * time.Microsecond
			s.resetWatchdog()
			was := "none"
			if old > 0 {
				was = old.String()
			}
			s.em.emit(&event{Event: "watchdog", PID: m.PID, DurationMS: ms(s.wdInterval), Message: fmt.Sprintf("interval is now %v (was %s), counted from now", s.wdInterval, was)})
		}
	}
	s.applyFDStore(m)
}

func (s *supervisor) onReady(m *sdnotifytest.Message) {
	now := time.Now()
	switch s.state {
	case stateStarting:
		s.state = stateRunning
		s.ready = true
		s.startDeadline = time.Time{}
		took := now.Sub(s.start)
		// The ready file first, so that whoever sees the event finds it.
		var ferr error
		if s.o.readyFile != "" {
			ferr = writeReadyFile(s.o.readyFile, s.main.pid)
		}
		s.em.emit(&event{Event: "ready", PID: m.PID, DurationMS: ms(took), Message: fmt.Sprintf("READY=1 %s after start: the unit would be active", round(took))})
		if ferr != nil {
			s.em.emit(&event{Event: "warning", Message: "--ready-file: " + ferr.Error()})
			fmt.Fprintf(s.stderr, "sdnotify run: --ready-file: %v\n", ferr)
		}
		s.resetWatchdog()
	case stateReloading:
		r := s.reload
		s.state = stateRunning
		s.reload = nil
		if r == nil {
			return
		}
		took := now.Sub(r.reloading)
		msg := fmt.Sprintf("READY=1: reload done in %s (RELOADING=1 -> READY=1)", round(took))
		if r.byHUP {
			took = now.Sub(r.hup)
			msg = fmt.Sprintf("READY=1: reload done %s after SIGHUP (RELOADING=1 came %s after SIGHUP, READY=1 %s after RELOADING=1)", round(took), round(r.reloading.Sub(r.hup)), round(now.Sub(r.reloading)))
		}
		s.em.emit(&event{Event: "reloaded", PID: m.PID, DurationMS: ms(took), Message: msg})
	case stateRunning:
		if r := s.reload; r != nil && r.byHUP {
			s.reload = nil
			took := now.Sub(r.hup)
			s.em.emit(&event{Event: "warning", PID: m.PID, DurationMS: ms(took), Message: fmt.Sprintf("READY=1 %s after SIGHUP, but no RELOADING=1 before it: a Type=notify-reload manager would still be waiting for RELOADING=1 with MONOTONIC_USEC=", round(took))})
		}
	}
}

func (s *supervisor) onReloading(m *sdnotifytest.Message) {
	now := time.Now()
	mono, monoOK := uint64(0), false
	if v := m.Value("MONOTONIC_USEC"); v != "" {
		if u, err := strconv.ParseUint(v, 10, 64); err == nil {
			mono, monoOK = u, true
		}
	}
	r := s.reload
	if !monoOK {
		s.em.emit(&event{Event: "warning", PID: m.PID, Message: "RELOADING=1 without MONOTONIC_USEC= in the same datagram: a Type=notify-reload unit's manager ignores it, and the READY=1 after it, and the reload times out (Type=notify accepts it)"})
	} else if r != nil && r.byHUP && mono < r.hupMono {
		s.em.emit(&event{Event: "warning", PID: m.PID, Message: fmt.Sprintf("MONOTONIC_USEC=%d is %s before the SIGHUP: a Type=notify-reload manager ignores this RELOADING=1 as stale", mono, round(time.Duration(r.hupMono-mono)*time.Microsecond))})
	}
	switch s.state {
	case stateRunning:
		if r == nil {
			r = &reloadState{}
			if s.o.timeoutStart > 0 {
				r.deadline = now.Add(s.o.timeoutStart)
			}
			s.reload = r
		}
		r.reloading = now
		s.state = stateReloading
		msg := "RELOADING=1: reloading (started by the service)"
		if r.byHUP {
			msg = fmt.Sprintf("RELOADING=1 %s after SIGHUP", round(now.Sub(r.hup)))
		}
		ev := &event{Event: "reloading", PID: m.PID, Message: msg}
		if r.byHUP {
			ev.DurationMS = ms(now.Sub(r.hup))
		}
		s.em.emit(ev)
	case stateStarting:
		s.em.emit(&event{Event: "warning", PID: m.PID, Message: "RELOADING=1 before READY=1: the manager does not act on it while the unit is starting"})
	}
}

func (s *supervisor) onStopping(m *sdnotifytest.Message) {
	msg := "STOPPING=1: the service is shutting down"
	if s.state != stateStopping {
		s.enterStopping()
		msg += fmt.Sprintf("; it has %s to exit (--timeout-stop)", durationOrInfinity(s.o.timeoutStop))
	}
	s.em.emit(&event{Event: "stopping", PID: m.PID, Message: msg})
}

// extend applies EXTEND_TIMEOUT_USEC=: each running deadline moves to now+d
// if that is later.
func (s *supervisor) extend(d time.Duration) {
	to := time.Now().Add(d)
	var moved []string
	ext := func(deadline *time.Time, name string) {
		if !deadline.IsZero() && deadline.Before(to) {
			*deadline = to
			moved = append(moved, name)
		}
	}
	switch s.state {
	case stateStarting:
		ext(&s.startDeadline, "start")
	case stateStopping:
		if s.killedAt.IsZero() {
			ext(&s.stopDeadline, "stop")
		}
	}
	if s.reload != nil {
		ext(&s.reload.deadline, "reload")
	}
	ext(&s.wdDeadline, "watchdog")
	msg := fmt.Sprintf("EXTEND_TIMEOUT_USEC: nothing to extend (no running deadline earlier than %v from now)", d)
	if len(moved) > 0 {
		msg = fmt.Sprintf("EXTEND_TIMEOUT_USEC: %s deadline now %v from now", strings.Join(moved, " and "), d)
	}
	s.em.emit(&event{Event: "extend-timeout", DurationMS: ms(d), Reason: strings.Join(moved, ","), Message: msg})
}

// setMainPID applies MAINPID=.
func (s *supervisor) setMainPID(v string, m *sdnotifytest.Message) {
	pid, err := strconv.Atoi(v)
	if err != nil || pid == s.main.pid {
		return
	}
	refuse := func(why string) {
		s.em.emit(&event{Event: "mainpid", PID: pid, Reason: "refused", Message: fmt.Sprintf("MAINPID=%d refused: %s; the main process stays %d", pid, why, s.main.pid)})
	}
	if pid <= 1 || pid == s.self {
		refuse("not a process the service may name")
		return
	}
	desc, gone := isDescendant(pid, s.self)
	switch {
	case gone:
		refuse("no such process")
		return
	case !desc && m.UID != 0:
		refuse("not COMMAND or one of its descendants, and the sender is not root (systemd: \"New main PID does not belong to service, refusing\")")
		return
	}
	old := s.main
	nm := s.newMain(pid)
	if nm.pidfd < 0 {
		refuse("no such process")
		return
	}
	old.release()
	s.main = nm
	msg := fmt.Sprintf("MAINPID=%d: the main process is now %d (was %d)", pid, pid, old.pid)
	if !desc {
		msg += "; it is not COMMAND's descendant, accepted because the sender is root (as systemd does)"
	}
	s.em.emit(&event{Event: "mainpid", PID: pid, Reason: "changed", Message: msg})
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
