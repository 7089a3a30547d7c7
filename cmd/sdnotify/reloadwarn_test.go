//go:build linux

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The Go daemons of the reload tests (testdata/reloadgo), built once,
// static, into binDir (readable by a real systemd manager too).
var (
	reloadGoOnce sync.Once
	reloadGoErr  error
)

// reloadGo returns the path of testdata/reloadgo/NAME, built: bare (no
// signal.Notify at all), term (signal.NotifyContext for SIGTERM only) or
// serve (sdnotify's ServeReloads).
func reloadGo(t *testing.T, name string) string {
	t.Helper()
	reloadGoOnce.Do(func() {
		for _, n := range []string{"bare", "term", "serve"} {
			if out, err := goBuild(filepath.Join(binDir, "reloadgo-"+n), "./testdata/reloadgo/"+n, "", "CGO_ENABLED=0"); err != nil {
				reloadGoErr = &buildError{n, err, out}
				return
			}
		}
	})
	if reloadGoErr != nil {
		t.Fatal(reloadGoErr)
	}
	return filepath.Join(binDir, "reloadgo-"+name)
}

type buildError struct {
	name string
	err  error
	out  []byte
}

func (e *buildError) Error() string {
	return "go build ./testdata/reloadgo/" + e.name + ": " + e.err.Error() + "\n" + string(e.out)
}

// warnings returns the reasons of the warning events.
func warnings(s *session) []string {
	var out []string
	for _, ev := range s.all() {
		if ev.Event == "warning" {
			out = append(out, ev.Reason)
		}
	}
	return out
}

// TestRunReloadSignalCheck: at READY=1 of a Type=notify-reload unit, run
// reads the main process's signal masks as systemd 262 does, and warns
// about a process that neither catches nor blocks SIGHUP (a reload would
// kill it); with --systemd=262 it refuses the start as 262 does
// (Result=protocol, exit 123). A process that catches or blocks SIGHUP
// gets no warning, and neither does a Type=notify unit.
func TestRunReloadSignalCheck(t *testing.T) {
	t.Parallel()
	send := toolBin + " send --ready"
	for _, tc := range []struct {
		name    string
		flags   []string
		script  string // for /bin/sh -c
		perl    bool   // script is a perl program, given the tool's path
		warning string // the warning at READY=1 ("" for none)
		refused bool   // the start is refused as 262 does
	}{
		{name: "unhandled", flags: flags("--type=notify-reload"), script: send + "; exec sleep 30",
			warning: "neither catches nor blocks SIGHUP, the reload signal, at READY=1"},
		{name: "ignored", flags: flags("--type=notify-reload"), script: "trap '' HUP; " + send + "; exec sleep 30",
			warning: "ignores SIGHUP, the reload signal, at READY=1"},
		{name: "unhandled-262", flags: flags("--type=notify-reload", "--systemd=262"), script: send + "; exec sleep 30",
			warning: "; --systemd=262: so does sdnotify", refused: true},
		{name: "ignored-262", flags: flags("--type=notify-reload", "--systemd=262"), script: "trap '' HUP; " + send + "; exec sleep 30",
			warning: "ignores SIGHUP", refused: true},
		{name: "trapped-262", flags: flags("--type=notify-reload", "--systemd=262"),
			script: "trap '" + toolBin + " send --reloading; " + send + "' HUP; " + send + "; while :; do sleep 0.2 & wait $!; done"},
		{name: "blocked-262", flags: flags("--type=notify-reload", "--systemd=262"), perl: true},
		{name: "type-notify", flags: flags("--type=notify"), script: send + "; exec sleep 30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			argv := []string{"--", "/bin/sh", "-c", tc.script}
			if tc.perl {
				// Perl blocks SIGHUP, sends READY=1 (speaking for its
				// parent, perl), then execs sleep, which inherits the mask.
				if err := exec.Command("perl", "-MPOSIX", "-e", "1").Run(); err != nil {
					t.Skipf("perl with POSIX is not here: %v", err)
				}
				argv = []string{"--", "perl", "-MPOSIX", "-e",
					`sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGHUP)) or die; system($ARGV[0], "send", "--ready") == 0 or die; exec "sleep", "30"`, toolBin}
			}
			s := startRun(t, append(append(flags("--timeout-stop=5s"), tc.flags...), argv...)...)
			if tc.refused {
				s.expectExit(exitProtocol, "protocol")
				if s.has("ready", "") {
					t.Errorf("a ready event for a start that 262 refuses")
				}
				if r := s.result(); !strings.Contains(r.Message, "systemd 262 refuses the start of a Type=notify-reload unit") {
					t.Errorf("the result does not say why: %q", r.Message)
				}
			} else {
				s.waitEvent("ready", "", nil)
				s.signal(syscall.SIGTERM)
				s.wait()
			}
			got := warnings(s)
			switch {
			case tc.warning == "" && len(got) > 0:
				t.Errorf("warnings %q, want none", got)
			case tc.warning != "" && (len(got) != 1 || got[0] != "reload-signal-unhandled" || !s.has("warning", tc.warning)):
				t.Errorf("warnings %q, want one reload-signal-unhandled with %q", got, tc.warning)
			}
		})
	}
}

