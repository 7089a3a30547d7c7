package proto

import (
	"errors"
	"math"
	"strings"
)

// Errors of the number parsers, as systemd's: a value that is not a
// number (EINVAL), and a number out of the field's range (ERANGE).
var (
	ErrSyntax = errors.New("not a number")
	ErrRange  = errors.New("out of range")
)

// MaxErrno is the largest errno the manager takes in ERRNO= (systemd's
// ERRNO_MAX); 0 is valid too and clears StatusErrno.
const MaxErrno = 4095

// The numbers in notifications are read by systemd's parsers, which are
// C's strtoull and strtol in base 0 with a few rules of their own. So each
// field takes more than plain decimal:
//
//   - leading white space: " \t\n\r", and then "\v\f" (C's isspace);
//   - a sign: "+" always, "-" only for a value of 0 in the unsigned
//     fields (ERRNO= reads a signed number, then refuses a negative one);
//   - "0x" for hexadecimal, "0" for octal (C's), "0b" and "0o" for binary
//     and octal (systemd's own, as Python writes them);
//   - nothing after the digits, not even white space.
//
// ParseUint64 is safe_atou64 (WATCHDOG_USEC=, EXTEND_TIMEOUT_USEC=,
// MONOTONIC_USEC=), ParseUint32 safe_atou (a vsock CID or port),
// ParseInt32 safe_atoi, ParsePID parse_pid (MAINPID=), and ParseErrno
// parse_errno (ERRNO=, which also takes an errno's name, such as EINVAL).

// whitespace is systemd's WHITESPACE, which its parsers skip first.
const whitespace = " \t\n\r"

// mangleBase takes systemd's "0b" and "0o" prefixes off s, and returns
// the base they mean, or 0 (strtoull's own choice: 0x, 0, decimal).
func mangleBase(s string) (string, int) {
	if len(s) >= 2 && s[0] == '0' {
		switch s[1] {
		case 'b', 'B':
			return s[2:], 2
		case 'o', 'O':
			return s[2:], 8
		}
	}
	return s, 0
}

func isCSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

func digit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// strto reads a number from s as C's strtoull does in base (0, 2, 8):
// white space, a sign, a prefix for base 0, digits. It returns the
// magnitude, the sign, where the digits end (0 if there are none) and
// whether the magnitude overflowed 64 bits.
func strto(s string, base int) (mag uint64, neg bool, end int, overflow bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 0 {
		switch {
		case i+2 < len(s) && s[i] == '0' && s[i+1]|0x20 == 'x' && digit(s[i+2]) < 16:
			base, i = 16, i+2
		case i < len(s) && s[i] == '0':
			base = 8
		default:
			base = 10
		}
	}
	start := i
	for ; i < len(s); i++ {
		d := digit(s[i])
		if d >= base {
			break
		}
		if !overflow {
			if mag > (math.MaxUint64-uint64(d))/uint64(base) {
				overflow = true
			} else {
				mag = mag*uint64(base) + uint64(d)
			}
		}
	}
	if i == start {
		return 0, false, 0, false
	}
	return mag, neg, i, overflow
}

// ParseUint64 parses an unsigned 64-bit field as systemd's safe_atou64.
func ParseUint64(s string) (uint64, error) {
	s = strings.TrimLeft(s, whitespace)
	s, base := mangleBase(s)
	mag, neg, end, overflow := strto(s, base)
	switch {
	case overflow:
		return 0, ErrRange
	case end == 0 || end != len(s):
		return 0, ErrSyntax
	case neg && mag != 0 && s[0] == '-':
		return 0, ErrRange
	case neg:
		return -mag, nil // strtoull's wrap-around, where systemd does not look for the sign
	}
	return mag, nil
}

// ParseUint32 parses an unsigned 32-bit field as systemd's safe_atou.
func ParseUint32(s string) (uint32, error) {
	v, err := ParseUint64(s)
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint32 {
		return 0, ErrRange
	}
	return uint32(v), nil
}

// ParseInt32 parses a signed 32-bit field as systemd's safe_atoi.
func ParseInt32(s string) (int32, error) {
	s = strings.TrimLeft(s, whitespace)
	s, base := mangleBase(s)
	mag, neg, end, overflow := strto(s, base)
	switch {
	case overflow || !neg && mag > math.MaxInt64 || neg && mag > math.MaxInt64+1:
		return 0, ErrRange // strtol's own range
	case end == 0 || end != len(s):
		return 0, ErrSyntax
	}
	v := int64(mag)
	if neg {
		v = -v
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, ErrRange
	}
	return int32(v), nil
}

// ParsePID parses a process ID as systemd's parse_pid: an unsigned number
// from 1 to 2^31-1.
func ParsePID(s string) (int, error) {
	v, err := ParseUint64(s)
	if err != nil {
		return 0, err
	}
	if v == 0 || v > math.MaxInt32 {
		return 0, ErrRange
	}
	return int(v), nil
}

// ParseErrno parses ERRNO= as systemd's parse_errno: an errno's name (as
// Linux names them: EINVAL, ENOENT, ...), or a number from 0 to MaxErrno.
func ParseErrno(s string) (int, error) {
	if n := ErrnoByName(s); n > 0 {
		return n, nil
	}
	v, err := ParseInt32(s)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > MaxErrno {
		return 0, ErrRange
	}
	return int(v), nil
}
