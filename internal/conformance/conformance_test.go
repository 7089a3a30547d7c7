//go:build linux

package conformance

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
	"golang.org/x/sys/unix"
)

// A pcase is one logical notification, sent by every peer that can send
// it, in its own way.
type pcase struct {
	name string
	// args is the action in testdata/peer.c's syntax, which the Go peer,
	// the C peer and the Python scripts take.
	args []string
	// sd are systemd-notify's arguments for it; nil if it cannot send it.
	sd []string
	// addr sets up NOTIFY_SOCKET in dir, the peer's working directory:
	// its value, whether it is set, and the listener that should receive
	// what is sent, if any. nil: a new listener's address.
	addr func(t *testing.T, dir string) (value string, set bool, l *sdnotifytest.Listener)
	// raw, if set, replaces addr: a socket that sdnotifytest cannot bind,
	// and a function that returns what it received once the peer exited.
	raw func(t *testing.T) (string, func() []*sdnotifytest.Message)
	// setuid runs the Go and C peers as set-user-ID root programs started
	// by nobody: real IDs nobody, effective IDs root.
	setuid bool
	// hold makes the listener hold barriers (never release them).
	hold bool
	// rebind: the peer sends args[1], waits for a line on stdin, and
	// sends args[2]; in between, the listener is closed and a new one
	// bound at the same path, as when a user manager restarts.
	rebind bool

	// want is what this module does, and every peer not in differs.
	want outcome
	// differs lists the peers that differ from this module on purpose,
	// with what they do and why.
	differs map[string]difference
	// skip lists peers not run for this case, and why (beyond those that
	// cannot express it at all).
	skip map[string]string
}

// An outcome is what a peer is compared on: its normalized result (see
// normReturns) and the datagrams that arrived (see describe), in order.
type outcome struct {
	result string
	wire   []string
}

func (o outcome) equal(p outcome) bool {
	return o.result == p.result && slices.Equal(o.wire, p.wire)
}

// matches reports whether got is the outcome o wants: equal, except that
// a result starting with "~" is a regular expression, for results that
// depend on the kernel.
func (o outcome) matches(got outcome) bool {
	if re, ok := strings.CutPrefix(o.result, "~"); ok {
		return regexp.MustCompile(re).MatchString(got.result) && slices.Equal(o.wire, got.wire)
	}
	return o.equal(got)
}

func (o outcome) String() string {
	return fmt.Sprintf("%s %s", o.result, "["+strings.Join(o.wire, ", ")+"]")
}

type difference struct {
	outcome
	reason string
}

func wire(data string, fds int, from string, extra ...string) string {
	s := fmt.Sprintf("%s fds=%d from=%s", quoteData([]byte(data)), fds, from)
	for _, e := range extra {
		s += " " + e
	}
	return s
}

// Reasons shared by several cases.
const (
	whySpeaksForParent = "systemd-notify speaks for its parent: it sends its message with explicit credentials " +
		"(SCM_CREDENTIALS) naming getppid(), the service process that ran it, because it exits at once and the " +
		"manager could not attribute a message from a dead PID; the kernel allows that only to a privileged " +
		"sender, otherwise libsystemd resends it with its own"
	whyBarrier = "unless --no-block, systemd-notify then sends BARRIER=1 with one pipe fd from its own PID and " +
		"waits for the manager to close it, so that its message is processed before it exits (systemd#2737); " +
		"one exit status covers both"
	why252Errno = "libsystemd 252 refuses an empty or relative NOTIFY_SOCKET with EINVAL; 253 and later return " +
		"EPROTO, which this module follows"
	whyEmpty = "this module refuses an empty notification (ErrInvalid) because one once crashed PID 1 (systemd#4234); " +
		"the peers send the empty datagram, which the manager (252, 254) reads as holding nothing"
	whyLong = "the manager reads at most 4096 bytes and drops a longer notification whole, without a word; " +
		"this module refuses it (ErrInvalid) instead of sending it; the peers send it"
	whySwallows = "python sdnotify swallows every error unless debug=True: it sends nothing and reports nothing " +
		"(its constructor, with debug=True, raises what the result names)"
)

