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
// coreos/ and mdlayher/ ones are the peers that each sdnotify/ one is
// compared with.
//
// -sizes names a file of "NAME BYTES" lines, binary sizes measured by
// run.sh; NAME "empty" is the baseline and "sdnotify" the library's.
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
	w := os.Stdout
	set.printTable(w)
	if len(sz) > 0 {
		fmt.Fprintln(w)
		printSizes(w, sz)
	}
	if *targets {
		fmt.Fprintln(w)
		printTargets(w, set, sz)
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

func isPeer(b *bench) bool {
	return strings.HasPrefix(b.impl, "coreos/") || strings.HasPrefix(b.impl, "mdlayher/")
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
		rows = append(rows, []string{g})
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
			if strings.HasPrefix(b.impl, "sdnotify/") {
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

func printSizes(w io.Writer, sz []size) {
	fmt.Fprintln(w, `binary sizes (go build -trimpath -ldflags "-s -w"; the programs in size/)`)
	base, hasBase := sizeOf(sz, "empty")
	rows := [][]string{{"program", "bytes", "KiB", "over empty", "KiB"}}
	for _, s := range sz {
		row := []string{s.name, strconv.FormatInt(s.bytes, 10), fmt.Sprintf("%.1f", float64(s.bytes)/1024), "-", "-"}
		if hasBase {
			d := s.bytes - base
			row[3], row[4] = fmt.Sprintf("%+d", d), fmt.Sprintf("%+.1f", float64(d)/1024)
		}
		rows = append(rows, row)
	}
	printColumns(w, rows, func(col, _ int) bool { return col > 0 })
}

// A check is one target's verdict.
type check struct {
	ok     bool
	known  bool // false when the benchmarks it needs are missing
	target string
	got    string
}

func printTargets(w io.Writer, s *set, sz []size) {
	get := func(name string) *bench { return s.byName[name] }
	med := func(b *bench, unit string) float64 {
		if b == nil {
			return math.NaN()
		}
		v, ok := b.median(unit)
		if !ok {
			return math.NaN()
		}
		return v
	}
	known := func(vs ...float64) bool {
		for _, v := range vs {
			if math.IsNaN(v) {
				return false
			}
		}
		return true
	}
	// allocs describes allocs/op as go test reports it (truncated to an
	// integer), with the exact mean beside it when the benchmark reports
	// mallocs/op.
	allocs := func(b *bench) string {
		t := formatNum(med(b, "allocs/op")) + " allocs/op"
		if m := med(b, "mallocs/op"); !math.IsNaN(m) {
			t += fmt.Sprintf(" (exactly %s)", formatNum(m))
		}
		return t
	}
	var checks []check

	notify, floor := get("Notify/sdnotify/Notify"), get("Notify/raw/connected")
	{
		r := med(notify, "ns/op") / med(floor, "ns/op")
		a := med(notify, "allocs/op")
		checks = append(checks, check{r <= 1.10 && a == 0, known(r, a),
			"Notify, constant state: <= 1.10x raw/connected, 0 allocs/op",
			fmt.Sprintf("%.3fx (%s vs %s ns/op), %s", r, formatNs(med(notify, "ns/op")), formatNs(med(floor, "ns/op")), allocs(notify))})
	}
	{
		b := get("Disabled/sdnotify/Notify")
		ns, a := med(b, "ns/op"), med(b, "allocs/op")
		checks = append(checks, check{ns < 5 && a == 0, known(ns, a),
			"Disabled path: < 5 ns/op, 0 allocs/op",
			fmt.Sprintf("%s ns/op, %s", formatNs(ns), allocs(b))})
	}
	{
		b := get("Status/sdnotify/Statusf")
		a := med(b, "allocs/op")
		checks = append(checks, check{a <= 1, known(a),
			"Statusf: <= 1 alloc/op",
			fmt.Sprintf("%s, %s B/op", allocs(b), formatNum(med(b, "B/op")))})
	}
	{
		b, f := get("FDStore/sdnotify/StoreFiles"), get("FDStore/raw/sendmsg-rights")
		r := med(b, "ns/op") / med(f, "ns/op")
		checks = append(checks, check{r <= 1.15, known(r),
			"fd-store send: <= 1.15x raw/sendmsg-rights",
			fmt.Sprintf("%.3fx (%s vs %s ns/op); %s", r, formatNs(med(b, "ns/op")), formatNs(med(f, "ns/op")), allocs(b))})
	}
	{
		b, f := get("Parallel/sdnotify/Notify"), get("Parallel/raw/connected")
		r := med(b, "ns/op") / med(f, "ns/op")
		checks = append(checks, check{r <= 1.2, known(r),
			"Parallel senders: <= 1.2x raw/connected run in parallel",
			fmt.Sprintf("%.3fx (%s vs %s ns/op); %s", r, formatNs(med(b, "ns/op")), formatNs(med(f, "ns/op")), allocs(b))})
	}
	{
		c := get("Notify/coreos/SdNotify")
		x := med(c, "ns/op") / med(notify, "ns/op")
		checks = append(checks, check{x >= 5, known(x),
			"vs coreos/go-systemd SdNotify: >= 5x faster",
			fmt.Sprintf("%.2fx faster (%s vs %s ns/op)", x, formatNs(med(notify, "ns/op")), formatNs(med(c, "ns/op")))})
	}
	{
		m := get("Notify/mdlayher/Notify")
		ns, mns := med(notify, "ns/op"), med(m, "ns/op")
		a, ma := med(notify, "allocs/op"), med(m, "allocs/op")
		checks = append(checks, check{ns <= mns && a < ma, known(ns, mns, a, ma),
			"vs mdlayher/sdnotify: no slower, fewer allocs",
			fmt.Sprintf("%.3fx its ns/op (%s vs %s), %s vs %s allocs/op", ns/mns, formatNs(ns), formatNs(mns), formatNum(a), formatNum(ma))})
	}
	{
		base, ok1 := sizeOf(sz, "empty")
		lib, ok2 := sizeOf(sz, "sdnotify")
		d := lib - base
		checks = append(checks, check{d <= 300*1000, ok1 && ok2,
			"Binary size: library daemon <= 300 KB over the empty program",
			fmt.Sprintf("%+d bytes (%+.1f KiB)", d, float64(d)/1024)})
	}

	fmt.Fprintln(w, "targets")
	rows := [][]string{{"verdict", "target", "measured"}}
	for _, c := range checks {
		verdict := "MISSED"
		switch {
		case !c.known:
			verdict, c.got = "n/a", "not measured in this run"
		case c.ok:
			verdict = "met"
		}
		rows = append(rows, []string{verdict, c.target, c.got})
	}
	printColumns(w, rows, func(int, int) bool { return false })
}
