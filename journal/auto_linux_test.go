package journal_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/gosdnotify/sdnotify/journal"
	"github.com/gosdnotify/sdnotify/journal/journaltest"
)

// TestNewHandlerChooses checks the three outcomes of NewHandler, with
// standard error replaced by a file that JOURNAL_STREAM names or not.
func TestNewHandlerChooses(t *testing.T) {
	s := journaltest.New(t)
	missing := journal.NewConn(filepath.Join(t.TempDir(), "none"))
	for _, tc := range []struct {
		name     string
		stream   bool
		conn     *journal.Conn
		native   bool   // an entry reaches the fake journald
		wantLine string // what standard error gets
	}{
		{"journal stream and socket", true, s.Conn(), true, ""},
		{"journal stream, no socket", true, missing, false, "<4>hello K=v\n"},
		{"not the journal", false, s.Conn(), false, "level=WARN msg=hello k=v\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr, err := os.CreateTemp(t.TempDir(), "stderr")
			if err != nil {
				t.Fatal(err)
			}
			defer stderr.Close()
			old := os.Stderr
			os.Stderr = stderr
			defer func() { os.Stderr = old }()
			if tc.stream {
				t.Setenv("JOURNAL_STREAM", journalStream(t, stderr))
			} else {
				t.Setenv("JOURNAL_STREAM", "1:1")
			}
			h := journal.NewHandler(&journal.HandlerOptions{Conn: tc.conn, ReplaceAttr: dropTime})
			slog.New(h).Warn("hello", "k", "v")
			slog.New(journal.NewNativeHandler(&journal.HandlerOptions{Conn: s.Conn()})).Info("marker")
			if e := next(t, s); (e.Value("MESSAGE") == "hello") != tc.native {
				t.Errorf("first entry %q: native = %v, want %v", e.Value("MESSAGE"), !tc.native, tc.native)
			}
			if tc.native {
				next(t, s) // the marker
			}
			got, err := os.ReadFile(stderr.Name())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.wantLine {
				t.Errorf("standard error got %q, want %q", got, tc.wantLine)
			}
		})
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}
