package journal

import (
	"strconv"
	"unicode/utf8"
)

// writeLine writes the record in e as one line for a journal stream: the
// priority prefix, the message, and the fields from e.buf[user:] on.
func (h *Handler) writeLine(e *Entry, user int, p Priority, msg string) error {
	b := append(e.line[:0], '<', byte('0'+p), '>')
	if plain(msg, false) {
		b = append(b, msg...)
	} else {
		b = strconv.AppendQuote(b, msg)
	}
	for name, value := range fields(e.buf[user:], e.extra) {
		b = append(append(append(b, ' '), name...), '=')
		if plain(value, true) {
			b = append(b, value...)
		} else {
			b = strconv.AppendQuote(b, string(value))
		}
	}
	b = append(b, '\n')
	e.line = b
	_, err := h.lines.Write(b)
	return err
}

// plain reports whether s can go into a line as it is: valid UTF-8 without
// control characters and, for a value (field), not empty and without a
// space, '"' or '='.
func plain[T string | []byte](s T, field bool) bool {
	if field && len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f || (field && (c == ' ' || c == '"' || c == '=')) {
			return false
		}
	}
	switch v := any(s).(type) {
	case string:
		return utf8.ValidString(v)
	case []byte:
		return utf8.Valid(v)
	}
	return true
}
