//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEDemo runs the README's demonstration command as given, from
// the repository's root, and checks that it shows the whole protocol and
// ends in success: the command people run first has to work.
func TestREADMEDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demonstration (about 2 s)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^```\n(go build -o /tmp/tour .*)\n```$").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README gives no demonstration command (go build -o /tmp/tour ...)")
	}
	// The same command, with the daemon built into the test's directory.
	command := strings.ReplaceAll(string(m[1]), "/tmp/tour", filepath.Join(t.TempDir(), "tour"))
	cmd := exec.Command("bash", "-c", command)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(goTool)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	for _, event := range []string{
		`notify +pid \d+: STATUS="Loading configuration" EXTEND_TIMEOUT_USEC=5000000`,
		`extend-timeout .*start deadline now 5s from now`,
		`ready +READY=1 `,
		`fdstore +stored 1 fd\(s\) as "state"`,
		`notify +pid \d+: WATCHDOG=1`,
		`reloaded +READY=1: reload done`,
		`stopping +STOPPING=1`,
		`barrier +pid \d+: BARRIER=1 released`,
		`result +success: exit 0`,
	} {
		if !regexp.MustCompile(`(?m)^[0-9:.]+ ` + event).Match(out) {
			t.Errorf("no line matching %q in the demonstration's output:\n%s", event, out)
		}
	}
	if regexp.MustCompile(`(?m)^[0-9:.]+ (warning|ignored|dropped|timeout) `).Match(out) {
		t.Errorf("the demonstration warns or ignores something:\n%s", out)
	}
}
