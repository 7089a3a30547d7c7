// Package procfs reads what this module needs of /proc/PID/stat: a
// process's parent, its state, and the exit status of a zombie, and from
// them the tree of processes below one; and of /proc/PID/status, the
// signal masks (ReadSignals). It is the one place that parses /proc here.
package procfs

import (
	"bytes"
	"errors"
	"os"
	"sort"
	"strconv"
	"strings"
)

// A Stat is what /proc/PID/stat says of a process.
type Stat struct {
	PID   int
	PPID  int  // the parent
	State byte // R, S, D, Z (zombie), X (dead), T, t, I, ...
	// ExitCode is the wait status of a zombie (field 52, exit_code, Linux
	// 3.5+), valid when State is 'Z' and HasExitCode is set.
	ExitCode    uint32
	HasExitCode bool
}

// Zombie reports whether the process has exited and waits to be reaped.
func (s Stat) Zombie() bool { return exited(s.State) }

// exited reports whether a process in state (/proc/PID/stat's and
// status's letter) has exited: a zombie, or dead.
func exited(state byte) bool { return state == 'Z' || state == 'X' }

// errFormat reports a stat file that does not read as expected.
var errFormat = errors.New("procfs: unexpected format of /proc/PID/stat")

// ReadStat reads /proc/PID/stat. The error matches os.ErrNotExist when
// the process is gone (reaped).
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return parseStat(pid, b)
}

// parseStat parses "pid (comm) state ppid ...": comm may hold spaces and
// parentheses, so the fields start after the last ')'.
func parseStat(pid int, b []byte) (Stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, errFormat
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state), fields[1] field 4 (ppid), fields[49]
	// field 52 (exit_code).
	if len(fields) < 2 || len(fields[0]) != 1 {
		return Stat{}, errFormat
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return Stat{}, errFormat
	}
	s := Stat{PID: pid, PPID: ppid, State: fields[0][0]}
	if len(fields) >= 50 {
		if code, err := strconv.ParseUint(fields[49], 10, 32); err == nil {
			s.ExitCode, s.HasExitCode = uint32(code), true
		}
	}
	return s, nil
}

// Parent returns pid's parent, or 0 if pid is gone.
func Parent(pid int) int {
	s, err := ReadStat(pid)
	if err != nil {
		return 0
	}
	return s.PPID
}

// IsDescendant reports whether pid descends from ancestor; gone says
// that pid itself no longer exists (so nothing can be told).
func IsDescendant(pid, ancestor int) (desc, gone bool) {
	p := pid
	for i := 0; i < 4096; i++ {
		s, err := ReadStat(p)
		if err != nil {
			return false, i == 0
		}
		if s.PPID == ancestor {
			return true, false
		}
		if s.PPID <= 1 {
			return false, false
		}
		p = s.PPID
	}
	return false, false
}

// Descendants returns the live (not zombie) processes that descend from
// ancestor, in PID order.
func Descendants(ancestor int) []int { return find(ancestor, false) }

// AllDescendants returns the processes that descend from ancestor,
// zombies too: a process is gone only once reaped, and a multi-threaded
// one shows as a zombie before its last thread has exited and it can be
// reaped.
func AllDescendants(ancestor int) []int { return find(ancestor, true) }

func find(ancestor int, zombies bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := make(map[int]Stat)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := ReadStat(pid); err == nil {
			procs[pid] = s
		}
	}
	memo := make(map[int]bool)
	var under func(pid, depth int) bool
	under = func(pid, depth int) bool {
		if v, ok := memo[pid]; ok {
			return v
		}
		p, ok := procs[pid]
		r := false
		if ok && depth < 4096 {
			switch {
			case p.PPID == ancestor:
				r = true
			case p.PPID > 1:
				r = under(p.PPID, depth+1)
			}
		}
		memo[pid] = r
		return r
	}
	var out []int
	for pid, p := range procs {
		if pid != ancestor && (zombies || !p.Zombie()) && under(pid, 0) {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}
