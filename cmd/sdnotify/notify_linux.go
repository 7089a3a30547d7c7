package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/notifysock"
	"github.com/gosdnotify/sdnotify/internal/procfs"
	"github.com/gosdnotify/sdnotify/internal/proto"
)

// handle processes one notification: the manager's model decodes it and
// gives its verdict for the unit (package manager); run reports it and
// carries out what changed.
func (s *supervisor) handle(d *notifysock.Datagram) {
	if _, ok := s.isMarker(d); ok {
		return
	}
	dec := manager.Decode(d.Input(), s.o.version)
	from := s.sender(d.PID, d.UID)
	v := s.unit.Notify(dec, from)
	switch {
	case dec.Barrier && dec.Drop == "":
		d.CloseFiles() // release it: everything before it was processed
		s.em.emit(&event{Event: "barrier", PID: d.PID, UID: ptr(d.UID), GID: ptr(d.GID), Data: ptr(string(d.Data)), FDs: len(d.Files), Message: fmt.Sprintf("pid %d: BARRIER=1 released: every notification before it was processed", d.PID)})
	case dec.Drop != "":
		d.CloseFiles()
		ev := s.msgEvent("dropped", d, v)
		ev.Reason = dec.Drop
		ev.Message = fmt.Sprintf("pid %d: %s: systemd would drop it whole: %s", d.PID, quoteData(d.Data), dec.Drop)
		s.em.emit(ev)
	case v.Refused != "":
		d.CloseFiles()
		ev := s.msgEvent("ignored", d, v)
		ev.Reason = v.Refused + s.refusalHint(v)
		ev.Message = fmt.Sprintf("pid %d: %s: %s", d.PID, describe(v, len(d.Files)), ev.Reason)
		s.em.emit(ev)
	default:
		ev := s.msgEvent("notify", d, v)
		ev.Message = fmt.Sprintf("pid %d: %s", d.PID, describe(v, len(d.Files)))
		s.em.emit(ev)
		s.carryOut(v, d)
	}
}

// sender tells the model what it needs to know of a sender.
func (s *supervisor) sender(pid, uid int) manager.Sender {
	if pid == s.unit.MainPID {
		return manager.Sender{PID: pid, UID: uid, InUnit: true}
	}
	desc, gone := procfs.IsDescendant(pid, s.self)
	return manager.Sender{PID: pid, UID: uid, InUnit: desc, Gone: gone}
}

// suitable judges a process named by MAINPID=, as the manager does.
func (s *supervisor) suitable(pid int) manager.Suitability {
	if pid <= 1 || pid == s.self {
		return manager.Forbidden
	}
	desc, gone := procfs.IsDescendant(pid, s.self)
	if st, err := procfs.ReadStat(pid); gone || err != nil || st.Zombie() {
		return manager.Gone
	}
	if desc {
		return manager.Inside
	}
	return manager.Outside
}

// refusalHint explains, the first time, a notification from a descendant
// that NotifyAccess=main refuses: the main process is most likely a
// wrapper (go run, a shell) that started the daemon as its child.
func (s *supervisor) refusalHint(v *manager.Verdict) string {
	if !v.Sender.InUnit || s.unit.EffectiveAccess() == proto.AccessAll || s.unit.EffectiveAccess() == proto.AccessNone {
		return ""
	}
	hint := "; COMMAND (pid %d) seems to start the daemon as its child: run the daemon itself (exec it from a script), or pass --notify-access=all"
	if filepath.Base(s.o.argv[0]) == "go" {
		hint = "; \"go run\" (pid %d) builds the program and starts it as its child: build it first (go build -o /tmp/prog . && sdnotify run -- /tmp/prog), or pass --notify-access=all"
	}
	hint = fmt.Sprintf(hint, s.unit.MainPID)
	if s.hint != "" {
		return "" // said already
	}
	if v.Has("READY=1") || v.Datagram.Has("READY=1") {
		s.hint = fmt.Sprintf("READY=1 came from pid %d, a descendant, which notify-access=%s ignores%s", v.Sender.PID, s.unit.EffectiveAccess(), hint)
	} else {
		s.hint = fmt.Sprintf("pid %d, a descendant, notifies, which notify-access=%s ignores%s", v.Sender.PID, s.unit.EffectiveAccess(), hint)
	}
	return hint
}

