package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/proto"
)

const runUsage = `Usage: sdnotify run [FLAGS] [--] COMMAND [ARGS...]

Run COMMAND as systemd runs a Type=notify service, and show every
notification it sends, as it arrives: to exercise a daemon exactly as it
will run in production, without systemd (a laptop, a container, CI).

  sdnotify run -- ./mydaemon --config test.conf
  sdnotify run --timeout-start=10s --watchdog=2s --json -- ./mydaemon
  sdnotify run --ready-file=/tmp/ready -- ./mydaemon &
  until [ -e /tmp/ready ]; do sleep 0.1; done
  sdnotify run --listen=tcp:127.0.0.1:8080:web --restart=always -- ./mydaemon

COMMAND gets, as from systemd:
  NOTIFY_SOCKET    a socket of its own, in a new 0700 directory
  WATCHDOG_USEC    with --watchdog, the interval in microseconds
  WATCHDOG_PID     with --watchdog, COMMAND's own PID: sdnotify starts COMMAND
                   through a re-exec of itself that sets WATCHDOG_PID to its
                   own PID and then execs COMMAND (same PID), as systemd sets
                   it between fork and exec
  FDSTORE          --fd-store-max, as systemd 254+ sets it
  LISTEN_FDS       with --listen or a non-empty fd store: the files from fd 3
  LISTEN_FDNAMES   on, the --listen sockets first, then the fd store (newest
  LISTEN_PID       first), as systemd passes a .socket unit's sockets and then
  LISTEN_PIDFDID   the store; LISTEN_PID is COMMAND's own PID (and
                   LISTEN_PIDFDID its pidfd's inode ID, where the kernel has
                   one), set through a re-exec as WATCHDOG_PID is
  MANAGERPID       sdnotify's PID, so that systemd-notify or "sdnotify send"
                   run directly as COMMAND speak for themselves, not for
                   their parent (sdnotify), as under a user manager
  stdin            /dev/null (systemd's StandardInput=null); stdout and stderr
                   are sdnotify's; a process group of its own, so that a ^C
                   reaches it once, forwarded by sdnotify
Inherited NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, FDSTORE, MANAGERPID and
LISTEN_* are replaced or removed.

Flags:
  --timeout-start=D   systemd's TimeoutStartSec=. Without READY=1 within D,
                      COMMAND and its descendants get SIGTERM (SIGKILL after
                      --timeout-stop) and run exits 124. EXTEND_TIMEOUT_USEC=N
                      moves the deadline to now+N when that is later. Also
                      bounds a reload (a warning, as ReloadResult=timeout).
                      Default 90s.
                        sdnotify run --timeout-start=5s -- ./slow-starter
  --timeout-stop=D    systemd's TimeoutStopSec=: how long COMMAND has to exit
                      after SIGTERM (forwarded or sent on a time-out),
                      SIGABRT (watchdog) or STOPPING=1, before SIGKILL; and
                      how long its leftover descendants have after it exits.
                      Default 90s.
                        sdnotify run --timeout-stop=3s -- ./mydaemon
  --watchdog=D        systemd's WatchdogSec=. Counted from READY=1 (or from
                      the first WATCHDOG=1 or WATCHDOG_USEC=) and restarted by
                      each WATCHDOG=1: when D passes without one, or on
                      WATCHDOG=trigger, COMMAND and its descendants get SIGABRT
                      (SIGKILL after --timeout-stop) and run exits 125.
                      WATCHDOG_USEC=N from COMMAND changes D. Default 0: none.
                        sdnotify run --watchdog=500ms -- ./mydaemon
  --type=T            systemd's Type=: notify (default) or notify-reload
                      (systemd 253+), whose reload SIGHUP to sdnotify asks
                      for, as systemctl reload does (see Signals).
                      At the main process's READY=1, sdnotify reads its
                      signal masks as systemd 262 does, and warns if it
                      neither catches nor blocks SIGHUP (ignoring it is not
                      enough); with --systemd=262 or later, the start fails
                      (Result=protocol, exit 123). A Go program shows
                      SIGHUP caught (its runtime catches every signal) but
                      dies of it unless it called signal.Notify for it:
                      sdnotify warns if the executable lacks signal.Notify,
                      else the ready event says that it cannot tell (not
                      with sdnotify's ServeReloads). A death by a SIGHUP
                      that sdnotify forwarded is pointed out.
                        sdnotify run --type=notify-reload -- ./mydaemon
  --systemd=V         The systemd version whose verdicts run gives, where
                      they differ: 252 (Debian 12) or 254 (default,
                      bookworm-backports), or a later one, whose keys run
                      knows (RESTART_RESET=, MAINPIDFD=) but whose other
                      changes it does not model (except 262's check of the
                      reload signal: see --type). 252 knows neither
                      MONOTONIC_USEC=, NOTIFYACCESS= nor Type=notify-reload,
                      and lets the last of READY=1, RELOADING=1 and
                      STOPPING=1 in a datagram win; 253+ ranks STOPPING=1
                      over READY=1 over RELOADING=1.
                        sdnotify run --systemd=252 -- ./mydaemon
  --notify-access=A   systemd's NotifyAccess=: whose notifications count.
                      main (default): only the main process's (COMMAND's, or
                      the PID it named in MAINPID=); others are shown as
                      ignored. all: those of COMMAND and of any of its
                      descendants, found by walking the parent PIDs in
                      /proc/PID/stat up to COMMAND or to sdnotify (which is a
                      child subreaper, so that orphaned descendants are
                      reparented to it and stay in the tree, as they stay in
                      the unit's cgroup); a message from a process that is
                      already gone cannot be attributed and is ignored, as
                      systemd ignores it (send BARRIER=1 before exiting).
                      exec: as main (run has no ExecStartPre= and the like).
                      none: every notification is ignored. NOTIFYACCESS= from
                      COMMAND changes it, as systemd 254+ allows.
                        sdnotify run --notify-access=all -- ./start.sh
  --fd-store-max=N    systemd's FileDescriptorStoreMax=: how many files
                      FDSTORE=1 may keep. Default 64 (systemd's default is 0:
                      a unit that stores files needs the setting). As
                      systemd, a stored file whose peer hangs up (POLLHUP or
                      POLLERR: the write end of a stored pipe closed, say) is
                      dropped, unless it was stored with FDPOLL=0; run looks
                      at each notification, when the main process exits and
                      before a restart. The store lives as long as run, and
                      is handed back on each restart (see --restart).
                        sdnotify run --fd-store-max=0 -- ./mydaemon
  --listen=ADDR[:NAME]
                      Bind a socket as a .socket unit does (ListenStream=,
                      ListenDatagram=, ListenSequentialPacket=) and pass it
                      to COMMAND in LISTEN_FDS, named NAME in LISTEN_FDNAMES.
                      Repeat it for more sockets; they are passed in order.
                      ADDR is one of
                        tcp:PORT tcp:IPV4:PORT tcp:[IPV6]:PORT   TCP, listening
                        udp:PORT udp:IPV4:PORT udp:[IPV6]:PORT   UDP
                        unix:PATH unix:@NAME      unix stream (@: abstract)
                        unixgram:PATH             unix datagram
                        unixpacket:PATH           unix sequential packet
                      A PORT alone binds every address ([::], taking IPv4 too
                      unless net.ipv6.bindv6only=1). Port 0 picks a free port:
                      the listen event shows it. Host names are not looked up.
                      An IPv6 address goes in brackets; for a unix PATH the
                      text after its last ':' is the NAME, so a PATH with a
                      ':' needs a :NAME (or a trailing ':') after it. NAME
                      is at most 255 printable ASCII bytes without ':';
                      without one (or empty), a socket is named after
                      COMMAND, as systemd names the sockets of foo.socket for
                      foo.service: ./mydaemon's are "mydaemon.socket". As
                      systemd does, run sets SO_REUSEADDR, makes a PATH's
                      directories, replaces a socket file left at PATH (not
                      another file), makes it mode 0666, and passes the
                      sockets blocking (NonBlocking=no), each time. run keeps
                      them open until it exits, across restarts, so that
                      connections wait in the backlog while no process
                      accepts them: none is refused. Socket files it made
                      are removed at exit.
                        sdnotify run --listen=tcp:8080 -- ./mydaemon
                        sdnotify run --listen=tcp:[::1]:8080:web \
                          --listen=unix:/run/my.sock:admin -- ./mydaemon
  --restart=POLICY    systemd's Restart=: whether the main process is started
                      again when it exits. The Result= of its end decides:
                      no (default), always, on-success (success), on-failure
                      (anything but success), on-abnormal (anything but
                      success and exit-code: a signal, a core dump, a
                      time-out, the watchdog, protocol), on-abort (a signal
                      or a core dump), on-watchdog (the watchdog). The
                      restart event shows the Result=. As systemd,
                      an exit status of 0 and death by SIGHUP, SIGINT,
                      SIGTERM or SIGPIPE count as success (those signals
                      before READY=1: protocol), and a SIGTERM or SIGINT to
                      run (forwarded, as systemctl stop) ends the run without
                      a restart, also while waiting to restart. STOPPING=1
                      does not prevent a restart. Before a restart, the
                      descendants left get SIGTERM (SIGKILL after
                      --timeout-stop), as when run exits; then, after
                      --restart-sec, COMMAND starts again with the same
                      --listen sockets and the fd store, from fd 3.
                        sdnotify run --restart=on-failure -- ./mydaemon
  --restart-sec=D     systemd's RestartSec=: the pause before a restart.
                      Default 100ms; 0: at once.
  --start-limit-burst=N, --start-limit-interval=D
                      systemd's StartLimitBurst= and StartLimitIntervalSec=:
                      at most N starts within D; a restart beyond that does
                      not happen and the run ends with Result=start-limit-hit.
                      Default 5 within 10s, as systemd; 0 for either: no limit.
                        sdnotify run --restart=always \
                          --start-limit-burst=0 -- ./mydaemon
  --ready-file=PATH   When READY=1 first arrives, create PATH holding the main
                      PID (written to a temporary file in PATH's directory,
                      then renamed, so it appears whole). A PATH left from an
                      earlier run is removed at start. After a restart, the
                      new process's READY=1 rewrites it with its PID.
                        sdnotify run --ready-file=/tmp/ready -- ./mydaemon
  --json              Write the events as JSON, one object a line (see below).
                        sdnotify run --json -- ./mydaemon | jq .
  --output=PATH       Write the events to PATH instead of stdout, so that they
                      do not mix with COMMAND's own output.
                        sdnotify run --json --output=events.jsonl -- ./mydaemon
  -h, --help          Show this help.
Durations: Go syntax (1.5s, 300ms, 2m), a plain number of seconds (as in unit
files), or "infinity" (no limit; 0 means the same).

Signals: SIGTERM, SIGINT and SIGHUP to sdnotify are forwarded to the main
process. After SIGTERM or SIGINT it has --timeout-stop to exit, then SIGKILL.
With --type=notify-reload, SIGHUP is systemctl reload: the manager then
waits for RELOADING=1 with a MONOTONIC_USEC= taken after the signal (it
ignores RELOADING=1 without one, or with an older one, and READY=1 until
then), then READY=1, within --timeout-start (else ReloadResult=timeout, and
the service runs on); sdnotify reports how long each step took. With
Type=notify, SIGHUP is only passed on. A RELOADING=1 that COMMAND sends on
its own while running (MONOTONIC_USEC= or not) is a reload until READY=1,
for both types, as systemd has it. Any other signal that would end
sdnotify (SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE: the reader of its
output is gone, as in "sdnotify run ... | head -1", ...) stops COMMAND as
SIGTERM does, and removes the notification socket and the --listen socket
files; then sdnotify exits 128+N. (SIGKILL leaves the socket's directory
behind; COMMAND still gets SIGKILL, as PR_SET_PDEATHSIG.)

MAINPID=N is honoured as systemd honours it: from an accepted notification,
while starting, running or reloading, if N is COMMAND or one of its
descendants (or the sender is root, as systemd trusts a privileged sender).
From then on N is the main process: the one that notify-access=main listens
to, that signals and the watchdog's SIGABRT go to, and whose exit ends the
run, with its exit status: sdnotify reaps it if it is its child (or an
orphan reparented to it), else reads it from /proc/PID/stat while it is a
zombie; if its parent reaped it first, the status is unknown, counted as 0.

When the main process exits, the notifications it sent before are processed
first (as systemd does), then its remaining descendants get SIGTERM, and
SIGKILL after --timeout-stop, as with systemd's KillMode=control-group.

Output: one line an event, "15:04:05.000 EVENT     details", or with --json
an object with "time" (RFC 3339), "event", "message" (the text line's
details) and the event's fields: "pid", "uid", "gid", "data" (the datagram
as received), "assignments" ([{"key","value"}] in order), "ignored"
([{"key","value","reason"}]: what systemd would ignore), "fds", "reason",
"signal", "status" (exit status), "exit_code" (run's), "duration_ms",
"fd_store" (names, in order), "argv", "name" and "address" (of a --listen
socket: ADDR as bound, with the port that port 0 picked), "files" (the
files passed: [{"fd","name","from","address"}], "from" being "listen" or
"fdstore"), "restarts" (how many so far). The events:
  listen         a --listen socket bound: its address, fd and name
  start          COMMAND started (pid, argv, the files passed; after a
                 restart, the restart's number)
  notify         an accepted notification: the sender's pid, uid, gid, the
                 datagram, its assignments, and those systemd would ignore
                 and why (a key it does not know, such as a misspelt
                 "ready=1"; a value its parser does not read, such as
                 ERRNO=4096; a STATUS= that is not UTF-8) or that change
                 nothing in the unit's state (READY=1 while running,
                 RELOADING=1 while starting)
  ignored        a notification NotifyAccess= does not accept, and why
  dropped        a datagram systemd would drop whole (over 4096 bytes, a
                 NUL byte before the last, a backslash at the very end, a
                 BARRIER=1 with company), and why
  barrier        BARRIER=1, released once everything before it was processed
  ready          the first READY=1, and how long start-up took
  reloading      RELOADING=1 (and how long after SIGHUP)
  reloaded       READY=1 after it, and how long the reload took
  stopping       STOPPING=1
  mainpid        the main process changed (MAINPID=), or a MAINPID= refused
  notify-access  NOTIFYACCESS= changed it
  fdstore        files stored, removed or dropped (their peer hung up), and
                 the store's names after it (newest first, as passed)
  watchdog       the watchdog interval changed (WATCHDOG_USEC=)
  extend-timeout EXTEND_TIMEOUT_USEC= moved a deadline
  timeout        a start, watchdog, reload or stop time-out, and what followed
  signal         a signal forwarded or sent, to which PID, and why
  exit           a process exited: the main one, or COMMAND after MAINPID=
  warning        something systemd would do differently than COMMAND expects
  restart        the main process will be started again: the restart's
                 number, the Result= that caused it, the delay, and the
                 files that will be handed over
  start-limit    a restart refused by the start limit
  result         the end: systemd's Result= (success, exit-code, signal,
                 core-dump, timeout, watchdog, protocol, start-limit-hit) and
                 run's exit code; with --restart, the restarts, and why the
                 last process was not restarted

Exit status:
  the main process's: its exit status, or 128+N if signal N killed it (as a
  shell reports it), also after a forwarded signal or STOPPING=1
  123  COMMAND ended cleanly (status 0, or SIGHUP, SIGINT, SIGTERM or SIGPIPE)
       before READY=1: systemd fails such a Type=notify unit with
       Result=protocol; or, with --type=notify-reload and --systemd=262+,
       it neither caught nor blocked SIGHUP at READY=1
  124  no READY=1 within --timeout-start: COMMAND was stopped
  125  the watchdog fired (no WATCHDOG=1 in time, or WATCHDOG=trigger)
  126  COMMAND cannot be executed
  127  COMMAND not found
  1    sdnotify itself failed (no socket, an unwritable --output), or this
       is not Linux
  2    a usage error
A COMMAND that fails before READY=1 (a non-zero status, a signal) gets its
status passed through (Result=exit-code, signal, core-dump). After a signal
that ends sdnotify itself (see Signals): 128+N.
With --restart, the exit status is that of the last main process, the one
not restarted, by the rules above (a process that was restarted does not
count); when the start limit stops the restarts, it is the last process's,
or 1 if that was 0. A failure of sdnotify itself (a --listen that cannot be
bound: exit 1) ends the run before COMMAND starts.
`

