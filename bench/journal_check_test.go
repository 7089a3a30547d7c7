//go:build linux

package bench

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	slogjournal "github.com/systemd/slog-journal"
	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/journal"
	"github.com/gosdnotify/sdnotify/journal/journaltest"
)

// recvSocket binds a blocking datagram socket at a new path, which gives
// up a read after 10s, closed when the test ends.
func recvSocket(t *testing.T) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "socket")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(os.NewSyscallError("socket", err))
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(os.NewSyscallError("bind", err))
	}
	tv := unix.NsecToTimeval((10 * time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(os.NewSyscallError("setsockopt(SO_RCVTIMEO)", err))
	}
	return path, fd
}

// recvOne reads one datagram from fd.
func recvOne(t *testing.T, fd int) []byte {
	t.Helper()
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("no datagram: %v", os.NewSyscallError("recvfrom", err))
		}
		return buf[:n]
	}
}

// TestJournalPayload checks what the journal benchmarks compare: the
// library's handler sends exactly the floor's bytes, and each peer an
// entry that journald stores with the same fields, except slog-journal
// without its README's ReplaceAttr, whose lower-case keys journald drops.
// slog-journal adds SYSLOG_TIMESTAMP and, for every record with a PC (all
// that slog.Logger makes), CODE_FILE, CODE_FUNC and CODE_LINE, as the
// library's handler does with AddSource.
func TestJournalPayload(t *testing.T) {
	want := journalEntry()
	wantFields := slices.Collect(func(yield func(journal.Field) bool) {
		for name, value := range journalFields() {
			if !yield(journal.Field{Name: name, Value: value}) {
				return
			}
		}
	})

	t.Run("journal/Logger.Info", func(t *testing.T) {
		path, fd := recvSocket(t)
		l, _ := journalLogger(t, path)
		logRecord(l)
		if got := recvOne(t, fd); !bytes.Equal(got, want) {
			t.Errorf("the handler sent\n%q\nthe floor sends\n%q", got, want)
		}
	})
	t.Run("journal/Logger.Info-AddSource", func(t *testing.T) {
		path, fd := recvSocket(t)
		c := journal.NewConn(path)
		defer c.Close()
		logRecord(slog.New(journal.NewNativeHandler(&journal.HandlerOptions{Conn: c, AddSource: true})))
		e, err := journaltest.Parse(recvOne(t, fd))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range e.Fields {
			names = append(names, f.Name)
		}
		if want := "MESSAGE PRIORITY SYSLOG_IDENTIFIER CODE_FILE CODE_LINE CODE_FUNC USER ID PATH STATUS METHOD"; strings.Join(names, " ") != want {
			t.Errorf("fields %q, want %s", names, want)
		}
		if f := e.Value("CODE_FUNC"); !strings.HasSuffix(f, ".logRecord") {
			t.Errorf("CODE_FUNC=%s, want logRecord", f)
		}
	})
	t.Run("journal/Conn.Send", func(t *testing.T) {
		path, fd := recvSocket(t)
		c := journal.NewConn(path)
		defer c.Close()
		var e journal.Entry
		for name, value := range journalFields() {
			e.Add(name, value)
		}
		if err := c.Send(&e); err != nil {
			t.Fatal(err)
		}
		if got := recvOne(t, fd); !bytes.Equal(got, want) {
			t.Errorf("Conn.Send sent\n%q\nthe floor sends\n%q", got, want)
		}
	})

	peers := []struct {
		name    string
		extra   []string // fields beyond the record's
		dropped []string // names journald drops
		send    func(t *testing.T)
	}{
		{"slogjournal/Logger.Info", slogjournalExtra, nil, func(t *testing.T) {
			logRecord(slogJournalLogger(t, &slogjournal.Options{ReplaceAttr: upperKeys}))
		}},
		{"slogjournal/Logger.Info-upper-keys", slogjournalExtra, nil, func(t *testing.T) {
			logRecordUpper(slogJournalLogger(t, nil))
		}},
		{"slogjournal/Logger.Info-no-ReplaceAttr", slogjournalExtra, []string{"user", "id", "path", "status", "method"}, func(t *testing.T) {
			logRecord(slogJournalLogger(t, nil))
		}},
		{"coreos/journal.Send", nil, nil, func(t *testing.T) {
			if err := coreosRecord(identifier, 42, 200); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			path, fd := recvSocket(t)
			atJournalSocket(t, path, true)
			p.send(t)
			e, err := journaltest.Parse(recvOne(t, fd))
			if err != nil {
				t.Fatal(err)
			}
			var extra []string
			for _, f := range e.Fields {
				if !slices.Contains(wantFields, f) {
					extra = append(extra, f.Name)
				}
			}
			var missing []string
			for _, f := range wantFields {
				if !slices.Contains(e.Fields, f) && !slices.Contains(p.dropped, strings.ToLower(f.Name)) {
					missing = append(missing, f.Name+"="+f.Value)
				}
			}
			slices.Sort(extra)
			if !slices.Equal(extra, p.extra) || len(missing) > 0 || !slices.Equal(e.Dropped, p.dropped) {
				t.Errorf("journald would store %v\nextra fields %q, want %q; missing %q; dropped %q, want %q",
					e.Fields, extra, p.extra, missing, e.Dropped, p.dropped)
			}
		})
	}
}

