package sdnotifytest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/listen"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// childVar makes this test binary one of the daemons below.
const childVar = "SDNOTIFYTEST_TEST_DAEMON"

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(childVar); ok {
		os.Exit(daemon(mode))
	}
	os.Exit(m.Run())
}

// daemonCommand returns a command that runs this test binary as the
// daemon mode, to be started by a Listener: it stands for
// exec.Command("./mydaemon"). It is killed if the test binary dies.
func daemonCommand(mode string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	cmd := exec.Command(self)
	// Under the race detector, a process sleeps a second as it exits
	// unless told not to.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), childVar+"="+mode, "GORACE="+gorace)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// daemon runs a daemon, and returns its exit status. Each reports what it
// received in the STATUS= of its READY=1, then waits for SIGTERM.
func daemon(mode string) int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	n := sdnotify.New()
	defer n.Close()
	fail := func(err error) int {
		n.Send(sdnotify.Status("error: " + err.Error()))
		return 1
	}
	var status string
	switch mode {
	case "http":
		status = httpDaemon(n)
	case "report":
		files, err := sdnotify.Files()
		if err != nil {
			return fail(err)
		}
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		status = fmt.Sprintf("files=%s FDSTORE=%s", strings.Join(names, ":"), os.Getenv("FDSTORE"))
	case "store":
		s, err := storeDaemon(n)
		if err != nil {
			return fail(err)
		}
		status = s
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		status = "ignoring SIGTERM"
	case "last-words":
		n.Send(sdnotify.Ready())
		<-term
		for i := range 50 {
			n.Send(sdnotify.Status("word " + strconv.Itoa(i)))
		}
		return 3
	default:
		return fail(fmt.Errorf("unknown mode %q", mode))
	}
	if err := n.Send(sdnotify.Ready(), sdnotify.Status(status)); err != nil {
		return 1
	}
	<-term
	return 0
}

// httpDaemon takes its socket from the manager or binds one, and stores it.
func httpDaemon(n *sdnotify.Notifier) string {
	ln, passed, err := listen.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		return "error: " + err.Error()
	}
	f, err := listen.File(ln)
	if err != nil {
		return "error: " + err.Error()
	}
	defer f.Close()
	if err := n.Send(sdnotify.FDStore("http", f)); err != nil {
		return "error: " + err.Error()
	}
	if passed {
		return "took the socket stored as \"http\""
	}
	return "bound a new socket, stored as \"http\""
}

// keepOpen keeps files open (from the collector) until the daemon exits.
var keepOpen []*os.File

