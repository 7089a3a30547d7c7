package main

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/procfs"
)

// reloadSignal is the signal that asks a Type=notify-reload unit to
// reload: SIGHUP, systemd's default ReloadSignal=, the one run forwards.
const reloadSignal = syscall.SIGHUP

// handlerRequiredSince is the first systemd that refuses the READY=1 of a
// Type=notify-reload service that neither catches nor blocks its reload
// signal (Result=protocol, "lacks handler for reload signal HUP").
const handlerRequiredSince manager.Version = 262

// The Go functions whose presence in an executable's function table tells
// what a Go program can do with SIGHUP: the linker leaves out what is
// never called.
const (
	goNotifyFunc = "os/signal.Notify"
	goServeFunc  = "github.com/gosdnotify/sdnotify.(*Notifier).ServeReloads"
)

// reloadCheck is what run learnt of a main process and the reload signal.
type reloadCheck struct {
	pid       int   // the process it is about; 0 for none
	goProg    goExe // what its executable says
	forwarded bool  // run forwarded it the reload signal
}

// A goExe is what a process's executable says of its handling of
// signals, if it is a Go program.
type goExe struct {
	isGo    bool
	version string // the Go release that built it
	notify  bool   // it links os/signal.Notify: it may ask for SIGHUP
	serves  bool   // it links sdnotify's ServeReloads
	known   bool   // the function table was read: notify and serves are true or false
}

// inspectExe reads the executable of process pid, through /proc/PID/exe
// (which opens the file it runs even if the path changed since). It
// needs the process alive, not a zombie.
func inspectExe(pid int) goExe {
	return inspectFile("/proc/" + strconv.Itoa(pid) + "/exe")
}

// inspectFile reads the executable at path.
func inspectFile(path string) goExe {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return goExe{}
	}
	g := goExe{isGo: true, version: bi.GoVersion}
	tab, err := goFuncs(path)
	if err != nil {
		return g
	}
	g.known = true
	g.notify = tab.LookupFunc(goNotifyFunc) != nil
	g.serves = tab.LookupFunc(goServeFunc) != nil
	return g
}

