//go:build linux

package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
	"golang.org/x/sys/unix"
)

// systemPython is the Debian python with the Debian packages
// python3-sdnotify and python3-systemd: not whatever python3 is first on
// PATH (pyenv, a virtualenv).
const systemPython = "/usr/bin/python3"

const installHint = "run .ci/install-peers.sh (as root)"

// The peers, by name.
const (
	goPeerName     = "go"                      // this module
	libsystemd     = "libsystemd"              // testdata/peer.c
	sdNotify       = "systemd-notify"          // default: waits on a barrier
	sdNotifyNB     = "systemd-notify-no-block" // --no-block
	pySdnotify     = "python-sdnotify"         // python3-sdnotify
	pySystemd      = "python-systemd"          // python3-systemd
	sentinelAssign = "X_CONFORMANCE_SENTINEL=1"
)

var peerNames = []string{goPeerName, libsystemd, sdNotify, sdNotifyNB, pySdnotify, pySystemd}

// A peer is a real sd_notify sender, or this module, run as a child
// process.
type peer struct {
	name string
	// missing says why the peer cannot run here ("" if it can).
	missing string
	// ops are the actions (testdata/peer.c's syntax) the peer can perform;
	// nil for systemd-notify, whose command lines the cases give.
	ops map[string]bool
	// cmd returns the command line for c, or nil if the peer cannot
	// perform it.
	cmd func(c *pcase) []string
	// norm reduces what the peer printed and how it exited to a result
	// comparable across peers (see the results in conformance_test.go).
	norm func(stdout, stderr string, exit int) string
}

// env holds what the tests learn about the machine once.
type env struct {
	peers map[string]*peer
	// privileged: this process may attach credentials naming another
	// process (CAP_SYS_ADMIN), so senders that speak for their parent do.
	privileged bool
	// libsystemdVersion is the major version of the libsystemd0 that
	// the peers use, 0 if unknown.
	libsystemdVersion int
	// versions describes the peers' versions, for the log.
	versions []string
}

// setup finds and prepares the peers, compiling the C peer into
// t.TempDir(). Call it from a top-level test; its subtests share it.
func setup(t *testing.T) *env {
	t.Helper()
	e := &env{peers: map[string]*peer{}, privileged: canSpeakForOthers()}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "libsystemd0").Output(); err == nil {
		// "252.38-1~deb12u1": 252
		major, _, _ := strings.Cut(string(v), ".")
		e.libsystemdVersion, _ = strconv.Atoi(major)
		e.versions = append(e.versions, "libsystemd0 "+string(v))
	}
	e.addGo(self)
	e.addLibsystemd(filepath.Join(testdata, "peer.c"), t.TempDir())
	e.addSystemdNotify()
	e.addPython(testdata)
	return e
}

// argsFor returns the peer's command line for ops it supports, with the
// action's arguments as testdata/peer.c takes them.
func argsFor(prefix []string, ops map[string]bool) func(c *pcase) []string {
	return func(c *pcase) []string {
		if len(c.args) == 0 || !ops[c.args[0]] {
			return nil
		}
		return append(append([]string(nil), prefix...), c.args...)
	}
}

func opSet(ops ...string) map[string]bool {
	m := map[string]bool{}
	for _, op := range ops {
		m[op] = true
	}
	return m
}

func (e *env) addGo(self string) {
	ops := opSet("notify", "notify-unset", "notifyf", "pid-notify", "fds", "barrier", "notify-barrier", "notify2")
	e.peers[goPeerName] = &peer{name: goPeerName, ops: ops, cmd: argsFor([]string{self}, ops), norm: normReturns}
}

func (e *env) addLibsystemd(src, dir string) {
	p := &peer{name: libsystemd, norm: normReturns}
	e.peers[libsystemd] = p
	cc, err := exec.LookPath("cc")
	if err != nil {
		p.missing = "no C compiler (cc): apt-get install gcc"
		return
	}
	flags := []string{"-lsystemd"}
	if out, err := exec.Command("pkg-config", "--cflags", "--libs", "libsystemd").Output(); err == nil {
		flags = strings.Fields(string(out))
	}
	bin := filepath.Join(dir, "peer")
	args := append([]string{"-Wall", "-Werror", "-o", bin, src}, flags...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		if _, serr := os.Stat("/usr/include/systemd/sd-daemon.h"); serr != nil {
			p.missing = "libsystemd-dev not installed (no systemd/sd-daemon.h): apt-get install libsystemd-dev=$(dpkg-query -W -f='${Version}' libsystemd0) pkg-config, or " + installHint
			return
		}
		p.missing = fmt.Sprintf("cannot build testdata/peer.c: %v\n%s", err, out)
		return
	}
	p.ops = opSet("notify", "notify-unset", "notifyf", "pid-notify", "fds", "barrier", "notify-barrier", "notify2")
	p.cmd = argsFor([]string{bin}, p.ops)
}

