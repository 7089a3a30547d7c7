package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/internal/fdstore"
	"github.com/gosdnotify/sdnotify/internal/manager"
)

// The exit codes of run's own verdicts.
const (
	exitProtocol = 123
	exitTimeout  = 124
	exitWatchdog = 125
	exitNoExec   = 126
	exitNotFound = 127
)

// finalKillWait bounds the wait for processes after SIGKILL.
const finalKillWait = 5 * time.Second

// A supervisor is one run: it plays the manager of one Type=notify unit.
// Each part has a file of its own: the notification socket (receive),
// what the manager makes of a notification and what run then does
// (notify), the main process (mainproc), the deadlines, the end and its
// verdict (exit), the fd store (store), restarts (restart), the --listen
// sockets (listen), the signals to run (signals) and the output (output).
type supervisor struct {
	o      *runOptions
	em     *emitter
	stderr io.Writer
	self   int

	recv *receiver     // the notification socket
	unit *manager.Unit // the manager's view: state, NotifyAccess=, the main PID
	main *mainProc     // the main process's handles
	orig int           // COMMAND's process, which may have handed over MAINPID=
	sigs chan os.Signal
	gone chan int // a main process that is not our child exited

	start  time.Time    // when COMMAND started
	timers deadlines    // start, stop, watchdog, reload, final
	reload *reloadTimes // the reload under way, for its report
	hint   string       // why a notification from a descendant was refused, for the time-out's message
	rsig   reloadCheck  // the main process and the reload signal (Type=notify-reload)
	fds    *fdstore.Store
	end    verdict
	restartState
}

func runCommand(o *runOptions, stdout, stderr io.Writer) int {
	// Pdeathsig is tied to the thread that started the child: keep the
	// main goroutine on its thread for good.
	runtime.LockOSThread()

	out := stdout
	if o.output != "" {
		f, err := os.OpenFile(o.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "sdnotify run: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	s := &supervisor{
		o:      o,
		em:     &emitter{w: out, json: o.json, now: time.Now},
		stderr: stderr,
		self:   os.Getpid(),
		sigs:   make(chan os.Signal, 64),
		gone:   make(chan int, 4),
		fds:    fdstore.New(o.fdStoreMax),
	}
	return s.run()
}

func (s *supervisor) fatal(format string, args ...any) int {
	fmt.Fprintf(s.stderr, "sdnotify run: "+format+"\n", args...)
	return 1
}

func (s *supervisor) run() int {
	// Signals first: from here on, none ends run without its clean-up.
	s.catchSignals()
	defer s.releaseSignals()
	if s.o.readyFile != "" {
		if err := prepareReadyFile(s.o.readyFile); err != nil {
			return s.fatal("--ready-file: %v", err)
		}
	}
	path, code, err := resolveCommand(s.o.argv[0])
	if err != nil {
		fmt.Fprintf(s.stderr, "sdnotify run: %v\n", err)
		return code
	}
	recv, err := listen()
	if err != nil {
		return s.fatal("%v", err)
	}
	defer recv.close()
	s.recv = recv

	// Orphaned descendants are reparented to us, so that they stay in the
	// service's process tree (notify-access=all, the final clean-up).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(s.stderr, "sdnotify run: warning: cannot become a child subreaper: %v\n", err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return s.fatal("%v", err)
	}
	defer devnull.Close()
	s.devnull = devnull
	if err := s.bindListeners(); err != nil {
		return s.fatal("%v", err)
	}
	defer s.closeListeners()
	if code, err := s.startMain(path); err != nil {
		fmt.Fprintf(s.stderr, "sdnotify run: %v\n", err)
		return code
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go recv.read(ctx)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.serve(timer)
		if !s.restart(path) {
			break
		}
	}
	s.cleanUp()
	return s.end.code
}

// serve runs the main loop until the main process is gone.
func (s *supervisor) serve(timer *time.Timer) {
	for !s.end.done {
		s.timers.arm(timer)
		select {
		case r := <-s.recv.msgs:
			s.handle(r)
		case sig := <-s.sigs:
			s.onSignal(sig.(syscall.Signal))
		case pid := <-s.gone:
			s.alienExited(pid)
		case <-timer.C:
			s.deadlines()
		}
	}
}