// cases returns the table. It depends on the machine: the test's PID, a
// PID that does not exist, whether this process may speak for others, and
// libsystemd's version.
func cases(t *testing.T, e *env, storedFile string) []*pcase {
	self := os.Getpid()
	// P is whose credentials arrive when a peer speaks for the test
	// process: its own when the kernel refuses (unprivileged).
	P := "parent"
	if !e.privileged {
		P = "self"
	}
	other := os.Getppid() // a process that exists and is neither peer nor test
	otherFrom := "pid=" + strconv.Itoa(other)
	if !e.privileged {
		otherFrom = "self"
	}
	missing := missingPID()
	barrier := wire("BARRIER=1", 1, "self")
	readySelf := []string{wire("READY=1", 0, "self")}

	// sdDiffs are systemd-notify's usual differences: it speaks for its
	// parent, and without --no-block adds a barrier.
	sdDiffs := func(result string, msgs ...string) map[string]difference {
		return map[string]difference{
			sdNotify:   {outcome{result, append(slices.Clone(msgs), barrier)}, whySpeaksForParent + "; " + whyBarrier},
			sdNotifyNB: {outcome{result, msgs}, whySpeaksForParent},
		}
	}
	with := func(m map[string]difference, peer string, d difference) map[string]difference {
		m[peer] = d
		return m
	}

	// The errno libsystemd (and so python-systemd and systemd-notify)
	// returns for an empty or relative address.
	libEPROTO := "error:EPROTO"
	if e.libsystemdVersion != 0 && e.libsystemdVersion < 253 {
		libEPROTO = "error:EINVAL"
	}
	// protoDiffs are the differences for an address libsystemd refuses
	// with EPROTO (EINVAL before 253).
	protoDiffs := func(py outcome, pyReason string) map[string]difference {
		m := map[string]difference{}
		if libEPROTO != "error:EPROTO" {
			for _, p := range []string{libsystemd, pySystemd, sdNotify, sdNotifyNB} {
				m[p] = difference{outcome{libEPROTO, nil}, why252Errno}
			}
		}
		m[pySdnotify] = difference{py, pyReason}
		return m
	}

	listenerAt := func(name string) func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
		return func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
			l, err := sdnotifytest.Listen(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l.Addr, true, l
		}
	}
	// linked makes NOTIFY_SOCKET a path of its own (relative, or of an
	// exact length) that leads to a real listener through a symlink: a
	// peer that accepts the path reaches the listener.
	linked := func(path func(t *testing.T, dir string) string) func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
		return func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
			l := sdnotifytest.New(t)
			p := path(t, dir)
			target := p
			if !filepath.IsAbs(p) {
				target = filepath.Join(dir, p)
			}
			if err := os.Symlink(l.Addr, target); err != nil {
				t.Fatal(err)
			}
			return p, true, l
		}
	}
	value := func(v string, set bool) func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
		return func(*testing.T, string) (string, bool, *sdnotifytest.Listener) { return v, set, nil }
	}

	return []*pcase{
		// ---- What each sends, NOTIFY_SOCKET pointing at a listener ----
		{
			name: "ready", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			want:    outcome{"ok", readySelf},
			differs: sdDiffs("ok", wire("READY=1", 0, P)),
		},
		{
			name: "ready-status", args: []string{"notify", "READY=1\nSTATUS=x"}, sd: []string{"--ready", "--status=x"},
			want:    outcome{"ok", []string{wire("READY=1\nSTATUS=x", 0, "self")}},
			differs: sdDiffs("ok", wire("READY=1\nSTATUS=x", 0, P)),
		},
		{
			name: "status", args: []string{"notify", "STATUS=Serving on :8080"}, sd: []string{"--status=Serving on :8080"},
			want:    outcome{"ok", []string{wire("STATUS=Serving on :8080", 0, "self")}},
			differs: sdDiffs("ok", wire("STATUS=Serving on :8080", 0, P)),
		},
		{
			name: "stopping-status", args: []string{"notify", "STOPPING=1\nSTATUS=shutting down"}, sd: []string{"STOPPING=1", "STATUS=shutting down"},
			want:    outcome{"ok", []string{wire("STOPPING=1\nSTATUS=shutting down", 0, "self")}},
			differs: sdDiffs("ok", wire("STOPPING=1\nSTATUS=shutting down", 0, P)),
		},
		{
			name: "watchdog", args: []string{"notify", "WATCHDOG=1"}, sd: []string{"WATCHDOG=1"},
			want:    outcome{"ok", []string{wire("WATCHDOG=1", 0, "self")}},
			differs: sdDiffs("ok", wire("WATCHDOG=1", 0, P)),
		},
		{
			name: "status-latin1", args: []string{"notify", "STATUS=café"}, sd: []string{"--status=café"},
			want: outcome{"ok", []string{wire("STATUS=café", 0, "self")}},
			differs: with(sdDiffs("ok", wire("STATUS=café", 0, P)), pySdnotify, difference{
				outcome{"ok", []string{wire("STATUS=caf\xe9", 0, "self", "ignored=STATUS")}},
				"python sdnotify encodes with latin-1, not UTF-8: é goes out as the one byte 0xE9, and the manager ignores a STATUS= that is not valid UTF-8",
			}),
		},
		{
			name: "status-beyond-latin1", args: []string{"notify", "STATUS=50% → done"}, sd: []string{"--status=50% → done"},
			want: outcome{"ok", []string{wire("STATUS=50% → done", 0, "self")}},
			differs: with(sdDiffs("ok", wire("STATUS=50% → done", 0, P)), pySdnotify, difference{
				outcome{"ok", nil},
				"python sdnotify encodes with latin-1, which has no →: notify raises UnicodeEncodeError and swallows it; nothing is sent, nothing is reported",
			}),
		},
		{
			// MAINPID= naming another process: systemd-notify --pid=N also
			// speaks for N.
			name: "mainpid", args: []string{"notify", fmt.Sprintf("MAINPID=%d", other)}, sd: []string{fmt.Sprintf("--pid=%d", other)},
			want: outcome{"ok", []string{wire(fmt.Sprintf("MAINPID=%d", other), 0, "self")}},
			differs: map[string]difference{
				sdNotify: {outcome{"ok", []string{wire(fmt.Sprintf("MAINPID=%d", other), 0, otherFrom), barrier}},
					"systemd-notify --pid=N sets MAINPID=N and also speaks for N (credentials naming N, when privileged); " + whyBarrier},
				sdNotifyNB: {outcome{"ok", []string{wire(fmt.Sprintf("MAINPID=%d", other), 0, otherFrom)}},
					"systemd-notify --pid=N sets MAINPID=N and also speaks for N (credentials naming N, when privileged)"},
			},
		},
		{
			name: "notifyf", args: []string{"notifyf", "x", "42"},
			want: outcome{"ok", []string{wire("STATUS=x 42", 0, "self")}},
		},
		{
			// sd_pid_notify for the parent; systemd-notify does it unasked.
			name: "speak-for-parent", args: []string{"pid-notify", strconv.Itoa(self), "READY=1"}, sd: []string{"--ready"},
			want: outcome{"ok", []string{wire("READY=1", 0, P)}},
			differs: map[string]difference{
				sdNotify: {outcome{"ok", []string{wire("READY=1", 0, P), barrier}}, whyBarrier},
			},
		},
		{
			// sd_pid_notify for a PID that does not exist: the kernel
			// refuses the credentials (ESRCH), the sender resends with its
			// own.
			name: "speak-for-missing-pid", args: []string{"pid-notify", strconv.Itoa(missing), "READY=1"},
			sd:   []string{"--ready", fmt.Sprintf("--pid=%d", missing)},
			want: outcome{"ok", readySelf},
			differs: map[string]difference{
				sdNotify: {outcome{"ok", []string{wire(fmt.Sprintf("READY=1\nMAINPID=%d", missing), 0, "self"), barrier}},
					"systemd-notify can speak for a PID only with --pid=N, which also sets MAINPID=N; " + whyBarrier},
				sdNotifyNB: {outcome{"ok", []string{wire(fmt.Sprintf("READY=1\nMAINPID=%d", missing), 0, "self")}},
					"systemd-notify can speak for a PID only with --pid=N, which also sets MAINPID=N"},
			},
		},
		{
			// sd_pid_notify_with_fds; systemd-notify has no --fd before 254.
			name: "fdstore", args: []string{"fds", "FDSTORE=1\nFDNAME=conformance", storedFile},
			want: outcome{"ok", []string{wire("FDSTORE=1\nFDNAME=conformance", 1, "self", `file("conformance\n")`)}},
		},
		{
			name: "barrier", args: []string{"notify-barrier", "READY=1", "5000000"}, sd: []string{"--ready"},
			want: outcome{"ok barrier=ok", []string{wire("READY=1", 0, "self"), barrier}},
			differs: map[string]difference{
				sdNotify:   {outcome{"ok", []string{wire("READY=1", 0, P), barrier}}, whySpeaksForParent + "; " + whyBarrier},
				sdNotifyNB: {outcome{"ok", []string{wire("READY=1", 0, P)}}, whySpeaksForParent + "; --no-block: no barrier"},
			},
		},
		{
			// A manager that never closes the barrier's pipe: the barrier
			// times out (300 ms here; systemd-notify's is 5 s).
			name: "barrier-held", hold: true, args: []string{"notify-barrier", "READY=1", "300000"}, sd: []string{"--ready"},
			want: outcome{"ok barrier=error:ETIMEDOUT", []string{wire("READY=1", 0, "self"), barrier}},
			differs: map[string]difference{
				sdNotify: {outcome{"error:ETIMEDOUT", []string{wire("READY=1", 0, P), barrier, wire("ERRNO=110", 0, "self")}},
					whySpeaksForParent + "; " + whyBarrier + "; when it fails, it exits 1 and, like every systemd tool, reports ERRNO= to NOTIFY_SOCKET"},
				sdNotifyNB: {outcome{"ok", []string{wire("READY=1", 0, P)}}, whySpeaksForParent + "; --no-block: no barrier to wait for"},
			},
		},
		{
			// sd_notify(1, ...), NewUnsetenv: NOTIFY_SOCKET is gone afterwards.
			name: "unset-environment", args: []string{"notify-unset", "READY=1"},
			want: outcome{"ok env=unset", readySelf},
		},
		{
			// Real and effective IDs differ (set-user-ID root, run by
			// nobody; systemd-notify --uid=nobody): the message carries
			// the real IDs.
			name: "real-ids-differ", setuid: true, args: []string{"notify", "READY=1"}, sd: []string{"--uid=" + nobodyUID(), "--ready"},
			want: outcome{"ok", []string{wire("READY=1", 0, "self", nobodyIDs())}},
			differs: map[string]difference{
				sdNotify: {outcome{"ok", []string{wire("READY=1", 0, P, nobodyIDs()), wire("BARRIER=1", 1, "self", nobodyIDs())}},
					whySpeaksForParent + "; " + whyBarrier},
				sdNotifyNB: {outcome{"ok", []string{wire("READY=1", 0, P, nobodyIDs())}}, whySpeaksForParent},
			},
			skip: map[string]string{
				pySdnotify: "a script cannot run set-user-ID",
				pySystemd:  "a script cannot run set-user-ID",
			},
		},
		{
			name: "barrier-env-unset", args: []string{"barrier", "1000000"}, addr: value("", false),
			want: outcome{"noop", nil},
		},
		{
			name: "rebind", rebind: true, args: []string{"notify2", "STATUS=one", "STATUS=two"},
			addr: listenerAt("notify"),
			want: outcome{"ok ok", []string{wire("STATUS=one", 0, "self"), wire("STATUS=two", 0, "self")}},
			differs: map[string]difference{
				pySdnotify: {outcome{"ok ok", []string{wire("STATUS=one", 0, "self")}},
					"python sdnotify connects once, in its constructor, and never reconnects: once the manager re-binds its socket every send fails (ECONNREFUSED) and the error is swallowed; libsystemd opens a socket per call, and this module reconnects once"},
			},
		},

		{
			// An empty notification once crashed PID 1 (systemd#4234).
			name: "empty-state", args: []string{"notify", ""}, sd: []string{""},
			want: outcome{"refused:ErrInvalid", nil},
			differs: map[string]difference{
				libsystemd: {outcome{"ok", []string{wire("", 0, "self")}}, whyEmpty},
				pySystemd:  {outcome{"ok", []string{wire("", 0, "self")}}, whyEmpty},
				pySdnotify: {outcome{"ok", []string{wire("", 0, "self")}}, whyEmpty},
				sdNotify: {outcome{"ok", []string{wire("", 0, P), barrier}},
					"systemd-notify \"\" sends it too; " + whyEmpty + "; " + whySpeaksForParent + "; " + whyBarrier},
				sdNotifyNB: {outcome{"ok", []string{wire("", 0, P)}},
					"systemd-notify \"\" sends it too; " + whyEmpty + "; " + whySpeaksForParent},
			},
		},
		{
			name: "state-4096-bytes", args: []string{"notify", long4096}, sd: []string{long4096},
			want:    outcome{"ok", []string{wire(long4096, 0, "self")}},
			differs: sdDiffs("ok", wire(long4096, 0, P)),
		},
		{
			name: "state-4097-bytes", args: []string{"notify", long4096 + "x"}, sd: []string{long4096 + "x"},
			want: outcome{"refused:ErrInvalid", nil},
			differs: map[string]difference{
				libsystemd: {outcome{"ok", []string{wire(long4096+"x", 0, "self", "dropped")}}, whyLong},
				pySystemd:  {outcome{"ok", []string{wire(long4096+"x", 0, "self", "dropped")}}, whyLong},
				pySdnotify: {outcome{"ok", []string{wire(long4096+"x", 0, "self", "dropped")}}, whyLong},
				sdNotify: {outcome{"ok", []string{wire(long4096+"x", 0, P, "dropped"), barrier}},
					whyLong + "; " + whySpeaksForParent + "; " + whyBarrier},
				sdNotifyNB: {outcome{"ok", []string{wire(long4096+"x", 0, P, "dropped")}},
					whyLong + "; " + whySpeaksForParent},
			},
		},

		// ---- NOTIFY_SOCKET unset, malformed or unreachable ----
		{
			name: "env-unset", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr: value("", false),
			want: outcome{"noop", nil},
			differs: map[string]difference{
				sdNotify:   {outcome{"error:unset", nil}, "systemd-notify exits 1 ('No status data could be sent: $NOTIFY_SOCKET was not set'): run outside a service it can only be a mistake, while a library call outside systemd is normal"},
				sdNotifyNB: {outcome{"error:unset", nil}, "systemd-notify exits 1 ('No status data could be sent: $NOTIFY_SOCKET was not set'): run outside a service it can only be a mistake, while a library call outside systemd is normal"},
				pySdnotify: {outcome{"swallowed:TypeError", nil}, "python sdnotify has no disabled state: its constructor indexes the missing value (None[0]) and swallows the TypeError, notify swallows the AttributeError that follows; the effect is the same: nothing sent, no error"},
			},
		},
		{
			name: "env-empty", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr:    value("", true),
			want:    outcome{"error:EPROTO", nil},
			differs: protoDiffs(outcome{"swallowed:IndexError", nil}, whySwallows+" (''[0]: IndexError)"),
		},
		{
			name: "env-at-only", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr: value("@", true),
			want: outcome{"error:EINVAL", nil},
			skip: map[string]string{pySdnotify: "python sdnotify would connect to the abstract socket named by one NUL byte, which belongs to whatever on this host bound it (one exists here): not something to send READY=1 to"},
		},
		{
			name: "env-relative", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr: linked(func(*testing.T, string) string { return "notify.sock" }),
			want: outcome{"error:EPROTO", nil},
			differs: protoDiffs(outcome{"ok", readySelf},
				"python sdnotify connects to whatever NOTIFY_SOCKET names, relative to its working directory: it reached the listener through ./notify.sock; libsystemd (EINVAL before 253, EPROTO since) and this module (EPROTO) refuse a relative path, which no manager sets"),
		},
		{
			// A vsock address without a CID, here also the name of a file in
			// the working directory that leads to a listener. libsystemd
			// (252: not a path; 253+: no CID) and this module refuse it
			// before opening any socket. No test connects to a real vsock
			// CID: without a loopback transport that traffic would go to
			// the hypervisor.
			name: "env-vsock-no-cid", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr: linked(func(*testing.T, string) string { return "vsock::1234" }),
			want: outcome{"error:EINVAL", nil},
			differs: map[string]difference{pySdnotify: {outcome{"ok", readySelf},
				"python sdnotify knows only AF_UNIX: it takes vsock::1234 for a relative path, and here reached the listener through a file of that name"}},
		},
		{
			name: "env-path-107-bytes", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr:    linked(func(t *testing.T, dir string) string { return pathOfLen(t, dir, 107) }),
			want:    outcome{"ok", readySelf},
			differs: sdDiffs("ok", wire("READY=1", 0, P)),
		},
		{
			name: "env-path-108-bytes", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr:    linked(func(t *testing.T, dir string) string { return pathOfLen(t, dir, 108) }),
			want:    outcome{"error:ENAMETOOLONG", nil},
			differs: map[string]difference{pySdnotify: {outcome{"swallowed:OSError", nil}, whySwallows + " ('AF_UNIX path too long', from Python itself)"}},
		},
		{
			name: "env-missing-path", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr: func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
				return filepath.Join(dir, "missing.sock"), true, nil
			},
			want:    outcome{"error:ENOENT", nil},
			differs: map[string]difference{pySdnotify: {outcome{"swallowed:ENOENT", nil}, whySwallows}},
		},
		{
			name: "env-nothing-listening", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr: func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
				return staleSocket(t, filepath.Join(dir, "stale.sock")), true, nil
			},
			want:    outcome{"error:ECONNREFUSED", nil},
			differs: map[string]difference{pySdnotify: {outcome{"swallowed:ECONNREFUSED", nil}, whySwallows}},
		},
		{
			name: "env-abstract-107-bytes", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr:    abstractOfLen(107),
			want:    outcome{"ok", readySelf},
			differs: sdDiffs("ok", wire("READY=1", 0, P)),
		},
		{
			// 108 bytes: the name fills sun_path, with no room for a NUL.
			name: "env-abstract-108-bytes", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			raw:  rawAbstract,
			want: outcome{"error:EINVAL", nil},
			differs: map[string]difference{
				pySdnotify: {outcome{"ok", readySelf}, "Python accepts an abstract AF_UNIX name that fills all 108 bytes of sun_path, and python sdnotify connects to it; libsystemd and this module want a terminating NUL to fit (EINVAL)"},
			},
		},
		{
			name: "env-abstract", args: []string{"notify", "READY=1"}, sd: []string{"--ready"},
			addr: func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
				l := sdnotifytest.NewAbstract(t)
				return l.Addr, true, l
			},
			want:    outcome{"ok", readySelf},
			differs: sdDiffs("ok", wire("READY=1", 0, P)),
		},
	}
}

