package journal_test

import (
	"testing"

	"github.com/gosdnotify/sdnotify/journal"
	"github.com/gosdnotify/sdnotify/journal/journaltest"
)

// FuzzEntry checks that whatever the names and values, an entry decodes
// as journald decodes it, keeps every field (none has a name journald
// would drop) and returns each value byte for byte.
func FuzzEntry(f *testing.F) {
	f.Add("MESSAGE", "hello", "user.id", []byte("42"))
	f.Add("", "", "_PID", []byte{0, '\n', 0xff})
	f.Add("1a", "x\ny", "café-ü", []byte("\n"))
	f.Fuzz(func(t *testing.T, k1, v1, k2 string, v2 []byte) {
		var e journal.Entry
		e.Add(k1, v1)
		e.AddBytes(k2, v2)
		e.Add(k1, v1)
		got, err := journaltest.Parse(e.Bytes())
		if err != nil {
			t.Fatalf("journald would ignore %q: %v", e.Bytes(), err)
		}
		if len(got.Dropped) > 0 || len(got.Fields) != 3 {
			t.Fatalf("fields %q, dropped %q", got.Fields, got.Dropped)
		}
		want := []journal.Field{{Name: journal.FieldName(k1), Value: v1}, {Name: journal.FieldName(k2), Value: string(v2)}, {Name: journal.FieldName(k1), Value: v1}}
		for i, f := range got.Fields {
			if f != want[i] {
				t.Errorf("field %d = %q, want %q", i, f, want[i])
			}
		}
	})
}
