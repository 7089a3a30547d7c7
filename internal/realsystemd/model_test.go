//go:build linux

package realsystemd

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/proto"
)

// TestModelAgrees sends the same datagrams to a real manager (each of
// Versions) and to the model of it (internal/manager), one after another, to
// one Type=notify unit, and compares what each concluded after each one:
// whether the datagram was dropped, which assignments the manager warned
// about in its log, and the unit's properties (ActiveState, SubState,
// StatusText, StatusErrno, WatchdogUSec, NotifyAccess, MainPID). The unit's
// main process is this test binary as a relay: it sends each datagram as
// it is, from its own PID, then a barrier, then a marker (X_STEP=n) whose
// "Got notification message" line closes the datagram's part of the log.
func TestModelAgrees(t *testing.T) {
	type column struct{ real, model []string }
	cols := map[string]*column{}
	versions := Versions
	for _, v := range versions {
		cols[v] = &column{}
		t.Run(v, func(t *testing.T) {
			c := cols[v]
			c.real, c.model = compareModel(t, v)
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-3s %-34s", "#", "datagram")
	for _, v := range versions {
		fmt.Fprintf(&b, " | %-40s | %-40s", v, "model "+v)
	}
	b.WriteString("\n")
	for i, d := range modelDatagrams {
		fmt.Fprintf(&b, "%-3d %-34s", i+1, trimTo(strconv.Quote(d), 34))
		for _, v := range versions {
			c := cols[v]
			r, m := "-", "-"
			if i < len(c.real) {
				r = c.real[i]
			}
			if i < len(c.model) {
				m = c.model[i]
			}
			mark := " "
			if r != m {
				mark = "≠"
			}
			fmt.Fprintf(&b, " |%s%-40s | %-40s", mark, trimTo(r, 40), trimTo(m, 40))
		}
		b.WriteString("\n")
	}
	t.Logf("real systemd and the model, datagram by datagram (a unit's state and what changed; ≠ where they differ):\n%s", b.String())
}

// TestModelAgreesNotifyReload: after its reload signal (systemctl
// reload), a manager (254 and later) waits for RELOADING=1 with a
// MONOTONIC_USEC= not older than the signal; RELOADING=1 alone, a stale one
// and READY=1 change nothing until then. The same datagrams go to the
// model.
func TestModelAgreesNotifyReload(t *testing.T) {
	for _, v := range Versions {
		t.Run(v, func(t *testing.T) {
			if major, _ := strconv.Atoi(v); major < int(manager.NotifyReloadSince) {
				t.Skipf("systemd %s has no Type=notify-reload", v)
			}
			compareModelReload(t, v)
		})
	}
}

func compareModelReload(t *testing.T, v string) {
	m := Start(t, v)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m.WriteUnit("reload.service", fmt.Sprintf("[Unit]\nDefaultDependencies=no\n[Service]\nType=notify-reload\nTimeoutStartSec=infinity\nExecStart=%s\nEnvironment=%s=%s\n", self, relayEnv, m.Dir()))
	if err := m.StartUnit("reload.service"); err != nil {
		t.Fatal(err)
	}
	r := newRelayClient(t, m.Dir())
	props := m.WaitProp(t, "reload.service", "SubState", "start", 10*time.Second)
	mainPID, _ := strconv.Atoi(props["MainPID"])
	unit := &manager.Unit{Version: manager.Version(m.Major()), Type: manager.NotifyReload, Access: proto.AccessMain, MainPID: mainPID}
	var begin uint64
	steps := []struct {
		data   func() string
		reload bool // systemctl reload before it
	}{
		{data: func() string { return "READY=1" }},
		{data: func() string { return "RELOADING=1" }, reload: true},
		{data: func() string { return "READY=1" }},
		{data: func() string { return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", begin-1000000) }},
		{data: func() string { return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", proto.MonotonicUsec()) }},
		{data: func() string { return "READY=1" }},
	}
	var b strings.Builder
	for i, st := range steps {
		if st.reload {
			begin = proto.MonotonicUsec() // before the manager's own clock reading
			if out, err := m.Systemctl("reload", "--no-block", "reload.service"); err != nil {
				t.Fatalf("systemctl reload: %v: %s", err, out)
			}
			m.WaitProp(t, "reload.service", "SubState", "reload-signal", 10*time.Second)
			if err := unit.Reload(begin); err != nil {
				t.Fatal(err)
			}
		}
		data := st.data()
		r.send(data)
		got := m.Show("reload.service", "SubState")["SubState"]
		d := manager.Decode(manager.Input{Data: []byte(data)}, unit.Version)
		unit.Notify(d, manager.Sender{PID: mainPID, InUnit: true})
		want := unit.State().SubState(unit.Version)
		mark := " "
		if got != want {
			mark = "≠"
			t.Errorf("datagram %d %q: systemd %d: %s; the model: %s", i+1, data, m.Major(), got, want)
		}
		fmt.Fprintf(&b, "%d %-40q |%s%-14s | %s\n", i+1, data, mark, got, want)
	}
	t.Logf("Type=notify-reload, systemd %d and the model (SubState after each datagram):\n%s", m.Major(), b.String())
}

// modelDatagrams are sent in this order, to a unit that starts in
// "start" (no READY=1 yet).
var modelDatagrams = []string{
	"STATUS=starting",
	"ready=1",
	"STAUS=x",
	"READY=0",
	"",
	"STATUS=nul\x00",
	"STATUS=a\x00b",
	"STATUS=" + strings.Repeat("x", 4089),
	"STATUS=" + strings.Repeat("y", 4090),
	`STATUS=C:\path`,
	`STATUS=a\\b`,
	"X_A=1\nSTATUS=x\\",
	"RELOADING=1",
	"READY=1\nRELOADING=1",
	"READY=1",
	"ERRNO=EINVAL",
	"ERRNO=4096",
	"ERRNO=0x10",
	"ERRNO= 5",
	"ERRNO=-1",
	"STATUS=one\nSTATUS=two",
	"STATUS=\xff",
	"WATCHDOG_USEC=0",
	"WATCHDOG_USEC= 0x7270e00",
	"WATCHDOG_USEC=0b1010101110101001010100000000",
	"EXTEND_TIMEOUT_USEC=-1",
	"WATCHDOG=2",
	"MAINPID=abc",
	"MAINPID=0",
	"RELOADING=1",
	"READY=1",
	"NOTIFYACCESS=all",
	"NOTIFYACCESS=bogus",
	"BARRIER=1\nREADY=1",
	"STOPPING=1\nREADY=1",
	"STOPPING=1",
}

// The properties compared after each datagram.
var modelProps = []string{"ActiveState", "SubState", "StatusText", "StatusErrno", "WatchdogUSec", "NotifyAccess", "MainPID"}

// The manager's warnings, by the key they are about ("" for a datagram
// dropped whole).
var modelWarnings = []struct{ log, key string }{
	{"Failed to parse ERRNO= field", "ERRNO"},
	{"Status message in notification message is not UTF-8 clean", "STATUS"},
	{"Failed to parse EXTEND_TIMEOUT_USEC", "EXTEND_TIMEOUT_USEC"},
	{"Passed WATCHDOG= field is invalid", "WATCHDOG"},
	{"Failed to parse WATCHDOG_USEC", "WATCHDOG_USEC"},
	{"Failed to parse MAINPID=", "MAINPID"}, // 257+ puts the value in: "MAINPID=abc field"
	{"Failed to parse NOTIFYACCESS= field", "NOTIFYACCESS"},
	{"Failed to parse MONOTONIC_USEC= field", "MONOTONIC_USEC"},
}

// compareModel runs the datagrams on a manager of version v and on the
// model, and returns each one's summary on both sides.
func compareModel(t *testing.T, v string) (real, model []string) {
	m := Start(t, v)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m.WriteUnit("model.service", fmt.Sprintf("[Unit]\nDefaultDependencies=no\n[Service]\nType=notify\nWatchdogSec=100s\nTimeoutStartSec=infinity\nExecStart=%s\nEnvironment=%s=%s\n", self, relayEnv, m.Dir()))
	if err := m.StartUnit("model.service"); err != nil {
		t.Fatal(err)
	}
	r := newRelayClient(t, m.Dir())
	props := m.WaitProp(t, "model.service", "SubState", "start", 10*time.Second)
	mainPID, _ := strconv.Atoi(props["MainPID"])
	unit := &manager.Unit{Version: manager.Version(m.Major()), Type: manager.Notify, Access: proto.AccessMain, MainPID: mainPID}
	sim := map[string]string{"StatusText": "", "StatusErrno": "0", "WatchdogUSec": "1min 40s", "NotifyAccess": "main", "MainPID": props["MainPID"]}
	prevReal := m.Show("model.service", modelProps...)
	prevSim := copyProps(sim)
	for k := range prevReal {
		if _, ok := sim[k]; !ok {
			sim[k], prevSim[k] = prevReal[k], prevReal[k]
		}
	}
	for i, data := range modelDatagrams {
		before := len(m.Log())
		r.send(data)
		marker := fmt.Sprintf("X_STEP=%d", i)
		r.send(marker)
		m.WaitLog(t, marker, 10*time.Second)
		seg := m.Log()[before:]
		seg = seg[:strings.LastIndexByte(seg[:strings.Index(seg, marker)], '\n')+1] // up to the marker's line
		got := m.Show("model.service", modelProps...)
		dropped, warned := readSegment(seg)
		real = append(real, summarize(dropped, warned, prevReal, got))
		prevReal = got

		d := manager.Decode(manager.Input{Data: []byte(data)}, unit.Version)
		verdict := unit.Notify(d, manager.Sender{PID: mainPID, InUnit: true})
		model = append(model, summarize(d.Drop != "" || d.Barrier, modelWarned(verdict), prevSim, simulate(unit, verdict, sim)))
		prevSim = copyProps(sim)
		if real[i] != model[i] {
			t.Errorf("datagram %d %q: systemd %s: %s; the model: %s\nlog:\n%s", i+1, data, v, real[i], model[i], seg)
		}
	}
	return real, model
}

// readSegment tells from the log of one datagram whether the manager
// dropped it (no unit got it), and the keys it warned about.
func readSegment(seg string) (dropped bool, warned []string) {
	dropped = true
	for _, line := range strings.Split(seg, "\n") {
		if strings.Contains(line, "Got notification message from PID") && !strings.Contains(line, "X_STEP=") {
			dropped = false
		}
		for _, w := range modelWarnings {
			if strings.Contains(line, w.log) {
				warned = append(warned, w.key)
			}
		}
	}
	return dropped, warned
}

// modelWarned returns the keys the model says the manager warns about.
func modelWarned(v *manager.Verdict) []string {
	var keys []string
	for _, o := range v.Outcomes {
		if o.Logged && o.Key != "FDNAME" {
			keys = append(keys, o.Key)
		}
	}
	return keys
}

// simulate carries a verdict into the properties systemctl would show.
func simulate(u *manager.Unit, v *manager.Verdict, p map[string]string) map[string]string {
	for _, c := range v.Changes {
		switch c.Kind {
		case manager.StatusSet:
			p["StatusText"] = c.Text
		case manager.ErrnoSet:
			p["StatusErrno"] = strconv.FormatUint(c.Num, 10)
		case manager.WatchdogSet:
			p["WatchdogUSec"] = timespan(c.Num)
		case manager.AccessSet:
			p["NotifyAccess"] = c.Text
		case manager.MainPIDChanged:
			p["MainPID"] = strconv.Itoa(c.PID)
		}
	}
	active := map[manager.State]string{manager.Starting: "activating", manager.Running: "active", manager.Reloading: "reloading", manager.ReloadSignal: "reloading", manager.Stopping: "deactivating"}
	p["ActiveState"], p["SubState"] = active[u.State()], u.State().SubState(u.Version)
	return copyProps(p)
}

// timespan formats whole seconds as systemctl shows a time span.
func timespan(usec uint64) string {
	if usec == 0 {
		return "0"
	}
	s := usec / 1e6
	switch {
	case s%60 == 0:
		return fmt.Sprintf("%dmin", s/60)
	case s > 60:
		return fmt.Sprintf("%dmin %ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

// summarize describes the state after a datagram and what it changed.
func summarize(dropped bool, warned []string, before, after map[string]string) string {
	if dropped {
		return "dropped"
	}
	s := after["ActiveState"] + "/" + after["SubState"]
	var keys []string
	for k := range after {
		if k != "ActiveState" && k != "SubState" && before[k] != after[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := after[k]
		if len(v) > 12 {
			v = fmt.Sprintf("%.6s…(%d)", v, len(v))
		}
		s += fmt.Sprintf(" %s=%s", k, v)
	}
	sort.Strings(warned)
	for _, w := range warned {
		s += " warn:" + w
	}
	return s
}

func copyProps(p map[string]string) map[string]string {
	c := make(map[string]string, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

func trimTo(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// The relay: the unit's main process, this test binary run again.

const relayEnv = "SDNOTIFY_MODEL_RELAY"

func init() {
	if dir := os.Getenv(relayEnv); dir != "" {
		os.Exit(relayMain(dir))
	}
}

// relayMain receives datagrams on DIR/relay.sock and, for each, sends it
// as it is to NOTIFY_SOCKET, then a barrier, and answers "ok" (or the
// error) to the sender.
func relayMain(dir string) int {
	// Catch the reload signal (262 refuses the READY=1 of a notify-reload
	// service that ignores it), and do nothing on it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
		}
	}()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 1
	}
	path := filepath.Join(dir, "relay.sock")
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	notify := &unix.SockaddrUnix{Name: os.Getenv("NOTIFY_SOCKET")}
	buf := make([]byte, 1<<16)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return 1
		}
		reply := "ok"
		if err := relaySend(notify, buf[:n]); err != nil {
			reply = err.Error()
		}
		if from != nil {
			unix.Sendto(fd, []byte(reply), 0, from)
		}
	}
}

// relaySend sends data as it is, then BARRIER=1 with a pipe, and waits
// until the manager closes the pipe: it has processed data.
func relaySend(notify *unix.SockaddrUnix, data []byte) error {
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	if err := unix.Sendmsg(s, data, nil, notify, 0); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return err
	}
	defer unix.Close(p[0])
	err = unix.Sendmsg(s, []byte("BARRIER=1"), unix.UnixRights(p[1]), notify, 0)
	unix.Close(p[1])
	if err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	pfd := []unix.PollFd{{Fd: int32(p[0])}}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if n, err := unix.Poll(pfd, 100); err == nil && n > 0 && pfd[0].Revents&unix.POLLHUP != 0 {
			return nil
		}
	}
	return fmt.Errorf("barrier: not released within 10s")
}

// A relayClient sends datagrams to the relay.
type relayClient struct {
	t     *testing.T
	fd    int
	relay string
}

func newRelayClient(t *testing.T, dir string) *relayClient {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(dir, "test.sock")}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 20}); err != nil {
		t.Fatal(err)
	}
	relay := filepath.Join(dir, "relay.sock")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(relay); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay did not bind its socket within 10s")
		}
	}
	return &relayClient{t: t, fd: fd, relay: relay}
}

// send has the relay send data, and waits until the manager processed it.
func (r *relayClient) send(data string) {
	r.t.Helper()
	if err := unix.Sendto(r.fd, []byte(data), 0, &unix.SockaddrUnix{Name: r.relay}); err != nil {
		r.t.Fatalf("to the relay: %v", err)
	}
	b := make([]byte, 512)
	n, _, err := unix.Recvfrom(r.fd, b, 0)
	if err != nil {
		r.t.Fatalf("from the relay: %v", err)
	}
	if string(b[:n]) != "ok" {
		r.t.Fatalf("the relay: %s", b[:n])
	}
}
