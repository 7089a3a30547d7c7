package main

import (
	"fmt"
	"io"
	"os"
	"sync"
)

const sendUsage = `Usage:
  sdnotify send [OPTIONS] [KEY=VALUE...]
  sdnotify send [OPTIONS] --exec [KEY=VALUE...] ";" [--] COMMAND [ARGS...]
  sdnotify send --fork [--quiet] [--] COMMAND [ARGS...]

Send one notification to the service manager named by $NOTIFY_SOCKET, as
systemd-notify(1) does: a drop-in for systemd-notify 262 in containers and
scratch images that lack it. In a unit, from the shell that is the
service's main process:

  ExecStart=/bin/sh -c 'migrate && sdnotify send --ready; exec mydaemon'

Options (systemd-notify's; "--status TEXT" and unambiguous prefixes such as
"--no-bl" work too, as with getopt):
  --ready           READY=1: start-up, or a reload, is finished.
                      sdnotify send --ready
  --reloading       RELOADING=1 and MONOTONIC_USEC=<CLOCK_MONOTONIC now, in µs>,
                    in one datagram, as systemd-notify 253+ sends them: a
                    Type=notify-reload unit ignores RELOADING=1 without a fresh
                    MONOTONIC_USEC=. (systemd-notify 252 has no --reloading.)
                      sdnotify send --reloading; reload; sdnotify send --ready
  --stopping        STOPPING=1: the service is shutting down (253+).
                      sdnotify send --stopping --status="Draining connections"
  --status=TEXT     STATUS=TEXT, shown by systemctl status.
                      sdnotify send --status="Loading 3 of 10"
  --pid[=PID]       Send MAINPID=PID and, where the kernel gives pidfds an ID
                    (Linux 6.9+), MAINPIDFDID= naming that very process, as
                    systemd-notify 257+ does; and speak for PID: the datagram
                    carries credentials with PID (allowed to root; otherwise
                    the kernel refuses and sdnotify's own are sent, as
                    systemd-notify does). PID is a number, "parent", "self",
                    or "auto" (the same as --pid alone): the parent, unless
                    the parent is PID 1 or $MANAGERPID, then sdnotify itself.
                      sdnotify send --pid=$$ --ready
  --uid=USER        Send with USER's real user ID (and group, for a known
                    user), as systemd-notify's --uid (root only).
                      sdnotify send --uid=nobody --ready
  --fd=FD           Pass descriptor FD to the manager's fd store: FDSTORE=1
                    with the file (the unit needs FileDescriptorStoreMax=).
                    FD is 0, 1 or 2 (a copy is passed; the stream stays) or a
                    descriptor sdnotify was started with; repeat it for more.
                    sdnotify warns when it was started with descriptors that
                    no --fd names.
                      sdnotify send --fd=3 --fdname=db 3<>/run/app/db.sock
  --fdname=NAME     FDNAME=NAME for --fd's files: the name they come back
                    under in $LISTEN_FDNAMES (printable ASCII, no ':').
  --exec            Once sent (and the barrier passed), run the command line
                    after the argument ";" in sdnotify's place, with its PID,
                    as exec does. Options after ";" are sdnotify's unless "--"
                    comes first. The command inherits sdnotify's descriptors
                    but --fd's.
                      sdnotify send --ready --exec ";" -- mydaemon --serve
  --fork            Play the manager instead: start COMMAND with
                    $NOTIFY_SOCKET set to a socket of sdnotify's, its input
                    and output on /dev/null (its standard error stays),
                    print its PID, and exit 0 as soon as it sends READY=1,
                    leaving it running (so COMMAND should send READY=1
                    without a barrier: --no-block). Notifications from other
                    processes are ignored, with a warning; HUP, INT, QUIT, TERM, USR1
                    and USR2 are passed on to COMMAND while sdnotify waits.
                    If COMMAND exits first, sdnotify exits with its status;
                    if a signal kills it, 1 (sending ERRNO=71 upward); if it
                    cannot be run, 203. $NOTIFY_SOCKET need not be set.
                      pid=$(sdnotify send --fork -- mydaemon --serve)
  -q, --quiet       With --fork: do not print COMMAND's PID.
  --booted          Send nothing: exit 0 if the system was booted with
                    systemd (/run/systemd/system exists), 1 if not.
                      if sdnotify send --booted; then ...; fi
  --no-block        Do not wait until the manager has processed the
                    notification (no BARRIER=1).
                      sdnotify send --no-block WATCHDOG=1
  -h, --help        Show this help.
  --version         Show the version.

KEY=VALUE arguments come after the options' assignments. One whose key is
already there replaces it in place, as systemd-notify merges them:
"sdnotify send --ready READY=0 X_A=1 X_A=2" sends "READY=0\nX_A=2".
  sdnotify send --ready EXTEND_TIMEOUT_USEC=30000000 X_MYAPP_PHASE=init

What is sent, byte for byte as systemd-notify 262 sends it:
  1. one datagram with, in this order, RELOADING=1, MONOTONIC_USEC=,
     READY=1, STOPPING=1, STATUS=, MAINPID=, MAINPIDFDID=, FDSTORE=1,
     FDNAME= (those asked for), then the KEY=VALUE arguments, joined by
     "\n" with no newline at the end, and --fd's files. It carries
     credentials with the PID of sdnotify's parent (the shell of
     ExecStart=, which is the service's main process, so that the default
     NotifyAccess=main accepts it), or of --pid's PID; with sdnotify's own
     PID when the parent is PID 1 or $MANAGERPID, or the kernel refuses.
  2. unless --no-block, BARRIER=1 with the write end of a pipe; then it
     waits until the manager closes the pipe, at most 5 seconds
     (systemd-notify's limit): the notification has been processed before
     sdnotify exits, so it cannot be lost because its sender is gone.

$NOTIFY_SOCKET may be an absolute path, "@abstract", or vsock:CID:PORT; an
empty or relative value is refused, as libsystemd refuses it.

Exit status:
  0  sent, and the barrier passed
  1  $NOTIFY_SOCKET unset ("No status data could be sent: $NOTIFY_SOCKET
     was not set"), empty or invalid; the send failed; the barrier timed
     out; --exec's command could not be run (as systemd-notify)
  2  a usage error: a bad option, option value or argument, or nothing to
     send (systemd-notify exits 1 for these too)
  Like systemd-notify, sdnotify then also sends ERRNO=<errno> from its own
  PID when $NOTIFY_SOCKET is usable: 22 (EINVAL) for a bad option or
  argument, 34 (ERANGE) for an out-of-range PID, 2 (ENOENT) for an --fd
  not passed or a command not found, 110 (ETIMEDOUT) for a barrier that
  timed out.
  With --booted: 0 if booted with systemd, 1 if not. With --fork: above.

Where sdnotify send differs from systemd-notify 262, on purpose:
  - an argument that is not a KEY=VALUE assignment (no '=', a key of other
    than ASCII letters, digits and '_') is refused, exit 2 and ERRNO=22,
    rather than sent for the manager to ignore;
  - --status text that systemd would cut short or ignore is repaired as
    sdnotify.Status repairs it: newlines become spaces, invalid UTF-8
    becomes U+FFFD, each backslash is doubled (the manager reads a
    backslash as an escape, so doubled it shows as one), and text too long
    for the manager's 4096 bytes is shortened; a datagram that would still
    be too long, or empty, is refused (systemd drops it, or crashed on it:
    systemd#4234);
  - a KEY=VALUE argument with a backslash is refused (exit 2, ERRNO=22):
    the manager would read "C:\path" as "C:path", and one at the end
    would join the next assignment to it; so is one that would replace
    --fd's FDSTORE=1 (the manager would close the files);
  - a usage error exits 2, where systemd-notify exits 1;
  - the barrier goes with sdnotify's own credentials, where 254+ sends it
    with those of the PID it speaks for: the manager answers a barrier
    before it looks at who sent it;
  - the EXIT_STATUS= that systemd-notify 254+ sends as it exits (after
    --help, --booted, --fork or an error) is not sent: it is the status of
    the service that the manager logs, and sdnotify's is not that;
  - --fd's files go in the order given (systemd-notify's order is that of
    a hash set), and --exec's command never inherits descriptors of
    sdnotify's own (systemd-notify 262 leaks --pid's pidfd into it);
  - --fork answers the barriers COMMAND sends before READY=1
    (systemd-notify 262's socket refuses descriptors, so that a
    "systemd-notify --status=..." in COMMAND fails its barrier with EPERM).
    Send READY=1 itself without a barrier ("sdnotify send --no-block
    --ready", or sd_notify from a daemon): sdnotify exits as it arrives,
    so a barrier after it fails.
`

