package sdnotify

import (
	"strconv"
	"unicode/utf8"
)

// The package builds its error messages by concatenation rather than with
// fmt, which would add some 200 KB to every program that sends a
// notification. Only Statusf uses fmt.

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return "sdnotify: " + e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// invalid returns an error matching ErrInvalid with the message msg.
func invalid(msg string) error { return &invalidError{msg: msg} }

// A wrapError is msg, a colon and err, which it wraps: fmt.Errorf("%s: %w")
// without fmt.
type wrapError struct {
	msg string
	err error
}

func wrap(msg string, err error) error { return &wrapError{msg: msg, err: err} }

func (e *wrapError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *wrapError) Unwrap() error { return e.err }

// quote quotes s for an error message, as strconv.Quote does for ASCII:
// control bytes, quotes, backslashes and invalid UTF-8 are escaped, and
// valid UTF-8 is kept. It saves every program using this package the
// Unicode tables behind strconv.Quote.
func quote(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); {
		if c := s[i]; c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = appendEscape(b, c)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		if s[i] == '"' {
			b = append(b, '\\', '"')
		} else {
			b = appendEscape(b, s[i])
		}
		i++
	}
	return string(append(b, '"'))
}

// quoteByte quotes c as a character literal: 'a', '\n', '\x00'.
func quoteByte(c byte) string {
	b := []byte{'\''}
	if c == '\'' {
		b = append(b, '\\', '\'')
	} else {
		b = appendEscape(b, c)
	}
	return string(append(b, '\''))
}

// appendEscape appends c as it appears inside Go quotes (the caller
// escapes the quote character itself).
func appendEscape(b []byte, c byte) []byte {
	switch c {
	case '\\':
		return append(b, '\\', '\\')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	if c < ' ' || c >= 0x7f {
		const hex = "0123456789abcdef"
		return append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
	}
	return append(b, c)
}

func itoa(i int) string { return strconv.Itoa(i) }

// errText is err.Error(), or "<nil>" as fmt prints a nil error.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
