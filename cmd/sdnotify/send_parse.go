package main

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// sendOptions are the parsed options and arguments of send.
type sendOptions struct {
	help, version              bool
	action                     sendAction
	ready, reloading, stopping bool
	noBlock, quiet             bool
	status                     *string
	pid                        int // the PID of --pid, 0 if not given
	uid, gid                   int // of --uid, -1 if not given
	fds                        []int
	fdname                     *string
	args                       []string // the KEY=VALUE arguments
	// exec is the command line after --exec's ";", and the command of
	// --fork; nil for neither.
	exec []string
	// source is the PID the notification speaks for: --pid's, else the
	// parent's, else 0 (our own) if the parent is PID 1 or $MANAGERPID.
	source int
}

// sendAction is what send does: notify, or one of the two options that
// send nothing (the last given wins, as in systemd-notify).
type sendAction int

const (
	actionNotify sendAction = iota
	actionBooted            // --booted
	actionFork              // --fork
)

// The long options of systemd-notify, as getopt_long takes them.
type longOpt struct {
	name string
	arg  int // argNone, argRequired, argOptional
}

const (
	argNone = iota
	argRequired
	argOptional
)

var sendOpts = []longOpt{
	{"help", argNone},
	{"version", argNone},
	{"ready", argNone},
	{"reloading", argNone},
	{"stopping", argNone},
	{"pid", argOptional},
	{"uid", argRequired},
	{"status", argRequired},
	{"booted", argNone},
	{"no-block", argNone},
	{"exec", argNone},
	{"fd", argRequired},
	{"fdname", argRequired},
	{"fork", argNone},
	{"quiet", argNone},
}

// lookupOpt finds a long option by name or by an unambiguous prefix, as
// getopt_long does.
func lookupOpt(name string) (longOpt, *sendError) {
	var found []longOpt
	for _, o := range sendOpts {
		if o.name == name {
			return o, nil
		}
		if strings.HasPrefix(o.name, name) {
			found = append(found, o)
		}
	}
	switch len(found) {
	case 0:
		return longOpt{}, usageError(errnoEINVAL, fmt.Sprintf("unrecognized option '--%s'", name))
	case 1:
		return found[0], nil
	}
	var names []string
	for _, o := range found {
		names = append(names, "'--"+o.name+"'")
	}
	return longOpt{}, usageError(errnoEINVAL, fmt.Sprintf("option '--%s' is ambiguous; possibilities: %s", name, strings.Join(names, " ")))
}

// sendEnv is what parseSend needs to know of the process: the parent's and
// our own PID, $MANAGERPID's (0 if none), and which descriptors from 3 on
// were inherited (open, not close-on-exec), those --fd may name: asked
// only for --fd, since it reads /proc (nil: none).
type sendEnv struct {
	ppid, self, managerPID int
	inherited              func() map[int]bool
}

// inheritedFDs returns env.inherited's answer.
func (env sendEnv) inheritedFDs() map[int]bool {
	if env.inherited == nil {
		return nil
	}
	return env.inherited()
}

