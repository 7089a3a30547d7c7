// Package journalwire holds the facts of journald's native protocol that the
// journal package (which encodes entries) and the fake journald in
// journal/journaltest (which decodes them) share: the field name rule, the
// two field encodings, and the limits.
package journalwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// MaxNameLen is the longest field name journald accepts.
	MaxNameLen = 64
	// MaxFields is the most fields an entry may carry: journald ignores a
	// whole entry with more.
	MaxFields = 1024
	// NamePrefix is put in front of a name that would otherwise start with
	// a digit or an underscore, or be empty.
	NamePrefix = "X_"
)

// ValidName reports whether name is a field name journald keeps from a
// client: 1 to 64 of A-Z, 0-9 and '_', not starting with a digit or '_'.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLen {
		return false
	}
	if c := name[0]; c == '_' || ('0' <= c && c <= '9') {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '_'
}

// AppendName appends key to buf as part of a journald field name whose
// bytes so far are buf[start:] (a group prefix that went through
// AppendName before, or nothing): ASCII letters upper-cased, every other
// character that is not a digit or '_' (one for each rune) replaced with
// '_', NamePrefix put in front when the name would start with a digit or
// '_' or be empty, and the name cut to MaxNameLen bytes.
func AppendName(buf []byte, start int, key string) []byte {
	first := len(buf)
	// The common case: letters, digits and '_', after a prefix or starting
	// with a letter, short enough.
	if plainKey(key) && len(buf)-start+len(key) <= MaxNameLen &&
		(len(buf) > start || key != "" && key[0] != '_' && (key[0] < '0' || key[0] > '9')) {
		return appendUpper(buf, key)
	}
	for i := 0; i < len(key) && len(buf)-start < MaxNameLen; {
		c := key[i]
		switch {
		case nameByte(c):
			buf = append(buf, c)
			i++
		case 'a' <= c && c <= 'z':
			buf = append(buf, c-'a'+'A')
			i++
		case c < utf8.RuneSelf:
			buf = append(buf, '_')
			i++
		default:
			_, size := utf8.DecodeRuneInString(key[i:])
			buf = append(buf, '_')
			i += size
		}
	}
	if first == start && (len(buf) == start || buf[start] == '_' || ('0' <= buf[start] && buf[start] <= '9')) {
		buf = append(buf[:start], append([]byte(NamePrefix), buf[start:]...)...)
	}
	if len(buf)-start > MaxNameLen {
		buf = buf[:start+MaxNameLen]
	}
	return buf
}

// plainKey reports whether key holds only ASCII letters, digits and '_'.
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if c := key[i]; !nameByte(c) && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// appendUpper appends key, a plainKey, with its letters upper-cased.
func appendUpper(buf []byte, key string) []byte {
	n := len(buf)
	buf = append(buf, key...)
	for i := n; i < len(buf); i++ {
		if c := buf[i]; 'a' <= c && c <= 'z' {
			buf[i] = c - 'a' + 'A'
		}
	}
	return buf
}

// AppendValue appends '=' value '\n' for a value without a newline, and the
// binary form ('\n', the length as a little-endian uint64, the bytes, '\n')
// for one with a newline. The name must have been appended just before.
func AppendValue[T string | []byte](buf []byte, value T) []byte {
	if hasNewline(value) {
		buf = append(buf, '\n')
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(value)))
		buf = append(buf, value...)
		return append(buf, '\n')
	}
	buf = append(buf, '=')
	buf = append(buf, value...)
	return append(buf, '\n')
}

func hasNewline[T string | []byte](value T) bool {
	switch v := any(value).(type) {
	case string:
		return strings.IndexByte(v, '\n') >= 0
	case []byte:
		return bytes.IndexByte(v, '\n') >= 0
	}
	return false
}

// ErrSyntax is wrapped by the errors of Next.
var ErrSyntax = errors.New("malformed journal entry")

// Next decodes the first field of b, in either form, and returns its name,
// value and the bytes after it. Names are returned as they are, valid or
// not: the caller applies journald's rules. An empty line (journald's entry
// separator) is an error here: one datagram is one entry.
func Next(b []byte) (name string, value, rest []byte, err error) {
	nl := -1
	eq := -1
	for i, c := range b {
		if c == '=' && eq < 0 {
			eq = i
		}
		if c == '\n' {
			nl = i
			break
		}
	}
	switch {
	case nl < 0:
		return "", nil, nil, fmt.Errorf("%w: %d bytes without a newline at the end", ErrSyntax, len(b))
	case nl == 0:
		return "", nil, nil, fmt.Errorf("%w: an empty line (an entry separator) inside the entry", ErrSyntax)
	case eq >= 0 && eq < nl:
		return string(b[:eq]), b[eq+1 : nl], b[nl+1:], nil
	}
	name = string(b[:nl])
	b = b[nl+1:]
	if len(b) < 8 {
		return "", nil, nil, fmt.Errorf("%w: field %s: %d bytes where the 8-byte length should be", ErrSyntax, strconv.Quote(name), len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	b = b[8:]
	if n >= uint64(len(b)) || b[n] != '\n' {
		return "", nil, nil, fmt.Errorf("%w: field %s: length %d, but %d bytes follow (with the final newline)", ErrSyntax, strconv.Quote(name), n, len(b))
	}
	return name, b[:n], b[n+1:], nil
}
