package manager

import (
	"fmt"
	"unicode/utf8"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// An Effect is what a line of an accepted datagram did to the unit.
type Effect int

// The effects.
const (
	// Acted: the manager acted on the line (see the Verdict's Changes).
	Acted Effect = iota + 1
	// NoEffect: the manager read the line, and it changed nothing in the
	// unit's state (Why says why: READY=1 while running, a later
	// assignment that wins, ...).
	NoEffect
	// NotRead: the manager did not read it (the line's Use is Unused or
	// Ignored, and Why is its Reason).
	NotRead
)

func (e Effect) String() string {
	return [...]string{"", "acted", "no effect", "not read"}[e]
}

// An Outcome is what became of one line.
type Outcome struct {
	Line
	Effect Effect
	Why    string
}

// A ChangeKind names a Change.
type ChangeKind int

// The changes, in the order the manager makes them.
const (
	MainPIDChanged    ChangeKind = iota + 1 // PID: the new main process
	MainPIDRefused                          // PID, Text: a MAINPID= the manager refuses, and why
	StartFinished                           // READY=1 ended the start: the unit is active
	ReloadStarted                           // RELOADING=1: the unit reloads (Text says whether it answers the reload signal)
	ReloadFinished                          // READY=1 ended a reload
	ReloadPropagated                        // 253+: RELOADING=1 with READY=1 while running: units that follow this one's reloads reload
	StopStarted                             // STOPPING=1: the unit stops
	StatusSet                               // Text: the status text ("" clears it)
	AccessSet                               // Text: NotifyAccess= now (NOTIFYACCESS=, or its reset by an invalid one)
	ErrnoSet                                // Num: StatusErrno
	TimeoutExtended                         // Num: µs from now that the running timeouts may extend to
	WatchdogPinged                          // WATCHDOG=1
	WatchdogTriggered                       // WATCHDOG=trigger: the unit fails as by a watchdog time-out
	WatchdogSet                             // Num: the watchdog's new timeout in µs (0: off), counted from now
	FilesStored                             // Text: the name, Poll: whether hang-ups drop them
	FilesRemoved                            // Text: the name
)

// A Change is something the manager changes, for the caller to carry
// out.
type Change struct {
	Kind ChangeKind
	PID  int
	Num  uint64
	Text string
	Poll bool
}

// A Verdict is what the manager makes of one datagram from one sender.
type Verdict struct {
	*Datagram
	Sender Sender
	// Refused, if not "", says why the unit ignores the whole datagram
	// (NotifyAccess=, or a sender it cannot attribute).
	Refused string
	// Outcomes are the datagram's lines and what they did, in order.
	Outcomes []Outcome
	// Changes are what changed, in the manager's order.
	Changes []Change
	// From and To are the unit's states before and after.
	From, To State
	// FilesClosed is how many of the datagram's files the manager closed
	// without storing them.
	FilesClosed int
}

// Accepted reports whether the unit took the datagram (not dropped, not
// a barrier, not refused).
func (v *Verdict) Accepted() bool { return v.Drop == "" && !v.Barrier && v.Refused == "" }

// Has reports whether the datagram held line and the manager acted on it.
func (v *Verdict) Has(line string) bool {
	for _, o := range v.Outcomes {
		if o.Text == line && o.Effect == Acted {
			return true
		}
	}
	return false
}

// Notify applies a decoded datagram from a sender to the unit, as the
// manager does (service_notify_message), and returns the verdict. d must
// have been decoded for u.Version.
func (u *Unit) Notify(d *Datagram, from Sender) *Verdict {
	v := &Verdict{Datagram: d, Sender: from, From: u.state, To: u.state}
	if d.Drop != "" || d.Barrier {
		v.FilesClosed = d.Files
		return v
	}
	if why := u.authorize(from); why != "" {
		v.Refused, v.FilesClosed = why, d.Files
		return v
	}
	v.Outcomes = make([]Outcome, len(d.Lines))
	for i, l := range d.Lines {
		v.Outcomes[i] = Outcome{Line: l, Effect: NotRead, Why: l.Reason}
		if l.Use == Read {
			v.Outcomes[i].Effect = Acted // until a rule below says otherwise
		}
	}
	u.mainPID(v)
	u.readyReloadingStopping(v)
	u.status(v)
	u.access(v)
	if i, ok := v.read("ERRNO"); ok {
		n, _ := proto.ParseErrno(v.Lines[i].Value)
		v.change(Change{Kind: ErrnoSet, Num: uint64(n)})
	}
	if i, ok := v.read("EXTEND_TIMEOUT_USEC"); ok {
		n, _ := proto.ParseUint64(v.Lines[i].Value)
		if n == 0 || n == 1<<64-1 {
			v.noEffect(i, "0 (or infinity) extends nothing")
		} else {
			v.change(Change{Kind: TimeoutExtended, Num: n})
		}
	}
	u.watchdog(v)
	u.fdStore(v)
	v.To = u.state
	return v
}

// read returns the index of the line of key that the manager reads.
func (v *Verdict) read(key string) (int, bool) {
	for i, l := range v.Lines {
		if l.Key == key && l.HasEq {
			return i, l.Use == Read
		}
	}
	return -1, false
}

func (v *Verdict) change(c Change) { v.Changes = append(v.Changes, c) }

func (v *Verdict) noEffect(i int, why string) {
	if i >= 0 && v.Outcomes[i].Effect == Acted {
		v.Outcomes[i].Effect, v.Outcomes[i].Why = NoEffect, why
	}
}

// activeStates are the states in which the manager reads MAINPID=.
func (u *Unit) mainPID(v *Verdict) {
	i, ok := v.read("MAINPID")
	if !ok {
		return
	}
	if u.state != Starting && u.state != Running && u.state != Reloading && u.state != ReloadSignal {
		v.noEffect(i, fmt.Sprintf("the unit is %s: MAINPID= counts only while it starts, runs or reloads", u.state))
		return
	}
	pid, _ := proto.ParsePID(v.Lines[i].Value)
	if pid == u.MainPID {
		v.noEffect(i, "already the main process")
		return
	}
	s := Inside
	if u.Suitable != nil {
		s = u.Suitable(pid)
	}
	why := ""
	switch {
	case s == Forbidden:
		why = "the manager itself (or its control process), which cannot be the main process"
	case s == Gone:
		why = "no such process (or a zombie)"
	case s == Outside && v.Sender.UID != 0:
		why = "not a process of the unit, and the sender is not root (\"New main PID does not belong to service, refusing\")"
	}
	if why != "" {
		v.noEffect(i, "refused: "+why)
		v.change(Change{Kind: MainPIDRefused, PID: pid, Text: why})
		return
	}
	u.MainPID = pid
	v.change(Change{Kind: MainPIDChanged, PID: pid})
}

func (u *Unit) status(v *Verdict) {
	i, _ := v.read("STATUS")
	if i < 0 {
		return
	}
	text := v.Lines[i].Value
	if !utf8.ValidString(text) {
		text = "" // the manager clears it, warning that it ignores the text
	}
	v.change(Change{Kind: StatusSet, Text: text})
}

func (u *Unit) access(v *Verdict) {
	i, ok := v.read("NOTIFYACCESS")
	if i < 0 || u.Version < 254 {
		return
	}
	if !ok {
		// The manager warns and then, as of 254, sets the override to
		// the failed parse's value, which is no override at all: the
		// unit's NotifyAccess= counts again.
		if u.override != "" {
			u.override = ""
			v.change(Change{Kind: AccessSet, Text: u.Access})
			v.Outcomes[i].Why += "; as of 254 it also undoes an earlier NOTIFYACCESS=: NotifyAccess=" + u.Access + " counts again"
		}
		return
	}
	a := v.Lines[i].Value
	if a == u.EffectiveAccess() {
		v.noEffect(i, "NotifyAccess= is "+a+" already")
		return
	}
	u.override = a
	v.change(Change{Kind: AccessSet, Text: a})
}

func (u *Unit) watchdog(v *Verdict) {
	if i, ok := v.read("WATCHDOG"); ok {
		if v.Lines[i].Value == "trigger" {
			if u.state == Stopped {
				v.noEffect(i, "the unit is stopped")
			} else {
				v.change(Change{Kind: WatchdogTriggered})
				u.Fail("watchdog")
			}
		} else {
			v.change(Change{Kind: WatchdogPinged})
		}
	}
	if i, ok := v.read("WATCHDOG_USEC"); ok {
		n, _ := proto.ParseUint64(v.Lines[i].Value)
		if n == 1<<64-1 {
			n = 0 // infinity: no watchdog
		}
		v.change(Change{Kind: WatchdogSet, Num: n})
	}
}

func (u *Unit) fdStore(v *Verdict) {
	remove, store := v.flag("FDSTOREREMOVE=1"), v.flag("FDSTORE=1")
	name, nameOK := v.Read("FDNAME")
	if n := v.first("FDNAME"); n != nil && n.Use == Ignored && n.Reason != "" && (remove >= 0 || store >= 0) {
		// The manager warns only when it would use the name.
		for i := range v.Outcomes {
			if &v.Lines[i] == n {
				v.Outcomes[i].Logged = true
			}
		}
	}
	switch {
	case remove >= 0:
		if store >= 0 {
			v.noEffect(store, "FDSTOREREMOVE=1 in the same datagram wins")
		}
		if !nameOK {
			v.noEffect(remove, "no valid FDNAME= to remove (the manager warns and ignores it)")
			break
		}
		v.change(Change{Kind: FilesRemoved, Text: name})
		v.FilesClosed = v.Files
		return
	case store >= 0:
		if v.Files == 0 {
			v.noEffect(store, "no files came with it")
			return
		}
		if !nameOK {
			name = proto.DefaultFDName
		}
		poll := v.flag("FDPOLL=0") < 0
		v.change(Change{Kind: FilesStored, Text: name, Poll: poll})
		return
	}
	v.FilesClosed = v.Files
}
