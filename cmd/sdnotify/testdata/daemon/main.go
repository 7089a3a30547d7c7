//go:build linux

// Command daemon is the test daemon of cmd/sdnotify's tests: it runs the
// steps given as arguments, in order, and exits 0 after the last one
// (unless a step waits or exits). The steps:
//
//	ready                  READY=1
//	status:TEXT            STATUS=TEXT
//	notify:STATE           the state as given, with \n for newlines
//	raw:QUOTED             a Go-quoted datagram sent on a raw socket (anything, NUL bytes too)
//	big:N                  a datagram of N bytes, on a raw socket
//	sleep:DUR              sleep
//	keepalive              feed the watchdog with KeepAlive, in the background
//	ping:DUR               send WATCHDOG=1 every DUR, in the background
//	trigger                WATCHDOG=trigger
//	wdusec:DUR             WATCHDOG_USEC=DUR
//	extend:DUR             EXTEND_TIMEOUT_USEC=DUR
//	checkwd                STATUS=wd=<WatchdogTimeout> pid=<WATCHDOG_PID is ours>
//	barrier                BARRIER=1 and wait for it (3s), then STATUS=barrier returned
//	store:NAME:N           store N pipes under NAME (NAME "-": no FDNAME)
//	storetwice:NAME        store the same pipe twice under NAME
//	remove:NAME            FDSTOREREMOVE=1 FDNAME=NAME
//	sendfd                 send a pipe without FDSTORE=1
//	notifyaccess:A         NOTIFYACCESS=A
//	spawn:S1;S2;...        start this daemon with steps S1, S2, ... as a child (kept)
//	run:S1;S2;...          run this daemon with steps S1, S2, ... as a child, and wait for it
//	orphan:S1;S2;...       start it through a process that exits at once: an orphan
//	mainpid                MAINPID=<the last child> and READY=1
//	onterm:N               on SIGTERM: STOPPING=1, exit N
//	onhup:MODE             on SIGHUP: MODE reload (RELOADING=1+MONOTONIC_USEC, READY=1),
//	                       nomono (RELOADING=1 alone, READY=1), stale (an old
//	                       MONOTONIC_USEC), readyonly (READY=1 alone), silent (nothing)
//	ignore:SIG             ignore SIGTERM (TERM) or SIGINT (INT)
//	kill:SIG               kill ourselves with SIGKILL (KILL) or SIGINT (INT)
//	exit:N                 exit N
//	wait                   wait forever
//
// Steps for socket activation and restarts (sdnotify run --listen, --restart):
//
//	count:PATH             the generation: the number in PATH (0 if none), which is then incremented
//	on:SPEC:STEP           STEP only in some generations: SPEC is G (that one), G,H,... or R%M (gen%M == R)
//	files                  STATUS=files pid=<LISTEN_PID is ours> pidfdid=<ok|unset|bad> n=<LISTEN_FDS> names=<LISTEN_FDNAMES>
//	serve:NAME:N           accept N connections (0: for ever) on the stream socket NAME, one at a time:
//	                       read a line, answer "pid=P gen=G LINE", close
//	echo:NAME:N            answer N datagrams on the datagram socket NAME: "pid=P gen=G DATA"
//	storepipe:NAME:MODE    a pipe holding "from gen G": store its read end under NAME; MODE hup: keep the
//	                       write end (closed at exit: the peer hangs up), nopoll: the same with FDPOLL=0,
//	                       both: store the write end too (no hang-up)
//	readfd:NAME            STATUS=read NAME=<what the first file named NAME holds> (or "empty")
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/internal/pidfd"
	"github.com/gosdnotify/sdnotify/listen"
)

var (
	n        = sdnotify.New()
	children []*exec.Cmd
	gen      int
	keep     []*os.File // write ends of stored pipes: closed only at exit
)

func main() {
	dieOnAbort()
	for _, step := range os.Args[1:] {
		if err := run(step); err != nil {
			fmt.Fprintf(os.Stderr, "daemon[%d]: step %q: %v\n", os.Getpid(), step, err)
			os.Exit(99)
		}
	}
}