// shimCommand is the hidden first argument with which run re-executes
// itself to set WATCHDOG_PID to COMMAND's PID before executing COMMAND.
const shimCommand = "__sdnotify-exec-with-watchdog-pid"

// runOptions are run's parsed flags and command.
type runOptions struct {
	timeoutStart, timeoutStop, watchdog time.Duration
	access                              string
	unitType                            manager.Type
	version                             manager.Version
	fdStoreMax                          int
	readyFile, output                   string
	json                                bool
	argv                                []string

	listens            []listenSpec  // --listen, in order
	restart            string        // --restart: a systemd Restart= value
	restartDelay       time.Duration // --restart-sec
	startLimitBurst    int           // --start-limit-burst
	startLimitInterval time.Duration // --start-limit-interval
}

// durationValue is a flag.Value for durations as run takes them: Go
// syntax, a plain number of seconds, or "infinity" (0).
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "infinity" {
		return 0, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpPnN_") {
		if f < 0 || f > 1e9 {
			return 0, errors.New("want 0 to 1e9 seconds")
		}
		d := time.Duration(f * float64(time.Second))
		if f > 0 && d < time.Microsecond {
			return 0, errors.New("want at least 1µs")
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 1.5s, 300ms or 2m, a number of seconds, or infinity")
	}
	if d < 0 {
		return 0, errors.New("want a duration that is not negative")
	}
	if d > 0 && d < time.Microsecond {
		return 0, errors.New("want at least 1µs")
	}
	return d, nil
}

