package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// environment returns COMMAND's environment, and the part of it that run
// sets, for the start event.
func (s *supervisor) environment() (env []string, shown string) {
	drop := map[string]bool{"NOTIFY_SOCKET": true, "WATCHDOG_USEC": true, "WATCHDOG_PID": true, "FDSTORE": true, "MANAGERPID": true,
		"LISTEN_PID": true, "LISTEN_PIDFDID": true, "LISTEN_FDS": true, "LISTEN_FDNAMES": true}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	add := []string{"NOTIFY_SOCKET=" + s.recv.sock.Addr, "MANAGERPID=" + strconv.Itoa(s.self)}
	if s.o.watchdog > 0 {
		add = append(add, "WATCHDOG_USEC="+strconv.FormatInt(s.o.watchdog.Microseconds(), 10))
	}
	if s.o.fdStoreMax > 0 {
		add = append(add, "FDSTORE="+strconv.Itoa(s.o.fdStoreMax))
	}
	env = append(env, add...)
	if s.o.watchdog > 0 {
		add = append(add, "WATCHDOG_PID=$PID")
	}
	return env, strings.Join(add, " ")
}

// resolveCommand finds COMMAND as a shell would, with the exit code for a
// failure: 127 if it is not found, 126 if it cannot be executed.
func resolveCommand(name string) (string, int, error) {
	path, err := exec.LookPath(name)
	if errors.Is(err, exec.ErrDot) {
		err = nil
	}
	if err == nil {
		return path, 0, nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return "", exitNotFound, fmt.Errorf("%s: command not found", name)
	}
	return "", exitNoExec, fmt.Errorf("%s: cannot execute: %w", name, unwrapAll(err))
}

func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// runShim is the re-executed sdnotify that starts COMMAND under --watchdog:
// it sets WATCHDOG_PID to its own PID, which COMMAND keeps, and execs it.
// args are COMMAND's path and then its argv.
func runShim(args []string, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "sdnotify: internal command: want PATH ARGV0 [ARGS...]")
		return 2
	}
	env := append(os.Environ(), "WATCHDOG_PID="+strconv.Itoa(os.Getpid()))
	err := syscall.Exec(args[0], args[1:], env)
	fmt.Fprintf(stderr, "sdnotify run: cannot execute %s: %v\n", args[1], err)
	if errors.Is(err, syscall.ENOENT) {
		return exitNotFound
	}
	return exitNoExec
}

// rawFd returns f's descriptor without Fd's side effect (it makes the file
// blocking, which would change it for the process that sent it, too).
func rawFd(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(u uintptr) { fd = int(u) })
	return fd
}

// prepareReadyFile removes a ready file left from an earlier run, and
// checks that one can be made in its directory.
func prepareReadyFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// writeReadyFile creates path, holding pid, atomically: a temporary file in
// the same directory, renamed.
func writeReadyFile(path string, pid int) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d\n", pid)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func showArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = showValue(a)
		if a == "" {
			parts[i] = `""`
		}
	}
	return strings.Join(parts, " ")
}