func (e *env) addSystemdNotify() {
	path, err := exec.LookPath("systemd-notify")
	missing := ""
	if err != nil {
		missing = "systemd-notify not installed: apt-get install systemd"
	} else if out, err := exec.Command(path, "--version").Output(); err == nil {
		e.versions = append(e.versions, strings.SplitN(string(out), "\n", 2)[0])
	}
	for _, name := range []string{sdNotify, sdNotifyNB} {
		var prefix []string
		if name == sdNotifyNB {
			prefix = []string{"--no-block"}
		}
		e.peers[name] = &peer{
			name:    name,
			missing: missing,
			cmd: func(c *pcase) []string {
				if c.sd == nil {
					return nil
				}
				return append(append([]string{path}, prefix...), c.sd...)
			},
			norm: normSystemdNotify,
		}
	}
}

func (e *env) addPython(testdata string) {
	pyOK := ""
	if _, err := os.Stat(systemPython); err != nil {
		pyOK = "no system python at " + systemPython + ": apt-get install python3"
	}
	for _, py := range []struct {
		name, module, pkg, script string
		ops                       map[string]bool
		norm                      func(stdout, stderr string, exit int) string
	}{
		{pySdnotify, "sdnotify", "python3-sdnotify", "python_sdnotify.py", opSet("notify", "notify2"), normPySdnotify},
		{pySystemd, "systemd.daemon", "python3-systemd", "python_systemd.py", opSet("notify", "notify-unset", "pid-notify", "fds", "notify2"), normReturns},
	} {
		p := &peer{name: py.name, missing: pyOK, norm: py.norm}
		e.peers[py.name] = p
		if p.missing != "" {
			continue
		}
		if out, err := exec.Command(systemPython, "-I", "-c", "import "+py.module).CombinedOutput(); err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			p.missing = fmt.Sprintf("%s not installed (import %s: %v: %s): apt-get install %s, or %s",
				py.pkg, py.module, err, lines[len(lines)-1], py.pkg, installHint)
			continue
		}
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", py.pkg).Output(); err == nil {
			e.versions = append(e.versions, py.pkg+" "+string(out))
		}
		p.ops = py.ops
		p.cmd = argsFor([]string{systemPython, "-I", filepath.Join(testdata, py.script)}, py.ops)
	}
}

// canSpeakForOthers reports whether this process may send credentials
// naming its parent, as systemd-notify and sd_pid_notify do.
func canSpeakForOthers() bool {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getppid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})
	return unix.Sendmsg(fds[0], []byte("x"), cred, nil, unix.MSG_DONTWAIT) == nil
}

// A run is one execution of a peer for a case.
type run struct {
	stdout, stderr string
	exit           int
	pid            int // the child's
	msgs           []*sdnotifytest.Message
	result         string   // normalized
	wire           []string // normalized messages
}

// childEnv is this process's environment without anything that steers
// notifications.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "NOTIFY_SOCKET", k == goPeerEnv, k == "GORACE", strings.HasPrefix(k, "WATCHDOG_"), strings.HasPrefix(k, "LISTEN_"):
			continue
		}
		env = append(env, kv)
	}
	// A binary built with -race sleeps a second at exit unless told not to.
	gorace := "atexit_sleep_ms=0"
	if v, ok := os.LookupEnv("GORACE"); ok {
		gorace = v + " " + gorace
	}
	return append(env, goPeerEnv+"=1", "GORACE="+gorace)
}

// exitTimeout bounds every child: the slowest, systemd-notify waiting on a
// held barrier, takes 5 s.
const exitTimeout = 60 * time.Second