// accessValue is the flag.Value of --notify-access.
type accessValue struct{ s *string }

func (v accessValue) String() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}

func (v accessValue) Set(s string) error {
	if !proto.ValidAccess(s) {
		return errors.New("want main, all, exec or none")
	}
	*v.s = s
	return nil
}

// typeValue is the flag.Value of --type.
type typeValue struct{ t *manager.Type }

func (v typeValue) String() string {
	if v.t == nil {
		return ""
	}
	return v.t.String()
}

func (v typeValue) Set(s string) error {
	switch s {
	case "notify":
		*v.t = manager.Notify
	case "notify-reload":
		*v.t = manager.NotifyReload
	default:
		return errors.New("want notify or notify-reload")
	}
	return nil
}

// versionValue is the flag.Value of --systemd.
type versionValue struct{ v *manager.Version }

func (v versionValue) String() string {
	if v.v == nil {
		return ""
	}
	return strconv.Itoa(int(*v.v))
}

func (v versionValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 230 || n > 1000 {
		return errors.New("want a systemd version such as 252 or 254")
	}
	*v.v = manager.Version(n)
	return nil
}

// parseRun parses run's flags. It returns flag.ErrHelp for -h and --help.
func parseRun(args []string) (*runOptions, error) {
	o := &runOptions{
		timeoutStart: 90 * time.Second,
		timeoutStop:  90 * time.Second,
		access:       "main",
		version:      manager.V254,
		fdStoreMax:   64,

		restart:            "no",
		restartDelay:       100 * time.Millisecond,
		startLimitBurst:    5,
		startLimitInterval: 10 * time.Second,
	}
	fs := flag.NewFlagSet("sdnotify run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(durationValue{&o.timeoutStart}, "timeout-start", "")
	fs.Var(durationValue{&o.timeoutStop}, "timeout-stop", "")
	fs.Var(durationValue{&o.watchdog}, "watchdog", "")
	fs.Var(accessValue{&o.access}, "notify-access", "")
	fs.Var(typeValue{&o.unitType}, "type", "")
	fs.Var(versionValue{&o.version}, "systemd", "")
	fs.IntVar(&o.fdStoreMax, "fd-store-max", o.fdStoreMax, "")
	fs.StringVar(&o.readyFile, "ready-file", "", "")
	fs.StringVar(&o.output, "output", "", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.Var(listenValue{&o.listens}, "listen", "")
	fs.Var(restartValue{&o.restart}, "restart", "")
	fs.Var(restartDelayValue{&o.restartDelay}, "restart-sec", "")
	fs.IntVar(&o.startLimitBurst, "start-limit-burst", o.startLimitBurst, "")
	fs.Var(durationValue{&o.startLimitInterval}, "start-limit-interval", "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.fdStoreMax < 0 {
		return nil, fmt.Errorf("invalid value %d for flag -fd-store-max: want 0 or more", o.fdStoreMax)
	}
	if o.startLimitBurst < 0 {
		return nil, fmt.Errorf("invalid value %d for flag -start-limit-burst: want 0 or more", o.startLimitBurst)
	}
	if o.unitType == manager.NotifyReload && o.version < manager.NotifyReloadSince {
		return nil, fmt.Errorf("--type=notify-reload needs --systemd=%d or later (systemd %d has no Type=notify-reload)", manager.NotifyReloadSince, o.version)
	}
	if err := checkListens(o.listens); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, errors.New("missing COMMAND: sdnotify run [FLAGS] [--] COMMAND [ARGS...]")
	}
	if fs.Arg(0) == "" {
		return nil, errors.New("COMMAND is empty")
	}
	o.argv = fs.Args()
	return o, nil
}

func runMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseRun(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, runUsage)
		return 0
	}
	if err != nil {
		// The flag package names flags with one dash; the help uses two.
		msg := strings.Replace(err.Error(), "flag provided but not defined: -", "unknown flag: --", 1)
		msg = strings.Replace(msg, " for flag -", " for flag --", 1)
		msg = strings.Replace(msg, "flag needs an argument: -", "flag needs an argument: --", 1)
		fmt.Fprintf(stderr, "sdnotify run: %s\nRun 'sdnotify run --help' for usage.\n", msg)
		return 2
	}
	return runCommand(o, stdout, stderr)
}
