package main

import (
	"fmt"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/procfs"
)

// A verdict is how a run ends: systemd's Result= for the unit, and run's
// exit code and why.
type verdict struct {
	done     bool   // the main process is gone
	result   string // systemd's Result=
	code     int    // run's exit code
	desc     string // how the main process ended
	failMsg  string // why the unit failed, when that is not its exit status
	failCode int    // run's exit code for that failure
	note     string // what else the result line says: the main process died of the reload signal
	// stoppedBy is a signal to run that ended the run (not a forwarded
	// one): run exits 128+N.
	stoppedBy syscall.Signal
}

// mainExited ends the main process's life: ws is its wait status, nil if
// unknown. The model gives systemd's Result=.
func (s *supervisor) mainExited(ws *unix.WaitStatus) {
	s.end.done = true
	pid := s.main.pid
	code, desc := 0, "exited (status unknown: it was not sdnotify's child, and its parent reaped it first)"
	exit := manager.Exit{Unknown: true}
	var sig string
	if ws != nil {
		code, desc = exitStatus(*ws)
		exit = manager.Exit{Code: ws.ExitStatus()}
		if ws.Signaled() {
			exit = manager.Exit{Signal: int(ws.Signal()), CoreDump: ws.CoreDump()}
			sig = signalName(ws.Signal())
		}
	}
	ready := s.unit.Ready()
	s.em.emit(&event{Event: "exit", PID: pid, Status: ptr(code), Signal: sig, Message: fmt.Sprintf("main process %d %s", pid, desc)})
	if ws != nil && ws.Signaled() {
		s.end.note = s.diedOfReload(pid, ws.Signal())
	}
	s.end.result = s.unit.Exited(exit)
	s.end.code = code
	s.end.desc = fmt.Sprintf("main process %d %s", pid, desc)
	switch {
	case s.end.failMsg != "":
		s.end.code = s.end.failCode
	case s.end.result == "protocol":
		s.end.code, s.end.failMsg = exitProtocol, s.end.desc+" before READY=1: systemd fails a Type=notify unit whose main process ends so (Result=protocol)"
	case !ready:
		s.end.failMsg = s.end.desc + " before READY=1: systemd would mark the unit failed (Result=" + s.end.result + ")"
		s.end.failCode = code
	}
}

// cleanUp stops what is left of the service, and reports the result.
func (s *supervisor) cleanUp() {
	s.main.release()
	s.killLeftovers()
	s.closeFDStore()
	if sig := s.end.stoppedBy; sig != 0 {
		s.end.code = 128 + int(sig)
		s.end.failMsg = fmt.Sprintf("sdnotify was asked to end by %s, and stopped COMMAND first", signalName(sig))
		if sig == syscall.SIGPIPE {
			s.end.failMsg = "the reader of sdnotify's output is gone (SIGPIPE); sdnotify stopped COMMAND first"
		}
	}
	msg := fmt.Sprintf("%s: exit %d", s.end.result, s.end.code)
	if s.end.failMsg != "" {
		msg += ": " + s.end.failMsg
	} else if s.end.note != "" {
		msg += ": " + s.end.note
	}
	ev := &event{Event: "result", Reason: s.end.result, ExitCode: ptr(s.end.code)}
	ev.Message = msg + s.restartSummary(ev)
	s.em.emit(ev)
	switch {
	case s.end.failMsg != "":
		fmt.Fprintf(s.stderr, "sdnotify run: %s (exit %d)\n", s.end.failMsg, s.end.code)
	case s.end.note != "":
		fmt.Fprintf(s.stderr, "sdnotify run: %s (exit %d)\n", s.end.note, s.end.code)
	case s.end.code != 0:
		fmt.Fprintf(s.stderr, "sdnotify run: %s (exit %d)\n", s.end.desc, s.end.code)
	}
}

// killLeftovers gives the descendants still running SIGTERM, then SIGKILL
// after --timeout-stop, as systemd stops the rest of a unit's cgroup.
func (s *supervisor) killLeftovers() {
	left := procfs.Descendants(s.self)
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
	left = procfs.Descendants(s.self)
	s.em.emit(&event{Event: "signal", Signal: "SIGKILL", Reason: "leftover", Message: fmt.Sprintf("SIGKILL to %d process(es) still there: %v", len(left), left)})
	for _, pid := range left {
		unix.Kill(pid, syscall.SIGKILL)
	}
	t := time.NewTimer(finalKillWait)
	defer t.Stop()
	if !s.waitGone(t.C) {
		s.em.emit(&event{Event: "warning", Message: fmt.Sprintf("processes still there after SIGKILL: %v", procfs.Descendants(s.self))})
	}
}

// waitGone waits until no descendant is left, reaping them, or until
// deadline or a signal that stops run (then it returns false).
func (s *supervisor) waitGone(deadline <-chan time.Time) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.reapQuietly()
		if len(procfs.AllDescendants(s.self)) == 0 {
			return true
		}
		select {
		case <-deadline:
			return false
		case sig := <-s.sigs:
			if s.stopsRun(sig.(syscall.Signal)) {
				return false
			}
		case d := <-s.recv.msgs:
			s.handle(d)
		case <-tick.C:
		}
	}
}

// exitStatus returns the shell's exit code for a wait status, and how the
// process ended.
func exitStatus(ws unix.WaitStatus) (int, string) {
	switch {
	case ws.Exited():
		return ws.ExitStatus(), fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		d := "was killed by " + signalName(ws.Signal())
		if ws.CoreDump() {
			d += " (core dumped)"
		}
		return 128 + int(ws.Signal()), d
	}
	return 1, fmt.Sprintf("ended with wait status %#x", uint32(ws))
}

func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return "signal " + strconv.Itoa(int(sig))
}
