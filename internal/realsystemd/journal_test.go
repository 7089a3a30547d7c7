//go:build linux

package realsystemd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/journalwire"
)

// jdTimeout bounds each wait of the journal tests: for a unit to come up,
// for an entry to be stored.
const jdTimeout = 30 * time.Second

// jdLevels are the slog levels internal/journaldaemon logs as "level N",
// with the PRIORITY each must get.
var jdLevels = []struct {
	level    int
	priority string
}{{-4, "7"}, {0, "6"}, {2, "5"}, {4, "4"}, {8, "3"}, {12, "2"}}

// buildJournalDaemon builds internal/journaldaemon, static, into dir.
func buildJournalDaemon(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(dir, "journaldaemon")
	cmd := exec.Command(goTool, "build", "-o", bin, "../journaldaemon")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build internal/journaldaemon: %v\n%s", err, out)
	}
	return bin
}

// TestJournal runs internal/journaldaemon, which logs through package
// journal, as units of a real manager with a real systemd-journald, and
// reads back what journald stored.
func TestJournal(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			m := startManager(t, v)
			m.StartJournald(t)
			bin := buildJournalDaemon(t, m.Dir())
			textErr := filepath.Join(m.Dir(), "jd-text.err")
			units := map[string]string{
				"jd-native":        "-mode native",
				"jd-big2m-nobody":  "-mode big -size 2097152\nUser=nobody",
				"jd-big10m-nobody": "-mode big -size 10485760\nUser=nobody",
				"jd-big10m-root":   "-mode big -size 10485760",
				"jd-fallback":      "-mode fallback\nInaccessiblePaths=/run/systemd/journal/socket",
				"jd-text":          "-mode text\nStandardError=file:" + textErr,
				"jd-restart":       "-mode restart",
			}
			for name, args := range units {
				m.WriteUnit(name+".service", "[Unit]\nDefaultDependencies=no\n\n[Service]\nType=notify\n"+
					"StandardOutput=journal\nStandardError=journal\nExecStart="+bin+" "+args+"\n")
			}
			// The scenarios that only log run at once; the one that
			// restarts journald runs alone afterwards, as a datagram
			// queued at journald's old socket when it stops is lost.
			t.Run("group", func(t *testing.T) {
				t.Run("Native", func(t *testing.T) { t.Parallel(); testNative(t, m) })
				t.Run("Big", func(t *testing.T) { t.Parallel(); testBig(t, m) })
				t.Run("StreamFallback", func(t *testing.T) { t.Parallel(); testFallback(t, m) })
				t.Run("TextWhenNotJournal", func(t *testing.T) { t.Parallel(); testText(t, m, textErr) })
			})
			t.Run("JournaldRestart", func(t *testing.T) { testRestart(t, m) })
		})
	}
}

