package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// inheritedFDs returns the descriptors from 3 on that sdnotify was started
// with: those open and not close-on-exec (every descriptor the Go runtime
// opens is close-on-exec). --fd may name them.
func inheritedFDs() map[int]bool {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	fds := map[int]bool{}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds[fd] = true
		}
	}
	return fds
}

// warnUnreferenced warns, as systemd-notify does, when more descriptors
// were inherited than --fd names.
func warnUnreferenced(stderr io.Writer, inherited map[int]bool, named []int) {
	var rest []int
	for fd := range inherited {
		if !slices.Contains(named, fd) {
			rest = append(rest, fd)
		}
	}
	if len(rest) == 0 {
		return
	}
	sort.Ints(rest)
	var list []string
	for _, fd := range rest {
		list = append(list, strconv.Itoa(fd))
	}
	fmt.Fprintf(stderr, "sdnotify send: warning: %d more file descriptors passed than referenced with --fd= (%s)\n", len(rest), strings.Join(list, ", "))
}

// openFDs returns files for --fd's descriptors, in the order given (where
// systemd-notify's order is that of its hash set's): duplicates of 0, 1 and 2, which stay open; the others
// themselves, made close-on-exec so that --exec's command does not inherit
// them (systemd-notify closes them first).
func openFDs(fds []int) ([]*os.File, *sendError) {
	var files []*os.File
	for _, fd := range fds {
		if fd < 3 {
			nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
			if err != nil {
				closeFiles(files)
				return nil, &sendError{errnoOf(err), fmt.Sprintf("--fd=%d: Failed to duplicate file descriptor: %v", fd, err), false}
			}
			fd = nfd
		} else {
			unix.CloseOnExec(fd)
		}
		files = append(files, os.NewFile(uintptr(fd), "--fd="+strconv.Itoa(fd)))
	}
	return files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// execCommand replaces sdnotify with argv, looked up in PATH as execvp(3)
// does (run's resolveCommand), once the notification is sent: --exec. It
// returns only on failure.
func execCommand(argv []string) *sendError {
	path, code, err := resolveCommand(argv[0])
	if err != nil {
		errno := errnoOf(err)
		if code == exitNotFound {
			errno = errnoENOENT
		}
		return &sendError{errno, "--exec: " + err.Error(), false}
	}
	err = syscall.Exec(path, argv, os.Environ())
	return &sendError{errnoOf(err), fmt.Sprintf("--exec: Failed to execute %q: %v", strings.Join(argv, " "), err), false}
}