// carryOut does what the verdict's changes ask of run, in the manager's
// order.
func (s *supervisor) carryOut(v *manager.Verdict, d *notifysock.Datagram) {
	for _, c := range v.Changes {
		switch c.Kind {
		case manager.MainPIDChanged:
			s.mainChanged(c.PID, v.Sender)
		case manager.MainPIDRefused:
			s.em.emit(&event{Event: "mainpid", PID: c.PID, Reason: "refused", Message: fmt.Sprintf("MAINPID=%d refused: %s; the main process stays %d", c.PID, c.Text, s.unit.MainPID)})
		case manager.StartFinished:
			s.onReady(d.PID)
		case manager.ReloadStarted:
			s.onReloading(d.PID, c.Text == "signal")
		case manager.ReloadFinished:
			s.onReloaded(d.PID)
		case manager.StopStarted:
			s.enterStopping()
			s.em.emit(&event{Event: "stopping", PID: d.PID, Message: fmt.Sprintf("STOPPING=1: the service is shutting down; it has %s to exit (--timeout-stop)", durationOrInfinity(s.o.timeoutStop))})
		case manager.AccessSet:
			s.em.emit(&event{Event: "notify-access", PID: d.PID, Reason: c.Text, Message: fmt.Sprintf("notify-access is now %s (NOTIFYACCESS=, systemd 254+)", c.Text)})
		case manager.TimeoutExtended:
			if c.Num < 1<<62/1000 {
				s.extend(time.Duration(c.Num) * time.Microsecond)
			}
		case manager.WatchdogPinged:
			s.resetWatchdog()
		case manager.WatchdogTriggered:
			s.watchdogFire("WATCHDOG=trigger")
		case manager.WatchdogSet:
			s.watchdogSet(c.Num)
		}
	}
	s.applyFDStore(v, d)
}

func (s *supervisor) onReady(pid int) {
	s.timers.start = time.Time{}
	took := time.Since(s.start)
	refused, note := s.checkReloadSignal()
	if refused {
		return
	}
	// The ready file first, so that whoever sees the event finds it.
	var ferr error
	if s.o.readyFile != "" {
		ferr = writeReadyFile(s.o.readyFile, s.unit.MainPID)
	}
	s.em.emit(&event{Event: "ready", PID: pid, DurationMS: ms(took), Message: fmt.Sprintf("READY=1 %s after start: the unit would be active%s", round(took), note)})
	if ferr != nil {
		s.em.emit(&event{Event: "warning", Message: "--ready-file: " + ferr.Error()})
	}
	s.resetWatchdog()
}

func (s *supervisor) onReloading(pid int, bySignal bool) {
	now := time.Now()
	r := s.reload
	if r == nil || !r.reloading.IsZero() || !bySignal && s.o.unitType == manager.NotifyReload {
		r = &reloadTimes{}
		s.reload = r
	}
	r.reloading = now
	if s.timers.reload.IsZero() && s.o.timeoutStart > 0 {
		s.timers.reload = now.Add(s.o.timeoutStart)
	}
	ev := &event{Event: "reloading", PID: pid, Message: "RELOADING=1: reloading (started by the service)"}
	if r.byHUP {
		ev.DurationMS = ms(now.Sub(r.hup))
		ev.Message = fmt.Sprintf("RELOADING=1 %s after SIGHUP", round(now.Sub(r.hup)))
	}
	s.em.emit(ev)
}

func (s *supervisor) onReloaded(pid int) {
	now := time.Now()
	r := s.reload
	s.reload, s.timers.reload = nil, time.Time{}
	if r == nil {
		r = &reloadTimes{reloading: now}
	}
	msg := fmt.Sprintf("READY=1: reload done in %s (RELOADING=1 -> READY=1)", round(now.Sub(r.reloading)))
	took := now.Sub(r.reloading)
	if r.byHUP {
		took = now.Sub(r.hup)
		msg = fmt.Sprintf("READY=1: reload done %s after SIGHUP (RELOADING=1 came %s after SIGHUP, READY=1 %s after RELOADING=1)", round(took), round(r.reloading.Sub(r.hup)), round(now.Sub(r.reloading)))
	}
	s.em.emit(&event{Event: "reloaded", PID: pid, DurationMS: ms(took), Message: msg})
}

