package manager

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// A Version is a systemd major version: 252, 254, ...
type Version int

// The versions the model knows by name.
const (
	V252 Version = 252 // Debian 12's
	V254 Version = 254 // Debian 12's backports: notify-reload, NOTIFYACCESS=
	// NotifyReloadSince is the first version with Type=notify-reload,
	// MONOTONIC_USEC= and the precedence STOPPING=1 > READY=1 >
	// RELOADING=1.
	NotifyReloadSince Version = 253
	// Newest is the newest version whose keys the model knows (Debian
	// sid's). Its behaviour beyond 254's is not modelled.
	Newest Version = 262
)

// kind says how the manager reads a key.
type kind int

const (
	kindFlag    kind = iota // KEY=1 (or FDPOLL=0) as a whole line, anywhere in the datagram
	kindFirst               // KEY=value: only the first such line is read
	kindLogged              // known, but the manager only logs it
	kindBarrier             // BARRIER=1, handled before any unit sees the datagram
)

// A key is an assignment the manager knows, since version since.
type key struct {
	name  string
	since Version
	kind  kind
	flag  string // kindFlag: the one value that means something
	// check returns why the manager ignores value, and whether it logs a
	// warning for it; "" for a value it reads. For kindFirst only.
	check func(value string, v Version) (why string, logged bool)
}

var keys = [...]key{
	{name: "READY", since: 1, kind: kindFlag, flag: "1"},
	{name: "RELOADING", since: 217, kind: kindFlag, flag: "1"},
	{name: "STOPPING", since: 217, kind: kindFlag, flag: "1"},
	{name: "STATUS", since: 1, kind: kindFirst, check: checkStatus},
	{name: "ERRNO", since: 1, kind: kindFirst, check: checkErrno},
	{name: "BUSERROR", since: 1, kind: kindLogged},
	{name: "VARLINKERROR", since: 257, kind: kindLogged},
	{name: "EXIT_STATUS", since: 254, kind: kindLogged},
	{name: "MAINPID", since: 1, kind: kindFirst, check: checkPID},
	{name: "MAINPIDFD", since: 257, kind: kindLogged},
	{name: "MAINPIDFDID", since: 257, kind: kindLogged},
	{name: "WATCHDOG", since: 1, kind: kindFirst, check: checkWatchdog},
	{name: "WATCHDOG_USEC", since: 233, kind: kindFirst, check: checkUsec},
	{name: "EXTEND_TIMEOUT_USEC", since: 236, kind: kindFirst, check: checkUsec},
	{name: "MONOTONIC_USEC", since: NotifyReloadSince, kind: kindFirst, check: checkUsec},
	{name: "NOTIFYACCESS", since: 254, kind: kindFirst, check: checkAccess},
	{name: "RESTART_RESET", since: 258, kind: kindLogged},
	{name: "FDSTORE", since: 219, kind: kindFlag, flag: "1"},
	{name: "FDSTOREREMOVE", since: 236, kind: kindFlag, flag: "1"},
	{name: "FDNAME", since: 233, kind: kindFirst, check: checkFDName},
	{name: "FDPOLL", since: 246, kind: kindFlag, flag: "0"},
	{name: "BARRIER", since: 246, kind: kindBarrier, flag: "1"},
}

func lookup(name string) *key {
	for i := range keys {
		if keys[i].name == name {
			return &keys[i]
		}
	}
	return nil
}

// Known reports whether version v of the manager knows key name, and
// whether any version does.
func Known(name string, v Version) (known, anyVersion bool) {
	k := lookup(name)
	return k != nil && v >= k.since, k != nil
}

func checkStatus(value string, _ Version) (string, bool) {
	if !utf8.ValidString(value) {
		return "not valid UTF-8: the manager clears the status text instead", true
	}
	return "", false
}

func checkErrno(value string, _ Version) (string, bool) {
	if _, err := proto.ParseErrno(value); err != nil {
		return "not an errno name or a number from 0 to 4095 (" + err.Error() + ")", true
	}
	return "", false
}

func checkPID(value string, _ Version) (string, bool) {
	if _, err := proto.ParsePID(value); err != nil {
		return "not a process ID (" + err.Error() + ")", true
	}
	return "", false
}

func checkWatchdog(value string, v Version) (string, bool) {
	if value == "1" || value == "trigger" && v >= 243 {
		return "", false
	}
	if v < 243 {
		return "only WATCHDOG=1 means anything before systemd 243", true
	}
	return "only WATCHDOG=1 and WATCHDOG=trigger mean anything", true
}

func checkUsec(value string, _ Version) (string, bool) {
	if _, err := proto.ParseUint64(value); err != nil {
		return "not a number of microseconds (" + err.Error() + ")", true
	}
	return "", false
}

func checkAccess(value string, _ Version) (string, bool) {
	if !proto.ValidAccess(value) {
		return "not none, main, exec or all", true
	}
	return "", false
}

func checkFDName(value string, _ Version) (string, bool) {
	if p := proto.FDNameProblem(value); p != "" {
		return "not a valid name (" + p + ")", false // the manager warns when it uses it
	}
	return "", false
}

// suggest returns the known key that name most likely misspells, or "".
func suggest(name string) string {
	best, bestD := "", 3
	for _, k := range keys {
		if strings.EqualFold(k.name, name) {
			return k.name
		}
		if d := distance(strings.ToUpper(name), k.name, bestD); d < bestD {
			best, bestD = k.name, d
		}
	}
	if len(name) < 4 && bestD > 1 {
		return ""
	}
	return best
}

// distance is the edit distance of a and b (insertions, deletions,
// substitutions and transpositions of neighbours), or limit when it is
// limit or more.
func distance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], limit)
}

func (v Version) String() string { return "systemd " + itoa(int(v)) }

func itoa(n int) string { return strconv.Itoa(n) }