// slogjournalExtra are the fields slog-journal adds to what the library's
// handler sends by default.
var slogjournalExtra = []string{"CODE_FILE", "CODE_FUNC", "CODE_LINE", "SYSLOG_TIMESTAMP"}

// TestJournalDelivery checks the harness: each way of sending that
// BenchmarkJournal times puts one datagram in the queue of the receiver
// that keeps up, through /run/systemd/journal/socket where it can.
func TestJournalDelivery(t *testing.T) {
	target := receiverAddr(t)
	entry := journalEntry()
	for _, s := range []struct {
		name string
		send func(t *testing.T, path string) error
	}{
		{"raw/sendmsg", func(t *testing.T, path string) error {
			return rawBlockingSendmsg(rawJournalSocket(t, path, true, 0), entry, nil)
		}},
		{"raw/write", func(t *testing.T, path string) error {
			return rawBlockingWrite(rawJournalSocket(t, path, true, 0), entry)
		}},
		{"raw/sendto", func(t *testing.T, path string) error {
			return rawBlockingSendmsg(rawJournalSocket(t, "", false, 0), entry, &unix.SockaddrUnix{Name: path})
		}},
		{"journal/Logger.Info", func(t *testing.T, path string) error {
			l, _ := journalLogger(t, path)
			return l.Handler().Handle(t.Context(), newRecord())
		}},
		{"slogjournal/Logger.Info", func(t *testing.T, _ string) error {
			atJournalSocket(t, target, true)
			return slogJournalLogger(t, &slogjournal.Options{ReplaceAttr: upperKeys}).Handler().Handle(t.Context(), newRecord())
		}},
		{"coreos/journal.Send", func(t *testing.T, _ string) error {
			atJournalSocket(t, target, true)
			return coreosRecord(identifier, 42, 200)
		}},
	} {
		t.Run(s.name, func(t *testing.T) {
			path := atJournalSocket(t, target, false)
			msgs0, _ := keepsUp.statsOf(t)
			if err := s.send(t, path); err != nil {
				t.Fatal(err)
			}
			if msgs1, _ := keepsUp.statsOf(t); msgs1-msgs0 != 1 {
				t.Errorf("the receiver took %d datagrams, want 1", msgs1-msgs0)
			}
		})
	}
}

// newRecord is the benchmarks' record, as slog.Logger.Info makes it.
func newRecord() slog.Record {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, journalMsg, 0)
	r.Add("user", "ann", "id", 42, "path", "/x", "status", 200, "method", "GET")
	return r
}

