package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// A size is one binary's size, as measured by run.sh.
type size struct {
	name  string
	bytes int64
}

func readSizes(path string) ([]size, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sz []size
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s: want NAME BYTES, got %q", path, line)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		sz = append(sz, size{f[0], n})
	}
	return sz, nil
}

func sizeOf(sz []size, name string) (int64, bool) {
	for _, s := range sz {
		if s.name == name {
			return s.bytes, true
		}
	}
	return 0, false
}

// baselineOf names the program that size name is compared with: the same
// program without the library, httpempty for the net/http daemons,
// slogtext (a slog daemon with slog.NewTextHandler) for the slog daemons
// with a journal handler, and empty for the others.
func baselineOf(name string) string {
	switch {
	case strings.HasPrefix(name, "http"):
		return "httpempty"
	case name == "journal" || name == "slogjournal":
		return "slogtext"
	}
	return "empty"
}

func printSizes(w io.Writer, sz []size) {
	fmt.Fprintln(w, `binary sizes (go build -trimpath -ldflags "-s -w"; the programs in size/), each over its baseline`)
	rows := [][]string{{"program", "bytes", "KiB", "baseline", "over it", "KiB"}}
	for _, s := range sz {
		row := []string{s.name, strconv.FormatInt(s.bytes, 10), fmt.Sprintf("%.1f", float64(s.bytes)/1024), "-", "-", "-"}
		if base := baselineOf(s.name); base != s.name {
			if b, ok := sizeOf(sz, base); ok {
				d := s.bytes - b
				row[3], row[4], row[5] = base, fmt.Sprintf("%+d", d), fmt.Sprintf("%+.1f", float64(d)/1024)
			}
		}
		rows = append(rows, row)
	}
	printColumns(w, rows, func(col, _ int) bool { return col > 0 && col != 3 })
}

// readDeps reads a file of import paths, one a line.
func readDeps(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	deps := strings.Fields(string(data))
	if len(deps) == 0 {
		return nil, fmt.Errorf("%s: no import paths", path)
	}
	return deps, nil
}