func run(step string) error {
	name, arg, _ := strings.Cut(step, ":")
	switch name {
	case "ready":
		return n.Send(sdnotify.Ready())
	case "status":
		return n.Send(sdnotify.Status(arg))
	case "notify":
		return n.Notify(strings.ReplaceAll(arg, `\n`, "\n"))
	case "raw":
		s, err := strconv.Unquote(arg)
		if err != nil {
			return err
		}
		return sendRaw([]byte(s))
	case "big":
		size, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		return sendRaw([]byte("X_BIG=" + strings.Repeat("a", size-len("X_BIG="))))
	case "sleep":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		time.Sleep(d)
	case "keepalive":
		go n.KeepAlive(context.Background(), nil)
	case "ping":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		go func() {
			for {
				n.Send(sdnotify.Watchdog())
				time.Sleep(d)
			}
		}()
	case "trigger":
		return n.Send(sdnotify.WatchdogTrigger())
	case "wdusec":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		return n.Send(sdnotify.SetWatchdogTimeout(d))
	case "extend":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		return n.Send(sdnotify.ExtendTimeout(d))
	case "checkwd":
		d, err := n.WatchdogTimeout()
		if err != nil {
			return err
		}
		return n.Send(sdnotify.Statusf("wd=%v pid=%v", d, os.Getenv("WATCHDOG_PID") == strconv.Itoa(os.Getpid())))
	case "barrier":
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		if err := n.Barrier(ctx); err != nil {
			return err
		}
		return n.Send(sdnotify.Statusf("barrier returned after %v", time.Since(start).Round(time.Millisecond)))
	case "store":
		fdname, count, _ := strings.Cut(arg, ":")
		k, err := strconv.Atoi(count)
		if err != nil {
			return err
		}
		var files []*os.File
		for range k {
			r, w, err := os.Pipe()
			if err != nil {
				return err
			}
			files = append(files, r)
			keep = append(keep, w)
		}
		if fdname == "-" {
			fdname = "" // FDSTORE=1 alone
		}
		return n.Send(sdnotify.FDStore(fdname, files...))
	case "storetwice":
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		keep = append(keep, w)
		if err := n.Send(sdnotify.FDStore(arg, r)); err != nil {
			return err
		}
		return n.Send(sdnotify.FDStore(arg, r))
	case "remove":
		return n.Send(sdnotify.FDStoreRemove(arg))
	case "sendfd":
		r, _, err := os.Pipe()
		if err != nil {
			return err
		}
		// Only FDStore and MainPIDFD carry files in the library: send the
		// datagram on a raw socket.
		return sendRawFiles([]byte("X_FD=1"), r)
	case "notifyaccess":
		return n.Send(sdnotify.NotifyAccess(sdnotify.Access(arg)))
	case "spawn":
		cmd := exec.Command(os.Args[0], strings.Split(arg, ";")...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		children = append(children, cmd)
	case "run":
		cmd := exec.Command(os.Args[0], strings.Split(arg, ";")...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	case "orphan":
		cmd := exec.Command(os.Args[0], "spawn:"+arg)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	case "mainpid":
		if len(children) == 0 {
			return fmt.Errorf("no child")
		}
		return n.Send(sdnotify.MainPID(children[len(children)-1].Process.Pid), sdnotify.Ready())
	case "onterm":
		code, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		go func() {
			<-c
			n.Send(sdnotify.Stopping())
			os.Exit(code)
		}()
	case "onhup":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGHUP)
		go func() {
			for range c {
				if arg == "silent" {
					continue
				}
				switch arg {
				case "reload":
					n.Send(sdnotify.Reloading())
				case "nomono":
					n.Notify("RELOADING=1")
				case "stale":
					n.Notify("RELOADING=1\nMONOTONIC_USEC=1")
				}
				time.Sleep(30 * time.Millisecond)
				n.Send(sdnotify.Ready(), sdnotify.Status("reloaded"))
			}
		}()
	case "ignore":
		signal.Ignore(sig(arg))
	case "kill":
		signal.Reset(sig(arg))
		syscall.Kill(os.Getpid(), sig(arg))
		time.Sleep(time.Minute)
	case "exit":
		code, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		os.Exit(code)
	case "wait":
		for {
			time.Sleep(time.Hour)
		}
	case "count":
		b, err := os.ReadFile(arg)
		if err == nil {
			gen, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		return os.WriteFile(arg, []byte(strconv.Itoa(gen+1)), 0o644)
	case "on":
		spec, step, _ := strings.Cut(arg, ":")
		if matchGen(spec) {
			return run(step)
		}
	case "files":
		return files()
	case "serve":
		name, count, _ := strings.Cut(arg, ":")
		k, err := strconv.Atoi(count)
		if err != nil {
			return err
		}
		return serve(name, k)
	case "echo":
		name, count, _ := strings.Cut(arg, ":")
		k, err := strconv.Atoi(count)
		if err != nil {
			return err
		}
		return echo(name, k)
	case "storepipe":
		name, mode, _ := strings.Cut(arg, ":")
		return storePipe(name, mode)
	case "readfd":
		return readFD(arg)
	default:
		return fmt.Errorf("unknown step")
	}
	return nil
}

// dieOnAbort makes SIGABRT (the watchdog's signal) kill the daemon as it
// kills a C program, without the Go runtime's stack dump: on SIGABRT it
// restores the default action and raises it again.
func dieOnAbort() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGABRT)
	go func() {
		<-c
		var dfl [4]uint64 // struct sigaction with sa_handler SIG_DFL
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(syscall.SIGABRT), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
		unix.Tgkill(os.Getpid(), unix.Gettid(), syscall.SIGABRT)
		time.Sleep(time.Second)
		os.Exit(134)
	}()
}