// watchdogSet applies WATCHDOG_USEC=: 0 (or infinity) turns the watchdog
// off.
func (s *supervisor) watchdogSet(usec uint64) {
	old := s.timers.interval
	s.timers.interval = 0
	if usec > 0 && usec < 1<<62/1000 {
		s.timers.interval = time.Duration(usec) * time.Microsecond
	}
	s.resetWatchdog()
	was := "none"
	if old > 0 {
		was = old.String()
	}
	msg := fmt.Sprintf("interval is now %v (was %s), counted from now", s.timers.interval, was)
	if s.timers.interval == 0 {
		msg = fmt.Sprintf("WATCHDOG_USEC=%d: the watchdog is off (was %s)", usec, was)
	}
	s.em.emit(&event{Event: "watchdog", DurationMS: ms(s.timers.interval), Message: msg})
}

// mainChanged follows a MAINPID= the model accepted.
func (s *supervisor) mainChanged(pid int, from manager.Sender) {
	old := s.main
	s.main = s.newMain(pid)
	old.release()
	msg := fmt.Sprintf("MAINPID=%d: the main process is now %d (was %d)", pid, pid, old.pid)
	if desc, _ := procfs.IsDescendant(pid, s.self); !desc {
		msg += "; it is not COMMAND's descendant, accepted because the sender is root (as systemd does)"
	}
	s.em.emit(&event{Event: "mainpid", PID: pid, Reason: "changed", Message: msg})
}

// msgEvent starts the event of a notification.
func (s *supervisor) msgEvent(name string, d *notifysock.Datagram, v *manager.Verdict) *event {
	ev := &event{Event: name, PID: d.PID, UID: ptr(d.UID), GID: ptr(d.GID), Data: ptr(string(d.Data)), FDs: len(d.Files), Notes: v.Notes}
	for _, o := range outcomes(v) {
		a := jsonAssign{Key: o.Key, Value: o.Value}
		switch {
		case !o.HasEq:
		case o.Effect == manager.NotRead && o.Use == manager.Ignored:
			a.Reason = o.Why
			ev.Ignored = append(ev.Ignored, a)
		case o.Effect == manager.NoEffect:
			ev.Assignments = append(ev.Assignments, a)
			a.Reason = o.Why
			ev.NoEffect = append(ev.NoEffect, a)
		default:
			ev.Assignments = append(ev.Assignments, a)
		}
	}
	return ev
}

// outcomes returns a verdict's lines: their outcomes if the unit took the
// datagram, else the decoded lines.
func outcomes(v *manager.Verdict) []manager.Outcome {
	if v.Outcomes != nil {
		return v.Outcomes
	}
	var out []manager.Outcome
	for _, l := range v.Lines {
		e := manager.NotRead
		if l.Use == manager.Read {
			e = manager.Acted
		}
		out = append(out, manager.Outcome{Line: l, Effect: e, Why: l.Reason})
	}
	return out
}

// describe shows a notification's lines for the text output: what was
// read, then what was ignored and what changed nothing, and why.
func describe(v *manager.Verdict, files int) string {
	var parts, notes []string
	for _, o := range outcomes(v) {
		switch {
		case !o.HasEq:
		case o.Effect == manager.NotRead && o.Use == manager.Ignored:
			notes = append(notes, fmt.Sprintf("[ignored %s: %s]", showAssign(o.Key, o.Value), o.Why))
		case o.Effect == manager.NoEffect:
			parts = append(parts, showAssign(o.Key, o.Value))
			notes = append(notes, fmt.Sprintf("[no effect %s: %s]", showAssign(o.Key, o.Value), o.Why))
		default:
			parts = append(parts, showAssign(o.Key, o.Value))
		}
	}
	if len(parts) == 0 && len(notes) == 0 {
		parts = append(parts, quoteData(v.Data)+" (no assignment)")
	}
	s := strings.Join(parts, " ")
	if files > 0 {
		s += fmt.Sprintf(" +%d fd(s)", files)
	}
	for _, n := range v.Notes {
		notes = append(notes, "["+n+"]")
	}
	return strings.TrimSpace(s + " " + strings.Join(notes, " "))
}
