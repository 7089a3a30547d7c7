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
		if err != nil && m.Err == nil {
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
// assignments it was asked for, whatever bytes its value holds.
func FuzzAssignments(f *testing.F) {
	f.Add("X_KEY", "value", "status", "name")
	f.Add("X", "a\nREADY=1", "caf\xe9\r\nSTOPPING=1", "a:b")
	f.Add("STATUS", "\xff", strings.Repeat("é", 3000), "")
	f.Fuzz(func(t *testing.T, key, value, status, name string) {
		as := []sdnotify.Assignment{sdnotify.Ready(), sdnotify.Var(key, value), sdnotify.Status(status), sdnotify.FDStoreRemove(name)}
		want := []string{"READY", key, "STATUS", "FDSTOREREMOVE"}
		var keep []sdnotify.Assignment
		var keys []string
		statusAt := -1
		for i, a := range as {
			if a.Err() == nil {
				if i == 2 {
					statusAt = len(keep)
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
		if m.Err != nil || len(m.Ignored) != 0 || len(m.Assignments) != len(keys) {
			t.Fatalf("Encode(%q) = %q, parsed as %s; want exactly %q, all acted on", keys, data, m, keys)
		}
		for i, a := range m.Assignments {
			if a.Key != keys[i] {
				t.Fatalf("assignment %d has key %q; want %q (datagram %q)", i, a.Key, keys[i], data)
			}
			if a.Key == key && key != "STATUS" && key != "READY" && key != "FDNAME" && a.Value != value {
				t.Fatalf("Var(%q, %q) arrived as %q", key, value, a.Value)
			}
		}
		if st := m.Assignments[statusAt].Value; !utf8.ValidString(st) || !strings.HasPrefix(sdnotify.Status(status).String(), "STATUS="+st) {
			t.Fatalf("status %q arrived as %q", status, st)
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
