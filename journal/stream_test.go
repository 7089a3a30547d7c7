package journal_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"

	"github.com/gosdnotify/sdnotify/journal"
)

func TestStreamHandler(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(journal.NewStreamHandler(&out, &journal.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
	logger.Debug("d")
	logger.Info("hello world", "user", "ann", "n", 3)
	logger.Log(context.Background(), slog.LevelInfo+2, "notice")
	logger.Warn("w", "q", `say "hi"`, "empty", "", "eq", "a=b")
	logger.Error("two\nlines", "err", errors.New("bad\nthing"), "bin", []byte{0xff})
	logger.Log(context.Background(), slog.LevelError+4, "crit")
	logger.WithGroup("req").With("id", 7).Info("g", "path", "/x")
	want := "<7>d\n" +
		"<6>hello world USER=ann N=3\n" +
		"<5>notice\n" +
		`<4>w Q="say \"hi\"" EMPTY="" EQ="a=b"` + "\n" +
		`<3>"two\nlines" ERR="bad\nthing" BIN="\xff"` + "\n" +
		"<2>crit\n" +
		"<6>g REQ_ID=7 REQ_PATH=/x\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestIsJournalStream(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other, err := os.CreateTemp(t.TempDir(), "other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	t.Setenv("JOURNAL_STREAM", journalStream(t, f))
	if journal.IsJournalStream(f) != journalSupported {
		t.Errorf("IsJournalStream(the file JOURNAL_STREAM names) = %v", !journalSupported)
	}
	if journal.IsJournalStream(other) {
		t.Error("IsJournalStream(another file) = true")
	}
	for _, v := range []string{"", "1", "x:y", "1:", ":2", "-1:2"} {
		t.Setenv("JOURNAL_STREAM", v)
		if journal.IsJournalStream(f) {
			t.Errorf("JOURNAL_STREAM=%q: IsJournalStream = true", v)
		}
	}
}
