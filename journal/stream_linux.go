package journal

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

func isJournalStream(f *os.File) bool {
	v, ok := os.LookupEnv("JOURNAL_STREAM")
	if !ok || f == nil {
		return false
	}
	devStr, inoStr, ok := strings.Cut(v, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devStr, 10, 64)
	ino, err2 := strconv.ParseUint(inoStr, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}