// testNative: under StandardError=journal, journal.NewHandler logs natively.
func testNative(t *testing.T, m *Manager) {
	es := runLogged(t, m, "jd-native.service")

	t.Run("Priority", func(t *testing.T) {
		for _, l := range jdLevels {
			e := one(t, es, fmt.Sprintf("level %d", l.level))
			check(t, e, "PRIORITY", l.priority)
			check(t, e, "LEVEL", strconv.Itoa(l.level))
			check(t, e, "_TRANSPORT", "journal")
		}
	})
	t.Run("Identifier", func(t *testing.T) {
		for _, e := range es {
			if e.Value("MESSAGE") != "send repeat" { // journal.Send sets none
				check(t, e, "SYSLOG_IDENTIFIER", "journaldaemon")
			}
		}
	})
	t.Run("MultilineMessage", func(t *testing.T) {
		one(t, es, "first line\nsecond line\n\n\tlast line")
		for _, e := range es {
			if strings.HasPrefix(e.Value("MESSAGE"), "first line") && strings.Count(e.Value("MESSAGE"), "\n") != 3 {
				t.Errorf("the message came split: %q", e.Value("MESSAGE"))
			}
		}
	})
	t.Run("BinaryValues", func(t *testing.T) {
		e := one(t, es, "binary")
		check(t, e, "BLOB", "\x00\xff\nmiddle\x00\n\xfe")
		check(t, e, "TEXT", "nul\x00and \xff invalid utf-8")
	})
	t.Run("RepeatedKey", func(t *testing.T) {
		checkAll(t, one(t, es, "repeat"), "USER_ID", "first", "second")
		e := one(t, es, "send repeat")
		checkAll(t, e, "TAG", "one", "two")
		check(t, e, "PRIORITY", "5")
		check(t, e, "_TRANSPORT", "journal")
		// libsystemd's sd_journal_send adds SYSLOG_IDENTIFIER when the
		// caller gives none; journal.Send does not (yet).
		t.Logf("journal.Send: SYSLOG_IDENTIFIER=%q", e["SYSLOG_IDENTIFIER"])
	})
	t.Run("Groups", func(t *testing.T) {
		e := one(t, es, "group")
		check(t, e, "REQ_METHOD", "GET")
		check(t, e, "REQ_PATH", "/x")
		e = one(t, es, "with group")
		check(t, e, "REQ_METHOD", "POST")
		check(t, e, "REQ_ID", "7")
	})
	t.Run("MoreThanMaxFields", func(t *testing.T) {
		// 1100 attributes: journald takes 1024 fields an entry, so the
		// handler sends as many as fit beside its own fields (MESSAGE,
		// PRIORITY, SYSLOG_IDENTIFIER, CODE_*) and the rest inside
		// EXTRA_FIELDS.
		e := one(t, es, "many")
		got := map[string]string{}
		for name, vs := range e {
			if strings.HasPrefix(name, "F") && len(vs) == 1 {
				got[name] = vs[0]
			}
		}
		direct := len(got)
		extra := []byte(e.Value("EXTRA_FIELDS"))
		for len(extra) > 0 {
			name, value, rest, err := journalwire.Next(extra)
			if err != nil {
				t.Fatalf("EXTRA_FIELDS: %v", err)
			}
			got[name] = string(value)
			extra = rest
		}
		for i := range 1100 {
			if name := fmt.Sprintf("F%04d", i); got[name] != strconv.Itoa(i) {
				t.Errorf("%s = %q, want %d", name, got[name], i)
			}
		}
		t.Logf("%d attributes as fields, %d inside EXTRA_FIELDS", direct, len(got)-direct)
		// journald kept every field the handler sent: as many as it takes.
		sent := 0
		for name, vs := range e {
			if !strings.HasPrefix(name, "_") {
				sent += len(vs)
			}
		}
		if sent != journalwire.MaxFields {
			t.Errorf("the entry has %d fields of the sender's, want %d", sent, journalwire.MaxFields)
		}
	})
	t.Run("ReservedNames", func(t *testing.T) {
		e := one(t, es, "reserved")
		checkAll(t, e, "MESSAGE", "reserved")
		check(t, e, "X_MESSAGE", "not the message")
		check(t, e, "X__PID", "not the pid")
		check(t, e, "X_2FA", "on")
		if pids := e["_PID"]; len(pids) != 1 || pids[0] == "not the pid" {
			t.Errorf("_PID = %q, want journald's one value", pids)
		}
	})
	t.Run("Source", func(t *testing.T) {
		e := one(t, es, "source")
		check(t, e, "CODE_LINE", e.Value("WANT_LINE"))
		check(t, e, "CODE_FUNC", "main.logNative")
		if f := e.Value("CODE_FILE"); !strings.HasSuffix(f, "internal/journaldaemon/main.go") {
			t.Errorf("CODE_FILE = %q, want .../internal/journaldaemon/main.go", f)
		}
		for _, l := range jdLevels {
			e := one(t, es, fmt.Sprintf("level %d", l.level))
			check(t, e, "CODE_FUNC", "main.logLevels")
			if n, err := strconv.Atoi(e.Value("CODE_LINE")); err != nil || n <= 0 {
				t.Errorf("level %d: CODE_LINE = %q", l.level, e.Value("CODE_LINE"))
			}
		}
	})
	t.Run("LogPrintf", func(t *testing.T) {
		e := one(t, es, "via log 42")
		check(t, e, "_TRANSPORT", "journal")
		check(t, e, "PRIORITY", "6")
		check(t, e, "SYSLOG_IDENTIFIER", "journaldaemon")
	})
	// Nothing went to standard error: every entry came natively.
	for _, e := range es {
		if e.Value("_TRANSPORT") != "journal" {
			t.Errorf("an entry came by %s: %s", e.Value("_TRANSPORT"), e.String())
		}
	}
}

