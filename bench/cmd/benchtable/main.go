// Command benchtable reads `go test -bench` output and prints, for each
// benchmark, the median of each of its metrics over the runs (-count),
// the ratio to its group's floor and to the peers of its group, and
// whether the library meets its performance targets.
//
// Usage:
//
//	go test -run '^$' -bench . -benchmem -count 10 | benchtable [-sizes FILE]
//	benchtable [-sizes FILE] FILE...
//
// Benchmark names are GROUP/IMPL/VARIANT (Benchmark and the -GOMAXPROCS
// suffix stripped). The first raw/ benchmark of a group is its floor; the
// library's are sdnotify/ and journal/ ones, and every other one that is
// not raw/ (coreos/, mdlayher/, slogjournal/, slog/) is a peer that each of
// the library's in the group is compared with.
//
// -sizes names a file of "NAME BYTES" lines, binary sizes measured by
// run.sh: each program is compared with its baseline, "httpempty" for the
// net/http daemons (NAME http...), "slogtext" (slog.NewTextHandler) for
// the slog daemons "journal" (the library's journal.NewHandler) and
// "slogjournal", and "empty" for the others; "sdnotify" and
// "httpsdnotify" are the library's sd_notify ones.
//
// -deps names a file of import paths, one a line (go list -deps of a
// daemon that uses the library), checked for package net.
//
// It exits 0 whether or not the targets are met (the table says); 2 if the
// input cannot be read or holds no benchmark.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

func main() {
	sizes := flag.String("sizes", "", "file of `NAME BYTES` lines: binary sizes to print and check")
	deps := flag.String("deps", "", "`file` of the import paths a daemon using the library links (go list -deps)")
	targets := flag.Bool("targets", true, "check the library's targets")
	flag.Parse()

	var in []io.Reader
	if flag.NArg() == 0 {
		in = append(in, os.Stdin)
	}
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		in = append(in, f)
	}
	set := newSet()
	for _, r := range in {
		if err := set.parse(r); err != nil {
			fatal(err)
		}
	}
	if len(set.order) == 0 {
		fatal(fmt.Errorf("no benchmark results in the input"))
	}
	var sz []size
	if *sizes != "" {
		var err error
		if sz, err = readSizes(*sizes); err != nil {
			fatal(err)
		}
	}
	var dl []string
	if *deps != "" {
		var err error
		if dl, err = readDeps(*deps); err != nil {
			fatal(err)
		}
	}
	w := os.Stdout
	set.printTable(w)
	if len(sz) > 0 {
		fmt.Fprintln(w)
		printSizes(w, sz)
	}
	if *targets {
		fmt.Fprintln(w)
		printTargets(w, set, sz, dl)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(2)
}

// A bench holds the samples of one benchmark, by unit.
type bench struct {
	name    string // GROUP/IMPL/VARIANT
	group   string
	impl    string // after GROUP/
	samples map[string][]float64
}

func (b *bench) median(unit string) (float64, bool) {
	s := b.samples[unit]
	if len(s) == 0 {
		return 0, false
	}
	return median(s), true
}

// spread is the interquartile range of the unit's samples, relative to
// their median, in percent.
func (b *bench) spread(unit string) float64 {
	s := append([]float64(nil), b.samples[unit]...)
	if len(s) < 2 {
		return 0
	}
	sort.Float64s(s)
	m := median(s)
	if m == 0 {
		return 0
	}
	return (quantile(s, 0.75) - quantile(s, 0.25)) / m * 100
}

func median(s []float64) float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	return quantile(c, 0.5)
}

// quantile interpolates the q-quantile of the sorted s.
func quantile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// A set is everything read: the benchmarks in order of first appearance
// and the header lines go test prints (goos, goarch, pkg, cpu).
type set struct {
	order  []string
	byName map[string]*bench
	units  []string // units beyond the standard three, in order seen
	header map[string]string
	runs   int
}

func newSet() *set {
	return &set{byName: map[string]*bench{}, header: map[string]string{}}
}

