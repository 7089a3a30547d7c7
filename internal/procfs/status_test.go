//go:build linux

package procfs

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseSignals(t *testing.T) {
	status := "Name:\tsleep\nState:\tS (sleeping)\nSigQ:\t0/63432\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n" +
		"SigBlk:\t0000000000010000\nSigIgn:\t0000000000000001\nSigCgt:\t0000000180004002\n"
	s, err := parseSignals([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if s.State != 'S' || !Has(s.Blocked, 17) || !Has(s.Ignored, 1) || Has(s.Caught, 1) || !Has(s.Caught, 2) || !Has(s.Caught, 15) || !Has(s.Caught, 32) || !Has(s.Caught, 33) {
		t.Errorf("parseSignals = %+v", s)
	}
	// MIPS: 128 signals, 32 digits; the low 64 bits are the last 16.
	wide := strings.Replace(status, "SigCgt:\t0000000180004002", "SigCgt:\tffffffffffffffff0000000000000002", 1)
	if s, err := parseSignals([]byte(wide)); err != nil || s.Caught != 2 {
		t.Errorf("a 128-bit mask: %+v, %v", s, err)
	}
	if Has(1<<63, 65) || Has(1, 0) || !Has(1<<63, 64) {
		t.Error("Has: signals out of 1 to 64")
	}
	for _, bad := range []string{
		strings.Replace(status, "SigCgt:\t0000000180004002\n", "", 1),
		strings.Replace(status, "State:\tS (sleeping)\n", "", 1),
		strings.Replace(status, "0000000180004002", "000000018000400g", 1),
		strings.Replace(status, "0000000180004002", "180004002", 1),
		strings.Replace(status, "State:\tS (sleeping)", "State:", 1),
	} {
		if s, err := parseSignals([]byte(bad)); err == nil {
			t.Errorf("parsed %q as %+v", bad, s)
		}
	}
}

// TestReadSignals reads live processes: a shell that ignores SIGHUP and
// catches SIGUSR1, and this Go test, whose runtime catches SIGHUP
// although it never asked for it (the trap systemd 262 cannot see).
func TestReadSignals(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	self, err := ReadSignals(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !Has(self.Ignored, int(syscall.SIGHUP)) && !Has(self.Caught, int(syscall.SIGHUP)) {
		t.Errorf("the Go runtime does not catch SIGHUP: %+v", self)
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", `trap "" HUP; trap "echo usr1" USR1; : > `+dir+`/ready; while :; do sleep 1; done`)
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sh: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(dir + "/ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell did not start within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s, err := ReadSignals(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if s.State == 'Z' || !Has(s.Ignored, int(syscall.SIGHUP)) || Has(s.Caught, int(syscall.SIGHUP)) || !Has(s.Caught, int(syscall.SIGUSR1)) {
		t.Errorf("sh with HUP ignored and USR1 trapped: %+v", s)
	}
	if _, err := ReadSignals(1 << 30); !os.IsNotExist(err) {
		t.Errorf("a pid that does not exist: %v, want ErrNotExist", err)
	}
}
