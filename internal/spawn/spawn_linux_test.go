package spawn_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gosdnotify/sdnotify/internal/pidfd"
	"github.com/gosdnotify/sdnotify/internal/spawn"
)

func TestMain(m *testing.M) {
	spawn.Init() // the test binary is the trampoline of Command
	os.Exit(m.Run())
}

// TestCommand starts a shell with two files and checks that it sees them
// as a service sees the manager's: from descriptor 3, with LISTEN_PID its
// own pid.
func TestCommand(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString("from fd 3")
	w.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	cmd, err := spawn.Command("sh", []string{"-c", `echo "$LISTEN_PID $$ $LISTEN_FDS $LISTEN_FDNAMES ${LISTEN_PIDFDID:-none} $SDNOTIFY_SPAWN_EXEC"; cat <&3`},
		[]spawn.File{{Name: "state", File: r}, {Name: "null", File: devnull}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	line, rest, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != f[1] || f[2] != "2" || f[3] != "state:null" {
		t.Fatalf("the command saw %q; want LISTEN_PID its own pid, 2 files named state:null, no marker left", line)
	}
	if pidfd.ID(os.Getpid()) != 0 && f[4] == "none" {
		t.Errorf("no LISTEN_PIDFDID though this kernel has pidfd inode IDs")
	}
	if rest != "from fd 3" {
		t.Errorf("descriptor 3 read %q", rest)
	}
}

// TestCommandNotFound: a command that cannot run is an error from
// Command, not a child that fails.
func TestCommandNotFound(t *testing.T) {
	if _, err := spawn.Command("no-such-command-sdnotify", nil, []spawn.File{{Name: "x", File: os.Stdin}}); err == nil {
		t.Fatal("Command of a missing program: no error")
	}
}