// nobodyUID returns the user ID of nobody, as a string.
func nobodyUID() string {
	if u, err := user.Lookup("nobody"); err == nil {
		return u.Uid
	}
	return "65534"
}

// nobodyIDs is how describe shows a message from nobody.
func nobodyIDs() string {
	if u, err := user.Lookup("nobody"); err == nil {
		return "uid=" + u.Uid + " gid=" + u.Gid
	}
	return "uid=65534 gid=65534"
}

// long4096 is a notification of exactly 4096 bytes, the most the manager
// reads.
var long4096 = "STATUS=" + strings.Repeat("x", 4096-len("STATUS="))

// missingPID returns a PID that no process can have: pid_max (PIDs go up
// to pid_max-1), or more than the kernel's PID_MAX_LIMIT if that cannot
// be read.
func missingPID() int {
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return n
		}
	}
	return 1<<22 + 1
}

// pathOfLen returns a path of exactly n bytes in dir (or in a shorter
// temporary directory if dir is too long).
func pathOfLen(t *testing.T, dir string, n int) string {
	if len(dir)+2 > n {
		d, err := os.MkdirTemp("/tmp", "c")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	p := dir + "/" + strings.Repeat("s", n-len(dir)-1)
	if len(p) != n {
		t.Fatalf("path %q is %d bytes, want %d", p, len(p), n)
	}
	return p
}

var abstractSeq atomic.Int64

// abstractName returns a unique abstract address of n bytes, counting the
// '@'.
func abstractName(n int) string {
	prefix := fmt.Sprintf("@sdnotify-conformance-%d-%d-", os.Getpid(), abstractSeq.Add(1))
	return prefix + strings.Repeat("a", n-len(prefix))
}

// abstractOfLen returns a listener at an abstract address of n bytes.
func abstractOfLen(n int) func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
	return func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
		l, err := sdnotifytest.Listen(abstractName(n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l.Addr, true, l
	}
}

// rawAbstract binds a socket at an abstract address of 108 bytes, which
// fills sun_path with no room for a NUL: Go's unix.Bind (and so
// sdnotifytest) refuses it, the kernel does not. It returns the address
// and a function that returns the datagrams received so far, with their
// credentials and files, without waiting: call it once the sender has
// exited.
func rawAbstract(t *testing.T) (string, func() []*sdnotifytest.Message) {
	name := abstractName(len(unix.RawSockaddrUnix{}.Path))
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	sa := unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	for i := 1; i < len(name); i++ { // sa.Path[0] stays NUL: abstract
		sa.Path[i] = int8(name[i])
	}
	if _, _, errno := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa)); errno != 0 {
		t.Fatalf("bind %q: %v", name, errno)
	}
	return name, func() []*sdnotifytest.Message {
		var msgs []*sdnotifytest.Message
		buf := make([]byte, 8192)
		oob := make([]byte, unix.CmsgSpace(4*253)+unix.CmsgSpace(unix.SizeofUcred))
		for {
			n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
			if err == unix.EAGAIN {
				return msgs
			}
			if err != nil {
				t.Fatalf("recvmsg: %v", err)
			}
			m := sdnotifytest.Parse(append([]byte(nil), buf[:n]...))
			cmsgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, c := range cmsgs {
				if cred, err := unix.ParseUnixCredentials(&c); err == nil {
					m.PID, m.UID, m.GID = int(cred.Pid), int(cred.Uid), int(cred.Gid)
				}
				if fds, err := unix.ParseUnixRights(&c); err == nil {
					for _, fd := range fds {
						f := os.NewFile(uintptr(fd), "received")
						t.Cleanup(func() { f.Close() })
						m.Files = append(m.Files, f)
					}
				}
			}
			msgs = append(msgs, m)
		}
	}
}

