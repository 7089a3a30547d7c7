package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/pidfd"
	"github.com/gosdnotify/sdnotify/internal/spawn"
)

// restartState is what the supervisor keeps across the processes it
// starts: the --listen sockets, the restarts, the start limit.
type restartState struct {
	devnull       *os.File
	listeners     []*boundSocket
	stopRequested bool      // SIGTERM or SIGINT to run: no restart (systemctl stop)
	restarts      int       // systemd's NRestarts
	limitBegin    time.Time // the start limit's window
	limitStarts   int       // starts in it
	noRestart     string    // why the last process was not restarted
}

// A handedFile is a file passed to a process, from fd 3 on.
type handedFile struct {
	spawn.File
	from    string // "listen" (a --listen socket) or "fdstore"
	address string // a --listen socket's address
}

// handOver returns the files the next process gets, in systemd's order:
// the sockets of the socket units, then the fd store (newest first).
func (s *supervisor) handOver() []handedFile {
	var files []handedFile
	for _, b := range s.listeners {
		files = append(files, handedFile{File: spawn.File{Name: b.name, File: b.f}, from: "listen", address: b.addr})
	}
	for _, f := range s.fds.Files() {
		files = append(files, handedFile{File: f, from: "fdstore"})
	}
	return files
}

// startMain starts COMMAND (path) as the main process, with the files of
// handOver, and reports it.
func (s *supervisor) startMain(path string) (int, error) {
	if s.restarts == 0 {
		s.startAllowed(time.Now()) // counts the first start
	}
	s.resetListeners()
	s.pruneFDStore() // what hung up during --restart-sec, reported
	files := s.handOver()
	env, shown := s.environment()
	cmd, err := s.command(path, files, env)
	if err != nil {
		return exitNoExec, fmt.Errorf("cannot start %s: %v", s.o.argv[0], err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.devnull, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	restore := keepNonblock(files)
	s.start = time.Now()
	err = cmd.Start()
	restore()
	if err != nil {
		code := exitNoExec
		if errors.Is(err, fs.ErrNotExist) {
			code = exitNotFound
		}
		return code, fmt.Errorf("cannot start %s: %v", s.o.argv[0], err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release() // reaped with wait4(-1), not through it
	s.orig = pid
	s.main = s.newMain(pid)
	if s.unit == nil {
		s.unit = &manager.Unit{Version: s.o.version, Type: s.o.unitType, Access: s.o.access, MainPID: pid, Suitable: s.suitable}
	} else {
		s.unit.Restarted(pid)
	}

	shown = strings.ReplaceAll(shown, "WATCHDOG_PID=$PID", "WATCHDOG_PID="+strconv.Itoa(pid))
	if len(files) > 0 {
		names := make([]string, len(files))
		for i, f := range files {
			names[i] = f.Name
		}
		shown += fmt.Sprintf(" LISTEN_FDS=%d LISTEN_FDNAMES=%s LISTEN_PID=%d", len(files), showValue(strings.Join(names, ":")), pid)
		if id := pidfd.ID(pid); id != 0 {
			shown += " LISTEN_PIDFDID=" + strconv.FormatUint(id, 10)
		}
	}
	ev := &event{Event: "start", PID: pid, Argv: s.o.argv, FDs: len(files), Files: jsonFiles(files)}
	ev.Message = fmt.Sprintf("pid %d: %s (%s)", pid, showArgv(s.o.argv), shown)
	if s.restarts > 0 {
		ev.Restarts = ptr(s.restarts)
		ev.Message = fmt.Sprintf("pid %d (restart %d): %s (%s)", pid, s.restarts, showArgv(s.o.argv), shown)
	}
	if len(files) > 0 {
		ev.Message += "; fds: " + showFiles(files)
	}
	s.em.emit(ev)
	if s.o.timeoutStart > 0 {
		s.timers.start = s.start.Add(s.o.timeoutStart)
	}
	s.timers.interval = s.o.watchdog
	return 0, nil
}

// command returns the Cmd that starts COMMAND: through sdnotify's own
// watchdog shim under --watchdog (to set WATCHDOG_PID), and through
// spawn's trampoline when there are files (to set LISTEN_PID): both set
// the variable to the process's own PID before it execs COMMAND, as
// systemd sets them between fork and exec.
func (s *supervisor) command(path string, files []handedFile, env []string) (*exec.Cmd, error) {
	name, argv0, args := path, s.o.argv[0], s.o.argv[1:]
	if s.o.watchdog > 0 {
		name, argv0 = selfExecutable(), "sdnotify"
		args = append([]string{shimCommand, path}, s.o.argv...)
	}
	cmd := &exec.Cmd{Path: name, Args: append([]string{argv0}, args...), Env: env}
	sf := make([]spawn.File, len(files))
	for i, f := range files {
		sf[i] = f.File
	}
	if err := spawn.Prepare(cmd, sf); err != nil {
		return nil, err
	}
	return cmd, nil
}

func selfExecutable() string {
	self, err := os.Executable()
	if err != nil {
		return "/proc/self/exe"
	}
	if _, err := os.Stat(self); err != nil {
		return "/proc/self/exe"
	}
	return self
}

// keepNonblock undoes, once the process has started, what os/exec does to
// the stored files it passes: it makes them blocking, and O_NONBLOCK
// belongs to the open file, which the service stored as it was. (systemd
// leaves stored files as they are; only its sockets are made blocking.)
func keepNonblock(files []handedFile) (restore func()) {
	type flag struct{ fd, fl int }
	var saved []flag
	for _, f := range files {
		if f.from != "fdstore" {
			continue
		}
		if fd := rawFd(f.File.File); fd >= 0 {
			if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil && fl&unix.O_NONBLOCK != 0 {
				saved = append(saved, flag{fd, fl})
			}
		}
	}
	return func() {
		for _, s := range saved {
			unix.SetNonblock(s.fd, true)
		}
	}
}

func jsonFiles(files []handedFile) []jsonFile {
	var out []jsonFile
	for i, f := range files {
		out = append(out, jsonFile{FD: 3 + i, Name: f.Name, From: f.from, Address: f.address})
	}
	return out
}

// showFiles shows the files handed over, for the text output:
// "3 web (tcp:127.0.0.1:8080), 4 db (fd store)".
func showFiles(files []handedFile) string {
	parts := make([]string, len(files))
	for i, f := range files {
		what := "fd store"
		if f.from == "listen" {
			what = f.address
		}
		parts[i] = fmt.Sprintf("%d %s (%s)", 3+i, showValue(f.Name), what)
	}
	return strings.Join(parts, ", ")
}

// handOverText says what a restart hands over.
func handOverText(files []handedFile) string {
	var socks, stored []string
	for _, f := range files {
		if f.from == "listen" {
			socks = append(socks, f.Name)
		} else {
			stored = append(stored, f.Name)
		}
	}
	var parts []string
	if len(socks) > 0 {
		parts = append(parts, fmt.Sprintf("%d listening socket(s) (%s)", len(socks), strings.Join(socks, ", ")))
	}
	if len(stored) > 0 {
		parts = append(parts, fmt.Sprintf("%d stored fd(s) (%s)", len(stored), strings.Join(stored, ", ")))
	}
	if len(parts) == 0 {
		return "no files to hand over"
	}
	return "handing over " + strings.Join(parts, " and ")
}

// restart starts COMMAND again after the main process ended, if --restart
// says so, as systemd does: the processes left are stopped, the stored
// files whose peer hung up dropped, --restart-sec waited, the start limit
// checked. It reports false when the run ends.
func (s *supervisor) restart(path string) bool {
	if s.o.restart == "no" {
		return false
	}
	result := s.end.result
	if s.stopRequested {
		s.noRestart = "sdnotify run was asked to stop (as by systemctl stop)"
		return false
	}
	if !restartPolicies[s.o.restart](result) {
		s.noRestart = fmt.Sprintf("--restart=%s does not restart after Result=%s", s.o.restart, result)
		return false
	}
	// KillMode=control-group: what is left of the service goes first.
	s.killLeftovers()
	if s.stopRequested {
		s.noRestart = "sdnotify run was asked to stop (as by systemctl stop)"
		return false
	}
	s.pruneFDStore()
	s.restarts++
	files := s.handOver()
	s.em.emit(&event{
		Event:      "restart",
		Reason:     result,
		Restarts:   ptr(s.restarts),
		DurationMS: ms(s.o.restartDelay),
		FDs:        len(files),
		Files:      jsonFiles(files),
		Message:    fmt.Sprintf("restart %d in %s (--restart=%s, Result=%s): %s", s.restarts, round(s.o.restartDelay), s.o.restart, result, handOverText(files)),
	})
	if !s.pause(s.o.restartDelay) {
		s.noRestart = "sdnotify run was asked to stop during --restart-sec"
		return false
	}
	if !s.startAllowed(time.Now()) {
		msg := fmt.Sprintf("start request repeated too quickly: more than %d starts within %v (--start-limit-burst, --start-limit-interval): not starting COMMAND again, as systemd's Result=start-limit-hit", s.o.startLimitBurst, s.o.startLimitInterval)
		s.em.emit(&event{Event: "start-limit", Reason: "start-limit-hit", Restarts: ptr(s.restarts), Message: msg})
		s.end.result, s.end.failMsg = "start-limit-hit", msg
		if s.end.code == 0 {
			s.end.code = 1
		}
		return false
	}
	s.main.release()
	s.resetRun()
	if code, err := s.startMain(path); err != nil {
		fmt.Fprintf(s.stderr, "sdnotify run: %v\n", err)
		s.end = verdict{done: true, result: "exit-code", code: code, failMsg: err.Error()}
		return false
	}
	return true
}

// startAllowed applies the start limit to a start at now, as systemd's
// StartLimitIntervalSec= and StartLimitBurst= (ratelimit_below): at most
// burst starts in a window of interval that opens with the first of them.
func (s *supervisor) startAllowed(now time.Time) bool {
	burst, interval := s.o.startLimitBurst, s.o.startLimitInterval
	if burst == 0 || interval == 0 {
		return true
	}
	if s.limitBegin.IsZero() || now.Sub(s.limitBegin) >= interval {
		s.limitBegin, s.limitStarts = now, 0
	}
	if s.limitStarts < burst {
		s.limitStarts++
		return true
	}
	return false
}

// pause waits d before a restart, handling what arrives meanwhile. A
// SIGTERM or SIGINT cancels the restart: it returns false.
func (s *supervisor) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case d := <-s.recv.msgs:
			s.handle(d)
		case sig := <-s.sigs:
			name := signalName(sig.(syscall.Signal))
			switch {
			case sig == syscall.SIGCHLD:
				s.reapQuietly()
			case s.stopsRun(sig.(syscall.Signal)):
				s.em.emit(&event{Event: "signal", Signal: name, Reason: "stop", Message: name + " while waiting to restart: not restarting"})
				return false
			default:
				s.em.emit(&event{Event: "signal", Signal: name, Reason: "ignored", Message: name + " while waiting to restart: no main process to forward it to"})
			}
		case <-s.gone: // a former main process that was not our child
		}
	}
}

// resetRun forgets the end of the process that ended, for the next.
func (s *supervisor) resetRun() {
	s.end = verdict{}
	s.timers = deadlines{}
	s.reload, s.hint = nil, ""
}

// restartSummary completes the result event: the restarts, and why the
// last process was not restarted.
func (s *supervisor) restartSummary(ev *event) string {
	if s.o.restart == "no" {
		return ""
	}
	ev.Restarts = ptr(s.restarts)
	msg := fmt.Sprintf(" (%d restart(s)", s.restarts)
	if s.noRestart != "" {
		msg += "; not restarted: " + s.noRestart
	}
	return msg + ")"
}
