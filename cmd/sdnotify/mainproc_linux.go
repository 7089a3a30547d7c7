package main

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

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
