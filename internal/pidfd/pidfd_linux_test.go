package pidfd_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/gosdnotify/sdnotify/internal/pidfd"
)

func TestID(t *testing.T) {
	self := pidfd.ID(os.Getpid())
	if self == 0 {
		t.Skip("this kernel gives pidfds no inode ID (before Linux 6.9)")
	}
	if again := pidfd.ID(os.Getpid()); again != self {
		t.Errorf("two pidfds of this process: IDs %d and %d; want one ID", self, again)
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := pidfd.ID(cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()
	if child == 0 || child == self {
		t.Errorf("child's ID %d, ours %d; want another non-zero ID", child, self)
	}
	if gone := pidfd.ID(cmd.Process.Pid); gone != 0 && gone == child {
		t.Errorf("ID %d for a reaped process", gone)
	}
}