// staleSocket leaves a socket file at path with nothing behind it, as a
// manager that died does: connecting to it is refused.
func staleSocket(t *testing.T, path string) string {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	return path
}

func TestPeers(t *testing.T) {
	e := setup(t)
	t.Logf("peers: %s; may speak for other processes: %v", strings.Join(e.versions, ", "), e.privileged)
	stored := filepath.Join(t.TempDir(), "stored.txt")
	if err := os.WriteFile(stored, []byte("conformance\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]map[string]*run{}
	table := cases(t, e, stored)
	t.Cleanup(func() { logTable(t, table, seen) })

	for _, c := range table {
		for p, d := range c.differs {
			if c.want.matches(d.outcome) {
				if e.privileged {
					t.Errorf("%s: the known difference for %s is no difference; remove it (%s)", c.name, p, d.reason)
				}
				delete(c.differs, p) // P is "self" when unprivileged
			}
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range peerNames {
				p := e.peers[name]
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					if p.missing != "" {
						t.Skip(p.missing)
					}
					if why := c.skip[name]; why != "" {
						t.Skip(why)
					}
					argv := p.cmd(c)
					if argv == nil {
						t.Skipf("%s has no way to send this", name)
					}
					r := runPeer(t, c, argv, p)
					mu.Lock()
					if seen[c.name] == nil {
						seen[c.name] = map[string]*run{}
					}
					seen[c.name][name] = r
					mu.Unlock()
					check(t, c, name, r)
				})
			}
		})
	}
}

