package journal

import (
	"iter"

	"github.com/gosdnotify/sdnotify/internal/journalwire"
)

// Priority is a syslog priority, the value of an entry's PRIORITY field:
// 0 (Emerg) is the most severe, 7 (Debug) the least.
type Priority int

// The priorities, as sd-daemon.h and syslog(3) name them.
const (
	Emerg Priority = iota
	Alert
	Crit
	Err
	Warning
	Notice
	Info
	Debug
)

// MaxFields is the most fields journald accepts in one entry; it ignores a
// whole entry with more. An Entry never sends more: see [Entry.Add].
const MaxFields = journalwire.MaxFields

// ExtraFieldsName is the field that carries the fields an Entry could not
// send as fields of their own because the entry already had MaxFields-1
// of them. Its value is those fields in the native protocol's encoding.
const ExtraFieldsName = "EXTRA_FIELDS"

// A Field is one field of an entry for [Send]. Value may hold any bytes.
type Field struct {
	Name  string
	Value string
}

// ValidFieldName reports whether journald keeps a field of this name: 1 to
// 64 characters of A-Z, 0-9 and '_', not starting with a digit or '_'.
// (Names starting with '_' are the journal's trusted fields; journald drops
// them when a client sends them.)
func ValidFieldName(name string) bool { return journalwire.ValidName(name) }

// FieldName returns the name an Entry and the Handler use for key: ASCII
// letters upper-cased, every other character that is not a digit or '_'
// (one for each rune) replaced with '_', "X_" put in front when the name
// would start with a digit or '_' or be empty, and the name cut to 64
// bytes. A valid name is returned unchanged. So "user.id" becomes
// "USER_ID", "2fa" "X_2FA", "_PID" "X__PID" and "café" "CAF_".
func FieldName(key string) string {
	if journalwire.ValidName(key) {
		return key
	}
	return string(journalwire.AppendName(nil, 0, key))
}

// An Entry is a journal entry being built, its fields encoded in the
// native protocol as they are added. The zero Entry is empty and ready to
// use; Reset empties it for reuse without freeing its memory. An Entry is
// not safe for concurrent use.
type Entry struct {
	buf    []byte
	fields int
	// extra holds, encoded, the fields added after the entry reached
	// MaxFields-1; they are sent as one ExtraFieldsName field.
	extra []byte
	// scratch is for values that are formatted before being encoded,
	// prefix for a Handler's group names, line for a Handler's lines.
	scratch, prefix, line []byte
}

// Add adds a field. The name goes through [FieldName]; the value may hold
// any bytes, and one with a newline is sent in the protocol's binary form.
// Names may repeat: journald keeps every value. Fields past MaxFields-1 are
// not lost: they travel inside one ExtraFieldsName field.
func (e *Entry) Add(name, value string) {
	b := e.begin()
	*b = journalwire.AppendName(*b, len(*b), name)
	*b = journalwire.AppendValue(*b, value)
}

// AddBytes is Add for a value held in a byte slice, which is copied.
func (e *Entry) AddBytes(name string, value []byte) {
	b := e.begin()
	*b = journalwire.AppendName(*b, len(*b), name)
	*b = journalwire.AppendValue(*b, value)
}

// Reset empties the entry, keeping its memory.
func (e *Entry) Reset() {
	e.buf = e.buf[:0]
	e.extra = e.extra[:0]
	e.fields = 0
}

// Fields reports how many fields the entry will send, the ExtraFieldsName
// field included.
func (e *Entry) Fields() int {
	if len(e.extra) > 0 {
		return e.fields + 1
	}
	return e.fields
}

// Bytes returns the encoded entry, as it goes into a datagram. The slice
// is valid until the entry is next changed.
func (e *Entry) Bytes() []byte {
	if len(e.extra) == 0 {
		return e.buf
	}
	b := append(e.buf[:len(e.buf):len(e.buf)], ExtraFieldsName...)
	return journalwire.AppendValue(b, e.extra)
}

// begin starts a field: it returns the buffer the field goes to.
func (e *Entry) begin() *[]byte {
	if e.fields < MaxFields-1 {
		e.fields++
		return &e.buf
	}
	return &e.extra
}

// merge adds the fields of src, whose names are already mapped.
func (e *Entry) merge(src *Entry) {
	if len(src.extra) == 0 && e.fields+src.fields <= MaxFields-1 {
		e.buf = append(e.buf, src.buf...)
		e.fields += src.fields
		return
	}
	for name, value := range fields(src.buf, src.extra) {
		b := e.begin()
		*b = journalwire.AppendValue(append(*b, name...), value)
	}
}

// fields yields the fields encoded in each of parts, which an Entry wrote,
// in order.
func fields(parts ...[]byte) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for _, rest := range parts {
			for len(rest) > 0 {
				name, value, next, err := journalwire.Next(rest)
				if err != nil { // cannot happen: an Entry encoded it
					break
				}
				if !yield(name, value) {
					return
				}
				rest = next
			}
		}
	}
}
