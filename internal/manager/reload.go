package manager

import "github.com/gosdnotify/sdnotify/internal/proto"

// readyReloadingStopping applies READY=1, RELOADING=1 and STOPPING=1: in
// systemd 252 the last of them in the datagram wins; from 253 STOPPING=1
// wins over READY=1, which wins over RELOADING=1.
func (u *Unit) readyReloadingStopping(v *Verdict) {
	ready, reloading, stopping := v.flag("READY=1"), v.flag("RELOADING=1"), v.flag("STOPPING=1")
	if u.Version < NotifyReloadSince {
		last := max(ready, reloading, stopping)
		for _, i := range []int{ready, reloading, stopping} {
			if i >= 0 && i != last {
				v.noEffect(i, "a later READY=1, RELOADING=1 or STOPPING=1 in the datagram wins (systemd 252)")
			}
		}
		switch {
		case last < 0:
		case last == ready:
			u.ready252(v, ready)
		case last == reloading:
			u.reloading(v, reloading, false)
		default:
			u.stopping(v, stopping)
		}
		return
	}
	switch {
	case stopping >= 0:
		v.noEffect(ready, "STOPPING=1 in the same datagram wins")
		v.noEffect(reloading, "STOPPING=1 in the same datagram wins")
		u.stopping(v, stopping)
	case ready >= 0:
		if reloading >= 0 {
			// RELOADING=1 with READY=1: a reload done at once.
			switch {
			case u.state == ReloadSignal && u.freshMonotonic(v):
				u.state = Running
				v.change(Change{Kind: ReloadFinished, Text: "signal"})
				v.noEffect(ready, "with RELOADING=1 and MONOTONIC_USEC=, it answered the reload signal and ended the reload at once")
				return
			case u.state == Running:
				v.change(Change{Kind: ReloadPropagated})
				v.noEffect(reloading, "with READY=1 while running: the units that follow this one's reloads reload; this one runs on")
			default:
				v.noEffect(reloading, "READY=1 in the same datagram wins")
			}
		}
		switch {
		case u.state == Starting:
			u.state, u.ready = Running, true
			v.change(Change{Kind: StartFinished})
		case u.state == Reloading:
			u.state = Running
			v.change(Change{Kind: ReloadFinished})
		case u.state == ReloadSignal:
			v.noEffect(ready, "the manager still waits for RELOADING=1 with a MONOTONIC_USEC= taken after its reload signal; READY=1 alone does not end that reload")
		default:
			v.noEffect(ready, "the unit is "+u.state.String())
		}
	case reloading >= 0:
		u.reloading(v, reloading, true)
	}
}

// ready252 is READY=1 in systemd 252.
func (u *Unit) ready252(v *Verdict, i int) {
	switch u.state {
	case Starting:
		u.state, u.ready = Running, true
		v.change(Change{Kind: StartFinished})
	case Reloading:
		u.state = Running
		v.change(Change{Kind: ReloadFinished})
	default:
		v.noEffect(i, "the unit is "+u.state.String())
	}
}

// reloading is RELOADING=1 alone (or, in 252, the last of the three).
func (u *Unit) reloading(v *Verdict, i int, monotonic bool) {
	switch {
	case u.state == ReloadSignal && monotonic && u.freshMonotonic(v):
		u.state = Reloading
		v.change(Change{Kind: ReloadStarted, Text: "signal"})
	case u.state == ReloadSignal:
		why := "no MONOTONIC_USEC= in the same datagram"
		if _, ok := v.Read("MONOTONIC_USEC"); ok {
			why = "its MONOTONIC_USEC= is older than the reload signal"
		}
		v.noEffect(i, why+": a Type=notify-reload unit's manager waits on for a RELOADING=1 sent after its signal, and the reload times out")
	case u.state == Running:
		u.state = Reloading
		v.change(Change{Kind: ReloadStarted})
	default:
		v.noEffect(i, "the unit is "+u.state.String()+": RELOADING=1 counts only while it runs")
	}
}

// freshMonotonic reports whether the datagram's MONOTONIC_USEC= is at or
// after the reload signal.
func (u *Unit) freshMonotonic(v *Verdict) bool {
	s, ok := v.Read("MONOTONIC_USEC")
	if !ok {
		return false
	}
	n, _ := proto.ParseUint64(s)
	return n != 1<<64-1 && n >= u.begin
}

func (u *Unit) stopping(v *Verdict, i int) {
	if u.state == Running || u.Version >= NotifyReloadSince && (u.state == Reloading || u.state == ReloadSignal) {
		u.state = Stopping
		v.change(Change{Kind: StopStarted})
		return
	}
	v.noEffect(i, "the unit is "+u.state.String()+": STOPPING=1 counts only while it runs"+map[bool]string{true: " or reloads", false: ""}[u.Version >= NotifyReloadSince])
}
