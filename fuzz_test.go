//go:build linux

package sdnotify_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// FuzzParseAddress: nothing panics; what parses formats back to the same
// address; what is refused is an *AddressError with a reason and an errno.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"/run/systemd/notify", "@abstract", "vsock:2:5", "vsock-stream:host:1", "vsock::1", "relative", "", "/", "@", "vsock:4294967295:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := sdnotify.ParseAddress(s)
		if err != nil {
			var aerr *sdnotify.AddressError
			if !errors.As(err, &aerr) || aerr.Addr != s || aerr.Reason == "" || aerr.Err == nil {
				t.Fatalf("ParseAddress(%q) error %#v is not a complete *AddressError", s, err)
			}
			return
		}
		again, err := sdnotify.ParseAddress(got)
		if err != nil || again != got {
			t.Fatalf("ParseAddress(%q) = %q, which parses as %q, %v", s, got, again, err)
		}
		if s[0] == '/' || s[0] == '@' {
			if got != s || len(s) >= 108 || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("ParseAddress(%q) = %q: accepted a name the kernel or libsystemd would not take", s, got)
			}
		} else if !strings.HasPrefix(s, "vsock") {
			t.Fatalf("ParseAddress(%q) = %q: accepted a relative path", s, got)
		}
	})
}

// FuzzCheckState: a state Notify accepts is one systemd accepts whole.
func FuzzCheckState(f *testing.F) {
	for _, s := range []string{"READY=1", "", "READY=1\x00", strings.Repeat("x", 4097), "STATUS=\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := sdnotify.CheckState(s)
		m := sdnotifytest.Parse([]byte(s))
		if err == nil && m.Err != nil {
			t.Fatalf("CheckState(%q) accepted what systemd drops: %v", s, m.Err)
		}
		// Beyond what systemd drops, CheckState refuses only an empty
		// state (it crashed systemd before 232) and a NUL byte at the
		// end (which systemd allows, and no sender means).
		if err != nil && m.Err == nil && s != "" && !strings.HasSuffix(s, "\x00") {
			t.Fatalf("CheckState(%q) = %v, but systemd would take it", s, err)
		}
		if err != nil && !errors.Is(err, sdnotify.ErrInvalid) {
			t.Fatalf("CheckState(%q) = %v; want ErrInvalid", s, err)
		}
		// The error messages' quoting (strconv.Quote without its Unicode
		// tables) reads back as exactly s, and on one line.
		q := sdnotify.Quote(s)
		if u, err := strconv.Unquote(q); err != nil || u != s {
			t.Fatalf("Quote(%q) = %s, which unquotes to %q, %v", s, q, u, err)
		}
		if strings.ContainsAny(q, "\n\r\x00") {
			t.Fatalf("Quote(%q) = %q: a control byte left unescaped", s, q)
		}
	})
}

// FuzzAssignments: a typed assignment's output holds exactly the
// assignments it was asked for, whatever bytes its value holds. The
// manager reads them all, but for Var's, which it may ignore (a key it
// does not know, a value it does not read, a key repeated, of which only
// the first counts), never the others for it.
func FuzzAssignments(f *testing.F) {
	f.Add("X_KEY", "value", "status", "name")
	f.Add("X", "a\nREADY=1", "caf\xe9\r\nSTOPPING=1", "a:b")
	f.Add("STATUS", "\xff", strings.Repeat("é", 3000), "")
	f.Fuzz(func(t *testing.T, key, value, status, name string) {
		as := []sdnotify.Assignment{sdnotify.Ready(), sdnotify.Var(key, value), sdnotify.Status(status), sdnotify.FDStoreRemove(name)}
		want := []string{"READY", key, "STATUS", "FDSTOREREMOVE"}
		var keep []sdnotify.Assignment
		var keys []string
		statusAt, varAt := -1, -1
		for i, a := range as {
			if a.Err() == nil {
				if i == 2 {
					statusAt = len(keep)
				}
				if i == 1 {
					varAt = len(keep)
				}
				keep, keys = append(keep, a), append(keys, want[i])
				if i == 3 {
					keys = append(keys, "FDNAME")
				}
			} else if !errors.Is(a.Err(), sdnotify.ErrInvalid) {
				t.Fatalf("%s refused with %v; want ErrInvalid", want[i], a.Err())
			}
		}
		if sdnotify.Status(status).Err() != nil {
			t.Fatalf("Status(%q) refused: it must repair", status)
		}
		data, err := sdnotify.Encode(keep...)
		if err != nil {
			if !errors.Is(err, sdnotify.ErrInvalid) || len(key)+len(value)+len(name) < 3000 {
				t.Fatalf("Encode: %v", err)
			}
			return
		}
		m := sdnotifytest.Parse([]byte(data))
		if m.Err != nil || len(m.Assignments)+len(m.Ignored) != len(keys) {
			t.Fatalf("Encode(%q) = %q, parsed as %s; want exactly %q", keys, data, m, keys)
		}
		for _, ig := range m.Ignored {
			if ig.Key != key {
				t.Fatalf("Encode(%q) = %q, parsed as %s: %s ignored", keys, data, m, ig.Key)
			}
		}
		ai, statusRead := 0, ""
		for i, k := range keys {
			if ai < len(m.Assignments) && m.Assignments[ai].Key == k {
				a := m.Assignments[ai]
				ai++
				if i == varAt && a.Value != value {
					t.Fatalf("Var(%q, %q) arrived as %q", key, value, a.Value)
				}
				if i == statusAt {
					statusRead = "STATUS=" + a.Value
				}
				continue
			}
			if k != key {
				t.Fatalf("line %d (%s) of %q is missing: %s", i, k, data, m)
			}
		}
		// The manager reads Status's doubled backslashes as one each.
		unescaped := strings.ReplaceAll(sdnotify.Status(status).String(), `\\`, `\`)
		if statusRead != "" && (!utf8.ValidString(statusRead) || !strings.HasPrefix(unescaped, statusRead)) {
			t.Fatalf("status %q arrived as %q", status, statusRead)
		}
	})
}

// FuzzWatchdogTimeout: sd_watchdog_enabled's rules, for any values.
func FuzzWatchdogTimeout(f *testing.F) {
	f.Add("2000000", "42")
	f.Add("0", "-")
	f.Add("-", "42")
	f.Add("18446744073709551615", "42")
	f.Add("1", "0")
	f.Fuzz(func(t *testing.T, usec, pid string) {
		const self = 42
		d, err := sdnotify.WatchdogTimeoutFrom(usec, pid, self)
		if err != nil {
			if d != 0 || !errors.Is(err, sdnotify.ErrInvalid) {
				t.Fatalf("(%q, %q) = %v, %v; want 0 and ErrInvalid", usec, pid, d, err)
			}
			return
		}
		if usec == "-" || d == 0 {
			if d != 0 || (usec != "-" && pid == strconv.Itoa(self)) {
				t.Fatalf("(%q, %q) = %v, nil", usec, pid, d)
			}
			return
		}
		u, perr := strconv.ParseUint(usec, 10, 64)
		if perr != nil || strconv.FormatUint(u, 10) != usec || time.Duration(u)*time.Microsecond != d || (pid != "-" && pid != strconv.Itoa(self)) {
			t.Fatalf("(%q, %q) = %v; want %s µs, ours", usec, pid, d, usec)
		}
	})
}
