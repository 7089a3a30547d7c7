package realsystemd

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/journalwire"
)

// JournaldUnit is the unit StartJournald runs systemd-journald as.
const JournaldUnit = "systemd-journald.service"

// journaldService is the host's systemd-journald.service less its sandbox
// and socket units: journald binds /run/systemd/journal/{socket,stdout,
// dev-log} itself, in the manager's private /run. FileDescriptorStoreMax
// keeps the stream connections (the units' standard output and error)
// across a restart, as the real unit does.
const journaldService = `[Unit]
DefaultDependencies=no

[Service]
Type=notify
ExecStart=/lib/systemd/systemd-journald
FileDescriptorStoreMax=4224
RuntimeDirectory=systemd/journal
RuntimeDirectoryPreserve=yes
StandardOutput=null
Restart=no
`

// StartJournald starts systemd-journald as a unit of the manager and waits
// until it is active. Before that it mounts a tmpfs over /var/log/journal
// inside the manager's private mount namespace, so that nothing can ever be
// flushed to the host's persistent journal, and gives journald
// Storage=volatile (it writes to /run/log/journal, which is private too)
// and ReadKMsg=no (the kernel's log buffer is the host's). Units started afterwards with
// StandardOutput=journal or StandardError=journal get JOURNAL_STREAM. It
// fails the test on error.
func (m *Manager) StartJournald(t testing.TB) {
	t.Helper()
	// Where it does not exist, journald cannot create it either: / is
	// read-only inside (for a booted root, a throwaway overlay).
	if _, err := m.Run("test", "-d", "/var/log/journal"); err == nil {
		if out, err := m.Run("mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev,size=64m", "sdnotify-rs-journal", "/var/log/journal"); err != nil {
			t.Fatalf("realsystemd: mount a tmpfs over /var/log/journal: %v: %s", err, out)
		}
		// Refuse to go on unless the mount is really there.
		if out, err := m.Run("findmnt", "-n", "-o", "SOURCE", "--mountpoint", "/var/log/journal"); err != nil || strings.TrimSpace(out) != "sdnotify-rs-journal" {
			t.Fatalf("realsystemd: /var/log/journal inside is not the private tmpfs: %q, %v", out, err)
		}
	}
	// Storage=volatile: never /var/log/journal, tmpfs or not.
	// ReadKMsg=no: the kernel's log is the host's, other managers' too.
	if out, err := m.Run("sh", "-c", "mkdir -p /run/systemd/journald.conf.d && printf '%s\\n' '[Journal]' Storage=volatile ReadKMsg=no > /run/systemd/journald.conf.d/sdnotify-rs.conf"); err != nil {
		t.Fatalf("realsystemd: journald.conf drop-in: %v: %s", err, out)
	}
	m.WriteUnit(JournaldUnit, journaldService)
	if err := m.StartUnit(JournaldUnit); err != nil {
		t.Fatal(err)
	}
	m.WaitProps(t, JournaldUnit, map[string]string{"ActiveState": "active", "SubState": "running"}, 20*time.Second)
}

// A JournalEntry is one entry as `journalctl -o export` prints it: every
// field, trusted ones (_PID, _TRANSPORT, ...) and the cursor's (__CURSOR,
// __REALTIME_TIMESTAMP, ...) included, each name with its values in order.
type JournalEntry map[string][]string

// Value returns the first value of the named field, or "".
func (e JournalEntry) Value(name string) string {
	if vs := e[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// String is the entry in brief, for test messages: how it came
// (_TRANSPORT), its PRIORITY and its MESSAGE, quoted and cut to 100 bytes.
func (e JournalEntry) String() string {
	msg := e.Value("MESSAGE")
	if len(msg) > 100 {
		msg = msg[:100] + "..."
	}
	return fmt.Sprintf("[%s PRIORITY=%s] %q", e.Value("_TRANSPORT"), e.Value("PRIORITY"), msg)
}

// Journal runs `journalctl -o export --all` inside the manager's namespaces
// with the given extra arguments (matches such as _SYSTEMD_UNIT=x.service,
// options) and returns the entries it printed, in order. Values are exact:
// binary ones come back byte for byte.
func (m *Manager) Journal(args ...string) ([]JournalEntry, error) {
	if m.stopped.Load() {
		return nil, fmt.Errorf("realsystemd: manager stopped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	nsArgs := append([]string{"-t", strconv.Itoa(m.pid1), "-a", "--", "journalctl", "--no-pager", "-o", "export", "--all"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", nsArgs...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_PAGER=cat"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("journalctl %s: timed out after %v", strings.Join(args, " "), cmdTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("journalctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	entries, err := ParseExport(out)
	if err != nil {
		return nil, fmt.Errorf("journalctl %s: %w", strings.Join(args, " "), err)
	}
	return entries, nil
}

// ParseExport decodes journald's export format: entries separated by an
// empty line, each field either NAME=value and a newline, or NAME and a
// newline, the value's length as a 64-bit little-endian integer, the value
// and a newline.
func ParseExport(b []byte) ([]JournalEntry, error) {
	var entries []JournalEntry
	var cur JournalEntry
	off := 0
	for len(b) > 0 {
		if b[0] == '\n' { // the end of an entry
			if cur != nil {
				entries = append(entries, cur)
				cur = nil
			}
			b = b[1:]
			off++
			continue
		}
		name, value, rest, err := journalwire.Next(b)
		if err != nil {
			return nil, fmt.Errorf("export format at byte %d (entry %d): %w", off, len(entries)+1, err)
		}
		if cur == nil {
			cur = JournalEntry{}
		}
		cur[name] = append(cur[name], string(value))
		off += len(b) - len(rest)
		b = rest
	}
	if cur != nil {
		entries = append(entries, cur)
	}
	return entries, nil
}
