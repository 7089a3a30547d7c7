//go:build linux

package conformance

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestSystemdNotifyQuirks records what systemd-notify sends in the cases
// that have no library counterpart.
func TestSystemdNotifyQuirks(t *testing.T) {
	e := setup(t)
	p := e.peers[sdNotify]
	if p.missing != "" {
		t.Skip(p.missing)
	}
	booted := "error:other" // sd_booted() <= 0: exit 1, nothing printed
	if fi, err := os.Lstat("/run/systemd/system"); err == nil && fi.IsDir() {
		booted = "ok"
	}
	for _, c := range []struct {
		name   string
		args   []string
		result string
		wire   []string
		why    string
	}{
		{
			name: "no-arguments", args: nil,
			result: "error:other", wire: []string{wire("ERRNO=22", 0, "self")},
			why: "with nothing to send it prints its help and exits 1; like every systemd tool that fails, it reports ERRNO= to NOTIFY_SOCKET on the way out",
		},
		{
			name: "booted", args: []string{"--booted"},
			result: booted, wire: nil,
			why: "--booted only tests whether systemd is PID 1 (/run/systemd/system): exit 0 if so, else 1; it sends nothing",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pc := &pcase{name: c.name, sd: c.args}
			if pc.sd == nil {
				pc.sd = []string{}
			}
			r := runPeer(t, pc, p.cmd(pc), &peer{name: p.name, norm: normQuirk})
			if r.result != c.result || !slices.Equal(r.wire, c.wire) {
				t.Errorf("systemd-notify %q: got %s %q, want %s %q (%s)\n(exit %d, stderr %q)",
					c.args, r.result, r.wire, c.result, c.wire, c.why, r.exit, firstLine(r.stderr))
			}
		})
	}
}

// normQuirk is normSystemdNotify, with any other exit status 1 as
// "error:other".
func normQuirk(stdout, stderr string, exit int) string {
	if exit == 1 {
		if r := normSystemdNotify("", stderr, exit); strings.HasPrefix(r, "error:") {
			return r
		}
		return "error:other"
	}
	return normSystemdNotify(stdout, stderr, exit)
}
