#!/usr/bin/env bash
# Runs the sdnotify benchmarks and prints the table of medians (ns/op, B/op,
# allocs/op), the ratios to each group's raw floor and to the peers, the
# binary sizes (a minimal daemon and a net/http one, each with and without
# the library; a slog daemon with the journal handlers and with
# slog.NewTextHandler), whether the library links package net, and which
# of the library's targets are met, with the Go version, CPU model, kernel
# and date beside them. One run covers both regimes of the receiver: one
# that keeps up (BenchmarkNotify and the rest, and BenchmarkJournal) and a
# busy one (NotifyBusy); and a journald that does not read at all
# (JournalStalled).
#
# Usage: bench/run.sh [-count N] [-bench REGEXP] [-benchtime T] [-consecutive] [-o DIR]
#   -count N       runs of each benchmark (default 10; or COUNT=N)
#   -bench REGEXP  which benchmarks (default .; or BENCH=REGEXP)
#   -benchtime T   go test -benchtime (default 1s; or BENCHTIME=T)
#   -consecutive   one go test -count N, which runs each benchmark N times
#                  in a row, instead of N rounds of -count 1
#   -o DIR         keep the raw output (bench.txt, sizes.txt, deps.txt), this
#                  report (report.txt) and the binaries in DIR (default: a
#                  temporary directory, removed at the end)
#
# By default the N runs are N rounds over all the benchmarks (the test
# binary run N times with -test.count 1), so that a burst of load from
# elsewhere on the machine spreads over every benchmark rather than
# skewing the ratios between the few that ran during it. The benchmarks
# measure one core's worth of system calls against a receiver on the
# other: run them on an otherwise idle machine. The load average is
# printed before and after so that a busy run shows itself.
set -euo pipefail
cd "$(dirname "$0")"
export PATH=/usr/local/go/bin:$PATH

count=${COUNT:-10}
bench=${BENCH:-.}
benchtime=${BENCHTIME:-1s}
out=""
consecutive=false
while [ $# -gt 0 ]; do
	case $1 in
	-count) count=$2; shift 2 ;;
	-bench) bench=$2; shift 2 ;;
	-benchtime) benchtime=$2; shift 2 ;;
	-consecutive) consecutive=true; shift ;;
	-o) out=$2; shift 2 ;;
	-h | -help | --help) sed -n '2,30p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see run.sh -help)" >&2; exit 2 ;;
	esac
done
if [ -z "$out" ]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
else
	mkdir -p "$out"
fi

report() {
	echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "go:       $(go version)"
	echo "cpu:      $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cpus)"
	echo "kernel:   $(uname -sr)"
	echo "host:     net.unix.max_dgram_qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo '?')"
	echo "loadavg:  $(cut -d' ' -f1-3 /proc/loadavg) (before)"
	if $consecutive; then
		echo "command:  go test -run '^\$' -bench '$bench' -benchmem -benchtime $benchtime -count $count"
	else
		echo "command:  $count rounds of go test -run '^\$' -bench '$bench' -benchmem -benchtime $benchtime -count 1"
	fi

	# Build the test binary once, so that compiling does not overlap the runs.
	go test -c -o "$out/bench.test" .
	run() {
		"$out/bench.test" -test.run '^$' -test.bench "$bench" -test.benchmem \
			-test.benchtime "$benchtime" -test.count "$1" >>"$out/bench.txt" 2>&1 || {
			cat "$out/bench.txt" >&2
			echo "run.sh: the benchmarks failed" >&2
			exit 1
		}
	}
	: >"$out/bench.txt"
	if $consecutive; then
		run "$count"
	else
		for ((i = 1; i <= count; i++)); do
			run 1
		done
	fi
	# The receivers describe themselves once a round; once is enough here.
	grep '^receiver' "$out/bench.txt" | awk '!seen[$0]++' || true
	echo "loadavg:  $(cut -d' ' -f1-3 /proc/loadavg) (after)"
	echo

	# Binary sizes: an empty program and a daemon that sends READY=1 with each
	# implementation; a net/http daemon without and with the library; a slog
	# daemon with slog.NewTextHandler, journal.NewHandler and slog-journal.
	: >"$out/sizes.txt"
	for p in empty sdnotify coreos raw mdlayher httpempty httpsdnotify slogtext journal slogjournal; do
		go build -trimpath -ldflags "-s -w" -o "$out/size-$p" "./size/$p"
		echo "$p $(stat -c %s "$out/size-$p")" >>"$out/sizes.txt"
	done
	# What daemons using the library (sd_notify, the journal handler) link:
	# package net must not be among it.
	go list -deps ./size/sdnotify ./size/journal >"$out/deps.txt"

	go run ./cmd/benchtable -sizes "$out/sizes.txt" -deps "$out/deps.txt" "$out/bench.txt"
}

report 2>&1 | tee "$out/report.txt"
