//go:build linux

package conformance

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// euidProbe, as the only argument of the Go peer, makes it print its
// effective user and group IDs and exit, before TestMain: the check that
// a set-user-ID copy of the test binary really runs with its owner's
// IDs. It does not where the kernel hands the binary to an interpreter
// through binfmt_misc without the C ("credentials") flag, as it does to
// qemu-user for a foreign architecture (the arm64 run of .ci/arches.sh):
// the set-user-ID bit of the binary is then ignored.
const euidProbe = "euid-probe"

func init() {
	if os.Getenv(goPeerEnv) == "1" && len(os.Args) == 2 && os.Args[1] == euidProbe {
		fmt.Printf("euid=%d egid=%d\n", os.Geteuid(), os.Getegid())
		os.Exit(0)
	}
}

// requireSetuid skips a case for the Go peer when its set-user-ID root
// copy (argv[0], from setuidCopy, started with cred in dir) does not run
// with effective IDs root: the copy is run once as the probe and says
// what IDs it got. Other peers are not probed: the C peer is built for
// this machine, and a script cannot run set-user-ID anyway.
func requireSetuid(t *testing.T, peer string, argv []string, dir string, cred *syscall.Credential) {
	t.Helper()
	if peer != goPeerName {
		return
	}
	cmd, stdout, stderr, cancel := start(t, []string{argv[0], euidProbe}, dir, "", false, nil, cred)
	defer cancel()
	if code := wait(t, cmd); code != 0 {
		t.Fatalf("%s %s: exit %d, stderr %q", argv[0], euidProbe, code, stderr)
	}
	got := strings.TrimSpace(stdout.String())
	if got == "euid=0 egid=0" {
		return
	}
	if !strings.HasPrefix(got, "euid=") {
		t.Fatalf("%s %s: stdout %q, stderr %q", argv[0], euidProbe, got, stderr)
	}
	t.Skipf("the set-user-ID root copy of the test binary, started with real IDs %d/%d, ran with %s: its set-user-ID bit was ignored, as for a program run through binfmt_misc without the C flag (qemu-user here)", cred.Uid, cred.Gid, got)
}

// closeListener closes l and returns once its socket is gone from the
// kernel, not only from this process. A child that a parallel test has
// forked holds a copy of every descriptor until it execs (they are
// close-on-exec), and while it does, the closed listener's socket lives
// on and takes what a peer connected to it sends: the Go peer, which
// keeps its socket connected, would then lose its second message in the
// rebind case, with nothing wrong in this module. Under qemu-user, whose
// children run translated code between fork and exec, that window is
// long enough to hit. A socket connected to l before the close tells
// when it is gone: sending to it fails with ECONNREFUSED.
func closeListener(t *testing.T, l *sdnotifytest.Listener) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: l.Addr}); err != nil {
		t.Fatalf("connect to %s: %v", l.Addr, err)
	}
	l.Close()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		err := unix.Send(fd, []byte("X_CONFORMANCE_PROBE=1"), unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.ECONNREFUSED):
			return
		case err != nil && !errors.Is(err, unix.EAGAIN):
			t.Fatalf("probe of the closed listener %s: %v", l.Addr, err)
		case time.Now().After(end):
			t.Fatalf("the listener closed at %s still takes datagrams 10s later", l.Addr)
		}
	}
}
