package proto

import (
	"errors"
	"strings"
)

// ErrTrailingBackslash is Split's error for a datagram that ends in a
// backslash escaping nothing: the manager drops such a datagram whole
// (and logs "Out of memory.", the error it reports for any failure to
// split).
var ErrTrailingBackslash = errors.New("a backslash at the end escapes nothing: the manager cannot split the datagram and drops it whole")

// Split splits a notification into its assignments as the manager does
// (strv_split_newlines): at newlines and carriage returns, leaving out
// empty lines, and reading a backslash as an escape: it is removed and
// the byte after it is kept as it is, even a newline, which then does not
// end the line. So "STATUS=a\b" arrives as STATUS=ab, "STATUS=a\\b" as
// STATUS=a\b, and "X=a\<newline>READY=1" as one assignment, X= with a
// newline in its value. A backslash that ends the datagram makes it
// unsplittable: Split returns ErrTrailingBackslash. The text ends at its
// first NUL byte, as the manager reads it.
//
// escaped reports whether any backslash was removed.
func Split(data []byte) (lines []string, escaped bool, err error) {
	s := string(data)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	var b []byte
	inLine := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) {
				return nil, escaped, ErrTrailingBackslash
			}
			i++
			b = append(b, s[i])
			inLine, escaped = true, true
		case c == '\n' || c == '\r':
			if inLine {
				lines = append(lines, string(b))
				b, inLine = b[:0], false
			}
		default:
			b = append(b, c)
			inLine = true
		}
	}
	if inLine {
		lines = append(lines, string(b))
	}
	return lines, escaped, nil
}

// EscapesNewline reports whether a line that ends with value would escape
// the newline after it: whether value ends in an odd number of
// backslashes.
func EscapesNewline(value string) bool {
	n := 0
	for i := len(value) - 1; i >= 0 && value[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}