// start starts argv in dir with NOTIFY_SOCKET set to addr (unset if !set).
// If cred is not nil, the child runs with those (real and effective) IDs.
func start(t *testing.T, argv []string, dir, addr string, set bool, stdin io.Reader, cred *syscall.Credential) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	var stdout, stderr bytes.Buffer
	// A program just written (the set-user-ID copy) can fail to start
	// with ETXTBSY while a child forked by a parallel test still holds
	// the writable descriptor, until that child execs: try again.
	for attempt := 1; ; attempt++ {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		cmd.Dir = dir
		cmd.Env = childEnv()
		if set {
			cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+addr)
		}
		cmd.Stdin = stdin
		cmd.WaitDelay = 5 * time.Second
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Start()
		if err == nil {
			return cmd, &stdout, &stderr, cancel
		}
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 100 {
			cancel()
			t.Fatalf("start %q: %v", argv, err)
		}
		time.Sleep(time.Duration(attempt) * time.Millisecond)
	}
}

// wait waits for cmd and returns its exit code.
func wait(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	}
	t.Fatalf("%q: %v", cmd.Args, err)
	return -1
}

// drain returns every message l received before a sentinel datagram sent
// now: the kernel queues datagrams in order, so everything a peer that
// has exited sent is among them. No sleeping, no guessing.
func drain(t *testing.T, l *sdnotifytest.Listener) []*sdnotifytest.Message {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, []byte(sentinelAssign), 0, &unix.SockaddrUnix{Name: l.Addr}); err != nil {
		t.Fatalf("sentinel to %s: %v", l.Addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.WaitFor(ctx, sentinelAssign); err != nil {
		t.Fatal(err)
	}
	var msgs []*sdnotifytest.Message
	for _, m := range l.Messages() {
		if string(m.Data) != sentinelAssign {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

// describe reduces a message to what the peers are compared on: the
// bytes, the number of files passed, and whose credentials arrived: "self"
// (the peer's own process), "parent" (the test, which the peer may speak
// for), or a PID; uid and gid only if they are not ours. What a manager
// would drop or ignore is noted; a regular file passed is described by
// its content.
func describe(m *sdnotifytest.Message, self int) string {
	from := "pid=" + strconv.Itoa(m.PID)
	switch m.PID {
	case self:
		from = "self"
	case os.Getpid():
		from = "parent"
	}
	s := fmt.Sprintf("%s fds=%d from=%s", quoteData(m.Data), len(m.Files), from)
	if m.UID != os.Getuid() || m.GID != os.Getgid() {
		s += fmt.Sprintf(" uid=%d gid=%d", m.UID, m.GID)
	}
	if m.Err != nil {
		s += " dropped"
	}
	for _, ig := range m.Ignored {
		s += " ignored=" + ig.Key
	}
	if !m.Has("BARRIER=1") { // the listener has closed a barrier's pipe already
		for _, f := range m.Files {
			s += " " + describeFile(f)
		}
	}
	return s
}

// quoteData quotes a datagram; a long one is shortened, and identified by
// its length and a hash.
func quoteData(b []byte) string {
	if len(b) <= 80 {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%q…[%d bytes, sha256 %x]", b[:24], len(b), sha256.Sum256(b))
}

func describeFile(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return "file(" + err.Error() + ")"
	}
	if !fi.Mode().IsRegular() {
		return "file(" + fi.Mode().Type().String() + ")"
	}
	buf := make([]byte, 64)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return "file(" + err.Error() + ")"
	}
	return fmt.Sprintf("file(%q)", buf[:n])
}

// The results, as norm functions reduce them:
//
//	ok             sent (returned > 0 or True; exit status 0)
//	noop           did nothing and said so without an error (returned 0 or False)
//	error:ENAME    failed with that errno (returned -errno, raised OSError, exit status 1)
//	error:unset    systemd-notify's failure when NOTIFY_SOCKET is unset
//	refused:ErrInvalid  this module refused to send it (sdnotify.ErrInvalid)
//	swallowed:X    python-sdnotify: reported nothing, sent nothing; its
//	               constructor, with debug=True, raises X (ENAME or a type)
//
// Extra fields (barrier=, env=) are kept, normalized the same way.
// Anything unexpected is kept verbatim, so that it shows in a failure.

var errnoNames = func() map[string]string {
	m := map[string]string{}
	for i := 1; i < 4096; i++ {
		if name := unix.ErrnoName(unix.Errno(i)); name != "" {
			m[strings.ToLower(unix.Errno(i).Error())] = name
		}
	}
	return m
}()

func errnoClass(n int) string {
	if name := unix.ErrnoName(unix.Errno(n)); name != "" {
		return "error:" + name
	}
	return "error:errno" + strconv.Itoa(n)
}

// returnClass normalizes a value libsystemd, the Go peer or python-systemd
// returned.
func returnClass(v string) string {
	switch v {
	case "1", "True":
		return "ok"
	case "0", "False":
		return "noop"
	case "invalid":
		return "refused:ErrInvalid"
	}
	if n, err := strconv.Atoi(v); err == nil && n < 0 {
		return errnoClass(-n)
	}
	if rest, ok := strings.CutPrefix(v, "errno:"); ok {
		if n, err := strconv.Atoi(rest); err == nil {
			return errnoClass(n)
		}
	}
	return "r=" + v
}

// normReturns normalizes the "r=N [key=value...]" lines of the Go peer,
// the C peer and python-systemd.
func normReturns(stdout, stderr string, exit int) string {
	var out []string
	for _, f := range strings.Fields(stdout) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "r":
			out = append(out, returnClass(v))
		case "barrier":
			out = append(out, "barrier="+returnClass(v))
		default:
			out = append(out, f)
		}
	}
	if exit != 0 {
		out = append(out, fmt.Sprintf("exit=%d stderr=%q", exit, strings.TrimSpace(stderr)))
	}
	return strings.Join(out, " ")
}

var pyLine = regexp.MustCompile(`^r=None connected=(True|False)(?: exc=(\S+))?$`)

// normPySdnotify normalizes python_sdnotify.py's lines.
func normPySdnotify(stdout, stderr string, exit int) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		m := pyLine.FindStringSubmatch(line)
		switch {
		case m == nil:
			out = append(out, fmt.Sprintf("%q", line))
		case m[1] == "True" && m[2] == "":
			out = append(out, "ok")
		case m[1] == "False":
			x := m[2]
			if strings.HasPrefix(x, "errno:") {
				x = strings.TrimPrefix(returnClass(x), "error:")
			}
			out = append(out, "swallowed:"+x)
		default:
			out = append(out, fmt.Sprintf("%q", line))
		}
	}
	if exit != 0 {
		out = append(out, fmt.Sprintf("exit=%d stderr=%q", exit, strings.TrimSpace(stderr)))
	}
	return strings.Join(out, " ")
}

