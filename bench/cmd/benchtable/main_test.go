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

const journalSample = `cpu: Some CPU
BenchmarkJournal/raw/write-2                          	  100	  2000 ns/op	  1900 cpu-ns/op	   0 B/op	   0 allocs/op
BenchmarkJournal/raw/sendmsg-2                        	  100	  2100 ns/op	  2000 cpu-ns/op	   0 B/op	   0 allocs/op
BenchmarkJournal/journal/Logger.Info-2                	  100	  2500 ns/op	  2400 cpu-ns/op	   0 B/op	   0 allocs/op
BenchmarkJournal/journal/Handler.Handle-2             	  100	  2200 ns/op	  2090 cpu-ns/op	   0 B/op	   0 allocs/op
BenchmarkJournal/slogjournal/Logger.Info-2            	  100	 10000 ns/op	  9000 cpu-ns/op	1600 B/op	  17 allocs/op
BenchmarkJournal/slogjournal/Logger.Info-upper-keys-2 	  100	  9000 ns/op	  8000 cpu-ns/op	1576 B/op	  12 allocs/op
BenchmarkJournal/coreos/journal.Send-2                	  100	 11000 ns/op	  8000 cpu-ns/op	 659 B/op	  22 allocs/op
BenchmarkJournal/slog/TextHandler-file-2              	  100	  3000 ns/op	  2900 cpu-ns/op	   0 B/op	   0 allocs/op
BenchmarkJournalStalled/raw/write-SO_SNDTIMEO-2       	   10	16000000 ns/op	150000 cpu-ns/op	   0 B/op	   0 allocs/op
BenchmarkJournalStalled/journal/Conn.Send-2           	   10	16100000 ns/op	250000 cpu-ns/op	 539 B/op	   9 allocs/op
`

func TestJournal(t *testing.T) {
	s := newSet()
	if err := s.parse(strings.NewReader(journalSample)); err != nil {
		t.Fatal(err)
	}
	if f := s.floor("Journal"); f == nil || f.impl != "raw/write" {
		t.Errorf("floor of Journal = %v, want raw/write", f)
	}
	var out bytes.Buffer
	s.printTable(&out)
	printSizes(&out, []size{{"slogtext", 2000000}, {"journal", 2100000}, {"slogjournal", 3000000}})
	printTargets(&out, s, nil, nil)
	for _, want := range []string{
		"Journal: one record, 5 attributes",
		"  raw/write (floor)",
		// Every other implementation in the group is a peer of the
		// library's journal/ ones.
		"0.25x slogjournal/Logger.Info, 0.28x slogjournal/Logger.Info-upper-keys, 0.23x coreos/journal.Send, 0.83x slog/TextHandler-file",
		"JournalStalled: journald not reading",
		"journal    2100000  2050.8  slogtext  +100000  +97.7",
		"met      Journal: Logger.Info <= 1.30x raw/write of its bytes, 0 allocs/op  1.250x (2500 vs 2000 ns/op); cpu 1.26x; Handler.Handle alone 1.100x (cpu 1.10x); 0 allocs/op",
		"met      Journal: Logger.Info at least 2x faster than slog-journal and go-systemd/journal  0.250x slog-journal's ns/op (10000; with upper-case keys 0.278x, 9000), 0.227x go-systemd's (11000)",
	} {
		if !containsText(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// A peer less than twice as slow misses the target.
	s = newSet()
	if err := s.parse(strings.NewReader(strings.Replace(journalSample, " 9000 ns/op", " 4000 ns/op", 1))); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	printTargets(&out, s, nil, nil)
	if want := "MISSED   Journal: Logger.Info at least 2x faster"; !containsText(out.String(), want) {
		t.Errorf("output lacks %q", want)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}
