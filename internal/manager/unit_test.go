package manager_test

import (
	"strings"
	"testing"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/proto"
)

const mainPID = 100

func newUnit(v manager.Version, t manager.Type) *manager.Unit {
	return &manager.Unit{Version: v, Type: t, Access: proto.AccessMain, MainPID: mainPID}
}

func notify(u *manager.Unit, data string, files int) *manager.Verdict {
	return u.Notify(manager.Decode(manager.Input{Data: []byte(data), Files: files}, u.Version), manager.Sender{PID: mainPID, UID: 1000, InUnit: true})
}

// step is one datagram of a sequence, and what the unit must conclude.
type step struct {
	data    string
	state   manager.State // after it
	acted   string        // a line that must be Acted ("" for none)
	noEff   string        // a line that must have no effect, with why
	why     string
	changes []manager.ChangeKind
}

func run(t *testing.T, u *manager.Unit, steps []step) {
	t.Helper()
	for i, s := range steps {
		v := notify(u, s.data, 0)
		if u.State() != s.state {
			t.Errorf("step %d %q: state %v; want %v (outcomes %+v)", i, s.data, u.State(), s.state, v.Outcomes)
		}
		if s.acted != "" && !v.Has(s.acted) {
			t.Errorf("step %d %q: %s not acted on: %+v", i, s.data, s.acted, v.Outcomes)
		}
		if s.noEff != "" {
			found := false
			for _, o := range v.Outcomes {
				if o.Text == s.noEff && o.Effect == manager.NoEffect && strings.Contains(o.Why, s.why) {
					found = true
				}
			}
			if !found {
				t.Errorf("step %d %q: %s should have no effect (%q): %+v", i, s.data, s.noEff, s.why, v.Outcomes)
			}
		}
		var kinds []manager.ChangeKind
		for _, c := range v.Changes {
			kinds = append(kinds, c.Kind)
		}
		if len(s.changes) > 0 && !equal(kinds, s.changes) {
			t.Errorf("step %d %q: changes %v; want %v", i, s.data, kinds, s.changes)
		}
	}
}

