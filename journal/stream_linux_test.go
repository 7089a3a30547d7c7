package journal_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

const journalSupported = true

// journalStream returns the JOURNAL_STREAM value that names f.
func journalStream(t *testing.T, f *os.File) string {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