// parse reads go test -bench output, ignoring lines that are not results.
func (s *set) parse(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []string{"goos", "goarch", "pkg", "cpu"} {
			if v, ok := strings.CutPrefix(line, k+": "); ok {
				s.header[k] = strings.TrimSpace(v)
			}
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		// Name, iterations, then value-unit pairs.
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := trimProcs(strings.TrimPrefix(f[0], "Benchmark"))
		b := s.byName[name]
		if b == nil {
			group, impl, _ := strings.Cut(name, "/")
			b = &bench{name: name, group: group, impl: impl, samples: map[string][]float64{}}
			s.byName[name] = b
			s.order = append(s.order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			b.samples[unit] = append(b.samples[unit], v)
			if !isStandard(unit) && !contains(s.units, unit) {
				s.units = append(s.units, unit)
			}
		}
		if n := len(b.samples["ns/op"]); n > s.runs {
			s.runs = n
		}
	}
	return sc.Err()
}

// trimProcs removes the -GOMAXPROCS suffix that go test appends.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

func isStandard(unit string) bool {
	return unit == "ns/op" || unit == "B/op" || unit == "allocs/op"
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// groups returns the group names in order of first appearance.
func (s *set) groups() []string {
	var gs []string
	for _, name := range s.order {
		if g := s.byName[name].group; !contains(gs, g) {
			gs = append(gs, g)
		}
	}
	return gs
}

func (s *set) members(group string) []*bench {
	var bs []*bench
	for _, name := range s.order {
		if b := s.byName[name]; b.group == group {
			bs = append(bs, b)
		}
	}
	return bs
}

// floor returns the group's floor: its first raw/ benchmark, or nil.
func (s *set) floor(group string) *bench {
	for _, b := range s.members(group) {
		if strings.HasPrefix(b.impl, "raw/") {
			return b
		}
	}
	return nil
}

// groupDoc describes the groups that need it, in the table's headings.
var groupDoc = map[string]string{
	"Notify":     "READY=1 to a receiver that keeps up (max_dgram_qlen 512, drained in batches)",
	"NotifyBusy": "READY=1 to a busy receiver (max_dgram_qlen 10, one datagram at a time, slower than the senders): sends wait for room",
	"Disabled":   "NOTIFY_SOCKET unset",
	"Journal": "one record, 5 attributes, to /run/systemd/journal/socket; the receiver keeps up (max_dgram_qlen 512)." +
		" slog-journal always adds CODE_*: compare it with journal/Logger.Info-AddSource too",
	"JournalStalled": "journald not reading, its queue full; Conn.SetTimeout(10ms) (the kernel's SO_SNDTIMEO rounds up to its ticks)." +
		" slog-journal and go-systemd wait until journald reads: not measurable (TestJournalStalled)",
}

// isOurs reports whether b measures the library.
func isOurs(b *bench) bool {
	return strings.HasPrefix(b.impl, "sdnotify/") || strings.HasPrefix(b.impl, "journal/")
}

// isPeer reports whether b measures another implementation.
func isPeer(b *bench) bool {
	return !strings.HasPrefix(b.impl, "raw/") && !isOurs(b)
}

func (s *set) printTable(w io.Writer) {
	if cpu := s.header["cpu"]; cpu != "" {
		fmt.Fprintf(w, "go test cpu: %s\n", cpu)
	}
	fmt.Fprintf(w, "medians of %d runs; iqr: interquartile range of ns/op, in %% of the median\n", s.runs)
	fmt.Fprintf(w, "x floor: ns/op over the group's floor (its first raw/ benchmark); cpu x floor: the same for cpu-ns/op;\n")
	fmt.Fprintf(w, "vs peers: ns/op over theirs (below 1 is faster)\n\n")
	head := []string{"benchmark", "ns/op", "iqr", "B/op", "allocs/op"}
	head = append(head, s.units...)
	cpu := contains(s.units, "cpu-ns/op")
	head = append(head, "x floor")
	if cpu {
		head = append(head, "cpu x floor")
	}
	head = append(head, "vs peers")
	rows := [][]string{head}
	for _, g := range s.groups() {
		heading := g
		if d := groupDoc[g]; d != "" {
			heading += ": " + d
		}
		rows = append(rows, []string{heading})
		floor := s.floor(g)
		var peers []*bench
		for _, b := range s.members(g) {
			if isPeer(b) {
				peers = append(peers, b)
			}
		}
		for _, b := range s.members(g) {
			name := "  " + b.impl
			if b == floor {
				name += " (floor)"
			}
			ns, _ := b.median("ns/op")
			row := []string{name, formatNs(ns), fmt.Sprintf("%.0f%%", b.spread("ns/op"))}
			for _, u := range append([]string{"B/op", "allocs/op"}, s.units...) {
				if v, ok := b.median(u); ok {
					row = append(row, formatNum(v))
				} else {
					row = append(row, "-")
				}
			}
			row = append(row, ratioText(b, floor))
			if cpu {
				row = append(row, ratioUnitText(b, floor, "cpu-ns/op"))
			}
			var vs []string
			if isOurs(b) {
				for _, p := range peers {
					vs = append(vs, ratioText(b, p)+" "+p.impl)
				}
			}
			rows = append(rows, append(row, strings.Join(vs, ", ")))
		}
	}
	// The first and last columns are text, aligned left; the others are
	// numbers, aligned right.
	printColumns(w, rows, func(col, ncol int) bool { return col > 0 && col < ncol-1 })
}

// printColumns prints rows as columns two spaces apart, right-aligning
// those for which right says so. A row shorter than the header is a
// heading, printed as it is.
func printColumns(w io.Writer, rows [][]string, right func(col, ncol int) bool) {
	ncol := len(rows[0])
	width := make([]int, ncol)
	for _, r := range rows {
		if len(r) < ncol {
			continue
		}
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		if len(r) < ncol {
			fmt.Fprintln(w, strings.Join(r, " "))
			continue
		}
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len(c))
			if right(i, ncol) {
				b.WriteString(pad + c)
			} else if i < ncol-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// ratio returns ns/op of b over ns/op of base.
func ratio(b, base *bench) (float64, bool) { return ratioUnit(b, base, "ns/op") }

// ratioUnit returns the median of unit for b over that for base.
func ratioUnit(b, base *bench, unit string) (float64, bool) {
	if b == nil || base == nil {
		return 0, false
	}
	x, ok1 := b.median(unit)
	y, ok2 := base.median(unit)
	if !ok1 || !ok2 || y == 0 {
		return 0, false
	}
	return x / y, true
}

func ratioText(b, base *bench) string { return ratioUnitText(b, base, "ns/op") }

func ratioUnitText(b, base *bench, unit string) string {
	if base == nil {
		return "-"
	}
	r, ok := ratioUnit(b, base, unit)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

func formatNs(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func formatNum(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	switch {
	case v < 0.01:
		return strconv.FormatFloat(v, 'g', 2, 64)
	case v < 10:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// sizeTarget is the most the library may add to a minimal daemon.
const sizeTarget = 350 * 1000
