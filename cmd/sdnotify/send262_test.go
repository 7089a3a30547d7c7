//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gosdnotify/sdnotify/internal/pidfd"
	"github.com/gosdnotify/sdnotify/internal/realsystemd"
)

// systemdNotifyFromRoot is the systemd-notify of the Debian root that
// .ci/systemd-roots.sh built for version, run on the host through the
// root's own dynamic loader and libraries, so that it sends to the test's
// listener as any child of the test would.
func systemdNotifyFromRoot(t *testing.T, version string) sender {
	t.Helper()
	s, err := fromRoot(version)
	if err != nil {
		t.Skip(err)
	}
	return s
}

// fromRoot is systemdNotifyFromRoot, with an error saying why it is not
// there.
func fromRoot(version string) (sender, error) {
	root, err := realsystemd.RootDir(version)
	if err != nil {
		return sender{}, fmt.Errorf("no systemd-notify %s: %v", version, err)
	}
	libs := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	argv := []string{filepath.Join(root, "usr/lib64/ld-linux-x86-64.so.2"),
		"--library-path", libs + ":" + filepath.Join(libs, "systemd"),
		"--argv0", "systemd-notify", filepath.Join(root, "usr/bin/systemd-notify")}
	out, err := exec.Command(argv[0], append(argv[1:], "--version")...).Output()
	if err != nil || !strings.HasPrefix(string(out), "systemd "+version) {
		return sender{}, fmt.Errorf("cannot run systemd-notify %s from %s: %v (%q)", version, root, err, out)
	}
	return sender{name: "systemd-notify " + version, argv: argv}, nil
}

// The cases of 262's options, beyond those of 252 and 254.
var (
	// sendCasesExec run a command that tells its PID, arguments and
	// descriptors.
	sendCasesExec = [][]string{
		{"--ready", "--exec", ";", "--", "sh", "-c", execProbe, "sh", "a b"},
		{"--ready", "X_A=1", "--exec", "X_B=2", ";", "--", "sh", "-c", execProbe, "sh"},
		{"--pid=self", "--exec", ";", "--", "sh", "-c", execProbe, "sh"},
		{"--no-block", "--ready", "--exec", ";", "echo", "nb"},
		{"--ready", "--exec", ";", "echo", "a", ";", "b"},
		{"--ready", "--exec", "--", ";", "echo", "a"},
		{"--ready", "--exec", ";", "/nonexistent/command"},
		{"--ready", "--exec", ";", "sh", "-x"}, // -x is an option of send's
		{"--exec", ";", "true"},
		{"--ready", "--exec"},
		{"--ready", "--exec", "X=1", ";"},
	}
	// sendCasesFD run with two files passed, as descriptors 3 and 4.
	sendCasesFD = [][]string{
		{"--fd=3"},
		{"--fd=3", "--fdname=foo", "--ready"},
		{"--fd", "4", "--fd=3", "--fdname=two"},
		{"--fd=0", "--fdname=stdin"},
		{"--fd=3", "FDNAME=x", "X=1"},
		{"--fd=3", "--fdname="},
		{"--fd=4", "--no-block", "--exec", ";", "--", "sh", "-c", execProbe, "sh"},
		{"--fd=3", "--fd=3"},
		{"--fd=5"},
		{"--fd=abc"},
		{"--fd=-1"},
		{"--fdname=foo", "--ready"},
		{"--fd=3", "--fdname=a:b"},
		{"--booted", "X=1"},
		{"--booted", "--ready"},
		{"--fork", "--booted", "--", "true"},
		{"-q", "--ready"},
	}
)

// execProbe is a shell script that prints what --exec's command is: its
// PID, its arguments and the descriptors it has.
const execProbe = `echo "pid=$$ args=$*"; ls /proc/$$/fd`

func init() {
	for _, args := range [][]string{
		{"--exec", ";", "true"}, {"--ready", "--exec"}, {"--ready", "--exec", "X=1", ";"},
		{"--ready", "--exec", ";", "sh", "-x"},
		{"--fd=3", "--fd=3"}, {"--fd=5"}, {"--fd=abc"}, {"--fd=-1"}, {"--fdname=foo", "--ready"},
		{"--fd=3", "--fdname=a:b"}, {"--booted", "X=1"}, {"--booted", "--ready"}, {"--fork", "--booted", "--", "true"},
		{"--fork"}, {"--fork", "--ready", "--", "true"},
	} {
		usageErrors[fmt.Sprintf("%q", args)] = true
	}
}

// TestSendMatchesSystemdNotify262 compares sdnotify send with
// systemd-notify 262 on every case: the datagrams, byte for byte, and who
// they speak for, but for the credentials of the barrier and the
// EXIT_STATUS= 262 sends as it exits (see anyBarrierSender and
// noExitStatus), and what the commands of --exec print.
func TestSendMatchesSystemdNotify262(t *testing.T) {
	t.Parallel()
	real := systemdNotifyFromRoot(t, "262")
	var cases [][]string
	for _, c := range [][][]string{sendCases252, rootCases(), sendCases254, sendCasesExec} {
		cases = append(cases, c...)
	}
	compareSend(t, real, cases, anyBarrierSender, noExitStatus)
	t.Run("fd", func(t *testing.T) {
		files := []*os.File{tempFile(t), tempFile(t)}
		compareSendOpts(t, real, captureOpts{files: files}, sendCasesFD, anyBarrierSender, noExitStatus)
	})
	t.Run("exec-output", func(t *testing.T) {
		t.Parallel()
		files := []*os.File{tempFile(t), tempFile(t)}
		for _, args := range append(sendCasesExec, sendCasesFD[6]) {
			want := captureSend(t, real, captureOpts{files: files}, args...)
			got := captureSend(t, ours(), captureOpts{files: files}, args...)
			if execOutput(t, got) != execOutput(t, want) {
				t.Errorf("sdnotify send %q: the command printed %q; under systemd-notify 262 %q", args, got.stdout, want.stdout)
			}
		}
	})
}