// storeDaemon stores files the first time, and reports what it got back
// later, storing its socket again (a duplicate the manager keeps once).
func storeDaemon(n *sdnotify.Notifier) (string, error) {
	files, err := sdnotify.Files()
	if err != nil {
		return "", err
	}
	if len(files) > 0 {
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		keep, err := sdnotify.FilesNamed("keep")
		if err != nil || len(keep) != 1 {
			return "", fmt.Errorf("no file named keep: %v", err)
		}
		return "got " + strings.Join(names, ":"), n.Send(sdnotify.FDStore("keep", keep[0]))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	lf, err := listen.File(ln)
	if err != nil {
		return "", err
	}
	// The read ends of pipes whose write ends this process keeps: they
	// hang up when it exits.
	gone, goneW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	nopoll, nopollW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	removed, _, err := os.Pipe()
	if err != nil {
		return "", err
	}
	keepOpen = append(keepOpen, goneW, nopollW)
	for _, a := range [][]sdnotify.Assignment{
		{sdnotify.FDStore("keep", lf)},
		{sdnotify.FDStore("gone", gone)},
		{sdnotify.FDStore("nopoll", nopoll), sdnotify.FDPollDisable()},
		{sdnotify.FDStore("removed", removed)},
		{sdnotify.FDStoreRemove("removed")},
	} {
		if err := n.Send(a...); err != nil {
			return "", err
		}
	}
	return "stored", nil
}

// ready waits for the next READY=1 and returns its STATUS=.
func ready(t *testing.T, ctx context.Context, l *sdnotifytest.Listener) string {
	t.Helper()
	m, err := l.WaitFor(ctx, "READY=1")
	if err != nil {
		t.Fatal(err)
	}
	return m.Value("STATUS")
}

func TestStartPassesFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := sdnotifytest.New(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := listen.File(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()

	t.Setenv("LISTEN_PID", "1") // an outer manager's: not inherited
	cmd := daemonCommand("report")
	if err := l.Start(cmd, sdnotifytest.File{Name: "pipe", File: r}, sdnotifytest.File{Name: "web", File: lf}); err != nil {
		t.Fatal(err)
	}
	if got, want := ready(t, ctx, l), "files=pipe:web FDSTORE="; got != want {
		t.Errorf("the daemon said %q, want %q", got, want)
	}
	if err := l.Stop(ctx, cmd); err != nil {
		t.Error(err)
	}
	if err := l.Start(cmd); err == nil {
		t.Error("Start of a started command: no error")
	}

	// No files: no LISTEN_ variables, and FDSTORE= with a store.
	l.EnableFDStore(3)
	cmd = daemonCommand("report")
	if err := l.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if got, want := ready(t, ctx, l), "files= FDSTORE=3"; got != want {
		t.Errorf("the daemon said %q, want %q", got, want)
	}
	if err := l.Stop(ctx, cmd); err != nil {
		t.Error(err)
	}
}

func TestRestartHandsBackTheStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := sdnotifytest.New(t)
	l.EnableFDStore(8)
	cmd := daemonCommand("store")
	if err := l.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if got := ready(t, ctx, l); got != "stored" {
		t.Fatalf("first daemon: %q", got)
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := names(l.Stored()), "nopoll:gone:keep"; got != want {
		t.Errorf("stored %q while it runs, want %q", got, want)
	}
	// "gone" hangs up when the first daemon exits; "nopoll" too, but it
	// was stored with FDPOLL=0; "removed" was removed.
	for i := range 3 {
		next := daemonCommand("store")
		if err := l.Restart(ctx, cmd, next); err != nil {
			t.Fatal(err)
		}
		cmd = next
		if got, want := ready(t, ctx, l), "got nopoll:keep"; got != want {
			t.Errorf("restart %d: the daemon says %q, want %q", i, got, want)
		}
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := names(l.Stored()), "nopoll:keep"; got != want {
		t.Errorf("stored %q after the restarts, want %q", got, want)
	}
	if err := l.Stop(ctx, cmd); err != nil {
		t.Error(err)
	}
}

func names(files []sdnotifytest.File) string {
	var s []string
	for _, f := range files {
		s = append(s, f.Name)
	}
	return strings.Join(s, ":")
}

func TestStopKillsAfterTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := sdnotifytest.New(t)
	cmd := daemonCommand("stubborn")
	if err := l.Start(cmd); err != nil {
		t.Fatal(err)
	}
	ready(t, ctx, l)
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	err := l.Stop(short, cmd)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop of a daemon that ignores SIGTERM: %v", err)
	}
	t.Log(err)
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGKILL {
		t.Errorf("it ended %v, not by SIGKILL", cmd.ProcessState)
	}
}

func TestStopHandlesTheLastNotifications(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := sdnotifytest.New(t)
	cmd := daemonCommand("last-words")
	if err := l.Start(cmd); err != nil {
		t.Fatal(err)
	}
	ready(t, ctx, l)
	err := l.Stop(ctx, cmd)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("Stop: %v; want exit status 3", err)
	}
	msgs := l.Messages()
	if last := msgs[len(msgs)-1].Value("STATUS"); last != "word 49" {
		t.Errorf("the last message when Stop returned: %q", last)
	}
}

func TestStartErrors(t *testing.T) {
	l := sdnotifytest.New(t)
	if got := l.Stored(); got != nil {
		t.Errorf("Stored without a store: %v", got)
	}
	cmd := daemonCommand("report")
	cmd.ExtraFiles = []*os.File{os.Stdin}
	if err := l.Start(cmd); err == nil || cmd.Process != nil {
		t.Errorf("Start with ExtraFiles: %v", err)
	}
	cmd = exec.Command("sdnotifytest-no-such-command")
	if err := l.Start(cmd); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Start of a missing command: %v", err)
	}
	if err := l.Stop(context.Background(), cmd); err == nil {
		t.Error("Stop of a command not started: no error")
	}
}
