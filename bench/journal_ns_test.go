//go:build linux

package bench

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/journal"
)

// The peers' journal clients send to /run/systemd/journal/socket and
// nowhere else: github.com/systemd/slog-journal has the path as a
// constant, coreos/go-systemd's journal in a variable that only the
// linker's -X can set. So the journal benchmarks put the goroutine that
// sends on an OS thread of its own, in a private mount namespace where a
// tmpfs covers /run and the receiver's socket is bind-mounted at
// /run/systemd/journal/socket. Every journal benchmark, the library's and
// the raw ones included, sends there, so that an unconnected send resolves
// the same path whoever makes it.
//
// A mount namespace belongs to a thread (unshare(2) with CLONE_NEWNS
// unshares the thread's filesystem context, CLONE_FS), so nothing else in
// the process, nor the machine, sees it: the goroutine stays locked to the
// thread, which ends with it, and the Go runtime starts no thread from a
// locked one (it asks a clean template thread), so the namespace does not
// spread.

// atJournalSocket locks the calling goroutine to its thread for good and
// gives the thread a private mount namespace in which the socket at target
// is reachable as journal.DefaultSocket, which it returns. Without the
// privilege (CAP_SYS_ADMIN), it skips the benchmark or test if needPeers
// says that it sends through a peer that cannot be pointed elsewhere, and
// otherwise returns target itself.
func atJournalSocket(tb testing.TB, target string, needPeers bool) string {
	tb.Helper()
	err := journalNamespace(target)
	if err == nil {
		return journal.DefaultSocket
	}
	nsOnce.Do(func() {
		fmt.Fprintf(os.Stderr, "journal benchmarks: no private mount namespace (%v): the peers are skipped, the rest sends to %s\n", err, target)
	})
	if needPeers {
		tb.Skipf("slog-journal and go-systemd send only to %s; making a private mount namespace to put the receiver there failed: %v", journal.DefaultSocket, err)
	}
	return target
}

var nsOnce sync.Once

// journalNamespace does atJournalSocket's work. The thread stays locked
// even when it fails: it may be half-way there.
func journalNamespace(target string) error {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	if os.Getenv("BENCH_JOURNAL_NS") == "0" {
		return fmt.Errorf("BENCH_JOURNAL_NS=0")
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return os.NewSyscallError("unshare(CLONE_NEWNS)", err)
	}
	// First make every mount private, so that nothing done here reaches
	// the namespace we came from (systemd makes / shared).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private: %w", os.NewSyscallError("mount", err))
	}
	if err := unix.Mount("bench-run", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("a tmpfs on /run: %w", os.NewSyscallError("mount", err))
	}
	for _, dir := range []string{"/run/systemd", "/run/systemd/journal"} {
		if err := unix.Mkdir(dir, 0o755); err != nil {
			return os.NewSyscallError("mkdir "+dir, err)
		}
	}
	// The mount point: an empty file, over which the socket is bound.
	fd, err := unix.Open(journal.DefaultSocket, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return os.NewSyscallError("creating "+journal.DefaultSocket, err)
	}
	unix.Close(fd)
	if err := unix.Mount(target, journal.DefaultSocket, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding %s at %s: %w", target, journal.DefaultSocket, os.NewSyscallError("mount", err))
	}
	return nil
}
