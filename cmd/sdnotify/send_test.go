//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// A sender is a systemd-notify to run: ours or a real one.
type sender struct {
	name string
	argv []string // the command, before the arguments
	env  []string
}

func ours() sender { return sender{name: "sdnotify send", argv: []string{toolBin, "send"}} }

// systemdNotify252 is Debian 12's /usr/bin/systemd-notify.
func systemdNotify252(t *testing.T) sender {
	t.Helper()
	const p = "/usr/bin/systemd-notify"
	out, err := exec.Command(p, "--version").Output()
	if err != nil {
		t.Skipf("no %s to compare with: %v", p, err)
	}
	if !strings.HasPrefix(string(out), "systemd 252") {
		t.Skipf("%s is not 252: %q", p, strings.SplitN(string(out), "\n", 2)[0])
	}
	return sender{name: "systemd-notify 252", argv: []string{p}}
}

// systemdNotify254 is the backports build unpacked by .ci/systemd254.sh,
// run from its directory (libsystemd-shared-254.so found through
// LD_LIBRARY_PATH).
func systemdNotify254(t *testing.T) sender {
	t.Helper()
	dir := os.Getenv("SDNOTIFY_SYSTEMD254_DIR")
	if dir == "" {
		dir = "/var/cache/sdnotify-systemd254"
	}
	p := filepath.Join(dir, "bin", "systemd-notify")
	env := []string{"LD_LIBRARY_PATH=" + filepath.Join(dir, "usr", "lib", "x86_64-linux-gnu", "systemd")}
	cmd := exec.Command(p, "--version")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), "systemd 254") {
		t.Skipf("no systemd-notify 254 in %s (bash .ci/systemd254.sh unpacks it): %v", dir, err)
	}
	return sender{name: "systemd-notify 254", argv: []string{p}, env: env}
}

// A capture is what a sender did: its exit code and output, and the
// notifications it sent, normalized (see normalize).
type capture struct {
	code           int
	pid            int // the sender's
	stdout, stderr string
	msgs           []string
	elapsed        time.Duration
	raw            []*sdnotifytest.Message
}

func (c capture) String() string {
	return fmt.Sprintf("exit %d, messages:\n\t%s", c.code, strings.Join(c.msgs, "\n\t"))
}

type captureOpts struct {
	hold     bool       // the listener holds barriers
	abstract bool       // an abstract socket
	env      []string   // more environment
	files    []*os.File // passed as descriptors 3, 4, ...
}

// captureSend runs s with args against a fresh listener, and returns what
// it sent.
func captureSend(t *testing.T, s sender, o captureOpts, args ...string) capture {
	t.Helper()
	var l *sdnotifytest.Listener
	if o.abstract {
		l = sdnotifytest.NewAbstract(t)
	} else {
		l = sdnotifytest.New(t)
	}
	if o.hold {
		l.HoldBarriers()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.argv[0], append(s.argv[1:], args...)...)
	cmd.Env = toolEnv(append(append([]string{l.Env()}, s.env...), o.env...)...)
	cmd.ExtraFiles = o.files
	// Files, not pipes: a command that leaves a process behind (--fork)
	// must not keep Run waiting for the end of its output.
	stdout, stderr := tempFile(t), tempFile(t)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	c := capture{elapsed: time.Since(start), stdout: readAll(t, stdout), stderr: readAll(t, stderr)}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %q: %v", s.name, args, err)
	}
	c.code = cmd.ProcessState.ExitCode()
	c.pid = cmd.Process.Pid
	// Everything it sent is queued before our end marker.
	n := l.Notifier()
	defer n.Close()
	if err := n.Notify("X_TEST_END=1"); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("%s %q: %v", s.name, args, err)
		}
		if m.PID == os.Getpid() && m.Has("X_TEST_END=1") {
			break
		}
		c.raw = append(c.raw, m)
		msg := normalize(m, os.Getpid(), cmd.Process.Pid)
		if len(o.files) > 0 {
			msg += " files=" + whichFiles(m.Files, o.files)
		}
		c.msgs = append(c.msgs, msg)
	}
	if strings.Contains(c.stderr, "DATA RACE") {
		t.Errorf("race in %s:\n%s", s.name, c.stderr)
	}
	return c
}

func tempFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// whichFiles names each of got by the index in passed of the file it is
// a descriptor of, "?" for one of none of them, in sorted order ("[0 1]"):
// systemd-notify passes --fd's files in the order of a hash set.
func whichFiles(got, passed []*os.File) string {
	var names []string
	for _, g := range got {
		name := "?"
		if gi, err := g.Stat(); err == nil {
			for i, p := range passed {
				if pi, err := p.Stat(); err == nil && os.SameFile(gi, pi) {
					name = strconv.Itoa(i)
				}
			}
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return "[" + strings.Join(names, " ") + "]"
}

var (
	monoRE      = regexp.MustCompile(`MONOTONIC_USEC=\d+`)
	mainPIDRE   = regexp.MustCompile(`MAINPID=(\d+)`)
	pidfdIDRE   = regexp.MustCompile(`MAINPIDFDID=\d+`)
	barrierRE   = regexp.MustCompile(`^from=\S+ (.*"BARRIER=1".*)$`)
	pidfdLineRE = regexp.MustCompile(`\\nMAINPIDFDID=<id>`)
)

// normalize describes a message independently of the PIDs of the run:
// who sent it (its credentials: the parent, the sender itself, or a PID),
// its user and group, its files, and its bytes with MAINPID= made
// relative too and MONOTONIC_USEC= without its value.
func normalize(m *sdnotifytest.Message, parent, self int) string {
	role := func(pid int) string {
		switch pid {
		case parent:
			return "<parent>"
		case self:
			return "<self>"
		}
		return strconv.Itoa(pid)
	}
	data := monoRE.ReplaceAllString(string(m.Data), "MONOTONIC_USEC=<now>")
	data = pidfdIDRE.ReplaceAllString(data, "MAINPIDFDID=<id>") // checked by TestSendMainPIDFDID
	data = mainPIDRE.ReplaceAllStringFunc(data, func(s string) string {
		pid, _ := strconv.Atoi(strings.TrimPrefix(s, "MAINPID="))
		return "MAINPID=" + role(pid)
	})
	return fmt.Sprintf("from=%s uid=%d gid=%d fds=%d %q", role(m.PID), m.UID, m.GID, len(m.Files), data)
}

// The argument lists compared with systemd-notify 252, byte for byte.
var sendCases252 = [][]string{
	{"--ready"},
	{"--ready", "--status=x"},
	{"--status=x", "--ready"},
	{"--status", "two words", "--ready"},
	{"--status="},
	{"--status=é ü ✓"},
	{"--pid"},
	{"--pid="},
	{"--pid=parent"},
	{"--pid=self"},
	{"--pid=auto"},
	{"--pid=1", "--ready"},
	{"--pid=010"},
	{"--pid=+5"},
	{"--ready", "--no-block"},
	{"--no-block", "--status=nb"},
	{"FOO=1"},
	{"X_A=1", "X_B=2"},
	{"--ready", "READY=0"},
	{"FOO=1", "FOO=2", "--ready", "BAR=3"},
	{"A=1", "B=2", "A=3"},
	{"--status=x", "STATUS=y"},
	{"MULTI=1\nLINE=2"},
	{"--ready", "--", "X_AFTER=1"},
	{"--rea"},
	{"--no-bl", "--ready"},
	{"--ready", "EXTEND_TIMEOUT_USEC=5000000", "WATCHDOG=1"},
	{"--help", "--bogus"},
	{"-h"},
	{"--booted"},
	// Usage errors (see usageErrors): ERRNO= from the sender itself.
	{},
	{"--"},
	{"--bogus"},
	{"-x"},
	{"--ready=1"},
	{"--status"},
	{"--pid=abc"},
	{"--pid=0"},
	{"--pid=-5"},
	{"--pid=2147483648"},
	{"--pid=5x"},
	{"--uid=nosuch-user-sdnotify", "--ready"},
	{"--bogus", "--help"},
}

// usageErrors are the argument lists that are usage errors: systemd-notify
// exits 1 for them, sdnotify send 2; what they send is the same.
var usageErrors = map[string]bool{}

func init() {
	for _, args := range [][]string{
		{}, {"--"}, {"--bogus"}, {"-x"}, {"--ready=1"}, {"--status"}, {"--pid=abc"},
		{"--pid=0"}, {"--pid=-5"}, {"--pid=2147483648"}, {"--pid=5x"},
		{"--uid=nosuch-user-sdnotify", "--ready"}, {"--bogus", "--help"},
		{"--st=x"}, {"--re"},
	} {
		usageErrors[fmt.Sprintf("%q", args)] = true
	}
}

// sameExit checks that sdnotify send's exit code for args is
// systemd-notify's, but for usage errors, which exit 2 where
// systemd-notify exits 1.
func sameExit(t *testing.T, args []string, got, want int) {
	t.Helper()
	if usageErrors[fmt.Sprintf("%q", args)] {
		if want != 1 || got != 2 {
			t.Errorf("sdnotify send %q: usage error exits %d (systemd-notify %d); want 2 (and 1)", args, got, want)
		}
		return
	}
	if got != want {
		t.Errorf("sdnotify send %q: exits %d; systemd-notify %d", args, got, want)
	}
}

// The cases that need root: credentials for other users.
var sendCases252Root = [][]string{
	{"--uid=65534", "--ready"},
	{"--uid=12345", "--ready"},
	{"--uid=nobody", "--ready", "--pid=self"},
	{"--uid=0", "--status=root"},
}

// The cases compared with systemd-notify 254: the options 252 lacks.
var sendCases254 = [][]string{
	{"--reloading"},
	{"--stopping"},
	{"--reloading", "--ready", "--stopping", "--status=s", "--pid=self", "X=1"},
	{"--stopping", "--status=bye"},
	{"--ready", "--reloading"},
	{"--reloading", "MONOTONIC_USEC=1"},
	{"--st=x"},
	{"--re"},
}

// Where systemd-notify's versions differ from sdnotify send, which sends
// what 262 sends: normalizations of a capture, for comparing.
var (
	// 252 sends no MAINPIDFDID= (257 added it).
	noPIDFDID = func(m string) string { return pidfdLineRE.ReplaceAllString(m, "") }
	// 254 and later send the barrier with the credentials of the PID they
	// speak for, 252 and sdnotify send with their own: the manager handles
	// a barrier before it looks at credentials (see TestSendBarrierFrom).
	anyBarrierSender = func(m string) string { return barrierRE.ReplaceAllString(m, "from=* $1") }
	// 254 and later send EXIT_STATUS= as they exit (after --help,
	// --booted, an error): the manager only logs it, and it is the
	// service's status, not systemd-notify's, so sdnotify send does not.
	noExitStatus = func(m string) string {
		if strings.Contains(m, `"EXIT_STATUS=`) {
			return ""
		}
		return m
	}
)

// compareSend runs each argument list with real and with sdnotify send,
// and checks that both exit alike and send the same, after norms.
func compareSend(t *testing.T, real sender, cases [][]string, norms ...func(string) string) {
	t.Helper()
	compareSendOpts(t, real, captureOpts{}, cases, norms...)
}

// compareSendOpts is compareSend with o for every run.
func compareSendOpts(t *testing.T, real sender, o captureOpts, cases [][]string, norms ...func(string) string) {
	t.Helper()
	norm := func(c capture) string {
		var out []string
		for _, m := range c.msgs {
			for _, f := range norms {
				m = f(m)
			}
			if m != "" {
				out = append(out, m)
			}
		}
		return strings.Join(out, "\n")
	}
	for _, args := range cases {
		t.Run(fmt.Sprintf("%q", args), func(t *testing.T) {
			t.Parallel()
			want := captureSend(t, real, o, args...)
			got := captureSend(t, ours(), o, args...)
			sameExit(t, args, got.code, want.code)
			if norm(got) != norm(want) {
				t.Errorf("sdnotify send %q:\n got %v\nwant %v (stderr %q)", args, got, want, got.stderr)
			}
			for _, m := range got.raw {
				if v := m.Value("MONOTONIC_USEC"); v != "" && !strings.Contains(strings.Join(args, " "), "MONOTONIC_USEC=") {
					usec, _ := strconv.ParseUint(v, 10, 64)
					if now := monoNow(); usec > now || now-usec > uint64(5*time.Second/time.Microsecond) {
						t.Errorf("MONOTONIC_USEC=%d is not CLOCK_MONOTONIC of a moment ago (now %d)", usec, now)
					}
				}
			}
			t.Logf("%q -> %v", args, got)
		})
	}
}

// rootCases are sendCases252Root when this process may send credentials
// for other users.
func rootCases() [][]string {
	if os.Geteuid() == 0 {
		return sendCases252Root
	}
	return nil
}

func TestSendMatchesSystemdNotify252(t *testing.T) {
	t.Parallel()
	compareSend(t, systemdNotify252(t), append(sendCases252, rootCases()...), noPIDFDID)
}

func TestSendMatchesSystemdNotify254(t *testing.T) {
	t.Parallel()
	compareSend(t, systemdNotify254(t), sendCases254, noPIDFDID, anyBarrierSender, noExitStatus)
}

func monoNow() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}

// TestSendBarrierTimeout checks the barrier's 5-second limit, against
// systemd-notify when it is there: a manager that never processes the
// barrier makes both fail with ETIMEDOUT, sending ERRNO=110.
func TestSendBarrierTimeout(t *testing.T) {
	t.Parallel()
	senders := []sender{ours()}
	if _, err := os.Stat("/usr/bin/systemd-notify"); err == nil {
		senders = append(senders, sender{name: "systemd-notify", argv: []string{"/usr/bin/systemd-notify"}})
	}
	results := make([]capture, len(senders))
	done := make(chan int)
	for i, s := range senders {
		go func() {
			defer func() { done <- i }()
			results[i] = captureSend(t, s, captureOpts{hold: true}, "--ready", "--status=held")
		}()
	}
	for range senders {
		<-done
	}
	got := results[0]
	want := []string{`from=<parent> uid=0 gid=0 fds=0 "READY=1\nSTATUS=held"`, `from=<self> uid=0 gid=0 fds=1 "BARRIER=1"`, `from=<self> uid=0 gid=0 fds=0 "ERRNO=110"`}
	if os.Geteuid() != 0 {
		want = nil
	}
	if got.code != 1 || (want != nil && strings.Join(got.msgs, "\n") != strings.Join(want, "\n")) {
		t.Errorf("got %v, want exit 1 and\n\t%s", got, strings.Join(want, "\n\t"))
	}
	if got.elapsed < 4900*time.Millisecond || got.elapsed > 8*time.Second {
		t.Errorf("gave up after %v, want 5s", got.elapsed)
	}
	if !strings.Contains(got.stderr, "Failed to invoke barrier: Connection timed out") {
		t.Errorf("stderr %q", got.stderr)
	}
	if len(results) > 1 {
		real := results[1]
		if real.code != got.code || strings.Join(real.msgs, "\n") != strings.Join(got.msgs, "\n") {
			t.Errorf("systemd-notify: %v; sdnotify send: %v", real, got)
		}
		t.Logf("systemd-notify gave up after %v, sdnotify send after %v", real.elapsed, got.elapsed)
	}
}

// TestSendNotifySocket checks each kind of NOTIFY_SOCKET, and that the
// exit codes are systemd-notify's.
func TestSendNotifySocket(t *testing.T) {
	t.Parallel()
	regular := filepath.Join(t.TempDir(), "regular-file")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, haveReal := os.Stat("/usr/bin/systemd-notify")
	for _, tc := range []struct {
		name   string
		env    []string
		stderr string
	}{
		{"unset", nil, "No status data could be sent: $NOTIFY_SOCKET was not set"},
		{"empty", []string{"NOTIFY_SOCKET="}, "Failed to notify init system"},
		{"relative", []string{"NOTIFY_SOCKET=run/notify"}, "Failed to notify init system"},
		{"missing", []string{"NOTIFY_SOCKET=/nonexistent/notify"}, "no such file or directory"},
		{"regular-file", []string{"NOTIFY_SOCKET=" + regular}, "connection refused (this is a regular file, not a socket)"},
		{"abstract-nobody", []string{fmt.Sprintf("NOTIFY_SOCKET=@sdnotify-test-nobody-%d", os.Getpid())}, "connection refused"},
		{"too-long", []string{"NOTIFY_SOCKET=/" + strings.Repeat("x", 120)}, "Failed to notify init system"},
	} {
		code, stdout, stderr := runTool(t, toolEnv(tc.env...), "send", "--ready")
		if code != 1 || !strings.Contains(stderr, tc.stderr) || stdout != "" {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.name, code, stderr, tc.stderr)
		}
		// The library's error names the address and where it came from,
		// after the command's prefix only (not "sdnotify send: ...:
		// sdnotify: ...").
		if len(tc.env) > 0 {
			if want := fmt.Sprintf(": NOTIFY_SOCKET=%q", strings.TrimPrefix(tc.env[0], "NOTIFY_SOCKET=")); !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr %q; want it to contain %q", tc.name, stderr, want)
			}
			if strings.Count(stderr, "sdnotify:") != 0 || strings.Count(stderr, "sdnotify send:") != 1 {
				t.Errorf("%s: stderr %q: a prefix said twice", tc.name, stderr)
			}
		}
		if haveReal == nil {
			cmd := exec.Command("/usr/bin/systemd-notify", "--ready")
			cmd.Env = toolEnv(tc.env...)
			err := cmd.Run()
			if realCode := cmd.ProcessState.ExitCode(); realCode != code {
				t.Errorf("%s: systemd-notify exits %d (%v), sdnotify send %d", tc.name, realCode, err, code)
			}
		}
	}
	// A bad argument is a usage error whether or not NOTIFY_SOCKET is set,
	// as a bad option is.
	for _, args := range [][]string{{"send", "NOTAKV"}, {"send", "--bogus"}} {
		if code, _, stderr := runTool(t, toolEnv(), args...); code != 2 || !strings.Contains(stderr, "sdnotify send --help") {
			t.Errorf("%q without NOTIFY_SOCKET: exit %d, stderr %q; want a usage error, exit 2", args, code, stderr)
		}
	}
	// An abstract socket works.
	c := captureSend(t, ours(), captureOpts{abstract: true}, "--ready")
	if c.code != 0 || len(c.msgs) != 2 || !strings.HasSuffix(c.msgs[0], `"READY=1"`) {
		t.Errorf("abstract socket: %v", c)
	}
}

