package proto_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		escaped  bool
		err      error
	}{
		{name: "one", in: "READY=1", want: []string{"READY=1"}},
		{name: "newlines and returns", in: "READY=1\nSTATUS=x\r\nX_A=1", want: []string{"READY=1", "STATUS=x", "X_A=1"}},
		{name: "empty lines", in: "\n\nREADY=1\n\n\rSTATUS=x\n", want: []string{"READY=1", "STATUS=x"}},
		{name: "empty", in: "", want: nil},
		{name: "trailing NUL ends it", in: "STATUS=nul\x00", want: []string{"STATUS=nul"}},
		{name: "backslash removed", in: `STATUS=a\b`, want: []string{"STATUS=ab"}, escaped: true},
		{name: "double backslash", in: `STATUS=a\\b`, want: []string{`STATUS=a\b`}, escaped: true},
		{name: "escaped newline joins", in: "X_A=a\\\nREADY=1", want: []string{"X_A=a\nREADY=1"}, escaped: true},
		{name: "trailing backslash", in: "READY=1\nSTATUS=x\\", err: proto.ErrTrailingBackslash},
		{name: "trailing backslash before NUL", in: "STATUS=x\\\x00", err: proto.ErrTrailingBackslash},
		{name: "escaped trailing backslash", in: `STATUS=x\\`, want: []string{`STATUS=x\`}, escaped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, escaped, err := proto.Split([]byte(tc.in))
			if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) || escaped != tc.escaped {
				t.Errorf("Split(%q) = %q, %v, %v; want %q, %v, %v", tc.in, got, escaped, err, tc.want, tc.escaped, tc.err)
			}
		})
	}
	if !proto.EscapesNewline(`a\`) || proto.EscapesNewline(`a\\`) || !proto.EscapesNewline(`\\\`) || proto.EscapesNewline("") {
		t.Error("EscapesNewline counts trailing backslashes wrong")
	}
}

// TestNumbers: the fields' parsers read what systemd's do, as seen on
// systemd 252 and 254 (ERRNO=0x10 is 16, ERRNO= 5 is 5, WATCHDOG_USEC=
// 0x0F4240 is 1 s, WATCHDOG_USEC=0b101... is read in binary).
func TestNumbers(t *testing.T) {
	u64 := []struct {
		in   string
		want uint64
		err  error
	}{
		{"0", 0, nil}, {"1000000", 1000000, nil}, {" 0x0F4240", 1000000, nil}, {"\t\n\r 7", 7, nil},
		{"0b101", 5, nil}, {"0B11", 3, nil}, {"0o17", 15, nil}, {"017", 15, nil}, {"+5", 5, nil}, {"-0", 0, nil},
		{"\v9", 9, nil}, {"18446744073709551615", 1<<64 - 1, nil},
		{"", 0, proto.ErrSyntax}, {" ", 0, proto.ErrSyntax}, {"5 ", 0, proto.ErrSyntax}, {"0x", 0, proto.ErrSyntax},
		{"08", 0, proto.ErrSyntax}, {"0b", 0, proto.ErrSyntax}, {"1e3", 0, proto.ErrSyntax}, {"abc", 0, proto.ErrSyntax},
		{"-1", 0, proto.ErrRange}, {"18446744073709551616", 0, proto.ErrRange}, {"0b-1", 0, proto.ErrRange},
	}
	for _, tc := range u64 {
		if got, err := proto.ParseUint64(tc.in); got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParseUint64(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	u32 := []struct {
		in   string
		want uint32
		err  error
	}{{"4294967295", 1<<32 - 1, nil}, {"4294967296", 0, proto.ErrRange}, {"-1", 0, proto.ErrRange}, {"x", 0, proto.ErrSyntax}}
	for _, tc := range u32 {
		if got, err := proto.ParseUint32(tc.in); got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParseUint32(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	pid := []struct {
		in   string
		want int
		err  error
	}{{"1", 1, nil}, {"0x10", 16, nil}, {"2147483647", 1<<31 - 1, nil}, {"0", 0, proto.ErrRange}, {"2147483648", 0, proto.ErrRange}, {"-5", 0, proto.ErrRange}, {"abc", 0, proto.ErrSyntax}}
	for _, tc := range pid {
		if got, err := proto.ParsePID(tc.in); got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParsePID(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	errno := []struct {
		in   string
		want int
		err  error
	}{
		{"EINVAL", 22, nil}, {"ENOENT", 2, nil}, {"EWOULDBLOCK", 11, nil}, {"E2BIG", 7, nil}, {"EHWPOISON", 133, nil},
		{"0", 0, nil}, {"5", 5, nil}, {" 5", 5, nil}, {"0x10", 16, nil}, {"4095", 4095, nil},
		{"4096", 0, proto.ErrRange}, {"-1", 0, proto.ErrRange}, {"99999999999", 0, proto.ErrRange},
		{"einval", 0, proto.ErrSyntax}, {"EFOO", 0, proto.ErrSyntax}, {"", 0, proto.ErrSyntax},
	}
	for _, tc := range errno {
		if got, err := proto.ParseErrno(tc.in); got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParseErrno(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if got, err := proto.ParseInt32("-2147483648"); got != -1<<31 || err != nil {
		t.Errorf("ParseInt32(min) = %d, %v", got, err)
	}
}

func TestFDName(t *testing.T) {
	for name, ok := range map[string]bool{
		"": true, "web": true, "a b~": true, strings.Repeat("x", 255): true,
		strings.Repeat("x", 256): false, "a:b": false, "tab\t": false, "caf\xc3\xa9": false, "\x7f": false,
	} {
		if proto.ValidFDName(name) != ok || (proto.FDNameProblem(name) == "") != ok {
			t.Errorf("ValidFDName(%q) = %v, problem %q; want %v", name, proto.ValidFDName(name), proto.FDNameProblem(name), ok)
		}
	}
}

func TestAccess(t *testing.T) {
	for _, a := range []string{"none", "main", "exec", "all"} {
		if !proto.ValidAccess(a) {
			t.Errorf("ValidAccess(%q) = false", a)
		}
	}
	for _, a := range []string{"", "Main", "bogus"} {
		if proto.ValidAccess(a) {
			t.Errorf("ValidAccess(%q) = true", a)
		}
	}
}
