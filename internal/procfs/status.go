package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Signals are a process's signal dispositions and mask, as
// /proc/PID/status shows them and as systemd 262 reads them to decide
// whether a Type=notify-reload service handles its reload signal. Each
// is a set with bit N-1 for signal N, signals 1 to 64 (a wider mask, as
// on MIPS, is cut to its low 64 bits).
type Signals struct {
	State   byte   // R, S, D, Z (zombie), ...: the masks of a zombie mean nothing
	Blocked uint64 // SigBlk: blocked by the main thread (the thread-group leader)
	Ignored uint64 // SigIgn: set to SIG_IGN, for the whole process
	Caught  uint64 // SigCgt: with a handler installed, for the whole process
}

// Zombie reports whether the process has exited, so that its masks mean
// nothing.
func (s Signals) Zombie() bool { return exited(s.State) }

// Has reports whether signal sig (1 to 64) is in mask.
func Has(mask uint64, sig int) bool {
	return sig >= 1 && sig <= 64 && mask&(1<<(sig-1)) != 0
}

// ReadSignals reads the signal masks of /proc/PID/status. The error
// matches os.ErrNotExist when the process is gone (reaped).
func ReadSignals(pid int) (Signals, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	b, err := os.ReadFile(path)
	if err != nil {
		return Signals{}, err
	}
	s, err := parseSignals(b)
	if err != nil {
		return Signals{}, fmt.Errorf("procfs: %s: %v", path, err)
	}
	return s, nil
}

// parseSignals reads the State:, SigBlk:, SigIgn: and SigCgt: lines of a
// status file; each must be there once.
func parseSignals(b []byte) (Signals, error) {
	var s Signals
	seen := map[string]bool{}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		var dst *uint64
		switch k := string(key); k {
		case "State":
			if len(val) == 0 {
				return Signals{}, fmt.Errorf("empty State: line")
			}
			s.State = val[0]
			seen[k] = true
			continue
		case "SigBlk":
			dst = &s.Blocked
		case "SigIgn":
			dst = &s.Ignored
		case "SigCgt":
			dst = &s.Caught
		default:
			continue
		}
		m, err := parseMask(val)
		if err != nil {
			return Signals{}, fmt.Errorf("%s: %q: %v", key, val, err)
		}
		*dst = m
		seen[string(key)] = true
	}
	for _, k := range []string{"State", "SigBlk", "SigIgn", "SigCgt"} {
		if !seen[k] {
			return Signals{}, fmt.Errorf("no %s: line", k)
		}
	}
	return s, nil
}

// parseMask reads a mask of 16 or more hex digits, the low 64 bits last.
func parseMask(v []byte) (uint64, error) {
	if len(v) < 16 || len(v)%8 != 0 {
		return 0, fmt.Errorf("want a multiple of 8 hex digits, at least 16")
	}
	for _, c := range v {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return 0, fmt.Errorf("%q is not a hex digit", c)
		}
	}
	return strconv.ParseUint(string(v[len(v)-16:]), 16, 64)
}
