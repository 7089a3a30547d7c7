package sdnotifytest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// FuzzParse: nothing panics; what is dropped is what systemd drops (too
// long, a NUL before the last byte, a trailing backslash, a BARRIER=1
// with company), and a dropped message has no assignments; in a message
// without backslashes, every '=' line (split at \n and \r) is accounted
// for, and no assignment holds a separator.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"READY=1", "READY=1\nSTATUS=x", "STATUS=\xff\rREADY=1", "", "\x00", "RELOADING=1", "a\n\n=b\nc", `STATUS=a\`, "BARRIER=1\nREADY=1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := sdnotifytest.Parse(data)
		text := string(data)
		if i := strings.IndexByte(text, 0); i >= 0 {
			text = text[:i]
		}
		trailing := len(text) - len(strings.TrimRight(text, `\`))
		lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' })
		barrier := false
		for _, l := range lines {
			barrier = barrier || l == "BARRIER=1"
		}
		drops := len(data) > 4096 || len(data) > 1 && bytes.IndexByte(data[:len(data)-1], 0) >= 0 ||
			trailing%2 == 1 || barrier && len(lines) > 1 && !strings.Contains(text, `\`)
		if m.Err != nil {
			if len(m.Assignments) != 0 || len(m.Ignored) != 0 {
				t.Fatalf("dropped message %q has assignments", data)
			}
			if !drops && !strings.Contains(text, `\`) {
				t.Fatalf("Parse(%q) dropped a message systemd reads: %v", data, m.Err)
			}
			return
		}
		if drops {
			t.Fatalf("Parse(%q) accepted what systemd drops", data)
		}
		if strings.Contains(text, `\`) {
			return
		}
		withEq := 0
		for _, l := range lines {
			if strings.Contains(l, "=") {
				withEq++
			}
		}
		if got := len(m.Assignments) + len(m.Ignored); got != withEq {
			t.Fatalf("Parse(%q): %d assignments and ignored; want %d", data, got, withEq)
		}
		for _, a := range m.Assignments {
			if strings.ContainsAny(a.Key+a.Value, "\n\r") || strings.Contains(a.Key, "=") {
				t.Fatalf("assignment %q holds a separator", a.String())
			}
		}
	})
}
