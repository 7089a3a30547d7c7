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
BenchmarkNotify/raw/connected-blocking-2   	  100	      1000 ns/op	      900 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkNotify/raw/connected-blocking-2   	  100	      1200 ns/op	      900 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkNotify/raw/connected-blocking-2   	  100	      1100 ns/op	      900 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkNotify/raw/connected-2            	  100	      1050 ns/op	      900 cpu-ns/op	         0 stalls/op	       0 B/op	       0 allocs/op
BenchmarkNotify/coreos/SdNotify-2          	  100	     10000 ns/op	     9000 cpu-ns/op	     664 B/op	       9 allocs/op
BenchmarkNotify/mdlayher/Notify-2          	  100	      2200 ns/op	     2000 cpu-ns/op	       8 B/op	       1 allocs/op
BenchmarkNotify/sdnotify/Notify-2          	  100	      1155 ns/op	      900 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkNotifyBusy/raw/connected-blocking-2	  100	      8000 ns/op	     4000 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkNotifyBusy/raw/connected-2        	  100	      8100 ns/op	     4500 cpu-ns/op	         0.9 stalls/op	       0 B/op	       0 allocs/op
BenchmarkNotifyBusy/coreos/SdNotify-2      	  100	     20000 ns/op	    19000 cpu-ns/op	     664 B/op	       9 allocs/op
BenchmarkNotifyBusy/mdlayher/Notify-2      	  100	      8500 ns/op	     6000 cpu-ns/op	       8 B/op	       1 allocs/op
BenchmarkNotifyBusy/sdnotify/Notify-2      	  100	      9600 ns/op	     7000 cpu-ns/op	     100 B/op	       2 allocs/op
BenchmarkDisabled/sdnotify/Notify-2        	100000	         2.5 ns/op	       0 B/op	       0 allocs/op
some other line
PASS
`

func TestParse(t *testing.T) {
	s := newSet()
	if err := s.parse(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(s.order[:3], " "), "Notify/raw/connected-blocking Notify/raw/connected Notify/coreos/SdNotify"; got != want {
		t.Errorf("order = %q, want %q", got, want)
	}
	if got, want := strings.Join(s.groups(), " "), "Notify NotifyBusy Disabled"; got != want {
		t.Errorf("groups = %q, want %q", got, want)
	}
	if s.runs != 3 || s.header["cpu"] != "Some CPU" {
		t.Errorf("runs %d, cpu %q", s.runs, s.header["cpu"])
	}
	if m, _ := s.byName["Notify/raw/connected-blocking"].median("ns/op"); m != 1100 {
		t.Errorf("median = %v, want 1100", m)
	}
	for _, g := range []string{"Notify", "NotifyBusy"} {
		if f := s.floor(g); f == nil || f.impl != "raw/connected-blocking" {
			t.Errorf("floor of %s = %v", g, f)
		}
	}
	if s.floor("Disabled") != nil {
		t.Error("Disabled has a floor")
	}
	if r, _ := ratio(s.byName["Notify/sdnotify/Notify"], s.floor("Notify")); math.Abs(r-1.05) > 1e-9 {
		t.Errorf("ratio = %v, want 1.05", r)
	}
	if got, want := strings.Join(s.units, " "), "cpu-ns/op stalls/op"; got != want {
		t.Errorf("extra units = %q, want %q", got, want)
	}

	var out bytes.Buffer
	s.printTable(&out)
	printTargets(&out, s, []size{{"empty", 1000000}, {"sdnotify", 1300000}}, []string{"runtime", "os", "github.com/gosdnotify/sdnotify"})
	for _, want := range []string{
		"Notify: READY=1 to a receiver that keeps up",
		"NotifyBusy: READY=1 to a busy receiver",
		"  raw/connected-blocking (floor)",
		"0.12x coreos/SdNotify, 0.53x mdlayher/Notify",
		"met      Notify, receiver keeps up: <= 1.10x raw/connected-blocking, 0 allocs/op",
		"met      Notify, receiver keeps up: faster than mdlayher and coreos",
		"MISSED   Notify, busy receiver: <= 1.10x raw/connected-blocking  1.200x (9600 vs 8000 ns/op); cpu 1.75x, 2 allocs/op",
		"MISSED   Notify, busy receiver: faster than mdlayher and coreos  1.129x mdlayher's ns/op (8500), 0.480x coreos's (20000)",
		"met      Disabled path",
		"met      Binary size: minimal daemon <= 350 KB over the empty program  +300000 bytes",
		"met      Package net: not linked by the library",
		"n/a      Send(Statusf(...))",
		"n/a      Parallel senders",
	} {
		if !containsText(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}

func TestTargetsMissed(t *testing.T) {
	s := newSet()
	if err := s.parse(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printTargets(&out, s, []size{{"empty", 1000000}, {"sdnotify", 1400000}, {"httpempty", 5000000}, {"httpsdnotify", 5100000}}, []string{"runtime", "net", "os"})
	for _, want := range []string{
		"MISSED   Binary size: minimal daemon <= 350 KB over the empty program  +400000 bytes (+390.6 KiB); in a net/http daemon +100000 bytes (+97.7 KiB)",
		"MISSED   Package net: not linked by the library                        linked",
	} {
		if !containsText(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	out.Reset()
	printTargets(&out, s, nil, nil)
	for _, want := range []string{
		"n/a      Binary size",
		"n/a      Package net",
	} {
		if !containsText(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}

func TestSizes(t *testing.T) {
	var out bytes.Buffer
	printSizes(&out, []size{{"empty", 1000000}, {"sdnotify", 1300000}, {"httpempty", 5000000}, {"httpsdnotify", 5100000}})
	for _, want := range []string{
		"empty          1000000    976.6  -          -        -",
		"sdnotify       1300000   1269.5  empty      +300000  +293.0",
		"httpempty      5000000   4882.8  -          -        -",
		"httpsdnotify   5100000   4980.5  httpempty  +100000   +97.7",
	} {
		if !containsText(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}

// containsText reports whether want is in out, with runs of spaces taken
// as one, so that the tests do not depend on the columns' widths.
func containsText(out, want string) bool {
	squeeze := func(s string) string {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
		return strings.Join(lines, "\n")
	}
	return strings.Contains(squeeze(out), squeeze(want))
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
