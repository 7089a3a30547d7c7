package journal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/gosdnotify/sdnotify/journal"
	"github.com/gosdnotify/sdnotify/journal/journaltest"
)

func next(t *testing.T, s *journaltest.Server) *journaltest.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Dropped) > 0 {
		t.Errorf("journald would drop fields %q", e.Dropped)
	}
	return e
}

func native(s *journaltest.Server, opts *journal.HandlerOptions) *journal.Handler {
	if opts == nil {
		opts = new(journal.HandlerOptions)
	}
	opts.Conn = s.Conn()
	return journal.NewNativeHandler(opts)
}

func TestHandlerFields(t *testing.T) {
	s := journaltest.New(t)
	h := native(s, &journal.HandlerOptions{AddSource: true, Level: slog.LevelDebug, Identifier: "probe"})
	logger := slog.New(h).With("svc", "api").WithGroup("req")
	when := time.Date(2026, 11, 30, 12, 0, 0, 5, time.UTC)
	logger.Warn("two\nlines", "method", "GET", "n", -3, "u", uint64(7), "f", 1.5, "ok", true,
		"took", 1500*time.Millisecond, "at", when, "err", errors.New("boom"),
		"bin", []byte{0, 0xff, '\n'}, slog.Group("peer", "addr", "10.0.0.1"), "message", "shadow")
	e := next(t, s)
	for _, tc := range []struct{ name, want string }{
		{"MESSAGE", "two\nlines"},
		{"PRIORITY", "4"},
		{"SYSLOG_IDENTIFIER", "probe"},
		{"CODE_FUNC", "github.com/gosdnotify/sdnotify/journal_test.TestHandlerFields"},
		{"SVC", "api"},
		{"REQ_METHOD", "GET"},
		{"REQ_N", "-3"},
		{"REQ_U", "7"},
		{"REQ_F", "1.5"},
		{"REQ_OK", "true"},
		{"REQ_TOOK", "1.5s"},
		{"REQ_AT", "2026-11-30T12:00:00.000000005Z"},
		{"REQ_ERR", "boom"},
		{"REQ_BIN", "\x00\xff\n"},
		{"REQ_PEER_ADDR", "10.0.0.1"},
		{"REQ_MESSAGE", "shadow"},
	} {
		if got := e.Values(tc.name); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s = %q, want [%q]", tc.name, got, tc.want)
		}
	}
	if !strings.HasSuffix(e.Value("CODE_FILE"), "handler_linux_test.go") || e.Value("CODE_LINE") == "" {
		t.Errorf("CODE_FILE=%q CODE_LINE=%q", e.Value("CODE_FILE"), e.Value("CODE_LINE"))
	}

	// A key that maps to one of the handler's own fields is renamed, not
	// repeated.
	slog.New(h).Info("m", "message", "x", "Priority", "y")
	e = next(t, s)
	if e.Value("X_MESSAGE") != "x" || e.Value("X_PRIORITY") != "y" || len(e.Values("MESSAGE")) != 1 || len(e.Values("PRIORITY")) != 1 {
		t.Errorf("own fields shadowed: %+v", e.Fields)
	}

	// Repeated keys are kept.
	slog.New(h).Info("m", "k", 1, "k", 2)
	if got := next(t, s).Values("K"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("K = %q, want both", got)
	}
}

// TestSlogtest runs the standard library's handler checks. journald
// stamps every entry with the time it arrived, so the one check that a
// zero Record.Time leaves no time cannot hold and is left out.
func TestSlogtest(t *testing.T) {
	s := journaltest.New(t)
	h := native(s, nil)
	err := slogtest.TestHandler(h, func() []map[string]any {
		// Every record was sent when this runs; a marker sent now arrives
		// after them all.
		var end journal.Entry
		end.Add("MESSAGE", "end of records")
		if err := s.Conn().Send(&end); err != nil {
			t.Fatal(err)
		}
		var ms []map[string]any
		for {
			e := next(t, s)
			if e.Value("MESSAGE") == "end of records" {
				return ms
			}
			ms = append(ms, unflatten(e))
		}
	})
	for _, err := range unwrap(err) {
		if strings.Contains(err.Error(), "zero Record.Time") {
			continue
		}
		t.Error(err)
	}
}

func unwrap(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// unflatten turns an entry back into the nested map slogtest reads: group
// names are the upper-case parts before the last '_'.
func unflatten(e *journaltest.Entry) map[string]any {
	m := map[string]any{slog.TimeKey: time.Now()}
	for _, f := range e.Fields {
		switch f.Name {
		case "MESSAGE":
			m[slog.MessageKey] = f.Value
			continue
		case "PRIORITY":
			m[slog.LevelKey] = f.Value
			continue
		case "SYSLOG_IDENTIFIER":
			continue
		}
		parts := strings.Split(f.Name, "_")
		cur := m
		for _, g := range parts[:len(parts)-1] {
			sub, ok := cur[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				cur[g] = sub
			}
			cur = sub
		}
		cur[strings.ToLower(parts[len(parts)-1])] = f.Value
	}
	return m
}

func TestHandlerReplaceAttr(t *testing.T) {
	s := journaltest.New(t)
	var seen []string
	var mu sync.Mutex
	h := native(s, &journal.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		mu.Lock()
		seen = append(seen, strings.Join(append(groups, a.Key), "."))
		mu.Unlock()
		switch a.Key {
		case "secret":
			return slog.Attr{}
		case "user":
			return slog.String("login", strings.ToUpper(a.Value.String()))
		}
		return a
	}})
	slog.New(h).With("a", 1).WithGroup("g").Info("m", "user", "ann", "secret", "pw", slog.Group("h", "x", 2))
	e := next(t, s)
	if e.Value("G_LOGIN") != "ANN" || e.Value("G_SECRET") != "" || e.Value("A") != "1" || e.Value("G_H_X") != "2" {
		t.Errorf("fields %+v", e.Fields)
	}
	if got, want := strings.Join(seen, " "), "a g.user g.secret g.h.x"; got != want {
		t.Errorf("ReplaceAttr saw %q, want %q", got, want)
	}
}