var sdNotifyFailure = regexp.MustCompile(`(?m)^Failed to (?:notify init system|invoke barrier): (.+)$`)

// normSystemdNotify normalizes systemd-notify's exit status and stderr.
// It exits 1 on every failure, after printing why.
func normSystemdNotify(stdout, stderr string, exit int) string {
	if exit == 0 && stdout == "" && stderr == "" {
		return "ok"
	}
	if exit == 1 {
		if strings.Contains(stderr, "No status data could be sent: $NOTIFY_SOCKET was not set") {
			return "error:unset"
		}
		if m := sdNotifyFailure.FindStringSubmatch(stderr); m != nil {
			if name, ok := errnoNames[strings.ToLower(strings.TrimSpace(m[1]))]; ok {
				return "error:" + name
			}
		}
	}
	return fmt.Sprintf("exit=%d stdout=%q stderr=%q", exit, stdout, stderr)
}

// setuidCopy copies the program argv[0] into a new directory as a
// set-user-ID and set-group-ID root program, and returns the new command
// line, the directory (for the child's working directory: it starts as
// nobody) and the credentials to start it with. The child then has real
// IDs nobody and effective IDs root: the case where libsystemd attaches
// explicit credentials with the real IDs. It skips the test where that
// cannot be done.
func setuidCopy(t *testing.T, argv []string) ([]string, string, *syscall.Credential) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to make a set-user-ID root copy of the peer")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir, err := os.MkdirTemp("", "sdnotify-setuid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Flags&unix.ST_NOSUID != 0 {
		t.Skipf("%s is on a nosuid file system", dir)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(argv[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, filepath.Base(argv[0]))
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chown(bin, 0, 0)
	}
	if err == nil {
		err = os.Chmod(bin, 0o755|os.ModeSetuid|os.ModeSetgid)
	}
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{bin}, argv[1:]...), dir, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: false}
}