func sig(name string) syscall.Signal {
	switch name {
	case "TERM":
		return syscall.SIGTERM
	case "INT":
		return syscall.SIGINT
	case "KILL":
		return syscall.SIGKILL
	}
	panic("unknown signal " + name)
}

// sendRaw sends b to NOTIFY_SOCKET as is, on a socket of its own.
func sendRaw(b []byte) error { return sendRawFiles(b) }

// sendRawFiles sends b to NOTIFY_SOCKET as is, with files passed alongside
// (SCM_RIGHTS), on a socket of its own.
func sendRawFiles(b []byte, files ...*os.File) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(fd, b, oob, &unix.SockaddrUnix{Name: addr}, 0)
}

// matchGen reports whether this generation matches SPEC (see on:).
func matchGen(spec string) bool {
	if r, m, ok := strings.Cut(spec, "%"); ok {
		ri, err1 := strconv.Atoi(r)
		mi, err2 := strconv.Atoi(m)
		return err1 == nil && err2 == nil && mi > 0 && gen%mi == ri
	}
	for _, g := range strings.Split(spec, ",") {
		if gi, err := strconv.Atoi(g); err == nil && gi == gen {
			return true
		}
	}
	return false
}

// files reports what the manager passed, as the variables say, and takes
// the files.
func files() error {
	pid := "unset"
	if v, ok := os.LookupEnv("LISTEN_PID"); ok {
		pid = "bad"
		if v == strconv.Itoa(os.Getpid()) {
			pid = "ok"
		}
	}
	pidfdid := "unset"
	if v, ok := os.LookupEnv("LISTEN_PIDFDID"); ok {
		pidfdid = "bad"
		if v == strconv.FormatUint(pidfd.ID(os.Getpid()), 10) {
			pidfdid = "ok"
		}
	}
	count, names := os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	fs, err := sdnotify.Files()
	if err != nil {
		return err
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Name())
	}
	if strings.Join(got, ":") != names {
		return fmt.Errorf("sdnotify.Files names %q, LISTEN_FDNAMES=%q", got, names)
	}
	return n.Send(sdnotify.Statusf("files pid=%s pidfdid=%s n=%s names=%s", pid, pidfdid, count, names))
}

// serve answers k connections (0: for ever) on the stream socket name.
func serve(name string, k int) error {
	ln, err := listen.Listener(name)
	if err != nil {
		return err
	}
	defer ln.Close()
	for i := 0; k == 0 || i < k; i++ {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil {
			_, err = fmt.Fprintf(c, "pid=%d gen=%d %s", os.Getpid(), gen, line)
		}
		c.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "daemon[%d]: serve %s: %v\n", os.Getpid(), name, err)
		}
	}
	return nil
}

// echo answers k datagrams on the datagram socket name.
func echo(name string, k int) error {
	c, err := listen.PacketConn(name)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 65536)
	for i := 0; k == 0 || i < k; i++ {
		m, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		if _, err := c.WriteTo([]byte(fmt.Sprintf("pid=%d gen=%d %s", os.Getpid(), gen, buf[:m])), from); err != nil {
			return err
		}
	}
	return nil
}

// storePipe stores a pipe that holds a message (see storepipe:).
func storePipe(name, mode string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "from gen %d", gen); err != nil {
		return err
	}
	switch mode {
	case "hup":
		keep = append(keep, w)
		return n.Send(sdnotify.FDStore(name, r))
	case "nopoll":
		keep = append(keep, w)
		return n.Send(sdnotify.FDStore(name, r), sdnotify.FDPollDisable())
	case "both":
		return n.Send(sdnotify.FDStore(name, r, w))
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// readFD reports what the first file passed under name holds.
func readFD(name string) error {
	fs, err := sdnotify.FilesNamed(name)
	if err != nil {
		return err
	}
	if len(fs) == 0 {
		return n.Send(sdnotify.Statusf("read %s=none", name))
	}
	fd := int(fs[0].Fd())
	unix.SetNonblock(fd, true)
	buf := make([]byte, 256)
	k, err := unix.Read(fd, buf)
	if err != nil || k <= 0 {
		return n.Send(sdnotify.Statusf("read %s=empty", name))
	}
	return n.Send(sdnotify.Statusf("read %s=%s", name, buf[:k]))
}