// TestSendDifferences checks where sdnotify send departs from
// systemd-notify on purpose (see its --help).
func TestSendDifferences(t *testing.T) {
	t.Parallel()
	// Not an assignment: refused, with ERRNO=22, where systemd-notify
	// sends it for the manager to ignore.
	for _, arg := range []string{"noequals", "=x", "--status=x", "X-Y=1", "", "BAD KEY=1"} {
		c := captureSend(t, ours(), captureOpts{}, "--ready", "--", arg)
		if c.code != 2 || len(c.msgs) != 1 || !strings.HasSuffix(c.msgs[0], `"ERRNO=22"`) || !strings.Contains(c.stderr, "refusing") && !strings.Contains(c.stderr, "not a KEY=VALUE") {
			t.Errorf("%q: %v, stderr %q", arg, c, c.stderr)
		}
	}
	// --status text is repaired: newlines become spaces, invalid UTF-8
	// becomes U+FFFD, and too long a status is shortened to fit.
	for _, tc := range []struct{ status, want string }{
		{"line one\nline two", "STATUS=line one line two"},
		{"bad \xff byte", "STATUS=bad \uFFFD byte"},
	} {
		c := captureSend(t, ours(), captureOpts{}, "--ready", "--status="+tc.status)
		if c.code != 0 || len(c.raw) == 0 || string(c.raw[0].Data) != "READY=1\n"+tc.want {
			t.Errorf("--status=%q: %v", tc.status, c)
		}
	}
	c := captureSend(t, ours(), captureOpts{}, "--ready", "--status="+strings.Repeat("s", 5000))
	if c.code != 0 || len(c.raw) == 0 || len(c.raw[0].Data) != 4096 || !c.raw[0].Has("READY=1") {
		t.Errorf("long status: exit %d, %d messages", c.code, len(c.raw))
	}
	// A datagram too long even so is refused rather than dropped.
	c = captureSend(t, ours(), captureOpts{}, "--ready", "X_BIG="+strings.Repeat("b", 5000))
	if c.code != 1 || len(c.msgs) != 1 || !strings.HasSuffix(c.msgs[0], `"ERRNO=22"`) {
		t.Errorf("too long: %v", c)
	}
}