// check compares what the peer did with this module's outcome, or with its
// known difference.
func check(t *testing.T, c *pcase, name string, r *run) {
	t.Helper()
	got := outcome{r.result, r.wire}
	want, reason := c.want, ""
	if d, ok := c.differs[name]; ok {
		want, reason = d.outcome, d.reason
	}
	if want.matches(got) {
		if reason != "" {
			t.Logf("known difference: %s", reason)
		}
		return
	}
	raw := fmt.Sprintf("exit %d, stdout %q, stderr %q", r.exit, r.stdout, r.stderr)
	switch {
	case name == goPeerName:
		t.Errorf("this module:\n got %v\nwant %v\n(%s)", got, want, raw)
	case reason != "" && c.want.matches(got):
		t.Errorf("%s now behaves like this module (%v): remove the known difference %q", name, got, reason)
	case reason != "":
		t.Errorf("%s changed:\n got %v\nwant %v (known difference: %s)\n(%s)", name, got, want, reason, raw)
	default:
		t.Errorf("%s differs from this module:\n got %v\nwant %v\n(%s)", name, got, want, raw)
	}
}

// runPeer runs argv for c and collects what it did.
func runPeer(t *testing.T, c *pcase, argv []string, p *peer) *run {
	t.Helper()
	dir := t.TempDir()
	setup := c.addr
	if setup == nil {
		setup = func(t *testing.T, dir string) (string, bool, *sdnotifytest.Listener) {
			l := sdnotifytest.New(t)
			return l.Addr, true, l
		}
	}
	var collect func() []*sdnotifytest.Message
	if c.raw != nil {
		var addr string
		addr, collect = c.raw(t)
		setup = func(*testing.T, string) (string, bool, *sdnotifytest.Listener) { return addr, true, nil }
	}
	addr, set, l := setup(t, dir)
	if c.hold {
		l.HoldBarriers()
	}
	r := &run{}
	var stdinR, stdinW *os.File
	if c.rebind {
		var err error
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		defer stdinW.Close()
	}
	var cred *syscall.Credential
	if c.setuid {
		switch p.name {
		case goPeerName, libsystemd:
			argv, dir, cred = setuidCopy(t, argv)
			requireSetuid(t, p.name, argv, dir, cred)
		default:
			if os.Geteuid() != 0 {
				t.Skip("needs root")
			}
		}
	}
	cmd, stdout, stderr, cancel := start(t, argv, dir, addr, set, stdinR, cred)
	defer cancel()
	r.pid = cmd.Process.Pid
	if c.rebind {
		stdinR.Close()
		r.msgs = rebind(t, c, &l, addr)
		stdinW.Write([]byte("\n"))
		stdinW.Close()
	}
	r.exit = wait(t, cmd)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	if l != nil {
		r.msgs = append(r.msgs, drain(t, l)...)
	}
	if collect != nil {
		r.msgs = append(r.msgs, collect()...)
	}
	r.result = p.norm(r.stdout, r.stderr, r.exit)
	for _, m := range r.msgs {
		r.wire = append(r.wire, describe(m, r.pid))
	}
	return r
}