// execOutput is what execProbe printed but its descriptors (systemd-notify
// 262 leaks some of its own into the command, such as the pidfd of
// --pid=self: TestSendExecFDs checks ours), with the PID checked to be the
// sender's own, which exec keeps.
func execOutput(t *testing.T, c capture) string {
	t.Helper()
	line, _, _ := strings.Cut(c.stdout, "\n")
	if !strings.HasPrefix(line, "pid=") {
		return c.stdout // not execProbe
	}
	pid, rest, _ := strings.Cut(strings.TrimPrefix(line, "pid="), " ")
	if pid != strconv.Itoa(c.pid) {
		t.Errorf("the command printed %q; the sender's PID was %d", c.stdout, c.pid)
	}
	return rest
}

// TestSendExecFDs checks what --exec's command inherits: what sdnotify
// send inherited, less the descriptors --fd passed to the manager.
func TestSendExecFDs(t *testing.T) {
	t.Parallel()
	files := []*os.File{tempFile(t), tempFile(t)}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ready"}, "0 1 2 3 4"},
		{[]string{"--fd=4"}, "0 1 2 3"},
		{[]string{"--fd=3", "--fd=0"}, "0 1 2 4"},
	} {
		args := append(tc.args, "--no-block", "--exec", ";", "--", "sh", "-c", execProbe, "sh")
		c := captureSend(t, ours(), captureOpts{files: files}, args...)
		_, fds, _ := strings.Cut(c.stdout, "\n")
		// The shell's own descriptors (dash keeps one at 10 and up) are
		// not ours to check.
		var low []int
		for _, f := range strings.Fields(fds) {
			if n, err := strconv.Atoi(f); err == nil && n < 10 {
				low = append(low, n)
			}
		}
		slices.Sort(low)
		if c.code != 0 || strings.Trim(fmt.Sprint(low), "[]") != tc.want {
			t.Errorf("%q: exit %d, the command has descriptors %q; want %s (stderr %q)", tc.args, c.code, fds, tc.want, c.stderr)
		}
	}
}

// TestSendMainPIDFDID checks the MAINPIDFDID= that --pid adds: the inode
// of a pidfd of the process MAINPID names, where the kernel gives pidfds
// one (6.9+), as systemd-notify 257+ sends it.
func TestSendMainPIDFDID(t *testing.T) {
	t.Parallel()
	want := pidfd.ID(os.Getpid()) // the test is the sender's parent
	c := captureSend(t, ours(), captureOpts{}, "--pid=parent", "--no-block")
	if c.code != 0 || len(c.raw) != 1 {
		t.Fatalf("%v", c)
	}
	got := c.raw[0].Value("MAINPIDFDID")
	switch {
	case want == 0 && got != "":
		t.Errorf("MAINPIDFDID=%s where the kernel gives pidfds no ID", got)
	case want != 0 && got != strconv.FormatUint(want, 10):
		t.Errorf("MAINPIDFDID=%q, want %d (the pidfd ID of MAINPID=%s)", got, want, c.raw[0].Value("MAINPID"))
	}
}

// TestSendFDStoreReplaced checks where --fd departs from systemd-notify: a
// KEY=VALUE argument that would replace --fd's FDSTORE=1 is refused (262
// sends the files with FDSTORE=0, and the manager closes them).
func TestSendFDStoreReplaced(t *testing.T) {
	t.Parallel()
	c := captureSend(t, ours(), captureOpts{files: []*os.File{tempFile(t)}}, "--fd=3", "FDSTORE=0")
	if c.code != 2 || len(c.msgs) != 1 || !strings.Contains(c.msgs[0], `"ERRNO=22"`) || !strings.Contains(c.stderr, "FDSTORE=1") {
		t.Errorf("got %v (stderr %q); want a usage error and ERRNO=22", c, c.stderr)
	}
}

// TestSendFDOrder checks that --fd's files go in the order given.
func TestSendFDOrder(t *testing.T) {
	t.Parallel()
	files := []*os.File{tempFile(t), tempFile(t)}
	c := captureSend(t, ours(), captureOpts{files: files}, "--no-block", "--fd=4", "--fd=3")
	if c.code != 0 || len(c.raw) != 1 || len(c.raw[0].Files) != 2 {
		t.Fatalf("%v", c)
	}
	for i, want := range []*os.File{files[1], files[0]} {
		if got := whichFiles(c.raw[0].Files[i:i+1], files); got != whichFiles([]*os.File{want}, files) {
			t.Errorf("file %d is passed file %s, want %s", i, got, whichFiles([]*os.File{want}, files))
		}
	}
}