// A sendError is a failure of send: the message for stderr, and the errno
// systemd-notify would report for it in ERRNO= (0 for none).
type sendError struct {
	errno int
	msg   string
	usage bool // a bad option or argument: exit 2
}

func usageError(errno int, msg string) *sendError { return &sendError{errno, msg, true} }

func (e *sendError) Error() string { return e.msg }

// Linux errno values, for ERRNO=: systemd-notify sends them, and they mean
// something only to a Linux manager.
const (
	errnoENOENT     = 2
	errnoEBADF      = 9
	errnoEINVAL     = 22
	errnoERANGE     = 34
	errnoEOPNOTSUPP = 95
	errnoETIMEDOUT  = 110
)

// managerPIDFromEnv returns $MANAGERPID as systemd-notify reads it: the PID
// of a user service manager (and of sdnotify run), or 0.
func managerPIDFromEnv(stderr io.Writer) int {
	e, ok := os.LookupEnv("MANAGERPID")
	if !ok {
		return 0
	}
	pid, errno := parsePID(e)
	if errno != 0 {
		fmt.Fprintf(stderr, "sdnotify send: $MANAGERPID is set to an invalid PID, ignoring: %s\n", e)
		return 0
	}
	return pid
}

func sendMain(args []string, stdout, stderr io.Writer) int {
	env := sendEnv{ppid: os.Getppid(), self: os.Getpid(), managerPID: managerPIDFromEnv(stderr), inherited: sync.OnceValue(inheritedFDs)}
	o, perr := parseSend(args, env)
	if perr != nil {
		return sendFailed(stderr, perr)
	}
	if o.help {
		fmt.Fprint(stdout, sendUsage)
		return 0
	}
	if o.version {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	switch o.action {
	case actionBooted:
		if booted() {
			return 0
		}
		return 1
	case actionFork:
		return forkMain(o, stdout, stderr)
	}
	if len(o.fds) > 0 {
		warnUnreferenced(stderr, env.inheritedFDs(), o.fds)
	}
	if err := send(o); err != nil {
		return sendFailed(stderr, err)
	}
	if o.exec != nil {
		return sendFailed(stderr, execCommand(o.exec))
	}
	return 0
}

// sendFailed reports err, sends its ERRNO= as systemd-notify does, and
// returns the exit code: 2 for a usage error, 1 for anything else.
func sendFailed(stderr io.Writer, err *sendError) int {
	fmt.Fprintf(stderr, "sdnotify send: %s\n", err.msg)
	sendErrno(err.errno)
	if err.usage {
		fmt.Fprintln(stderr, "Try 'sdnotify send --help'.")
		return 2
	}
	return 1
}