// TestRunReloadSignalGo: a Go program always shows SIGHUP as caught (its
// runtime catches every signal), so the masks cannot tell whether it
// survives a reload; its executable can, in part:
//   - bare never calls signal.Notify (its executable has no
//     os/signal.Notify): a warning at READY=1, systemd 262 starts it all
//     the same, and the first reload kills it, which run says plainly;
//   - term asks for SIGTERM only, as most daemons do: no warning (run
//     cannot tell it from a daemon that asked for SIGHUP too, such as the
//     test daemon of TestRunReload), a note in the ready event, and the
//     same plain words when the first reload kills it;
//   - serve uses sdnotify's ServeReloads: nothing to say, and it reloads.
func TestRunReloadSignalGo(t *testing.T) {
	t.Parallel()
	const died = "died of SIGHUP, the reload signal: it does not handle it"
	for _, tc := range []struct {
		name     string
		warnings []string // the warnings' reasons, in order
		note     bool     // the ready event says run cannot tell
	}{
		{"bare", []string{"reload-signal-go", "died-of-reload-signal"}, false},
		{"term", []string{"died-of-reload-signal"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireExeSeen(t)
			t.Parallel()
			s := startRun(t, "--type=notify-reload", "--systemd=262", "--", reloadGo(t, tc.name))
			ready := s.waitEvent("ready", "", nil)
			if has := strings.Contains(ready.Message, "a Go program: its runtime catches SIGHUP whether or not"); has != tc.note {
				t.Errorf("ready event %q: the note that run cannot tell is there: %v, want %v", ready.Message, has, tc.note)
			}
			s.signal(syscall.SIGHUP)
			s.waitEvent("warning", died+" (a Go program ends on a signal it did not ask for: call signal.Notify(ch, syscall.SIGHUP), or use sdnotify's ServeReloads, before READY=1)", nil)
			s.expectExit(128+int(syscall.SIGHUP), "success")
			if got := warnings(s); strings.Join(got, " ") != strings.Join(tc.warnings, " ") {
				t.Errorf("warnings %q, want %q", got, tc.warnings)
			}
			if tc.name == "bare" && !s.has("warning", "is a Go program that never calls signal.Notify (its executable has no os/signal.Notify): the first reload will kill it") {
				t.Errorf("no Go hint at READY=1")
			}
			if r := s.result(); !strings.Contains(r.Message, "success: exit 129: main process ") || !strings.Contains(r.Message, died) {
				t.Errorf("result %q does not say that the reload signal killed it", r.Message)
			}
			if !strings.Contains(s.stderr.String(), died) {
				t.Errorf("stderr %q does not say that the reload signal killed it", s.stderr)
			}
		})
	}
	t.Run("serve", func(t *testing.T) {
		t.Parallel()
		s := startRun(t, "--type=notify-reload", "--systemd=262", "--", reloadGo(t, "serve"))
		ready := s.waitEvent("ready", "", nil)
		if strings.Contains(ready.Message, "Go program") {
			t.Errorf("ready event %q: a note for a program that uses ServeReloads", ready.Message)
		}
		for i := 1; i <= 3; i++ {
			s.signal(syscall.SIGHUP)
			s.waitNth("reloaded", "reload done", i, nil)
		}
		s.signal(syscall.SIGTERM)
		s.expectExit(0, "success")
		if got := warnings(s); len(got) > 0 {
			t.Errorf("warnings %q, want none", got)
		}
		if strings.Contains(s.result().Message, "died of") || strings.Contains(s.stderr.String(), "died of") {
			t.Errorf("a died line for a daemon that reloads:\n%s%s", s.stdout, s.stderr)
		}
	})
	t.Run("type-notify", func(t *testing.T) {
		t.Parallel()
		// Type=notify: SIGHUP is no reload; run passes it on and says
		// nothing of it.
		s := startRun(t, "--type=notify", "--", reloadGo(t, "bare"))
		s.waitEvent("ready", "", nil)
		s.signal(syscall.SIGHUP)
		s.expectExit(128+int(syscall.SIGHUP), "success")
		if got := warnings(s); len(got) > 0 {
			t.Errorf("warnings %q, want none", got)
		}
	})
}

// TestInspectExe reads the function tables of Go executables: this
// command's (which asks for signals, and does not use ServeReloads), and
// the reload tests' daemons; /bin/sh is no Go program; and a live process
// is read through /proc/PID/exe.
func TestInspectExe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path                        string
		isGo, known, notify, serves bool
	}{
		{toolBin, true, true, true, false},
		{staticBin, true, true, true, false},
		{reloadGo(t, "bare"), true, true, false, false},
		{reloadGo(t, "term"), true, true, true, false},
		{reloadGo(t, "serve"), true, true, true, true},
		{"/bin/sh", false, false, false, false},
	} {
		g := inspectFile(tc.path)
		if g.isGo != tc.isGo || g.known != tc.known || g.notify != tc.notify || g.serves != tc.serves {
			t.Errorf("%s: %+v, want isGo %v known %v notify %v serves %v", tc.path, g, tc.isGo, tc.known, tc.notify, tc.serves)
		}
		if g.isGo && !strings.HasPrefix(g.version, "go1.") {
			t.Errorf("%s: Go version %q", tc.path, g.version)
		}
	}
	requireExeSeen(t) // the executables above were read as files; a live process's needs /proc/PID/exe
	// Without NOTIFY_SOCKET, bare sends nothing and sleeps.
	cmd := exec.Command(reloadGo(t, "bare"))
	cmd.Env = toolEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if g := inspectExe(cmd.Process.Pid); !g.isGo || !g.known || g.notify {
		t.Errorf("a live bare: %+v", g)
	}
	if g := inspectExe(1 << 30); g.isGo {
		t.Errorf("a pid that does not exist: %+v", g)
	}
}
