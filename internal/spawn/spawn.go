// Package spawn starts a process with files the way systemd's manager
// does: the files from descriptor 3 on, LISTEN_FDS and LISTEN_FDNAMES, and
// LISTEN_PID (and LISTEN_PIDFDID where the kernel has pidfd inode IDs) set
// to the new process's own, which only the new process can know before it
// runs the command.
//
// The manager sets LISTEN_PID between fork and exec. os/exec has no hook
// there, so Command starts this program's own executable again with a
// marker in its environment; Init, called first thing in that program
// (in an init function of a package it imports), sees the marker, sets
// LISTEN_PID to its pid and execs the real command in the same process.
// Both sdnotifytest (in a test binary) and cmd/sdnotify call Init.
package spawn

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gosdnotify/sdnotify/internal/pidfd"
)

// The marker (the command to exec) and the variables a service is given.
const (
	envExec    = "SDNOTIFY_SPAWN_EXEC" // the command's path
	envPID     = "LISTEN_PID"
	envFDs     = "LISTEN_FDS"
	envNames   = "LISTEN_FDNAMES"
	envPIDFDID = "LISTEN_PIDFDID"
)

// A File is a file to pass, with the name the process sees in
// LISTEN_FDNAMES.
type File struct {
	Name string
	File *os.File
}

// Command returns a Cmd that runs the program name with args and the given
// files, as the manager would start a service with them: exec.Command, and
// then Prepare.
func Command(name string, args []string, files []File) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	if cmd.Err != nil {
		return nil, cmd.Err
	}
	if err := Prepare(cmd, files); err != nil {
		return nil, err
	}
	return cmd, nil
}

// Prepare makes cmd, not yet started, start its program with the given
// files, as the manager would start a service with them: it runs this
// program's executable instead, with cmd's Args, the files from
// descriptor 3 (ExtraFiles, which must be empty), and LISTEN_FDS,
// LISTEN_FDNAMES and the marker for Init added to cmd.Env (to
// os.Environ() if it is nil). The process's pid is the one LISTEN_PID will
// name. With no files, Prepare leaves cmd alone: nothing to fill in.
func Prepare(cmd *exec.Cmd, files []File) error {
	if len(files) == 0 {
		return nil
	}
	if len(cmd.ExtraFiles) > 0 {
		return errors.New("spawn: cmd.ExtraFiles is set; pass the files to Prepare")
	}
	path := cmd.Path
	if !filepath.IsAbs(path) {
		var err error
		if path, err = filepath.Abs(filepath.Join(cmd.Dir, path)); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	names := make([]string, len(files))
	extra := make([]*os.File, len(files))
	for i, f := range files {
		names[i], extra[i] = f.Name, f.File
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env,
		envExec+"="+path,
		envFDs+"="+strconv.Itoa(len(files)),
		envNames+"="+strings.Join(names, ":"),
	)
	cmd.Path, cmd.ExtraFiles = self, extra
	return nil
}

// Init execs the command of Command, if this process is the one Command
// started: it sets LISTEN_PID (and LISTEN_PIDFDID) to its own and replaces
// itself with the command, so that it does not return. Otherwise it
// returns at once. Call it before the program does anything else.
func Init() {
	path, ok := os.LookupEnv(envExec)
	if !ok {
		return
	}
	os.Unsetenv(envExec)
	os.Setenv(envPID, strconv.Itoa(os.Getpid()))
	if id := pidfd.ID(os.Getpid()); id != 0 {
		os.Setenv(envPIDFDID, strconv.FormatUint(id, 10))
	}
	err := execve(path, os.Args, os.Environ())
	// Only a failed exec returns: say so as the shell would, and exit
	// with its status for a command that cannot run.
	os.Stderr.WriteString(os.Args[0] + ": " + err.Error() + "\n")
	os.Exit(126)
}