// testBig: entries bigger than a datagram arrive whole, from root and from
// an unprivileged user.
func testBig(t *testing.T, m *Manager) {
	for _, c := range []struct {
		unit string
		size int
		uid  string
		// memfd: no socket of the sender can take the entry as one
		// datagram (EMSGSIZE over the send buffer, ENOBUFS where the
		// kernel cannot allocate it), so it must have gone in a memfd.
		memfd bool
	}{
		// One datagram where net.core.wmem_max (the unprivileged cap on
		// SO_SNDBUF) is at least 1 MiB, a memfd with the default 208 KiB.
		{"jd-big2m-nobody.service", 2 << 20, "65534", false},
		{"jd-big10m-nobody.service", 10 << 20, "65534", true},
		{"jd-big10m-root.service", 10 << 20, "0", true},
	} {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(c.unit, "jd-"), ".service"), func(t *testing.T) {
			t.Parallel()
			es := runLogged(t, m, c.unit)
			done := one(t, es, "done")
			check(t, done, "UID", c.uid)
			t.Logf("%d bytes from uid %s: socket buffer %s bytes, a datagram that size: %s",
				c.size, c.uid, done.Value("SNDBUF"), done.Value("DATAGRAM"))
			if c.memfd && done.Value("DATAGRAM") == "ok" {
				t.Errorf("a %d-byte datagram could be sent: this case does not prove the memfd path", c.size)
			}
			e := one(t, es, "big")
			check(t, e, "_TRANSPORT", "journal")
			check(t, e, "_UID", c.uid)
			check(t, e, "SIZE", strconv.Itoa(c.size))
			got, want := e.Value("PAYLOAD"), jdPayload(c.size)
			if got != want {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Errorf("PAYLOAD: %d bytes, want %d; first difference at byte %d", len(got), len(want), i)
			}
		})
	}
}

// jdPayload is internal/journaldaemon's payload: every byte value, NUL,
// 0xff and '\n' included.
func jdPayload(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i>>8)
	}
	return string(b)
}

// testFallback: standard error is the journal but the native socket is out
// of reach: lines with a priority prefix.
func testFallback(t *testing.T, m *Manager) {
	es := runLogged(t, m, "jd-fallback.service")
	for _, l := range jdLevels {
		e := one(t, es, fmt.Sprintf("level %d LEVEL=%d", l.level, l.level))
		check(t, e, "PRIORITY", l.priority)
		check(t, e, "_TRANSPORT", "stdout")
		check(t, e, "SYSLOG_IDENTIFIER", "journaldaemon")
	}
	one(t, es, "done")
	var native string
	for _, e := range es {
		if msg := e.Value("MESSAGE"); strings.HasPrefix(msg, "native socket ERR=") {
			native = msg
		}
	}
	if !strings.Contains(native, "/run/systemd/journal/socket") {
		t.Errorf("the native socket was reachable? %q", native)
	}
	t.Logf("the daemon said: %s", native)
	for _, e := range es {
		if e.Value("_TRANSPORT") != "stdout" {
			t.Errorf("an entry came by %s: %s", e.Value("_TRANSPORT"), e.String())
		}
	}
}

// testText: standard error is a file: readable text there, nothing
// natively. The daemon sends the "done" marker natively after logging, on
// the socket the handler would have used, so any entry the handler had
// sent natively would be stored before it.
func testText(t *testing.T, m *Manager, errFile string) {
	es := runLogged(t, m, "jd-text.service")
	if len(es) != 1 {
		t.Errorf("the unit has %d entries, want only the marker:\n%s", len(es), summaries(es))
	}
	check(t, one(t, es, "done"), "_TRANSPORT", "journal")
	b, err := os.ReadFile(errFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, l := range jdLevels {
		want := fmt.Sprintf(`msg="level %d" level=%d`, l.level, l.level)
		if !strings.Contains(text, want) {
			t.Errorf("%s has no %q:\n%s", errFile, want, text)
		}
	}
	if !strings.Contains(text, `msg="text record" stream=false`) || strings.Contains(text, "<") {
		t.Errorf("%s is not the text handler's:\n%s", errFile, text)
	}
}

// testRestart: journald restarted, its socket taken away and put back; the
// records logged meanwhile arrive, natively or, while the socket is gone,
// on standard error with a line saying why.
func testRestart(t *testing.T, m *Manager) {
	const unit = "jd-restart.service"
	const sock = "/run/systemd/journal/socket"
	if err := m.StartUnit(unit); err != nil {
		t.Fatal(err)
	}
	m.WaitProps(t, unit, map[string]string{"ActiveState": "active", "StatusText": "step 0: <nil>"}, jdTimeout)
	check(t, waitEntry(t, m, unit, "before restart"), "_TRANSPORT", "journal")

	restartJournald(t, m)
	next(t, m, unit)
	m.WaitProp(t, unit, "StatusText", "step 1: <nil>", jdTimeout)
	check(t, waitEntry(t, m, unit, "after restart"), "_TRANSPORT", "journal")

	// A new journald, and its socket moved away: the daemon's socket
	// is connected to the old one, and a new one finds nothing.
	restartJournald(t, m)
	if out, err := m.Run("mv", sock, sock+".away"); err != nil {
		t.Fatalf("mv: %v: %s", err, out)
	}
	next(t, m, unit)
	st := waitStatus(t, m, unit, "step 2: ")
	if !strings.Contains(st, sock) {
		t.Errorf("step 2: StatusText = %q, want the send's error naming %s", st, sock)
	}
	e := waitEntry(t, m, unit, "socket gone")
	check(t, e, "_TRANSPORT", "stdout")
	check(t, e, "PRIORITY", "4")
	es, err := m.Journal("_SYSTEMD_UNIT=" + unit)
	if err != nil {
		t.Fatal(err)
	}
	var warned bool
	for _, e := range es {
		if msg := e.Value("MESSAGE"); strings.Contains(msg, sock) && strings.Contains(msg, "go to standard error") {
			warned = true
			check(t, e, "PRIORITY", "4")
			check(t, e, "_TRANSPORT", "stdout")
			t.Logf("the handler said: %s", msg)
		}
	}
	if !warned {
		t.Errorf("no line says why the record went to standard error:\n%s", summaries(es))
	}

	if out, err := m.Run("mv", sock+".away", sock); err != nil {
		t.Fatalf("mv: %v: %s", err, out)
	}
	next(t, m, unit)
	m.WaitProp(t, unit, "StatusText", "step 3: <nil>", jdTimeout)
	check(t, waitEntry(t, m, unit, "socket back"), "_TRANSPORT", "journal")
	check(t, waitEntry(t, m, unit, "done"), "_TRANSPORT", "journal")
}

func restartJournald(t *testing.T, m *Manager) {
	t.Helper()
	before := m.Show(JournaldUnit, "MainPID")["MainPID"]
	if out, err := m.Systemctl("restart", JournaldUnit); err != nil {
		t.Fatalf("systemctl restart %s: %v: %s", JournaldUnit, err, out)
	}
	p := m.WaitProps(t, JournaldUnit, map[string]string{"ActiveState": "active", "SubState": "running"}, jdTimeout)
	if p["MainPID"] == before {
		t.Fatalf("journald's MainPID is still %s after the restart", before)
	}
}

// next lets the restart daemon go on to its next step.
func next(t *testing.T, m *Manager, unit string) {
	t.Helper()
	if out, err := m.Systemctl("kill", "-s", "SIGUSR1", unit); err != nil {
		t.Fatalf("systemctl kill: %v: %s", err, out)
	}
}

// waitStatus waits until the unit's StatusText starts with prefix, and
// returns it.
func waitStatus(t *testing.T, m *Manager, unit, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(jdTimeout)
	for {
		st := m.Show(unit, "StatusText")["StatusText"]
		if strings.HasPrefix(st, prefix) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: StatusText = %q after %v, want it to start with %q", unit, st, jdTimeout, prefix)
		}
		time.Sleep(pollInterval)
	}
}