// TestJournalStalled shows what each journal client does when journald
// does not read and its queue is full. The library's Conn, with
// SetTimeout, gives up after the timeout with an error that wraps
// os.ErrDeadlineExceeded, and its handler writes the record to standard
// error and returns the error. slog-journal and go-systemd offer no
// timeout (their sockets are unexported): they wait until journald reads
// again, then send. The test checks that they still wait after
// stalledWait (which any load only makes truer) and that they finish once
// the queue is drained.
func TestJournalStalled(t *testing.T) {
	t.Run("journal/Conn.Send", func(t *testing.T) {
		path, _ := stalledSocket(t)
		c := journal.NewConn(path)
		defer c.Close()
		c.SetTimeout(stalledTimeout)
		var e journal.Entry
		e.Add("MESSAGE", journalMsg)
		start := time.Now()
		err := within(t, func() error { return c.Send(&e) })
		took := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Send to a full queue: %v, want an error wrapping os.ErrDeadlineExceeded", err)
		}
		if took < stalledTimeout {
			t.Errorf("Send gave up after %v, before the timeout (%v)", took, stalledTimeout)
		}
		t.Logf("gave up after %v: %v", took, err)
	})
	t.Run("journal/Handler", func(t *testing.T) {
		path, _ := stalledSocket(t)
		c := journal.NewConn(path)
		defer c.Close()
		c.SetTimeout(stalledTimeout)
		h, stderr := withStderr(t, func() slog.Handler {
			return journal.NewNativeHandler(&journal.HandlerOptions{Conn: c})
		})
		for i := range 2 {
			err := within(t, func() error { return h.Handle(t.Context(), newRecord()) })
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Handle #%d: %v, want an error wrapping os.ErrDeadlineExceeded", i+1, err)
			}
		}
		data, err := os.ReadFile(stderr.Name())
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		record := "<6>" + journalMsg + " USER=ann ID=42 PATH=/x STATUS=200 METHOD=GET"
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "<4>") || lines[1] != record || lines[2] != record {
			t.Errorf("standard error got %q, want a <4> line that says why, then the record twice: %q", lines, record)
		}
		t.Logf("standard error: %q", lines)
	})
	for _, p := range []struct {
		name   string
		sender func(t *testing.T) func() error
	}{
		{"slogjournal/Handler", func(t *testing.T) func() error {
			h := slogJournalLogger(t, &slogjournal.Options{ReplaceAttr: upperKeys}).Handler()
			return func() error { return h.Handle(t.Context(), newRecord()) }
		}},
		{"coreos/journal.Send", func(*testing.T) func() error {
			return func() error { return coreosRecord(identifier, 42, 200) }
		}},
	} {
		t.Run(p.name, func(t *testing.T) {
			path, rfd := stalledSocket(t)
			send := p.sender(t)
			// The send runs on a goroutine of its own, which must be in the
			// mount namespace, and must not call t.Skip or t.Fatal.
			nsErr, done := make(chan error, 1), make(chan error, 1)
			go func() {
				if err := journalNamespace(path); err != nil {
					nsErr <- err
					return
				}
				nsErr <- nil
				done <- send()
			}()
			if err := <-nsErr; err != nil {
				t.Skipf("no private mount namespace to put the stalled socket at %s: %v", journal.DefaultSocket, err)
			}
			select {
			case err := <-done:
				t.Fatalf("returned %v while journald's queue was full, where it should wait", err)
			case <-time.After(stalledWait):
			}
			// Drain the queue until the sender's datagram has come and it
			// has returned.
			if err := unix.SetNonblock(rfd, true); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			deadline := time.Now().Add(time.Minute)
			for time.Now().Before(deadline) {
				for {
					if _, _, err := unix.Recvfrom(rfd, buf, 0); err != nil {
						break
					}
				}
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("after the queue was drained: %v", err)
					}
					t.Logf("waited for journald to read (at least %v), then sent", stalledWait)
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			t.Fatal("still waiting a minute after the queue was drained")
		})
	}
}

// within returns what f returns, or fails the test if f has not returned
// after a minute (a send that ignores its timeout).
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("still waiting after a minute, where the timeout is " + stalledTimeout.String())
		return nil
	}
}

// stalledWait is how long TestJournalStalled checks that a peer keeps
// waiting for a full queue: 20 times the library's timeout.
const stalledWait = 20 * stalledTimeout