// TestSendInRun checks sdnotify send (and systemd-notify) as the service's
// notifier under sdnotify run: from a shell that is the main process it
// speaks for the shell; run as the main process itself, MANAGERPID makes it
// speak for itself.
func TestSendInRun(t *testing.T) {
	t.Parallel()
	notifiers := [][]string{{toolBin, "send"}}
	if _, err := os.Stat("/usr/bin/systemd-notify"); err == nil {
		notifiers = append(notifiers, []string{"/usr/bin/systemd-notify"})
	}
	for _, n := range notifiers {
		name := filepath.Base(n[0])
		cmdline := strings.Join(n, " ")
		t.Run(name+"-from-shell", func(t *testing.T) {
			t.Parallel()
			s := startRun(t, "--timeout-start=5s", "--", "/bin/sh", "-c", cmdline+" --ready --status=from-shell; sleep 0.1")
			s.expectExit(0, "success")
			start := s.waitEvent("start", "", nil)
			ready := s.waitEvent("ready", "", nil)
			if ready.PID != start.PID {
				t.Errorf("READY=1 spoke for %d, not for the shell %d", ready.PID, start.PID)
			}
			s.waitEvent("notify", "STATUS=from-shell", nil)
		})
		t.Run(name+"-as-main", func(t *testing.T) {
			t.Parallel()
			s := startRun(t, append([]string{"--timeout-start=5s", "--"}, append(n, "--ready")...)...)
			s.expectExit(0, "success")
			start := s.waitEvent("start", "", nil)
			if ready := s.waitEvent("ready", "", nil); ready.PID != start.PID {
				t.Errorf("READY=1 from %d, not from the main process %d", ready.PID, start.PID)
			}
		})
		t.Run(name+"-pid-self-ignored", func(t *testing.T) {
			t.Parallel()
			// --pid=self from a child of the main process: not the main
			// process, so notify-access=main ignores it.
			s := startRun(t, "--timeout-start=500ms", "--", "/bin/sh", "-c", cmdline+" --ready --pid=self; sleep 5")
			s.expectExit(exitTimeout, "timeout")
			s.waitEvent("ignored", "only the main process", nil)
		})
	}
}