// rebind waits for the peer's first message, then closes the listener and
// binds a new one at the same address, as a restarted manager does. It
// returns what the first listener received.
func rebind(t *testing.T, c *pcase, l **sdnotifytest.Listener, addr string) []*sdnotifytest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := (*l).WaitFor(ctx, c.args[1]); err != nil {
		t.Fatal(err)
	}
	msgs := (*l).Messages()
	closeListener(t, *l)
	nl, err := sdnotifytest.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nl.Close() })
	*l = nl
	return msgs
}

// logTable logs, for the record, what each peer did in each case.
func logTable(t *testing.T, table []*pcase, seen map[string]map[string]*run) {
	var b strings.Builder
	for _, c := range table {
		args := fmt.Sprintf("%q", c.args)
		if len(args) > 72 {
			args = args[:72] + "…"
		}
		fmt.Fprintf(&b, "\n%s %s:", c.name, args)
		runs := seen[c.name]
		names := make([]string, 0, len(runs))
		for n := range runs {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return slices.Index(peerNames, names[i]) < slices.Index(peerNames, names[j]) })
		for _, n := range names {
			r := runs[n]
			mark := " "
			if _, ok := c.differs[n]; ok {
				mark = "≠"
			}
			fmt.Fprintf(&b, "\n  %s %-24s %-28s %s", mark, n, r.result, strings.Join(r.wire, ", "))
			fmt.Fprintf(&b, "   [exit %d stdout %q stderr %q]", r.exit, strings.TrimSpace(r.stdout), firstLine(r.stderr))
		}
	}
	t.Log(b.String())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
