package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/proto"
)

// endSignals are the signals that would end run by default (besides
// SIGTERM and SIGINT, which it forwards): run catches them, stops COMMAND
// as SIGTERM does, cleans up and exits 128+N. SIGPIPE is among them: a
// reader of run's output that goes away ("| head -1") ends the run
// cleanly rather than killing run and leaving its socket behind.
var endSignals = []os.Signal{
	syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM,
	syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGIO, syscall.SIGPWR,
}

// catchSignals routes the signals run handles to s.sigs.
func (s *supervisor) catchSignals() {
	signal.Notify(s.sigs, append([]os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGCHLD}, endSignals...)...)
}

func (s *supervisor) releaseSignals() { signal.Stop(s.sigs) }

// onSignal handles a signal to run while the main process runs.
func (s *supervisor) onSignal(sig syscall.Signal) {
	switch sig {
	case syscall.SIGCHLD:
		s.reap()
	case syscall.SIGHUP:
		s.forward(sig)
	default:
		if s.stopsRun(sig) {
			s.forward(syscall.SIGTERM)
		}
	}
}

// stopsRun reports whether sig ends the run (as systemctl stop: no
// restart), and records it.
func (s *supervisor) stopsRun(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGCHLD, syscall.SIGHUP:
		return false
	case syscall.SIGTERM, syscall.SIGINT:
		s.stopRequested = true
		if !s.end.done {
			s.forward(sig)
			return false // forward did what it takes
		}
		return true
	}
	s.stopRequested = true
	if s.end.stoppedBy == 0 {
		s.end.stoppedBy = sig
		s.em.broken = s.em.broken || sig == syscall.SIGPIPE
		s.em.emit(&event{Event: "signal", Signal: signalName(sig), Reason: "stop", Message: fmt.Sprintf("%s to sdnotify: stopping COMMAND as SIGTERM does, then exiting %d", signalName(sig), 128+int(sig))})
	}
	return true
}

// forward passes a signal sent to run on to the main process.
func (s *supervisor) forward(sig syscall.Signal) {
	// The reload begins before the signal is sent, as for systemd: a
	// MONOTONIC_USEC= from the reload it asks for is never older.
	hup, mono := time.Now(), proto.MonotonicUsec()
	var reloadErr error
	if sig == syscall.SIGHUP && s.o.unitType == manager.NotifyReload {
		reloadErr = s.unit.Reload(mono)
	}
	msg := fmt.Sprintf("%s forwarded to main process %d", signalName(sig), s.main.pid)
	if sig == reloadSignal && s.o.unitType == manager.NotifyReload {
		s.reloadForwarded()
	}
	if err := s.main.signal(sig); err != nil {
		msg += fmt.Sprintf(": %v", err)
	}
	switch {
	case sig == syscall.SIGHUP && s.o.unitType == manager.NotifyReload && reloadErr == nil:
		s.reload = &reloadTimes{byHUP: true, hup: hup}
		if s.o.timeoutStart > 0 {
			s.timers.reload = hup.Add(s.o.timeoutStart)
		}
		msg += ": a reload of a Type=notify-reload unit (systemctl reload): expecting RELOADING=1 with a MONOTONIC_USEC= from now on, then READY=1"
	case sig == syscall.SIGHUP && s.o.unitType == manager.NotifyReload:
		msg += fmt.Sprintf(" (not a reload: %v)", reloadErr)
	case sig == syscall.SIGHUP:
		if s.unit.State() == manager.Running {
			s.reload = &reloadTimes{byHUP: true, hup: hup} // for the report of a RELOADING=1 it answers with
		}
		msg += " (not a reload for a Type=notify manager: a RELOADING=1 from COMMAND makes one)"
	case !s.stopping():
		msg += fmt.Sprintf(": it has %s to exit (--timeout-stop)", durationOrInfinity(s.o.timeoutStop))
	}
	s.em.emit(&event{Event: "signal", Signal: signalName(sig), PID: s.main.pid, Reason: "forwarded", Message: msg})
	if sig == syscall.SIGTERM || sig == syscall.SIGINT {
		s.enterStopping()
	}
}

func durationOrInfinity(d time.Duration) string {
	if d <= 0 {
		return "unlimited time"
	}
	return d.String()
}