// TestSendBooted checks --booted: systemd-notify's answer.
func TestSendBooted(t *testing.T) {
	t.Parallel()
	want := 1
	if fi, err := os.Lstat("/run/systemd/system"); err == nil && fi.IsDir() {
		want = 0
	}
	if code, stdout, stderr := runTool(t, toolEnv(), "send", "--booted"); code != want || stdout != "" || stderr != "" {
		t.Errorf("--booted: exit %d (stdout %q, stderr %q), want %d", code, stdout, stderr, want)
	}
}

func TestParseSend(t *testing.T) {
	const ppid, self, mgr = 100, 200, 300
	for _, tc := range []struct {
		args   []string
		ppid   int
		source int
		pid    int
		errno  int
	}{
		{[]string{"--ready"}, ppid, ppid, 0, 0},
		{[]string{"--ready"}, 1, 0, 0, 0},
		{[]string{"--ready"}, mgr, 0, 0, 0},
		{[]string{"--pid"}, ppid, ppid, ppid, 0},
		{[]string{"--pid"}, 1, self, self, 0},
		{[]string{"--pid"}, mgr, self, self, 0},
		{[]string{"--pid=parent"}, mgr, mgr, mgr, 0},
		{[]string{"--pid=self"}, ppid, self, self, 0},
		{[]string{"--pid=0x10"}, ppid, 16, 16, 0},
		{[]string{"--pid=010"}, ppid, 8, 8, 0},
		{[]string{"--pid= 7"}, ppid, 7, 7, 0},
		{[]string{"--pid=2147483647"}, ppid, 2147483647, 2147483647, 0},
		{[]string{"--pid=2147483648"}, ppid, 0, 0, errnoERANGE},
		{[]string{"--pid=0"}, ppid, 0, 0, errnoERANGE},
		{[]string{"--pid=-1"}, ppid, 0, 0, errnoERANGE},
		{[]string{"--pid=0x"}, ppid, 0, 0, errnoEINVAL},
		{[]string{"--pid=1_0"}, ppid, 0, 0, errnoEINVAL},
		{[]string{"--pid=0o7"}, ppid, 7, 7, 0}, // systemd's parse_pid reads 0o (and 0b) too
		{[]string{"--pid=0b101"}, ppid, 5, 5, 0},
		{[]string{"--pid", "5"}, ppid, ppid, ppid, 0},
	} {
		o, err := parseSend(tc.args, sendEnv{ppid: tc.ppid, self: self, managerPID: mgr})
		switch {
		case tc.errno != 0:
			if err == nil || err.errno != tc.errno {
				t.Errorf("%q: %+v, %v; want errno %d", tc.args, o, err, tc.errno)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case o.source != tc.source || o.pid != tc.pid:
			t.Errorf("%q (ppid %d): source %d, pid %d; want %d, %d", tc.args, tc.ppid, o.source, o.pid, tc.source, tc.pid)
		}
	}
}

func TestMergeEntries(t *testing.T) {
	for _, tc := range []struct {
		base []string
		args []string
		want string
	}{
		{[]string{"READY=1"}, []string{"READY=0"}, "READY=0"},
		{nil, []string{"A=1", "B=2", "A=3"}, "A=3|B=2"},
		{nil, []string{"FOO", "FOO=1"}, "FOO|FOO=1"},
		{nil, []string{"FOO=1", "FOO"}, "FOO"},
		{nil, []string{"FOOBAR=1", "FOO"}, "FOO"},
		{[]string{"READY=1", "STATUS=x"}, []string{""}, "|STATUS=x"},
		{[]string{"RELOADING=1", "MONOTONIC_USEC=5"}, []string{"MONOTONIC_USEC=1"}, "RELOADING=1|MONOTONIC_USEC=1"},
	} {
		var list []entry
		for _, b := range tc.base {
			list = append(list, entry{text: b})
		}
		var got []string
		for _, e := range mergeEntries(list, tc.args) {
			got = append(got, e.text)
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("merge %q + %q = %q, want %q", tc.base, tc.args, strings.Join(got, "|"), tc.want)
		}
	}
}
