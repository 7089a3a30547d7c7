package main

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/internal/procfs"
)

// mainProc holds the service's main process.
type mainProc struct {
	pid   int
	pidfd int      // -1 if pidfd_open failed; signals then go by PID
	watch *os.File // for a main process that is not our child: a pidfd that becomes readable when it exits
}

// newMain makes pid the main process, with a pidfd to signal it safely and,
// if it is not our child, to notice its exit.
func (s *supervisor) newMain(pid int) *mainProc {
	m := &mainProc{pid: pid, pidfd: -1}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err == nil {
		m.pidfd = fd
	}
	if pid != s.orig && procfs.Parent(pid) != s.self && fd >= 0 {
		if dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
			m.watch = os.NewFile(uintptr(dup), "pidfd")
			go s.watchExit(pid, m.watch)
		}
	}
	return m
}

// watchExit reports on s.gone when the process of the pidfd f exits,
// unless f is closed first. It asks the pidfd itself whether the process
// has exited, each time the poller wakes it: a wake-up is a hint, and the
// poller's readiness for an exit that came before the wait began would
// be forgotten (RawRead resets it before calling the function first).
func (s *supervisor) watchExit(pid int, f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	err = rc.Read(func(fd uintptr) bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(p, 0)
		return err == nil && n > 0 && p[0].Revents&unix.POLLIN != 0
	})
	if err == nil {
		s.gone <- pid // buffered; the main loop reads it until the end
	}
}

func (m *mainProc) release() {
	if m == nil {
		return
	}
	if m.watch != nil {
		m.watch.Close()
		m.watch = nil
	}
	if m.pidfd >= 0 {
		unix.Close(m.pidfd)
		m.pidfd = -1
	}
}

func (m *mainProc) signal(sig syscall.Signal) error {
	if m.pidfd >= 0 {
		return unix.PidfdSendSignal(m.pidfd, sig, nil, 0)
	}
	return unix.Kill(m.pid, sig)
}

// stopAll sends sig, then SIGCONT, to the main process and all its
// descendants (KillMode=control-group), and waits --timeout-stop.
func (s *supervisor) stopAll(sig syscall.Signal, why string) {
	s.enterStopping()
	s.killAll(sig, why)
	s.killAll(syscall.SIGCONT, "")
}

// killAll sends sig to the main process and to every other descendant.
func (s *supervisor) killAll(sig syscall.Signal, why string) {
	s.main.signal(sig)
	others := 0
	for _, pid := range procfs.Descendants(s.self) {
		if pid != s.main.pid {
			unix.Kill(pid, sig)
			others++
		}
	}
	if why == "" {
		return
	}
	msg := fmt.Sprintf("%s to main process %d", signalName(sig), s.main.pid)
	if others > 0 {
		msg += fmt.Sprintf(" and %d other descendant(s)", others)
	}
	s.em.emit(&event{Event: "signal", Signal: signalName(sig), PID: s.main.pid, Reason: why, Message: msg + " (" + why + ")"})
}

// eachExited calls f for every child that has exited, without waiting for
// any that has not.
func eachExited(f func(pid int, ws unix.WaitStatus)) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		f(pid, ws)
	}
}

// reap collects every child that has exited.
func (s *supervisor) reap() {
	eachExited(func(pid int, ws unix.WaitStatus) {
		switch {
		case !s.end.done && pid == s.main.pid:
			// Process what it sent before exiting first: it may have
			// named another main process.
			s.syncMessages()
			if pid == s.main.pid {
				s.mainExited(&ws)
			} else {
				s.formerExited(pid, ws)
			}
		case pid == s.orig:
			s.formerExited(pid, ws)
		}
	})
}

func (s *supervisor) reapQuietly() {
	eachExited(func(pid int, ws unix.WaitStatus) {
		if pid == s.orig && pid != s.main.pid {
			s.formerExited(pid, ws)
		}
	})
}

// formerExited reports the exit of COMMAND after it handed over MAINPID=.
func (s *supervisor) formerExited(pid int, ws unix.WaitStatus) {
	code, desc := exitStatus(ws)
	s.em.emit(&event{Event: "exit", PID: pid, Status: ptr(code), Message: fmt.Sprintf("pid %d (no longer the main process, which is %d) %s", pid, s.main.pid, desc)})
}

// alienExited handles the exit of a main process that is not our child.
func (s *supervisor) alienExited(pid int) {
	if s.end.done || pid != s.main.pid {
		return
	}
	// Its parent may reap it any moment: read its status first.
	st, err := procfs.ReadStat(pid)
	s.reap() // it may have been reparented to us, and reaped
	if s.end.done || pid != s.main.pid {
		return
	}
	s.syncMessages()
	if pid != s.main.pid {
		return
	}
	if err == nil && st.State == 'Z' && st.HasExitCode {
		ws := unix.WaitStatus(st.ExitCode)
		s.mainExited(&ws)
		return
	}
	s.mainExited(nil)
}
