package manager

import (
	"fmt"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// A Type is a service's Type= that the model knows.
type Type int

// The types.
const (
	Notify       Type = iota // Type=notify
	NotifyReload             // Type=notify-reload (systemd 253+): reloads by a signal, acknowledged with RELOADING=1 and MONOTONIC_USEC=
)

func (t Type) String() string {
	if t == NotifyReload {
		return "notify-reload"
	}
	return "notify"
}

// A State is where a unit is in its life, as far as notifications care.
type State int

// The states, with the SubState= that systemctl shows for them.
const (
	Starting     State = iota // start: started, no READY=1 yet
	Running                   // running
	Reloading                 // reload (252) or reload-notify (253+): RELOADING=1 accepted, READY=1 awaited
	ReloadSignal              // reload-signal: a Type=notify-reload unit was sent its reload signal; RELOADING=1 with MONOTONIC_USEC= awaited
	Stopping                  // stop-sigterm: STOPPING=1, a stop asked for, or a failure
	Stopped                   // the main process is gone
)

func (s State) String() string {
	return [...]string{"starting", "running", "reloading", "waiting for RELOADING=1 after the reload signal", "stopping", "stopped"}[s]
}

// SubState returns the SubState= that version v's systemctl shows.
func (s State) SubState(v Version) string {
	switch s {
	case Reloading:
		if v >= NotifyReloadSince {
			return "reload-notify"
		}
		return "reload"
	case ReloadSignal:
		return "reload-signal"
	}
	return [...]string{"start", "running", "", "", "stop-sigterm", "dead"}[s]
}

// A Suitability says whether a process may become the main process of a
// unit (MAINPID=), as the manager judges it.
type Suitability int

// The suitabilities.
const (
	Inside    Suitability = iota // a live process of the unit: accepted
	Outside                      // alive, but not the unit's: accepted only from a root sender
	Gone                         // no such process, or a zombie: refused
	Forbidden                    // the manager itself, or its control process: refused
)

// A Sender is the process that sent a datagram, by its credentials.
type Sender struct {
	PID, UID int
	// InUnit is set when the process belongs to the unit (its cgroup;
	// for sdnotify run, COMMAND or one of its descendants).
	InUnit bool
	// Gone is set when the process has exited already, so that the
	// manager can no longer tell its unit (unless it is the main
	// process, which it watches).
	Gone bool
}

// A Unit is the model of one service unit: its settings, its state, and
// what notifications have set. The zero Unit is a Type=notify unit of
// systemd 0 with NotifyAccess=none; set Version, Type, Access and MainPID.
// A Unit is not safe for concurrent use.
type Unit struct {
	Version Version
	Type    Type
	// Access is NotifyAccess= of the unit file: proto.AccessMain (the
	// default of Type=notify), AccessAll, AccessExec or AccessNone.
	Access string
	// MainPID is the main process.
	MainPID int
	// Suitable judges a process named by MAINPID=; nil takes every
	// process as Inside.
	Suitable func(pid int) Suitability

	state    State
	override string // NOTIFYACCESS= (254+), "" for none
	begin    uint64 // when the reload signal was sent, CLOCK_MONOTONIC µs
	ready    bool
	result   string // the first failure: timeout, watchdog
}

// State returns the unit's state.
func (u *Unit) State() State { return u.state }

// Ready reports whether the unit finished starting (READY=1 accepted).
func (u *Unit) Ready() bool { return u.ready }

// EffectiveAccess returns NotifyAccess= as it stands: the unit's, or
// what NOTIFYACCESS= set.
func (u *Unit) EffectiveAccess() string {
	if u.override != "" {
		return u.override
	}
	return u.Access
}

// Reload records that the manager sent a Type=notify-reload unit its
// reload signal (systemctl reload) at mono, CLOCK_MONOTONIC in µs, taken
// before the signal went out. It fails for another type, a version
// before 253, or a unit that is not running.
func (u *Unit) Reload(mono uint64) error {
	switch {
	case u.Type != NotifyReload:
		return fmt.Errorf("a Type=%s unit has no reload signal", u.Type)
	case u.Version < NotifyReloadSince:
		return fmt.Errorf("systemd %d has no Type=notify-reload", u.Version)
	case u.state != Running:
		return fmt.Errorf("the unit is %s, not running", u.state)
	}
	u.state, u.begin = ReloadSignal, mono
	return nil
}

// ReloadTimedOut ends a reload that took too long: the unit runs on
// (ReloadResult=timeout).
func (u *Unit) ReloadTimedOut() {
	if u.state == Reloading || u.state == ReloadSignal {
		u.state = Running
	}
}

// Stop puts the unit in Stopping: a stop was asked for (systemctl stop,
// a SIGTERM), or a failure stops it.
func (u *Unit) Stop() {
	if u.state != Stopped {
		u.state = Stopping
	}
}

// Fail records a failure (Result= "timeout", "watchdog", ...) and stops
// the unit. The first failure is the one the unit keeps.
func (u *Unit) Fail(result string) {
	if u.result == "" {
		u.result = result
	}
	u.Stop()
}

// Failure returns the result a failure set, or "".
func (u *Unit) Failure() string { return u.result }

// Restarted makes u a unit that has just started again (Restart=), with
// main process pid: the state and what notifications set are forgotten.
func (u *Unit) Restarted(pid int) {
	*u = Unit{Version: u.Version, Type: u.Type, Access: u.Access, MainPID: pid, Suitable: u.Suitable}
}

// authorize applies NotifyAccess=, and returns why the unit ignores the
// sender's datagram, or "".
func (u *Unit) authorize(from Sender) string {
	if from.PID != u.MainPID && from.Gone {
		return fmt.Sprintf("pid %d is already gone, so the manager cannot tell its unit (\"Cannot find unit for notify message of PID %d\"): a process that is not the main one should send BARRIER=1 before it exits", from.PID, from.PID)
	}
	switch a := u.EffectiveAccess(); a {
	case proto.AccessNone:
		return "NotifyAccess=none: every notification is ignored"
	case proto.AccessMain, proto.AccessExec:
		if from.PID != u.MainPID {
			return fmt.Sprintf("NotifyAccess=%s: only the main process (pid %d) may notify", a, u.MainPID)
		}
	case proto.AccessAll:
		if from.PID != u.MainPID && !from.InUnit {
			return fmt.Sprintf("NotifyAccess=all: pid %d is not a process of the unit", from.PID)
		}
	default:
		return "NotifyAccess=" + a + " is not a value the manager knows"
	}
	return ""
}
