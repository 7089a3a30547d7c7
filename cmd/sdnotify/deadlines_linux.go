package main

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

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
