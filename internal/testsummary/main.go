// Command testsummary reads the output of "go test -json" and prints what
// "go test" prints without -json (each package's result, and the output
// of the tests that failed), then how many tests were skipped and why,
// grouped by reason. It exits 1 if a test or a build failed, as go test
// does. The README's test command ends with it:
//
//	SDNOTIFY_REAL_SYSTEMD=1 go test -race -count=1 -json ./... | go run ./internal/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	os.Exit(summarize(os.Stdin, os.Stdout))
}

// An event is one line of go test -json (test2json's TestEvent), with
// the build events of go 1.24+.
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string
	FailedBuild string
}

// A test is what is kept of one test until it ends.
type test struct {
	output []string
}

// logLine matches a line that t.Log, t.Skip and the like print:
// "    file_test.go:12: text".
var logLine = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: (.*)$`)

// summarize copies the run's results from r to w and returns the exit
// status.
func summarize(r io.Reader, w io.Writer) int {
	tests := map[string]*test{}
	skips := map[string][]string{} // reason: package.test names
	failed, seen := false, false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Fprintln(w, sc.Text()) // not JSON: go's own messages
			continue
		}
		seen = true
		key := ev.Package + " " + ev.Test
		switch {
		case ev.Action == "build-output":
			fmt.Fprint(w, ev.Output)
		case ev.Action == "build-fail":
			failed = true
		case ev.Test == "" && ev.Action == "output":
			if out := ev.Output; out != "PASS\n" && out != "FAIL\n" && !strings.HasPrefix(out, "=== ") && !strings.HasPrefix(out, "--- ") {
				fmt.Fprint(w, out)
			}
		case ev.Test == "" && ev.Action == "fail":
			failed = true
		case ev.Test == "":
			// A package's start, pass or skip (no test files): its
			// output said it.
		case ev.Action == "output":
			t := tests[key]
			if t == nil {
				t = &test{}
				tests[key] = t
			}
			t.output = append(t.output, ev.Output)
		case ev.Action == "fail":
			failed = true
			if t := tests[key]; t != nil {
				fmt.Fprint(w, strings.Join(t.output, ""))
			}
			delete(tests, key)
		case ev.Action == "skip":
			reason := "(no reason given)"
			if t := tests[key]; t != nil {
				for _, o := range t.output {
					if m := logLine.FindStringSubmatch(strings.TrimRight(o, "\n")); m != nil {
						reason = m[1]
					}
				}
			}
			skips[reason] = append(skips[reason], shortPackage(ev.Package)+"."+ev.Test)
			delete(tests, key)
		case ev.Action == "pass":
			delete(tests, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(w, "testsummary: %v\n", err)
		return 1
	}
	if !seen {
		fmt.Fprintln(w, "testsummary: no go test -json output read")
		return 1
	}
	printSkips(w, skips)
	if failed {
		return 1
	}
	return 0
}

// printSkips prints the skipped tests grouped by reason, the largest
// group first, with a few of the tests' names.
func printSkips(w io.Writer, skips map[string][]string) {
	total := 0
	var reasons []string
	for r, names := range skips {
		total += len(names)
		reasons = append(reasons, r)
	}
	if total == 0 {
		fmt.Fprintln(w, "\nno test skipped")
		return
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := skips[reasons[i]], skips[reasons[j]]
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return reasons[i] < reasons[j]
	})
	fmt.Fprintf(w, "\n%d test(s) skipped, for %d reason(s):\n", total, len(reasons))
	for _, r := range reasons {
		names := skips[r]
		sort.Strings(names)
		shown := names
		more := ""
		if len(shown) > 3 {
			shown, more = shown[:3], fmt.Sprintf(" and %d more", len(names)-3)
		}
		fmt.Fprintf(w, "%5d  %s\n       (%s%s)\n", len(names), r, strings.Join(shown, ", "), more)
	}
}

// shortPackage drops the module's path from a package's.
func shortPackage(p string) string {
	const module = "github.com/gosdnotify/sdnotify"
	if p == module {
		return "sdnotify"
	}
	return strings.TrimPrefix(p, module+"/")
}
