package main

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify/internal/manager"
)

// deadlines are the unit's timers, as systemd keeps them: a zero time is
// a timer that does not run.
type deadlines struct {
	start    time.Time // TimeoutStartSec=: READY=1 by then
	stop     time.Time // TimeoutStopSec=: gone by then, else SIGKILL
	watchdog time.Time // WatchdogSec=: WATCHDOG=1 by then
	reload   time.Time // a reload's READY=1 by then
	killed   time.Time // when SIGKILL was sent: gone finalKillWait later, or given up
	interval time.Duration
}

// final is when run gives up on processes after SIGKILL.
func (d *deadlines) final() time.Time {
	if d.killed.IsZero() {
		return time.Time{}
	}
	return d.killed.Add(finalKillWait)
}

// arm sets timer to the earliest deadline.
func (d *deadlines) arm(timer *time.Timer) {
	var next time.Time
	for _, t := range []time.Time{d.start, d.stop, d.watchdog, d.reload, d.final()} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if next.IsZero() {
		timer.Stop()
		return
	}
	timer.Reset(time.Until(next))
}

// reloadTimes are the times of a reload under way, for its report.
type reloadTimes struct {
	byHUP     bool      // asked for by a SIGHUP to run (Type=notify-reload)
	hup       time.Time // when SIGHUP was forwarded
	reloading time.Time // when RELOADING=1 arrived (zero: not yet)
}

// deadlines acts on the deadlines that have passed.
func (s *supervisor) deadlines() {
	now := time.Now()
	t := &s.timers
	passed := func(d time.Time) bool { return !d.IsZero() && !now.Before(d) }
	if passed(t.start) && s.unit.State() == manager.Starting {
		t.start = time.Time{}
		msg := fmt.Sprintf("no READY=1 within %v (--timeout-start)", s.o.timeoutStart)
		s.em.emit(&event{Event: "timeout", Reason: "start", Message: msg + ": stopping COMMAND with SIGTERM", PID: s.unit.MainPID})
		fail := "COMMAND did not send READY=1 within " + s.o.timeoutStart.String() + " (--timeout-start); it was stopped"
		if s.hint != "" {
			fail += "; " + s.hint
		}
		s.fail("timeout", exitTimeout, fail)
		s.stopAll(syscall.SIGTERM, "start time-out")
	}
	if passed(t.watchdog) {
		t.watchdog = time.Time{}
		s.watchdogFire(fmt.Sprintf("no WATCHDOG=1 within %v", t.interval))
	}
	if passed(t.reload) {
		t.reload = time.Time{}
		what := "RELOADING=1"
		if r := s.reload; r != nil && r.byHUP && r.reloading.IsZero() {
			what = "SIGHUP"
		}
		s.reload = nil
		s.unit.ReloadTimedOut()
		s.em.emit(&event{Event: "timeout", Reason: "reload", Message: fmt.Sprintf("no READY=1 within %v after %s: the reload fails (ReloadResult=timeout); the service runs on", s.o.timeoutStart, what)})
	}
	if passed(t.stop) && t.killed.IsZero() {
		t.stop = time.Time{}
		s.em.emit(&event{Event: "timeout", Reason: "stop", Message: fmt.Sprintf("still running %v after it was asked to stop (--timeout-stop): SIGKILL", s.o.timeoutStop), PID: s.unit.MainPID})
		s.killAll(syscall.SIGKILL, "stop time-out")
		t.killed = now
	}
	if passed(t.final()) {
		t.killed = time.Time{}
		s.fail("timeout", 1, fmt.Sprintf("main process %d still there %v after SIGKILL; gave up on it", s.unit.MainPID, finalKillWait))
		s.mainExited(nil)
	}
}

// fail records a failure of the unit (systemd's Result=) with run's exit
// code and message; the first one counts.
func (s *supervisor) fail(result string, code int, msg string) {
	if s.end.failMsg == "" {
		s.end.failCode, s.end.failMsg = code, msg
	}
	s.unit.Fail(result)
}

// enterStopping stops the watchdog and the reload, and gives the main
// process --timeout-stop to exit.
func (s *supervisor) enterStopping() {
	t := &s.timers
	if !t.stop.IsZero() || !t.killed.IsZero() {
		return
	}
	s.unit.Stop()
	t.watchdog, t.start, t.reload = time.Time{}, time.Time{}, time.Time{}
	s.reload = nil
	if s.o.timeoutStop > 0 {
		t.stop = time.Now().Add(s.o.timeoutStop)
	}
}

// stopping reports whether the unit is stopping (or stopped).
func (s *supervisor) stopping() bool {
	st := s.unit.State()
	return st == manager.Stopping || st == manager.Stopped
}

// watchdogFire acts on a watchdog time-out or WATCHDOG=trigger.
func (s *supervisor) watchdogFire(why string) {
	if !s.timers.stop.IsZero() || !s.timers.killed.IsZero() {
		return // stopping already
	}
	s.em.emit(&event{Event: "timeout", Reason: "watchdog", PID: s.unit.MainPID, Message: "watchdog: " + why + ": SIGABRT to COMMAND, as systemd's WatchdogSignal="})
	s.fail("watchdog", exitWatchdog, "watchdog: "+why+"; COMMAND got SIGABRT")
	s.stopAll(syscall.SIGABRT, "watchdog")
}

// resetWatchdog restarts the watchdog's interval, if there is one.
func (s *supervisor) resetWatchdog() {
	t := &s.timers
	if t.interval <= 0 || s.stopping() {
		t.watchdog = time.Time{}
		return
	}
	t.watchdog = time.Now().Add(t.interval)
}

// extend applies EXTEND_TIMEOUT_USEC=: each running deadline moves to now+d
// if that is later.
func (s *supervisor) extend(d time.Duration) {
	to := time.Now().Add(d)
	t := &s.timers
	var moved []string
	ext := func(deadline *time.Time, name string) {
		if !deadline.IsZero() && deadline.Before(to) {
			*deadline = to
			moved = append(moved, name)
		}
	}
	ext(&t.start, "start")
	if t.killed.IsZero() {
		ext(&t.stop, "stop")
	}
	ext(&t.reload, "reload")
	ext(&t.watchdog, "watchdog")
	msg := fmt.Sprintf("EXTEND_TIMEOUT_USEC: nothing to extend (no running deadline earlier than %v from now)", d)
	if len(moved) > 0 {
		msg = fmt.Sprintf("EXTEND_TIMEOUT_USEC: %s deadline now %v from now", strings.Join(moved, " and "), d)
	}
	s.em.emit(&event{Event: "extend-timeout", DurationMS: ms(d), Reason: strings.Join(moved, ","), Message: msg})
}
