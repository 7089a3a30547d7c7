//go:build linux

package procfs

import (
	"os"
	"os/exec"
	"testing"
)

func TestParseStat(t *testing.T) {
	line := "42 (a (weird) name) Z 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 15\n"
	s, err := parseStat(42, []byte(line))
	if err != nil || s.PPID != 7 || s.State != 'Z' || !s.Zombie() || !s.HasExitCode || s.ExitCode != 15 {
		t.Errorf("parseStat = %+v, %v", s, err)
	}
	if _, err := parseStat(1, []byte("1 no parenthesis")); err == nil {
		t.Error("a line without ')' parsed")
	}
	if s, err := parseStat(1, []byte("1 (x) S 0")); err != nil || s.HasExitCode {
		t.Errorf("a short line: %+v, %v", s, err)
	}
}

func TestTree(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sh: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	self := os.Getpid()
	if Parent(cmd.Process.Pid) != self {
		t.Errorf("Parent(%d) = %d; want %d", cmd.Process.Pid, Parent(cmd.Process.Pid), self)
	}
	var kids []int
	for i := 0; i < 500 && len(kids) < 2; i++ {
		kids = Descendants(self)
	}
	if len(kids) < 2 {
		t.Fatalf("Descendants(%d) = %v; want sh and sleep", self, kids)
	}
	for _, k := range kids {
		if desc, gone := IsDescendant(k, self); !desc || gone {
			t.Errorf("IsDescendant(%d, %d) = %v, %v", k, self, desc, gone)
		}
	}
	if desc, gone := IsDescendant(self, cmd.Process.Pid); desc || gone {
		t.Errorf("the test descends from its child")
	}
	if _, gone := IsDescendant(1<<30, self); !gone {
		t.Error("a pid that does not exist is not gone")
	}
}
