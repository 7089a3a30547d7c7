package sdnotifytest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// FuzzParse: nothing panics; a message not dropped is what systemd reads
// whole; every '=' line is accounted for, split at \n and \r only.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"READY=1", "READY=1\nSTATUS=x", "STATUS=\xff\rREADY=1", "", "\x00", "RELOADING=1", "a\n\n=b\nc"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := sdnotifytest.Parse(data)
		if m.Err != nil {
			if len(m.Assignments) != 0 || len(m.Ignored) != 0 {
				t.Fatalf("dropped message %q has assignments", data)
			}
			if len(data) > 0 && len(data) <= 4096 && bytes.IndexByte(data, 0) < 0 {
				t.Fatalf("Parse(%q) dropped a message systemd reads: %v", data, m.Err)
			}
			return
		}
		if len(data) == 0 || len(data) > 4096 || bytes.IndexByte(data, 0) >= 0 {
			t.Fatalf("Parse(%q) accepted what systemd drops", data)
		}
		lines := 0
		for _, line := range strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' || r == '\r' }) {
			if strings.Contains(line, "=") {
				lines++
			}
		}
		if got := len(m.Assignments) + len(m.Ignored); got != lines {
			t.Fatalf("Parse(%q): %d assignments and ignored; want %d", data, got, lines)
		}
		for _, a := range m.Assignments {
			if strings.ContainsAny(a.Key+a.Value, "\n\r") || strings.Contains(a.Key, "=") {
				t.Fatalf("assignment %q holds a separator", a.String())
			}
		}
	})
}
