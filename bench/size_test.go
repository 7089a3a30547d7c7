//go:build linux

package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sizeGuard is the most a minimal daemon sending READY=1 with the library
// may weigh over an empty program, built as run.sh builds them, before
// this test fails. The v1 target is 350 KB, which the v1 core misses
// (about 490 KiB, in the README's Performance section): its sends wait in
// the runtime's poller, with context and os.File deadlines, which bring
// package time's formatting along, where the old core's hand-made poll(2)
// wait kept it out. Binary size is reported, not chased; the guard
// catches what would bring fmt, net or much more of the runtime in.
const sizeGuard = 600 * 1024

// TestBinarySize measures what the library adds to a program, built as
// run.sh builds them: to a minimal daemon (size/sdnotify over size/empty),
// which it holds to sizeGuard, and to a net/http daemon
// (size/httpsdnotify over size/httpempty), which it reports; and what the
// journal handler adds to a slog daemon (size/journal over size/slogtext),
// which it reports. A change that adds more than sizeGuard to a minimal
// daemon fails here rather than going unnoticed until the next benchmark
// run.
func TestBinarySize(t *testing.T) {
	gobin := goCommand(t)
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
	httpEmpty, httpLib := size("httpempty"), size("httpsdnotify")
	slogText, slogJournal := size("slogtext"), size("journal")
	t.Logf("minimal daemon:  %d bytes without the library, %d with: %+d (%+.1f KiB)",
		empty, lib, lib-empty, float64(lib-empty)/1024)
	t.Logf("net/http daemon: %d bytes without the library, %d with: %+d (%+.1f KiB)",
		httpEmpty, httpLib, httpLib-httpEmpty, float64(httpLib-httpEmpty)/1024)
	t.Logf("slog daemon:     %d bytes with slog.NewTextHandler, %d with journal.NewHandler: %+d (%+.1f KiB)",
		slogText, slogJournal, slogJournal-slogText, float64(slogJournal-slogText)/1024)
	if lib-empty > sizeGuard {
		t.Errorf("the library adds %d bytes to a minimal daemon; the guard is %d", lib-empty, sizeGuard)
	}
}

// TestNoNet checks that the library does not link package net, which
// would add its resolver and much of its size to every program that
// notifies or logs: go list -deps of the daemons that use it (sd_notify,
// the journal handler) must not name it.
func TestNoNet(t *testing.T) {
	gobin := goCommand(t)
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", "./size/sdnotify", "./size/journal").Output()
	if err != nil {
		t.Fatalf("go list -deps ./size/sdnotify ./size/journal: %v", err)
	}
	var importers []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		if pkg == "net" {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if imp == "net" {
				importers = append(importers, pkg)
			}
		}
	}
	if len(importers) > 0 {
		t.Errorf("package net is linked into a daemon that uses the library; imported by %s", strings.Join(importers, ", "))
	}
}

// goCommand returns the path of the go command, or skips the test.
func goCommand(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	return gobin
}
