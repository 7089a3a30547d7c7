package main

import (
	"bytes"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The service's process tree is found in /proc: a process belongs to it if
// the chain of its parents reaches sdnotify run, which is a child
// subreaper, so that descendants whose parent exits are reparented to it
// rather than to init and stay in the tree, as they stay in a unit's
// cgroup.

// readStat returns the parent PID and state of pid, from /proc/PID/stat;
// ok is false if the process is gone.
func readStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, false
	}
	return ppid, fields[0][0], true
}

// parentOf returns pid's parent PID, or 0 if pid is gone.
func parentOf(pid int) int {
	ppid, _, _ := readStat(pid)
	return ppid
}

// isDescendant reports whether pid descends from ancestor; gone says that
// pid itself no longer exists (so nothing can be told).
func isDescendant(pid, ancestor int) (desc, gone bool) {
	p := pid
	for i := 0; i < 4096; i++ {
		ppid, _, ok := readStat(p)
		if !ok {
			return false, i == 0
		}
		if ppid == ancestor {
			return true, false
		}
		if ppid <= 1 {
			return false, false
		}
		p = ppid
	}
	return false, false
}

// descendants returns the live (not zombie) processes that descend from
// ancestor, in PID order.
func descendants(ancestor int) []int { return findDescendants(ancestor, false) }

// anyDescendants returns the processes that descend from ancestor,
// zombies too: a process is gone only once reaped, and a multi-threaded
// one shows as a zombie before its last thread has exited and it can be
// reaped.
func anyDescendants(ancestor int) []int { return findDescendants(ancestor, true) }

func findDescendants(ancestor int, zombies bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	type proc struct {
		ppid  int
		state byte
	}
	procs := make(map[int]proc)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, ok := readStat(pid); ok {
			procs[pid] = proc{ppid, state}
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
			case p.ppid == ancestor:
				r = true
			case p.ppid > 1:
				r = under(p.ppid, depth+1)
			}
		}
		memo[pid] = r
		return r
	}
	var out []int
	for pid, p := range procs {
		if pid != ancestor && (zombies || p.state != 'Z' && p.state != 'X') && under(pid, 0) {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}

// zombieStatus returns the wait status of pid if it is a zombie (exited,
// not yet reaped by its parent): /proc/PID/stat's exit_code field (52,
// Linux 3.5+). It lets run know the exit status of a main process that
// is not its child.
func zombieStatus(pid int) (unix.WaitStatus, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state); exit_code is field 52.
	if len(fields) < 50 || fields[0] != "Z" {
		return 0, false
	}
	code, err := strconv.ParseUint(fields[49], 10, 32)
	if err != nil {
		return 0, false
	}
	return unix.WaitStatus(code), true
}