// parseSend parses send's arguments as systemd-notify's getopt_long loop
// does: options and arguments in any order, "--" ending the options, --help
// and --version acting at once; then it checks them as systemd-notify 262
// does.
func parseSend(args []string, env sendEnv) (*sendOptions, *sendError) {
	o := &sendOptions{uid: -1, gid: -1}
	autoPID := func() int {
		if env.ppid <= 1 || env.ppid == env.managerPID {
			return env.self
		}
		return env.ppid
	}
	doExec := false
	var positional []string
	taken := map[int]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		if !strings.HasPrefix(a, "--") {
			// Short options: -h and -q.
			for _, c := range a[1:] {
				switch c {
				case 'h':
					o.help = true
					return o, nil
				case 'q':
					o.quiet = true
				default:
					return nil, usageError(errnoEINVAL, fmt.Sprintf("invalid option -- '%c'", c))
				}
			}
			continue
		}
		name, value, hasValue := strings.Cut(a[2:], "=")
		opt, err := lookupOpt(name)
		if err != nil {
			return nil, err
		}
		switch {
		case opt.arg == argNone && hasValue:
			return nil, usageError(errnoEINVAL, fmt.Sprintf("option '--%s' doesn't allow an argument", opt.name))
		case opt.arg == argRequired && !hasValue:
			if i+1 >= len(args) {
				return nil, usageError(errnoEINVAL, fmt.Sprintf("option '--%s' requires an argument", opt.name))
			}
			i++
			value = args[i]
		}
		switch opt.name {
		case "help":
			o.help = true
			return o, nil
		case "version":
			o.version = true
			return o, nil
		case "ready":
			o.ready = true
		case "reloading":
			o.reloading = true
		case "stopping":
			o.stopping = true
		case "booted":
			o.action = actionBooted
		case "fork":
			o.action = actionFork
		case "no-block":
			o.noBlock = true
		case "quiet":
			o.quiet = true
		case "exec":
			doExec = true
		case "status":
			v := value
			o.status = &v
		case "pid":
			switch {
			case !hasValue || value == "" || value == "auto":
				o.pid = autoPID()
			case value == "parent":
				o.pid = env.ppid
			case value == "self":
				o.pid = env.self
			default:
				pid, errno := parsePID(value)
				if errno != 0 {
					return nil, usageError(errno, fmt.Sprintf("Failed to parse PID %s.", value))
				}
				o.pid = pid
			}
		case "uid":
			uid, gid, err := lookupUser(value)
			if err != nil {
				return nil, usageError(errnoEINVAL, fmt.Sprintf("Can't resolve user %s: %v", value, err))
			}
			o.uid, o.gid = uid, gid
		case "fd":
			fd, serr := parseFD(value, env.inheritedFDs(), taken)
			if serr != nil {
				return nil, serr
			}
			o.fds = append(o.fds, fd)
		case "fdname":
			if p := proto.FDNameProblem(value); p != "" {
				return nil, usageError(errnoEINVAL, fmt.Sprintf("File descriptor name invalid: %q: %s", value, p))
			}
			v := value
			o.fdname = &v
		}
	}
	notify := o.ready || o.reloading || o.stopping || o.status != nil || o.pid != 0 || len(o.fds) > 0
	switch o.action {
	case actionBooted:
		if len(positional) > 0 {
			return nil, usageError(errnoEINVAL, "--booted takes no arguments, refusing")
		}
	case actionFork:
		if len(positional) == 0 {
			return nil, usageError(errnoEINVAL, "--fork needs a command: sdnotify send --fork -- COMMAND [ARGS...]")
		}
		o.exec = positional
	}
	if notify && o.action != actionNotify {
		return nil, usageError(errnoEINVAL, "--ready, --reloading, --stopping, --pid, --status and --fd cannot go with --fork or --booted, refusing")
	}
	if o.action != actionNotify {
		return o, nil
	}
	if o.fdname != nil && len(o.fds) == 0 {
		return nil, usageError(errnoEINVAL, "--fdname without --fd: no files to name, refusing")
	}
	o.args = positional
	if doExec {
		semi := slices.Index(positional, ";")
		switch {
		case semi < 0:
			return nil, usageError(errnoEINVAL, `--exec needs a ";" argument before the command line: sdnotify send --ready --exec ";" COMMAND [ARGS...] (quote the ";" from the shell)`)
		case semi == len(positional)-1:
			return nil, usageError(errnoEINVAL, `--exec: no command line after ";", refusing`)
		}
		o.args, o.exec = positional[:semi], positional[semi+1:]
		if !notify && len(o.args) == 0 {
			return nil, usageError(errnoEINVAL, "--exec: nothing to send before running the command, refusing")
		}
	}
	o.source = o.pid
	if o.source == 0 && env.ppid > 1 && env.ppid != env.managerPID {
		o.source = env.ppid
	}
	if !notify && len(o.args) == 0 {
		return nil, usageError(errnoEINVAL, "nothing to send: give --ready, --reloading, --stopping, --status=TEXT, --pid, --fd or KEY=VALUE")
	}
	return o, nil
}

// parseFD parses --fd's FD as systemd-notify does: a descriptor number, 0
// to 2 (duplicated, so that the standard streams stay) or one inherited
// and not already taken by an earlier --fd.
func parseFD(s string, inherited, taken map[int]bool) (int, *sendError) {
	fd, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, usageError(errnoEINVAL, fmt.Sprintf("Failed to parse file descriptor: %q is not a number", s))
	case fd < 0:
		return 0, usageError(errnoEBADF, fmt.Sprintf("Failed to parse file descriptor: %d is negative", fd))
	case fd < 3:
		return fd, nil
	case taken[fd]:
		return 0, usageError(errnoENOENT, fmt.Sprintf("--fd=%d given twice", fd))
	case !inherited[fd]:
		return 0, usageError(errnoENOENT, fmt.Sprintf("--fd=%d: descriptor %d was not passed to sdnotify (not open, or close-on-exec)", fd, fd))
	}
	taken[fd] = true
	return fd, nil
}

// parsePID parses a PID as systemd's parse_pid does (proto.ParsePID). It
// returns the errno systemd-notify reports for a bad one: EINVAL for no
// number, ERANGE for a negative, zero or too large one.
func parsePID(s string) (int, int) {
	pid, err := proto.ParsePID(s)
	switch {
	case errors.Is(err, proto.ErrRange):
		return 0, errnoERANGE
	case err != nil:
		return 0, errnoEINVAL
	}
	return pid, 0
}

// lookupUser resolves --uid's USER as systemd's get_user_creds does: a
// user name or ID from the user database gives its user and group IDs; a
// number that is nobody's still gives a user ID (the group is then left
// alone, -1).
func lookupUser(s string) (uid, gid int, err error) {
	isNum := s != "" && strings.Trim(s, "0123456789") == ""
	var u *user.User
	if isNum {
		u, _ = user.LookupId(s)
	} else {
		u, _ = user.Lookup(s)
	}
	if u != nil {
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return uid, gid, nil
		}
	}
	if isNum {
		if v, err := strconv.ParseUint(s, 10, 32); err == nil && v != 1<<32-1 {
			return int(v), -1, nil
		}
	}
	return 0, 0, errors.New("no such user, and not a user ID")
}
