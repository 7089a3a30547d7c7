package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

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
