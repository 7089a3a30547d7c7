package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/gosdnotify/sdnotify/bench
cpu: Some CPU
BenchmarkNotify/raw/connected-2         	  100	      1000 ns/op	         0 stalls/op	       0 B/op	       0 allocs/op
BenchmarkNotify/raw/connected-2         	  100	      1200 ns/op	         0 stalls/op	       0 B/op	       0 allocs/op
BenchmarkNotify/raw/connected-2         	  100	      1100 ns/op	         0 stalls/op	       0 B/op	       0 allocs/op
BenchmarkNotify/coreos/SdNotify-2       	  100	     10000 ns/op	     664 B/op	       9 allocs/op
BenchmarkNotify/mdlayher/Notify-2       	  100	      2200 ns/op	       8 B/op	       1 allocs/op
BenchmarkNotify/sdnotify/Notify-2       	  100	      1155 ns/op	       0 B/op	       0 allocs/op
BenchmarkDisabled/sdnotify/Notify-2     	100000	         2.5 ns/op	       0 B/op	       0 allocs/op
some other line
PASS
`

func TestParse(t *testing.T) {
	s := newSet()
	if err := s.parse(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(s.order, " "), "Notify/raw/connected Notify/coreos/SdNotify Notify/mdlayher/Notify Notify/sdnotify/Notify Disabled/sdnotify/Notify"; got != want {
		t.Errorf("order = %q, want %q", got, want)
	}
	if s.runs != 3 || s.header["cpu"] != "Some CPU" {
		t.Errorf("runs %d, cpu %q", s.runs, s.header["cpu"])
	}
	if m, _ := s.byName["Notify/raw/connected"].median("ns/op"); m != 1100 {
		t.Errorf("median = %v, want 1100", m)
	}
	if f := s.floor("Notify"); f == nil || f.impl != "raw/connected" {
		t.Errorf("floor = %v", f)
	}
	if s.floor("Disabled") != nil {
		t.Error("Disabled has a floor")
	}
	if r, _ := ratio(s.byName["Notify/sdnotify/Notify"], s.floor("Notify")); math.Abs(r-1.05) > 1e-9 {
		t.Errorf("ratio = %v, want 1.05", r)
	}
	if len(s.units) != 1 || s.units[0] != "stalls/op" {
		t.Errorf("extra units = %q", s.units)
	}

	var out bytes.Buffer
	s.printTable(&out)
	printTargets(&out, s, []size{{"empty", 1000000}, {"sdnotify", 1200000}})
	for _, want := range []string{
		"  raw/connected (floor)",
		"0.12x coreos/SdNotify, 0.53x mdlayher/Notify",
		"met      Notify, constant state",
		"met      Disabled path",
		"met      vs coreos/go-systemd SdNotify: >= 5x faster",
		"met      vs mdlayher/sdnotify",
		"met      Binary size",
		"n/a      Statusf",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1}, 2},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestTrimProcs(t *testing.T) {
	for in, want := range map[string]string{
		"Notify/raw/connected-2":          "Notify/raw/connected",
		"Notify/raw/socket-per-send-16":   "Notify/raw/socket-per-send",
		"Notify/raw/socket-per-send":      "Notify/raw/socket-per-send",
		"Cold/sdnotify/NewAddr-Notify-32": "Cold/sdnotify/NewAddr-Notify",
	} {
		if got := trimProcs(in); got != want {
			t.Errorf("trimProcs(%q) = %q, want %q", in, got, want)
		}
	}
}
