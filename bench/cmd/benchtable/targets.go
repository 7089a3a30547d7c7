package main

import (
	"fmt"
	"io"
	"math"
)

// A check is one target's verdict.
type check struct {
	ok     bool
	known  bool // false when the benchmarks it needs are missing
	target string
	got    string
}

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
	// The journal handler: one record of five attributes through
	// slog.Logger, against the raw write of the same bytes and the peers.
	{
		l, f := get("Journal/journal/Logger.Info"), get("Journal/raw/write")
		h := get("Journal/journal/Handler.Handle")
		ns, fns, a := med(l, "ns/op"), med(f, "ns/op"), med(l, "allocs/op")
		x := ns / fns
		got := fmt.Sprintf("%.3fx (%s vs %s ns/op); cpu %.2fx; Handler.Handle alone %.3fx (cpu %.2fx); %s",
			x, formatNs(ns), formatNs(fns), med(l, "cpu-ns/op")/med(f, "cpu-ns/op"),
			med(h, "ns/op")/fns, med(h, "cpu-ns/op")/med(f, "cpu-ns/op"), allocs(l))
		checks = append(checks, check{x <= 1.30 && a == 0, known(x, a),
			"Journal: Logger.Info <= 1.30x raw/write of its bytes, 0 allocs/op", got})

		sj, sju, c := get("Journal/slogjournal/Logger.Info"), get("Journal/slogjournal/Logger.Info-upper-keys"), get("Journal/coreos/journal.Send")
		sjns, sjuns, cns := med(sj, "ns/op"), med(sju, "ns/op"), med(c, "ns/op")
		checks = append(checks, check{2*ns <= min(sjns, sjuns, cns), known(ns, sjns, sjuns, cns),
			"Journal: Logger.Info at least 2x faster than slog-journal and go-systemd/journal",
			fmt.Sprintf("%.3fx slog-journal's ns/op (%s; with upper-case keys %.3fx, %s), %.3fx go-systemd's (%s)",
				ns/sjns, formatNs(sjns), ns/sjuns, formatNs(sjuns), ns/cns, formatNs(cns))})
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
