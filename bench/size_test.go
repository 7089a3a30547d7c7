//go:build linux

package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sizeBudget is the most a minimal daemon sending READY=1 with the library
// may weigh over an empty program, built as run.sh builds them.
const sizeBudget = 300 * 1000

// TestBinarySize holds the library to its size budget, so that a change
// that brings fmt, net, reflection or package os's poller back into every
// program using it fails here rather than going unnoticed until the next
// benchmark run.
func TestBinarySize(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	dir := t.TempDir()
	size := func(pkg string) int64 {
		out := filepath.Join(dir, pkg)
		cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./size/"+pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./size/%s: %v\n%s", pkg, err, b)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	empty, lib := size("empty"), size("sdnotify")
	t.Logf("empty program %d bytes; with sdnotify %d bytes: %+d", empty, lib, lib-empty)
	if lib-empty > sizeBudget {
		t.Errorf("the library adds %d bytes to a minimal daemon; the budget is %d", lib-empty, sizeBudget)
	}
}
