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
// run.sh: each program is compared with its baseline, "httpempty" for the
// net/http daemons (NAME http...) and "empty" for the others; "sdnotify"
// and "httpsdnotify" are the library's.
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

// baselineOf names the program that size name is compared with: the same
// program without the library, httpempty for the net/http daemons and
// empty for the others.
func baselineOf(name string) string {
	if strings.HasPrefix(name, "http") {
		return "httpempty"
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

// A check is one target's verdict.
type check struct {
	ok     bool
	known  bool // false when the benchmarks it needs are missing
	target string
	got    string
}

// sizeTarget is the most the library may add to a minimal daemon.
const sizeTarget = 350 * 1000

func printTargets(w io.Writer, s *set, sz []size, deps []string) {
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

	// The two regimes of Notify: each against its blocking floor and its
	// peers.
	for _, r := range []struct{ group, name string }{
		{"Notify", "receiver keeps up"},
		{"NotifyBusy", "busy receiver"},
	} {
		notify, floor := get(r.group+"/sdnotify/Notify"), get(r.group+"/raw/connected-blocking")
		ns, fns := med(notify, "ns/op"), med(floor, "ns/op")
		x := ns / fns
		target, got := "Notify, "+r.name+": <= 1.10x raw/connected-blocking",
			fmt.Sprintf("%.3fx (%s vs %s ns/op); cpu %.2fx", x, formatNs(ns), formatNs(fns), med(notify, "cpu-ns/op")/med(floor, "cpu-ns/op"))
		ok, k := x <= 1.10, known(x)
		if r.group == "Notify" {
			a := med(notify, "allocs/op")
			target += ", 0 allocs/op"
			got += ", " + allocs(notify)
			ok, k = ok && a == 0, k && known(a)
		} else {
			got += ", " + allocs(notify)
		}
		checks = append(checks, check{ok, k, target, got})

		m, c := get(r.group+"/mdlayher/Notify"), get(r.group+"/coreos/SdNotify")
		mns, cns := med(m, "ns/op"), med(c, "ns/op")
		checks = append(checks, check{ns < mns && ns < cns, known(ns, mns, cns),
			"Notify, " + r.name + ": faster than mdlayher and coreos",
			fmt.Sprintf("%.3fx mdlayher's ns/op (%s), %.3fx coreos's (%s)", ns/mns, formatNs(mns), ns/cns, formatNs(cns))})
	}
	{
		b := get("Disabled/sdnotify/Notify")
		ns, a := med(b, "ns/op"), med(b, "allocs/op")
		checks = append(checks, check{ns < 5 && a == 0, known(ns, a),
			"Disabled path: < 5 ns/op, 0 allocs/op",
			fmt.Sprintf("%s ns/op, %s", formatNs(ns), allocs(b))})
	}
	{
		b := get("Status/sdnotify/Send-Statusf")
		a := med(b, "allocs/op")
		checks = append(checks, check{a <= 2, known(a),
			"Send(Statusf(...)): <= 2 allocs/op (fmt's: the boxed argument, the text)",
			fmt.Sprintf("%s, %s B/op", allocs(b), formatNum(med(b, "B/op")))})
	}
	{
		b, f := get("FDStore/sdnotify/Send-FDStore"), get("FDStore/raw/sendmsg-rights")
		r := med(b, "ns/op") / med(f, "ns/op")
		checks = append(checks, check{r <= 1.15, known(r),
			"Send(FDStore(...)): <= 1.15x raw/sendmsg-rights",
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
		base, ok1 := sizeOf(sz, "empty")
		lib, ok2 := sizeOf(sz, "sdnotify")
		d := lib - base
		got := fmt.Sprintf("%+d bytes (%+.1f KiB)", d, float64(d)/1024)
		hbase, ok3 := sizeOf(sz, "httpempty")
		hlib, ok4 := sizeOf(sz, "httpsdnotify")
		if ok3 && ok4 {
			hd := hlib - hbase
			got += fmt.Sprintf("; in a net/http daemon %+d bytes (%+.1f KiB)", hd, float64(hd)/1024)
		}
		checks = append(checks, check{d <= sizeTarget, ok1 && ok2,
			"Binary size: minimal daemon <= 350 KB over the empty program",
			got})
	}
	{
		linksNet := contains(deps, "net")
		got := fmt.Sprintf("not among the %d packages linked", len(deps))
		if linksNet {
			got = "linked"
		}
		checks = append(checks, check{!linksNet, len(deps) > 0,
			"Package net: not linked by the library", got})
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
