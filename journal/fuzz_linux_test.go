package journal_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/journal"
	"github.com/gosdnotify/sdnotify/journal/journaltest"
)

// FuzzHandler logs records with arbitrary messages, group names, keys and
// values through the native handler to the fake journald: no panic, the
// entry is one journald keeps whole, and each value arrives under the
// name FieldName gives its group and key.
func FuzzHandler(f *testing.F) {
	f.Add("msg", "req", "user", "ann", 3)
	f.Add("two\nlines\x00", "", "", "\xff\xfe", 0)
	f.Add("", "a.b", "1-x", strings.Repeat("v", 70000), 1500)
	s, err := journaltest.Listen(fmt.Sprintf("/tmp/journal-fuzz-%d", time.Now().UnixNano()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	c := s.Conn()
	c.SetTimeout(5 * time.Second) // a fake that stopped reading fails the test, not hangs it
	h := journal.NewNativeHandler(&journal.HandlerOptions{Conn: c})
	f.Fuzz(func(t *testing.T, msg, group, key, value string, n int) {
		n = max(0, min(n, 3000))
		var hg slog.Handler = h
		if group != "" {
			hg = h.WithGroup(group)
		}
		attrs := []slog.Attr{slog.String(key, value)}
		for i := range n {
			attrs = append(attrs, slog.Int(fmt.Sprint("n", i), i))
		}
		slog.New(hg).LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Dropped) > 0 || len(e.Fields) > journal.MaxFields {
			t.Fatalf("%d fields, dropped %q", len(e.Fields), e.Dropped)
		}
		if e.Value("MESSAGE") != msg {
			t.Errorf("MESSAGE = %q, want %q", e.Value("MESSAGE"), msg)
		}
		name := journal.FieldName(key)
		if group != "" {
			name = journal.FieldName(journal.FieldName(group) + "_" + key)
		}
		extra, err := e.Extra()
		if err != nil {
			t.Fatal(err)
		}
		all := append(e.Fields, extra...)
		found := false
		for _, f := range all {
			found = found || f.Name == name && f.Value == value
		}
		if !found {
			t.Errorf("no field %s=%q", name, value)
		}
		if want := 4 + n; len(all)-len(e.Values(journal.ExtraFieldsName)) != want {
			t.Errorf("%d fields in all, want %d", len(all)-len(e.Values(journal.ExtraFieldsName)), want)
		}
	})
}
