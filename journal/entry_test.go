package journal_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gosdnotify/sdnotify/journal"
	"github.com/gosdnotify/sdnotify/journal/journaltest"
)

func TestFieldName(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"MESSAGE", "MESSAGE"},
		{"user", "USER"},
		{"user.id", "USER_ID"},
		{"http-status", "HTTP_STATUS"},
		{"2fa", "X_2FA"},
		{"_PID", "X__PID"},
		{"", "X_"},
		{"café", "CAF_"},
		{"a b\n=c", "A_B__C"},
		{"\xff\xfe", "X___"},
		{strings.Repeat("a", 100), strings.Repeat("A", 64)},
		{"1" + strings.Repeat("a", 100), "X_1" + strings.Repeat("A", 61)},
	} {
		got := journal.FieldName(tc.key)
		if got != tc.want {
			t.Errorf("FieldName(%q) = %q, want %q", tc.key, got, tc.want)
		}
		if !journal.ValidFieldName(got) {
			t.Errorf("FieldName(%q) = %q, which journald would drop", tc.key, got)
		}
	}
	for _, name := range []string{"", "_PID", "1A", "a", "A.B", strings.Repeat("A", 65)} {
		if journal.ValidFieldName(name) {
			t.Errorf("ValidFieldName(%q) = true, want false", name)
		}
	}
}

func TestLevelPriority(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  journal.Priority
	}{
		{slog.LevelDebug - 10, journal.Debug},
		{slog.LevelDebug, journal.Debug},
		{slog.LevelInfo - 1, journal.Debug},
		{slog.LevelInfo, journal.Info},
		{slog.LevelInfo + 1, journal.Notice},
		{slog.LevelInfo + 2, journal.Notice},
		{slog.LevelWarn, journal.Warning},
		{slog.LevelError - 1, journal.Warning},
		{slog.LevelError, journal.Err},
		{slog.LevelError + 4, journal.Crit},
		{slog.LevelError + 8, journal.Alert},
		{slog.LevelError + 12, journal.Emerg},
		{slog.LevelError + 100, journal.Emerg},
	} {
		if got := journal.LevelPriority(tc.level); got != tc.want {
			t.Errorf("LevelPriority(%v) = %d, want %d", tc.level, got, tc.want)
		}
	}
}

func TestEntryEncoding(t *testing.T) {
	var e journal.Entry
	e.Add("MESSAGE", "two\nlines")
	e.Add("key", "v1")
	e.Add("KEY", "v2")
	e.AddBytes("BIN", []byte{0, 0xff, '\n', 'x'})
	e.Add("EMPTY", "")
	want := "MESSAGE\n\x09\x00\x00\x00\x00\x00\x00\x00two\nlines\n" +
		"KEY=v1\nKEY=v2\n" +
		"BIN\n\x04\x00\x00\x00\x00\x00\x00\x00\x00\xff\nx\n" +
		"EMPTY=\n"
	if got := string(e.Bytes()); got != want {
		t.Fatalf("encoded\n%q\nwant\n%q", got, want)
	}
	got, err := journaltest.Parse(e.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Values("KEY"); len(v) != 2 || v[0] != "v1" || v[1] != "v2" {
		t.Errorf("KEY = %q, want both values", v)
	}
	if v := got.Value("BIN"); v != "\x00\xff\nx" {
		t.Errorf("BIN = %q", v)
	}
	e.Reset()
	if e.Fields() != 0 || len(e.Bytes()) != 0 {
		t.Errorf("after Reset: %d fields, %d bytes", e.Fields(), len(e.Bytes()))
	}
}

// TestEntryMaxFields shows that an entry never carries more fields than
// journald takes, and that the fields past the limit are not lost.
func TestEntryMaxFields(t *testing.T) {
	const n = 3000
	var e journal.Entry
	for i := range n {
		e.Add(fmt.Sprintf("F%d", i), fmt.Sprint(i))
	}
	if e.Fields() != journal.MaxFields {
		t.Errorf("Fields() = %d, want %d", e.Fields(), journal.MaxFields)
	}
	got, err := journaltest.Parse(e.Bytes())
	if err != nil {
		t.Fatalf("journald would ignore the entry: %v", err)
	}
	all := map[string]string{}
	for _, f := range got.Fields[:len(got.Fields)-1] {
		all[f.Name] = f.Value
	}
	extra, err := got.Extra()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range extra {
		all[f.Name] = f.Value
	}
	for i := range n {
		if v := all[fmt.Sprintf("F%d", i)]; v != fmt.Sprint(i) {
			t.Fatalf("F%d = %q, want %d", i, v, i)
		}
	}

	// The fake refuses what journald would: the same fields, uncapped.
	var raw bytes.Buffer
	for i := range n {
		fmt.Fprintf(&raw, "F%d=%d\n", i, i)
	}
	if _, err := journaltest.Parse(raw.Bytes()); err == nil {
		t.Errorf("Parse took an entry of %d fields", n)
	}
}
