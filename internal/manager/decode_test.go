package manager_test

import (
	"strings"
	"testing"

	"github.com/gosdnotify/sdnotify/internal/manager"
)

// line is what a test expects of one line: its text as the manager read
// it, its use, and a part of the reason.
type line struct {
	text   string
	use    manager.Use
	reason string
	logged bool
}

// TestDecode: what the manager reads in a datagram, line by line. Each
// case marked "finding" is one of issue 14's: sdnotifytest.Parse decided
// otherwise before (the rule was written twice, and once wrong).
func TestDecode(t *testing.T) {
	read := manager.Read
	for _, tc := range []struct {
		name  string
		data  string
		size  int
		files int
		v     manager.Version
		drop  string
		note  string
		lines []line
	}{
		{name: "finding: RELOADING=1 alone is read", data: "RELOADING=1", lines: []line{{"RELOADING=1", read, "", false}}},
		{name: "finding: ERRNO by name", data: "ERRNO=EINVAL", lines: []line{{"ERRNO=EINVAL", read, "", false}}},
		{name: "finding: ERRNO 4096", data: "ERRNO=4096", lines: []line{{"ERRNO=4096", manager.Ignored, "0 to 4095", true}}},
		{name: "ERRNO 4095", data: "ERRNO=4095", lines: []line{{"ERRNO=4095", read, "", false}}},
		{name: "finding: ERRNO hex", data: "ERRNO=0x10", lines: []line{{"ERRNO=0x10", read, "", false}}},
		{name: "finding: ERRNO leading space", data: "ERRNO= 5", lines: []line{{"ERRNO= 5", read, "", false}}},
		{name: "ERRNO negative", data: "ERRNO=-1", lines: []line{{"ERRNO=-1", manager.Ignored, "out of range", true}}},
		{name: "finding: WATCHDOG_USEC=0 is read", data: "WATCHDOG_USEC=0", lines: []line{{"WATCHDOG_USEC=0", read, "", false}}},
		{name: "finding: usec with space and 0x", data: "WATCHDOG_USEC= 0x0F4240", lines: []line{{"WATCHDOG_USEC= 0x0F4240", read, "", false}}},
		{name: "finding: usec 0b", data: "EXTEND_TIMEOUT_USEC=0b101", lines: []line{{"EXTEND_TIMEOUT_USEC=0b101", read, "", false}}},
		{name: "finding: usec 0o", data: "MONOTONIC_USEC=0o17", lines: []line{{"MONOTONIC_USEC=0o17", read, "", false}}},
		{name: "usec negative", data: "EXTEND_TIMEOUT_USEC=-1", lines: []line{{"EXTEND_TIMEOUT_USEC=-1", manager.Ignored, "out of range", true}}},
		{name: "usec trailing space", data: "WATCHDOG_USEC=5 ", lines: []line{{"WATCHDOG_USEC=5 ", manager.Ignored, "not a number", true}}},
		{name: "MAINPID 0", data: "MAINPID=0", lines: []line{{"MAINPID=0", manager.Ignored, "not a process ID", true}}},
		{name: "finding: misspelled ready", data: "ready=1", lines: []line{{"ready=1", manager.Ignored, "did you mean READY=?", false}}},
		{name: "finding: misspelled STATUS", data: "STAUS=x", lines: []line{{"STAUS=x", manager.Ignored, "did you mean STATUS=?", false}}},
		{name: "finding: unknown key", data: "FROBNICATE=1", lines: []line{{"FROBNICATE=1", manager.Ignored, "unknown key", false}}},
		{name: "private key", data: "X_STAUS=1", lines: []line{{"X_STAUS=1", manager.Unused, "private", false}}},
		{name: "logged only", data: "EXIT_STATUS=3\nBUSERROR=org.x.Y", lines: []line{{"EXIT_STATUS=3", manager.Unused, "only logs", false}, {"BUSERROR=org.x.Y", manager.Unused, "only logs", false}}},
		{name: "READY=0", data: "READY=0", lines: []line{{"READY=0", manager.Ignored, "only READY=1", false}}},
		{name: "READY=1 with a space", data: "READY=1 ", lines: []line{{"READY=1 ", manager.Ignored, "only READY=1", false}}},
		{name: "WATCHDOG=2", data: "WATCHDOG=2", lines: []line{{"WATCHDOG=2", manager.Ignored, "WATCHDOG=trigger", true}}},
		{name: "first STATUS counts", data: "STATUS=one\nSTATUS=two", lines: []line{{"STATUS=one", read, "", false}, {"STATUS=two", manager.Ignored, "only the first", false}}},
		{name: "first invalid ERRNO shadows", data: "ERRNO=x\nERRNO=5", lines: []line{{"ERRNO=x", manager.Ignored, "errno", true}, {"ERRNO=5", manager.Ignored, "only the first", false}}},
		{name: "STATUS not UTF-8", data: "STATUS=\xff\nREADY=1", lines: []line{{"STATUS=\xff", manager.Ignored, "UTF-8", true}, {"READY=1", read, "", false}}},
		{name: "repeated flag", data: "READY=1\nREADY=1", lines: []line{{"READY=1", read, "", false}, {"READY=1", manager.Ignored, "repeated", false}}},
		{name: "no equals", data: "READY\nSTATUS=x", note: "has no '='", lines: []line{{"READY", manager.Ignored, "not KEY=VALUE", false}, {"STATUS=x", read, "", false}}},
		{name: "newlines, returns, empty lines", data: "\r\nREADY=1\r\n\r\nSTATUS=x\n", lines: []line{{"READY=1", read, "", false}, {"STATUS=x", read, "", false}}},
		{name: "version: NOTIFYACCESS on 252", data: "NOTIFYACCESS=all", v: 252, lines: []line{{"NOTIFYACCESS=all", manager.Ignored, "systemd 252 does not know NOTIFYACCESS=", false}}},
		{name: "version: NOTIFYACCESS on 254", data: "NOTIFYACCESS=all", lines: []line{{"NOTIFYACCESS=all", read, "", false}}},
		{name: "version: bad NOTIFYACCESS", data: "NOTIFYACCESS=bogus", lines: []line{{"NOTIFYACCESS=bogus", manager.Ignored, "not none, main", true}}},
		{name: "version: MONOTONIC_USEC on 252", data: "MONOTONIC_USEC=5", v: 252, lines: []line{{"MONOTONIC_USEC=5", manager.Ignored, "came in 253", false}}},
		{name: "version: RESTART_RESET on 254", data: "RESTART_RESET=1", lines: []line{{"RESTART_RESET=1", manager.Ignored, "came in 258", false}}},
		{name: "version: RESTART_RESET on the newest", data: "RESTART_RESET=1", v: manager.Newest, lines: []line{{"RESTART_RESET=1", manager.Unused, "", false}}},
		{name: "version: WATCHDOG=trigger before 243", data: "WATCHDOG=trigger", v: 240, lines: []line{{"WATCHDOG=trigger", manager.Ignored, "before systemd 243", true}}},
		{name: "bad FDNAME", data: "FDNAME=a:b", lines: []line{{"FDNAME=a:b", manager.Ignored, "':'", false}}},

		{name: "finding: backslash escapes", data: `STATUS=C:\path`, note: "backslash", lines: []line{{"STATUS=C:path", read, "", false}}},
		{name: "finding: escaped newline joins lines", data: "X_A=a\\\nREADY=1", lines: []line{{"X_A=a\nREADY=1", manager.Unused, "", false}}},
		{name: "finding: trailing backslash", data: "READY=1\nSTATUS=x\\", drop: "backslash at the end"},
		{name: "finding: empty is read, as nothing", data: "", note: "empty"},
		{name: "finding: one trailing NUL", data: "STATUS=nul\x00", lines: []line{{"STATUS=nul", read, "", false}}},
		{name: "NUL alone", data: "\x00", note: "empty"},
		{name: "NUL inside", data: "STATUS=a\x00b", drop: "NUL byte at offset 8"},
		{name: "4096 bytes", data: "STATUS=" + strings.Repeat("x", 4089), lines: []line{{"STATUS=" + strings.Repeat("x", 4089), read, "", false}}},
		{name: "4097 bytes", data: "STATUS=" + strings.Repeat("x", 4090), drop: "4097 bytes"},
		{name: "larger than the buffer", data: "STATUS=x", size: 70000, drop: "70000 bytes"},
		{name: "barrier", data: "BARRIER=1", files: 1},
		{name: "barrier with more", data: "BARRIER=1\nREADY=1", files: 1, drop: "other assignments"},
		{name: "barrier without a file", data: "BARRIER=1", drop: "0 files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v == 0 {
				v = manager.V254
			}
			d := manager.Decode(manager.Input{Data: []byte(tc.data), Size: tc.size, Files: tc.files}, v)
			if tc.drop == "" && d.Drop != "" || !strings.Contains(d.Drop, tc.drop) {
				t.Fatalf("Drop = %q; want %q", d.Drop, tc.drop)
			}
			if tc.note != "" && !strings.Contains(strings.Join(d.Notes, "; "), tc.note) {
				t.Errorf("Notes = %q; want one with %q", d.Notes, tc.note)
			}
			if len(d.Lines) != len(tc.lines) {
				t.Fatalf("%d lines %+v; want %d", len(d.Lines), d.Lines, len(tc.lines))
			}
			for i, want := range tc.lines {
				got := d.Lines[i]
				if got.Text != want.text || got.Use != want.use || !strings.Contains(got.Reason, want.reason) || got.Logged != want.logged {
					t.Errorf("line %d = %q %v %q logged=%v; want %q %v %q logged=%v", i, got.Text, got.Use, got.Reason, got.Logged, want.text, want.use, want.reason, want.logged)
				}
			}
		})
	}
}

func TestDecodeUnknownFlagged(t *testing.T) {
	d := manager.Decode(manager.Input{Data: []byte("ready=1\nX_MINE=1\nSTATUS=x")}, manager.V254)
	if !d.Lines[0].Unknown || d.Lines[1].Unknown || d.Lines[2].Unknown {
		t.Errorf("Unknown flags: %+v", d.Lines)
	}
	if v, ok := d.Read("STATUS"); !ok || v != "x" {
		t.Errorf("Read(STATUS) = %q, %v", v, ok)
	}
	if !d.Has("X_MINE=1") || d.Has("ready=1") {
		t.Errorf("Has: X_MINE=1 %v, ready=1 %v", d.Has("X_MINE=1"), d.Has("ready=1"))
	}
}
