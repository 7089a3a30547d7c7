package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/internal/pidfd"
)

// barrierTimeout is how long send waits for the manager to process the
// notification: systemd-notify's sd_notify_barrier(0, 5 * USEC_PER_SEC).
const barrierTimeout = 5 * time.Second

// errnoTimeout bounds the ERRNO= notification sent on failure.
const errnoTimeout = time.Second

// sendNotifier is the Notifier of send, for the notification and for the
// ERRNO= of a failure. It reads NOTIFY_SOCKET when first used.
var sendNotifier = sync.OnceValue(sdnotify.New)

// send sends the notification o asks for, and then waits for the barrier.
func send(o *sendOptions) *sendError {
	var list []entry
	if o.reloading {
		list = append(list, entry{text: "RELOADING=1"}, entry{text: sdnotify.Monotonic().String()})
	}
	if o.ready {
		list = append(list, entry{text: "READY=1"})
	}
	if o.stopping {
		list = append(list, entry{text: "STOPPING=1"})
	}
	if o.status != nil {
		list = append(list, entry{text: "STATUS=" + *o.status, status: true})
	}
	if o.pid > 0 {
		list = append(list, entry{text: "MAINPID=" + strconv.Itoa(o.pid)})
		// As systemd-notify 257+: name the process by its pidfd's inode
		// too, where the kernel (6.9+) gives pidfds one.
		if id := pidfd.ID(o.pid); id != 0 {
			list = append(list, entry{text: sdnotify.MainPIDFDID(id).String()})
		}
	}
	var files []*os.File
	if len(o.fds) > 0 {
		var serr *sendError
		if files, serr = openFDs(o.fds); serr != nil {
			return serr
		}
		defer closeFiles(files)
		list = append(list, entry{text: "FDSTORE=1", files: files})
		if o.fdname != nil {
			list = append(list, entry{text: "FDNAME=" + *o.fdname})
		}
	}
	list = mergeEntries(list, o.args)
	as, serr := assignments(list)
	if serr != nil {
		return serr // a usage error, whether or not there is a manager
	}
	if _, ok := os.LookupEnv("NOTIFY_SOCKET"); !ok {
		return &sendError{0, "No status data could be sent: $NOTIFY_SOCKET was not set", false}
	}

	// As systemd-notify: change only the real IDs, keeping the effective
	// ones (root) that allow sending credentials; the credentials carry
	// the real IDs.
	if o.gid >= 0 {
		if err := syscall.Setregid(o.gid, -1); err != nil {
			return &sendError{errnoOf(err), "Failed to change GID: " + libError(err), false}
		}
	}
	if o.uid >= 0 {
		if err := syscall.Setreuid(o.uid, -1); err != nil {
			return &sendError{errnoOf(err), "Failed to change UID: " + libError(err), false}
		}
	}

	if o.source != 0 {
		// Speak for o.source: explicit credentials naming it.
		as = append(as, sdnotify.Sender(o.source))
	}
	n := sendNotifier()
	err := n.SendContext(context.Background(), as...)
	if err != nil {
		return &sendError{errnoOf(err), "Failed to notify init system: " + libError(err), false}
	}
	if o.noBlock {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), barrierTimeout)
	defer cancel()
	if err := n.Barrier(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &sendError{errnoETIMEDOUT, fmt.Sprintf("Failed to invoke barrier: Connection timed out (the manager did not process the notification within %v)", barrierTimeout), false}
		}
		return &sendError{errnoOf(err), "Failed to invoke barrier: " + libError(err), false}
	}
	return nil
}

// entry is one line of the notification, whether it came from --status
// (whose text is repaired rather than refused), and the files of --fd,
// which go with FDSTORE=1.
type entry struct {
	text   string
	status bool
	files  []*os.File
}

// mergeEntries appends the KEY=VALUE arguments to the options' entries as
// systemd's strv_env_merge does: an argument replaces, in place, the first
// entry that starts with its name and '=' (or with all of it, if it has no
// '='); otherwise it is appended.
func mergeEntries(list []entry, args []string) []entry {
	for _, a := range args {
		n := strings.IndexByte(a, '=')
		if n < 0 {
			n = len(a)
		} else {
			n++
		}
		prefix := a[:n]
		replaced := false
		for i := range list {
			if len(list[i].text) >= n && list[i].text[:n] == prefix {
				list[i] = entry{text: a, files: list[i].files}
				replaced = true
				break
			}
		}
		if !replaced {
			list = append(list, entry{text: a})
		}
	}
	return list
}

// assignments turns the entries into the library's checked assignments,
// line by line, so that the datagram is the entries joined by newlines.
func assignments(list []entry) ([]sdnotify.Assignment, *sendError) {
	var as []sdnotify.Assignment
	for _, e := range list {
		switch {
		case e.status:
			as = append(as, sdnotify.Status(strings.TrimPrefix(e.text, "STATUS=")))
			continue
		case e.files != nil && e.text == "FDSTORE=1":
			as = append(as, sdnotify.FDStore("", e.files...))
			continue
		case e.files != nil:
			return nil, usageError(errnoEINVAL, fmt.Sprintf("%q would replace the FDSTORE=1 that goes with --fd's files, refusing", e.text))
		}
		for _, line := range strings.Split(e.text, "\n") {
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				return nil, usageError(errnoEINVAL, fmt.Sprintf("%q is not a KEY=VALUE assignment: refusing to send it (the manager would ignore it)", line))
			}
			a := sdnotify.Var(key, value)
			if err := a.Err(); err != nil {
				return nil, usageError(errnoEINVAL, fmt.Sprintf("refusing to send %q: %s", line, libError(err)))
			}
			as = append(as, a)
		}
	}
	return as, nil
}

// libError is the message of an error of package sdnotify without its
// "sdnotify: " prefix, which the command's own prefix replaces.
func libError(err error) string { return strings.TrimPrefix(err.Error(), "sdnotify: ") }

// errnoOf returns the errno in err's chain, for ERRNO=.
func errnoOf(err error) int {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return errnoETIMEDOUT
	}
	return errnoEINVAL
}

// sendErrno reports a failure to the manager as systemd-notify's main
// function does: ERRNO=errno, from our own PID, without a barrier. It does
// nothing if errno is 0 or NOTIFY_SOCKET is unset, and ignores errors.
func sendErrno(errno int) {
	if errno == 0 {
		return
	}
	if _, ok := os.LookupEnv("NOTIFY_SOCKET"); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), errnoTimeout)
	defer cancel()
	sendNotifier().SendContext(ctx, sdnotify.Var("ERRNO", strconv.Itoa(errno)))
}

// booted reports whether the system was booted with systemd, as
// sd_booted does: /run/systemd/system is a directory.
func booted() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}
