// Command sdnotify speaks systemd's sd_notify protocol from the command line,
// in two directions:
//
//	sdnotify run [flags] [--] COMMAND [ARGS...]
//	sdnotify send [--ready] [--reloading] [--stopping] [--status=TEXT] [--pid[=PID]] [--fd=FD] [--no-block] [KEY=VALUE...]
//	sdnotify send [OPTIONS] --exec [KEY=VALUE...] ";" [--] COMMAND [ARGS...]
//	sdnotify send --fork [--quiet] [--] COMMAND [ARGS...]
//
// run starts COMMAND as systemd starts a Type=notify service, with a private
// notification socket in NOTIFY_SOCKET (and a watchdog, start and stop
// timeouts, NotifyAccess=, a file descriptor store, barriers, sockets bound
// as a .socket unit binds them, restarts), and shows every notification as
// it arrives, so that a daemon can be exercised as it will run in
// production, on a laptop, in a container or in CI.
//
// send is a drop-in for systemd-notify(1) 262 where that is missing
// (containers, scratch images): the same options (--exec, --fd and --fork
// included), the same datagram, the same credentials (its parent's PID),
// the same barrier and the same exit codes.
//
// Run "sdnotify run --help" and "sdnotify send --help" for the details of
// each; both work on Linux only, as systemd does.
//
// # How run works
//
// A datagram arrives on the notification socket (internal/notifysock,
// read in the background: receive_linux.go). The model of the manager
// (internal/manager) decodes it as --systemd's version does and gives the
// unit's verdict for its sender (notify_linux.go): dropped, refused by
// NotifyAccess=, or, line by line, acted on, read without effect or
// ignored, with what changed. run prints that as one event (output_linux.go)
// and carries the changes out: deadlines (deadlines_linux.go), the main
// process (mainproc_linux.go), the fd store (store_linux.go). When the main
// process ends, the model names systemd's Result= and run its exit status
// (exit_linux.go); then it restarts COMMAND or cleans up (restart_linux.go).
// Signals to run (signals_linux.go) are forwarded, or end the run cleanly.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/gosdnotify/sdnotify/internal/spawn"
)

// version is the version of the tool.
const version = "0.1.0"

const topUsage = `sdnotify: systemd's sd_notify protocol from the command line.

Usage:
  sdnotify run [FLAGS] [--] COMMAND [ARGS...]
        Run COMMAND as systemd runs a Type=notify service (NOTIFY_SOCKET,
        watchdog, start and stop timeouts, NotifyAccess=, fd store, barrier,
        socket activation, restarts) and show each notification it sends.
        Example: sdnotify run --timeout-start=10s --watchdog=2s -- ./mydaemon -v

  sdnotify send [OPTIONS] [KEY=VALUE...]
        Send one notification to the manager in $NOTIFY_SOCKET, as
        systemd-notify(1) does: a drop-in where systemd-notify is missing
        (also --exec, --fd=FD to the fd store, --fork to wait for READY=1).
        Example: sdnotify send --ready --status="Serving on :8080"

  sdnotify help [run|send]    show the help of a subcommand
  sdnotify --version          show the version
  sdnotify --help             show this help

Exit status: that of the subcommand (see its help); 2 for a usage error.
`

func main() {
	// A process that run starts with files (--listen, the fd store) is
	// this program first: Init sets LISTEN_PID and execs COMMAND.
	spawn.Init()
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}

// mainExit runs the tool with args (less the program name) and returns its
// exit status.
func mainExit(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == shimCommand {
		return runShim(args[1:], stderr)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		fmt.Fprintln(stderr, "\nsdnotify: missing subcommand: want run or send")
		return 2
	}
	switch args[0] {
	case "run":
		return runMain(args[1:], stdout, stderr)
	case "send":
		return sendMain(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if args[0] == "help" && len(args) > 1 {
			switch args[1] {
			case "run":
				fmt.Fprint(stdout, runUsage)
				return 0
			case "send":
				fmt.Fprint(stdout, sendUsage)
				return 0
			}
			fmt.Fprintf(stderr, "sdnotify help: unknown subcommand %q: want run or send\n", args[1])
			return 2
		}
		fmt.Fprint(stdout, topUsage)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "sdnotify: unknown flag %q: the flags go after the subcommand (sdnotify run --help, sdnotify send --help)\n", args[0])
	} else {
		fmt.Fprintf(stderr, "sdnotify: unknown subcommand %q: want run or send (sdnotify --help)\n", args[0])
	}
	return 2
}

// versionString is the version line: the tool's version, and the module's
// version and the Go version from the build information when there is any.
func versionString() string {
	s := "sdnotify " + version
	var extra []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		mod := bi.Main.Path
		if mod == "" {
			mod = "github.com/gosdnotify/sdnotify"
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			extra = append(extra, mod+" "+v)
		} else {
			extra = append(extra, mod+" (devel)")
		}
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" && len(st.Value) >= 12 {
				extra = append(extra, "revision "+st.Value[:12])
			}
		}
		extra = append(extra, bi.GoVersion)
	} else {
		extra = append(extra, runtime.Version())
	}
	extra = append(extra, runtime.GOOS+"/"+runtime.GOARCH)
	return s + " (" + strings.Join(extra, ", ") + ")"
}