// goFuncs reads the function table of a Go ELF executable: its pclntab,
// which stripped binaries keep too (the runtime needs it).
func goFuncs(path string) (*gosym.Table, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".gopclntab")
	if sec == nil {
		return nil, fmt.Errorf("%s: no .gopclntab section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	var text uint64
	if t := f.Section(".text"); t != nil {
		text = t.Addr
	}
	return gosym.NewTable(nil, gosym.NewLineTable(data, text))
}

// steadyReads and steadyPause bound how long steadySignals looks at a
// process that only blocks the reload signal: 50ms at most.
const (
	steadyReads = 10
	steadyPause = 5 * time.Millisecond
)

// steadySignals reads the signal masks of process pid; false if it is
// gone or a zombie. A process that blocks the reload signal without
// catching it is read again, a few times: a shell blocks every signal for
// a moment while it starts or waits for a command (dash between its
// sigprocmask and sigsuspend), which says nothing of how it will take a
// reload. The first read without the signal blocked is the answer; a
// block that lasts is a real one (a daemon that takes signals with
// signalfd or sigwait).
func steadySignals(pid int) (procfs.Signals, bool) {
	var sigs procfs.Signals
	for i := 0; i < steadyReads; i++ {
		if i > 0 {
			time.Sleep(steadyPause)
		}
		var err error
		sigs, err = procfs.ReadSignals(pid)
		if err != nil || sigs.Zombie() {
			return sigs, false
		}
		if procfs.Has(sigs.Caught, int(reloadSignal)) || !procfs.Has(sigs.Blocked, int(reloadSignal)) {
			break
		}
	}
	return sigs, true
}

// checkReloadSignal looks, at READY=1, at how a Type=notify-reload unit's
// main process handles the reload signal, as systemd 262 does (it reads
// /proc/PID/status). It reports whether the start is refused, as 262
// refuses it (with --systemd=262 or later: the unit is then stopped), and
// returns a note for the ready event.
func (s *supervisor) checkReloadSignal() (refused bool, note string) {
	if s.o.unitType != manager.NotifyReload {
		return false, ""
	}
	pid := s.unit.MainPID
	if s.rsig.pid != pid {
		s.rsig = reloadCheck{pid: pid}
	}
	sigs, ok := steadySignals(pid)
	if !ok {
		return false, "" // gone already: its exit says the rest
	}
	sig := int(reloadSignal)
	caught, blocked, ignored := procfs.Has(sigs.Caught, sig), procfs.Has(sigs.Blocked, sig), procfs.Has(sigs.Ignored, sig)
	name := signalName(reloadSignal)
	if !caught && !blocked {
		what, effect := "neither catches nor blocks", "a reload (a SIGHUP to sdnotify, as systemctl reload) would kill it"
		if ignored {
			what, effect = "ignores", "a reload would go unanswered and time out"
		}
		msg := fmt.Sprintf("main process %d %s %s, the reload signal, at READY=1 (/proc/%d/status): %s; systemd %d and later, which want it caught or blocked, refuse such a start (Result=protocol, \"lacks handler for reload signal HUP\")",
			pid, what, name, pid, effect, handlerRequiredSince)
		if s.o.version < handlerRequiredSince {
			msg += fmt.Sprintf("; --systemd=%d does not check, so sdnotify only warns (--systemd=%d fails the start as %d does)", s.o.version, handlerRequiredSince, handlerRequiredSince)
			s.em.emit(&event{Event: "warning", PID: pid, Signal: name, Reason: "reload-signal-unhandled", Message: msg})
			return false, ""
		}
		s.em.emit(&event{Event: "warning", PID: pid, Signal: name, Reason: "reload-signal-unhandled", Message: msg + fmt.Sprintf("; --systemd=%d: so does sdnotify", s.o.version)})
		s.fail("protocol", exitProtocol, fmt.Sprintf("main process %d %s %s, the reload signal, at READY=1: systemd %d refuses the start of a Type=notify-reload unit (Result=protocol)", pid, what, name, s.o.version))
		s.stopAll(syscall.SIGTERM, "protocol error: no handler for the reload signal")
		return true, ""
	}
	if !caught {
		return false, "" // blocked: it waits for the signal (sigwait, signalfd)
	}
	// Caught: a handler. A Go program's runtime has one for every signal
	// from the start, whether or not the program asked for SIGHUP.
	g := inspectExe(pid)
	s.rsig.goProg = g
	switch {
	case !g.isGo || g.serves:
		return false, ""
	case g.known && !g.notify:
		s.em.emit(&event{Event: "warning", PID: pid, Signal: name, Reason: "reload-signal-go", Message: fmt.Sprintf(
			"main process %d is a Go program that never calls signal.Notify (its executable has no %s): the first reload will kill it. Its runtime catches %s for it, so systemd 262 starts it too; call signal.Notify(ch, syscall.SIGHUP) or sdnotify's ServeReloads before READY=1",
			pid, goNotifyFunc, name)})
		return false, ""
	}
	return false, fmt.Sprintf("; a Go program: its runtime catches %s whether or not it asked for it with signal.Notify, so a reload (SIGHUP to sdnotify) is the way to tell whether it survives one", name)
}

// reloadForwarded records that the reload signal went to the main
// process, for the report of its death.
func (s *supervisor) reloadForwarded() {
	pid := s.main.pid
	if s.rsig.pid != pid {
		s.rsig = reloadCheck{pid: pid, goProg: inspectExe(pid)}
	}
	s.rsig.forwarded = true
}

// diedOfReload reports a main process that died of the reload signal run
// forwarded to it, and returns the result line's note ("" if it did not).
func (s *supervisor) diedOfReload(pid int, sig syscall.Signal) string {
	if s.o.unitType != manager.NotifyReload || sig != reloadSignal || s.rsig.pid != pid || !s.rsig.forwarded {
		return ""
	}
	name := signalName(sig)
	how := "catch it (in a shell: trap '...' HUP) before READY=1"
	if s.rsig.goProg.isGo {
		how = "a Go program ends on a signal it did not ask for: call signal.Notify(ch, syscall.SIGHUP), or use sdnotify's ServeReloads, before READY=1"
	}
	note := fmt.Sprintf("main process %d died of %s, the reload signal: it does not handle it", pid, name)
	s.em.emit(&event{Event: "warning", PID: pid, Signal: name, Reason: "died-of-reload-signal", Message: fmt.Sprintf(
		"%s (%s). systemd counts this death as a clean exit: the unit goes inactive (Result=success); systemctl reload reports success on 254 and 257, failure on 262", note, how)})
	return note
}