// TestLogPackage shows that after slog.SetDefault, the log package's
// output becomes entries too.
func TestLogPackage(t *testing.T) {
	s := journaltest.New(t)
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	slog.SetDefault(slog.New(native(s, nil)))
	log.Printf("from %s", "log.Printf")
	e := next(t, s)
	if e.Value("MESSAGE") != "from log.Printf" || e.Value("PRIORITY") != "6" {
		t.Errorf("fields %+v", e.Fields)
	}
}

func TestBigEntries(t *testing.T) {
	s := journaltest.New(t)
	h := native(s, nil)
	for _, size := range []int{100, 2 << 20, 10 << 20} {
		big := bytes.Repeat([]byte("0123456789abcde\n"), size/16)
		if err := h.Handle(context.Background(), recordArgs("big", "blob", big)); err != nil {
			t.Fatal(err)
		}
		e := next(t, s)
		if e.Value("BLOB") != string(big) {
			t.Errorf("%d bytes: value of %d bytes came back", size, len(e.Value("BLOB")))
		}
		// 2 MiB fits root's 8 MiB send buffer; an unprivileged sender's
		// buffer is capped by net.core.wmem_max and sends it in a memfd.
		want := map[int]string{100: "datagram", 10 << 20: "memfd"}[size]
		if want != "" && e.Via != want {
			t.Errorf("%d bytes came as a %s, want a %s", size, e.Via, want)
		}
	}

	restore := journal.WithoutMemfd()
	defer restore()
	big := strings.Repeat("x", 10<<20)
	if err := h.Handle(context.Background(), recordArgs("big", "blob", big)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, s); e.Via != "file" || e.Value("BLOB") != big {
		t.Errorf("without memfd_create: came as a %s, %d bytes", e.Via, len(e.Value("BLOB")))
	}
	if matches, _ := filepath.Glob("/dev/shm/journal-entry-*"); len(matches) > 0 {
		t.Errorf("left behind: %q", matches)
	}
}

func recordArgs(msg string, args ...any) slog.Record {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.Add(args...)
	return r
}

// TestFallback shows that a record that cannot be sent goes to standard
// error as a line, with one line that says why, and that the handler goes
// back to the journal once it can.
func TestFallback(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "socket")
	h := journal.NewNativeHandler(&journal.HandlerOptions{Conn: journal.NewConn(path)})
	var lines bytes.Buffer
	journal.SetLines(h, &lines)
	logger := slog.New(h)
	err := h.Handle(context.Background(), recordArgs("first", "k", "v w"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Handle = %v, want an error wrapping fs.ErrNotExist", err)
	}
	logger.Error("second")
	want := fmt.Sprintf("<4>journal: send to %q: no such file or directory (is systemd-journald running?); "+
		"this record and the next ones go to standard error until a send works again\n"+
		"<6>first K=\"v w\"\n<3>second\n", path)
	if lines.String() != want {
		t.Errorf("standard error got\n%s\nwant\n%s", lines.String(), want)
	}

	s, err := journaltest.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lines.Reset()
	logger.Info("third")
	if e := next(t, s); e.Value("MESSAGE") != "third" {
		t.Errorf("MESSAGE = %q", e.Value("MESSAGE"))
	}
	if lines.Len() != 0 {
		t.Errorf("standard error got %q after journald came back", lines.String())
	}
}

// TestReconnect restarts the fake journald at the same path between sends.
func TestReconnect(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "socket")
	c := journal.NewConn(path)
	defer c.Close()
	for i := range 3 {
		s, err := journaltest.Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		var e journal.Entry
		e.Add("MESSAGE", fmt.Sprint(i))
		if err := c.Send(&e); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if got := next(t, s).Value("MESSAGE"); got != fmt.Sprint(i) {
			t.Errorf("got %q, want %d", got, i)
		}
		s.Close()
	}
}

// TestTimeout fills a paused journald's queue: a send that finds no room
// within the timeout fails, and every send that succeeded arrives.
func TestTimeout(t *testing.T) {
	s := journaltest.New(t)
	c := s.Conn()
	defer c.Close()
	c.SetTimeout(20 * time.Millisecond)
	s.Pause()
	var sent int
	var err error
	for sent = 0; sent < 1<<20; sent++ {
		var e journal.Entry
		e.Add("N", fmt.Sprint(sent))
		if err = c.Send(&e); err != nil {
			break
		}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after %d sends: %v, want an error wrapping os.ErrDeadlineExceeded", sent, err)
	}
	s.Resume()
	for i := range sent {
		if got := next(t, s).Value("N"); got != fmt.Sprint(i) {
			t.Fatalf("entry %d: N=%q", i, got)
		}
	}
}

func TestConcurrent(t *testing.T) {
	s := journaltest.New(t)
	logger := slog.New(native(s, nil))
	const goroutines, each = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logger.With("g", g)
			for i := range each {
				l.Info("m", "i", i)
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for range goroutines * each {
		e := next(t, s)
		seen[e.Value("G")+"/"+e.Value("I")] = true
	}
	if len(seen) != goroutines*each {
		t.Errorf("%d distinct entries, want %d", len(seen), goroutines*each)
	}
}