func equal(a, b []manager.ChangeKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReloadingAlone is issue 14's first finding: a plain RELOADING=1
// from a running service is a reload (service.c, 252 and 254); only a
// Type=notify-reload unit that the manager itself signalled insists on
// MONOTONIC_USEC=.
func TestReloadingAlone(t *testing.T) {
	for _, v := range []manager.Version{manager.V252, manager.V254} {
		for _, typ := range []manager.Type{manager.Notify, manager.NotifyReload} {
			if v == manager.V252 && typ == manager.NotifyReload {
				continue
			}
			t.Run(v.String()+"/"+typ.String(), func(t *testing.T) {
				run(t, newUnit(v, typ), []step{
					{data: "RELOADING=1", state: manager.Starting, noEff: "RELOADING=1", why: "only while it runs"},
					{data: "READY=1", state: manager.Running, acted: "READY=1", changes: []manager.ChangeKind{manager.StartFinished}},
					{data: "RELOADING=1", state: manager.Reloading, acted: "RELOADING=1", changes: []manager.ChangeKind{manager.ReloadStarted}},
					{data: "READY=1", state: manager.Running, acted: "READY=1", changes: []manager.ChangeKind{manager.ReloadFinished}},
					{data: "READY=1", state: manager.Running, noEff: "READY=1", why: "running"},
				})
			})
		}
	}
}

// TestNotifyReloadSignal: after the manager's reload signal, only
// RELOADING=1 with a MONOTONIC_USEC= taken after it counts; READY=1
// alone does not end that reload.
func TestNotifyReloadSignal(t *testing.T) {
	u := newUnit(manager.V254, manager.NotifyReload)
	notify(u, "READY=1", 0)
	if err := u.Reload(1000); err != nil {
		t.Fatal(err)
	}
	run(t, u, []step{
		{data: "RELOADING=1", state: manager.ReloadSignal, noEff: "RELOADING=1", why: "no MONOTONIC_USEC="},
		{data: "READY=1", state: manager.ReloadSignal, noEff: "READY=1", why: "still waits"},
		{data: "RELOADING=1\nMONOTONIC_USEC=999", state: manager.ReloadSignal, noEff: "RELOADING=1", why: "older than the reload signal"},
		{data: "RELOADING=1\nMONOTONIC_USEC=1000", state: manager.Reloading, acted: "RELOADING=1"},
		{data: "READY=1", state: manager.Running, acted: "READY=1", changes: []manager.ChangeKind{manager.ReloadFinished}},
	})
	if err := u.Reload(2000); err != nil {
		t.Fatal(err)
	}
	run(t, u, []step{{data: "RELOADING=1\nREADY=1\nMONOTONIC_USEC=2001", state: manager.Running, changes: []manager.ChangeKind{manager.ReloadFinished}}})
	u.Reload(3000)
	u.ReloadTimedOut()
	if u.State() != manager.Running {
		t.Errorf("after a reload time-out: %v", u.State())
	}
	if err := newUnit(manager.V254, manager.Notify).Reload(1); err == nil {
		t.Error("Reload of a Type=notify unit: no error")
	}
	if err := newUnit(manager.V252, manager.NotifyReload).Reload(1); err == nil {
		t.Error("Reload under 252: no error")
	}
}

// TestPrecedence: 252 lets the last of READY=1, RELOADING=1, STOPPING=1
// win; 253+ ranks STOPPING=1 over READY=1 over RELOADING=1 (seen on both
// managers: "READY=1\nRELOADING=1" while starting leaves 252 starting
// and makes 254 active).
func TestPrecedence(t *testing.T) {
	run(t, newUnit(manager.V252, manager.Notify), []step{
		{data: "READY=1\nRELOADING=1", state: manager.Starting, noEff: "READY=1", why: "later"},
		{data: "READY=1", state: manager.Running},
		{data: "STOPPING=1\nREADY=1", state: manager.Running, noEff: "STOPPING=1", why: "later"},
		{data: "READY=1\nRELOADING=1", state: manager.Reloading},
		{data: "STOPPING=1", state: manager.Reloading, noEff: "STOPPING=1", why: "only while it runs"},
	})
	run(t, newUnit(manager.V254, manager.Notify), []step{
		{data: "READY=1\nRELOADING=1", state: manager.Running, noEff: "RELOADING=1", why: "READY=1 in the same datagram wins"},
		{data: "READY=1\nRELOADING=1", state: manager.Running, changes: []manager.ChangeKind{manager.ReloadPropagated}},
		{data: "RELOADING=1", state: manager.Reloading},
		{data: "STOPPING=1\nREADY=1", state: manager.Stopping, noEff: "READY=1", why: "STOPPING=1"},
		{data: "READY=1", state: manager.Stopping, noEff: "READY=1", why: "stopping"},
	})
}

// TestChanges: what the rest of the assignments change.
func TestChanges(t *testing.T) {
	u := newUnit(manager.V254, manager.Notify)
	for _, tc := range []struct {
		data  string
		files int
		want  manager.Change
	}{
		{data: "WATCHDOG_USEC=0", want: manager.Change{Kind: manager.WatchdogSet, Num: 0}}, // finding: it turns the watchdog off
		{data: "WATCHDOG_USEC= 0x0F4240", want: manager.Change{Kind: manager.WatchdogSet, Num: 1000000}},
		{data: "ERRNO=EINVAL", want: manager.Change{Kind: manager.ErrnoSet, Num: 22}},
		{data: "ERRNO=0", want: manager.Change{Kind: manager.ErrnoSet, Num: 0}},
		{data: "STATUS=\xff", want: manager.Change{Kind: manager.StatusSet, Text: ""}},
		{data: "STATUS=", want: manager.Change{Kind: manager.StatusSet, Text: ""}},
		{data: "EXTEND_TIMEOUT_USEC=5000000", want: manager.Change{Kind: manager.TimeoutExtended, Num: 5000000}},
		{data: "WATCHDOG=1", want: manager.Change{Kind: manager.WatchdogPinged}},
		{data: "NOTIFYACCESS=all", want: manager.Change{Kind: manager.AccessSet, Text: "all"}},
		{data: "NOTIFYACCESS=bogus", want: manager.Change{Kind: manager.AccessSet, Text: "main"}}, // 254 resets the override
		{data: "FDSTORE=1\nFDNAME=web", files: 2, want: manager.Change{Kind: manager.FilesStored, Text: "web", Poll: true}},
		{data: "FDSTORE=1\nFDNAME=a:b\nFDPOLL=0", files: 1, want: manager.Change{Kind: manager.FilesStored, Text: "stored"}},
		{data: "FDSTOREREMOVE=1\nFDSTORE=1\nFDNAME=web", files: 1, want: manager.Change{Kind: manager.FilesRemoved, Text: "web"}},
	} {
		v := notify(u, tc.data, tc.files)
		if len(v.Changes) != 1 || v.Changes[0] != tc.want {
			t.Errorf("%q: changes %+v; want %+v", tc.data, v.Changes, tc.want)
		}
	}
	if v := notify(u, "FDSTORE=1", 0); len(v.Changes) != 0 || v.Outcomes[0].Effect != manager.NoEffect {
		t.Errorf("FDSTORE=1 without files: %+v", v)
	}
	if v := notify(u, "STATUS=x", 2); v.FilesClosed != 2 {
		t.Errorf("files without FDSTORE=1: %d closed; want 2", v.FilesClosed)
	}
	if v := notify(u, "FDSTOREREMOVE=1\nFDNAME=a:b", 0); !v.Outcomes[1].Logged || len(v.Changes) != 0 {
		t.Errorf("FDSTOREREMOVE=1 with a bad name: %+v", v)
	}
	if v := notify(newUnit(manager.V252, manager.Notify), "NOTIFYACCESS=all", 0); len(v.Changes) != 0 || v.Outcomes[0].Effect != manager.NotRead {
		t.Errorf("NOTIFYACCESS= on 252: %+v", v)
	}
	if v := notify(u, "WATCHDOG=trigger", 0); u.State() != manager.Stopping || u.Failure() != "watchdog" || v.Changes[0].Kind != manager.WatchdogTriggered {
		t.Errorf("WATCHDOG=trigger: state %v, failure %q", u.State(), u.Failure())
	}
}

func TestAuthorize(t *testing.T) {
	for _, tc := range []struct {
		access string
		from   manager.Sender
		refuse string
	}{
		{proto.AccessMain, manager.Sender{PID: mainPID}, ""},
		{proto.AccessMain, manager.Sender{PID: 7, InUnit: true}, "only the main process (pid 100)"},
		{proto.AccessExec, manager.Sender{PID: 7, InUnit: true}, "only the main process"},
		{proto.AccessAll, manager.Sender{PID: 7, InUnit: true}, ""},
		{proto.AccessAll, manager.Sender{PID: 7}, "not a process of the unit"},
		{proto.AccessAll, manager.Sender{PID: 7, Gone: true}, "already gone"},
		{proto.AccessMain, manager.Sender{PID: mainPID, Gone: true}, ""},
		{proto.AccessNone, manager.Sender{PID: mainPID}, "NotifyAccess=none"},
	} {
		u := &manager.Unit{Version: manager.V254, Access: tc.access, MainPID: mainPID}
		v := u.Notify(manager.Decode(manager.Input{Data: []byte("READY=1"), Files: 1}, u.Version), tc.from)
		if !strings.Contains(v.Refused, tc.refuse) || tc.refuse == "" && v.Refused != "" {
			t.Errorf("%s from %+v: refused %q; want %q", tc.access, tc.from, v.Refused, tc.refuse)
		}
		if tc.refuse != "" && (u.State() != manager.Starting || v.FilesClosed != 1 || v.Accepted()) {
			t.Errorf("%s from %+v: a refused datagram changed the unit (%v) or kept its files", tc.access, tc.from, u.State())
		}
	}
}

func TestMainPID(t *testing.T) {
	suit := map[int]manager.Suitability{200: manager.Inside, 300: manager.Outside, 400: manager.Gone, 1: manager.Forbidden}
	for _, tc := range []struct {
		pid, uid int
		want     manager.ChangeKind
	}{
		{200, 1000, manager.MainPIDChanged},
		{300, 1000, manager.MainPIDRefused},
		{300, 0, manager.MainPIDChanged},
		{400, 0, manager.MainPIDRefused},
		{1, 0, manager.MainPIDRefused},
	} {
		u := newUnit(manager.V254, manager.Notify)
		u.Suitable = func(pid int) manager.Suitability { return suit[pid] }
		d := manager.Decode(manager.Input{Data: []byte("MAINPID=" + itoa(tc.pid))}, u.Version)
		v := u.Notify(d, manager.Sender{PID: mainPID, UID: tc.uid})
		if len(v.Changes) != 1 || v.Changes[0].Kind != tc.want || (tc.want == manager.MainPIDChanged) != (u.MainPID == tc.pid) {
			t.Errorf("MAINPID=%d from uid %d: %+v, main %d", tc.pid, tc.uid, v.Changes, u.MainPID)
		}
	}
	u := newUnit(manager.V254, manager.Notify)
	u.Stop()
	if v := notify(u, "MAINPID=200", 0); len(v.Changes) != 0 || u.MainPID != mainPID {
		t.Errorf("MAINPID= while stopping: %+v", v.Changes)
	}
}

// TestExited: a Type=notify unit whose main process ends cleanly before
// READY=1 fails with Result=protocol (issue 14: sdnotify run -- /bin/true).
func TestExited(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ready  bool
		fail   string
		exit   manager.Exit
		result string
	}{
		{name: "finding: exit 0 before READY=1", exit: manager.Exit{}, result: "protocol"},
		{name: "SIGTERM before READY=1", exit: manager.Exit{Signal: manager.SIGTERM}, result: "protocol"},
		{name: "exit 1 before READY=1", exit: manager.Exit{Code: 1}, result: "exit-code"},
		{name: "exit 0", ready: true, exit: manager.Exit{}, result: "success"},
		{name: "SIGTERM", ready: true, exit: manager.Exit{Signal: manager.SIGTERM}, result: "success"},
		{name: "SIGPIPE", ready: true, exit: manager.Exit{Signal: manager.SIGPIPE}, result: "success"},
		{name: "SIGKILL", ready: true, exit: manager.Exit{Signal: 9}, result: "signal"},
		{name: "SIGABRT core", ready: true, exit: manager.Exit{Signal: 6, CoreDump: true}, result: "core-dump"},
		{name: "exit 3", ready: true, exit: manager.Exit{Code: 3}, result: "exit-code"},
		{name: "after a time-out", fail: "timeout", exit: manager.Exit{Signal: manager.SIGTERM}, result: "timeout"},
		{name: "unknown status", ready: true, exit: manager.Exit{Unknown: true}, result: "success"},
	} {
		u := newUnit(manager.V254, manager.Notify)
		if tc.ready {
			notify(u, "READY=1", 0)
		}
		if tc.fail != "" {
			u.Fail(tc.fail)
		}
		if got := u.Exited(tc.exit); got != tc.result {
			t.Errorf("%s: Result=%s; want %s", tc.name, got, tc.result)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