// runLogged starts a journaldaemon unit, waits until it is up (it has
// logged everything) and journald stored its "done" entry, and returns
// the unit's entries. The daemon lives on, so journald can attribute each
// entry to the unit.
func runLogged(t *testing.T, m *Manager, unit string) []JournalEntry {
	t.Helper()
	if err := m.StartUnit(unit); err != nil {
		t.Fatal(err)
	}
	m.WaitProp(t, unit, "ActiveState", "active", jdTimeout)
	waitEntry(t, m, unit, "done")
	es, err := m.Journal("_SYSTEMD_UNIT=" + unit)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// waitEntry waits until journald stored an entry of the unit with this
// MESSAGE, and returns it.
func waitEntry(t *testing.T, m *Manager, unit, msg string) JournalEntry {
	t.Helper()
	deadline := time.Now().Add(jdTimeout)
	for {
		es, err := m.Journal("_SYSTEMD_UNIT="+unit, "MESSAGE="+msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) > 0 {
			return es[0]
		}
		if time.Now().After(deadline) {
			all, _ := m.Journal("_SYSTEMD_UNIT=" + unit)
			t.Fatalf("no entry %q of %s after %v; its entries:\n%s\njournald's own:\n%s", msg, unit, jdTimeout, summaries(all), journaldOwn(m))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func journaldOwn(m *Manager) string {
	es, err := m.Journal("_SYSTEMD_UNIT=" + JournaldUnit)
	if err != nil {
		return err.Error()
	}
	return summaries(es)
}

// one returns the unit's only entry with this MESSAGE.
func one(t *testing.T, es []JournalEntry, msg string) JournalEntry {
	t.Helper()
	var found []JournalEntry
	for _, e := range es {
		if e.Value("MESSAGE") == msg {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d entries with MESSAGE=%q, want 1; the entries:\n%s", len(found), msg, summaries(es))
	}
	return found[0]
}

func check(t *testing.T, e JournalEntry, name, want string) {
	t.Helper()
	checkAll(t, e, name, want)
}

// checkAll checks that the field has exactly these values, in order.
func checkAll(t *testing.T, e JournalEntry, name string, want ...string) {
	t.Helper()
	if got := e[name]; !slices.Equal(got, want) {
		t.Errorf("%s: %s = %q, want %q", e, name, got, want)
	}
}

func summaries(es []JournalEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}
