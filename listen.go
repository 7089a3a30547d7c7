package sdnotify

import (
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
)

// ListenFDsStart is the first file descriptor the service manager passes
// (SD_LISTEN_FDS_START): the files of socket activation and of the fd
// store are descriptors ListenFDsStart, ListenFDsStart+1, and so on.
const ListenFDsStart = 3

// The environment variables that pass files.
const (
	envListenPID     = "LISTEN_PID"
	envListenPIDFDID = "LISTEN_PIDFDID"
	envListenFDs     = "LISTEN_FDS"
	envListenFDNames = "LISTEN_FDNAMES"
)

var listened struct {
	once  sync.Once
	files []*os.File
	err   error
}

// Files returns the files that the service manager passed to this process
// when it started it: the sockets of its .socket units (socket
// activation) and the files kept in its fd store (see FDStore), in the
// manager's order. Each file's Name is its name from LISTEN_FDNAMES:
// FileDescriptorName= of a socket unit, FDNAME= of the fd store, "stored"
// for files stored without a name, "connection" for an Accept=yes
// connection, and "unknown" for all of them when the manager gave no
// names. Several files may share a name; FilesNamed picks them out.
//
// Files follows libsystemd's sd_listen_fds_with_names rule by rule. There
// are no files, and no error, when LISTEN_PID or LISTEN_FDS is unset, when
// LISTEN_PID names another process, or when LISTEN_PIDFDID (systemd 259)
// names another process than ours with the same process ID (where the
// kernel can tell: Linux 6.9 and later). A malformed LISTEN_PID,
// LISTEN_PIDFDID or LISTEN_FDS (which must be a positive decimal number),
// a LISTEN_FDNAMES that names more or fewer files than LISTEN_FDS counts,
// or a descriptor that is not open, is an error that names the variable
// and its value and wraps libsystemd's errno: EINVAL, ERANGE for a
// process ID out of range, EBADF for a descriptor. No file is returned
// then. Unlike libsystemd, numbers must be plain decimal
// (no sign, spaces or leading zeros), as the manager writes them.
//
// The variables are read once per process, at the first call, and removed
// from the environment then, whatever the outcome, so that child
// processes do not take the files for theirs. Every call, from any
// package, returns the same files and the same error. Each descriptor is
// made close-on-exec.
//
// The files are the process's: Files hands out the same *os.File values
// to every caller, so give each to one owner, which closes it when done
// (closing a listening socket that the manager also holds, in a .socket
// unit or the fd store, does not close the manager's copy). To turn one
// into a net.Listener or net.PacketConn, use net.FileListener or
// net.FilePacketConn, which make duplicates: close the *os.File after.
//
// On systems other than Linux, Files returns no files.
func Files() ([]*os.File, error) {
	listened.once.Do(func() {
		listened.files, listened.err = listenFiles()
		for _, k := range []string{envListenPID, envListenPIDFDID, envListenFDs, envListenFDNames} {
			os.Unsetenv(k)
		}
	})
	return listened.files, listened.err
}

// FilesNamed returns the files that Files returns under name, in order.
// It returns none, and no error, when the manager passed no file of that
// name: a daemon then makes its own (binds its socket, say).
func FilesNamed(name string) ([]*os.File, error) {
	all, err := Files()
	if err != nil {
		return nil, err
	}
	var fs []*os.File
	for _, f := range all {
		if f.Name() == name {
			fs = append(fs, f)
		}
	}
	return fs, nil
}

// listenVars is what the manager said in the LISTEN_ variables: how many
// files, and their names.
type listenVars struct {
	n     int
	names []string
}

// parseListen applies sd_listen_fds_with_names's rules to the variables
// that lookup finds, for process self, whose pidfd inode ID is ownID (0
// where the kernel cannot tell). It returns n == 0 where there are no
// files for us.
func parseListen(lookup func(string) (string, bool), self int, ownID uint64) (listenVars, error) {
	pidText, ok := lookup(envListenPID)
	if !ok {
		return listenVars{}, nil
	}
	pid, ok := parseDecimal(pidText)
	switch {
	case !ok && !isDigits(pidText):
		return listenVars{}, listenError(envListenPID, pidText, "not a decimal process ID", syscall.EINVAL)
	case !ok || pid == 0 || pid > math.MaxInt32:
		return listenVars{}, listenError(envListenPID, pidText, "not a valid process ID", syscall.ERANGE)
	}
	if int(pid) != self {
		return listenVars{}, nil
	}
	if idText, ok := lookup(envListenPIDFDID); ok {
		id, ok := parseDecimal(idText)
		if !ok {
			return listenVars{}, listenError(envListenPIDFDID, idText, "not a decimal pidfd inode ID", syscall.EINVAL)
		}
		if ownID != 0 && id != ownID {
			return listenVars{}, nil // meant for an earlier process with our pid
		}
	}
	fdsText, ok := lookup(envListenFDs)
	if !ok {
		return listenVars{}, nil
	}
	n, ok := parseDecimal(fdsText)
	if !ok || n == 0 || n > math.MaxInt32-ListenFDsStart {
		return listenVars{}, listenError(envListenFDs, fdsText, "want a positive decimal number of files", syscall.EINVAL)
	}
	v := listenVars{n: int(n)}
	if namesText, ok := lookup(envListenFDNames); ok {
		v.names = strings.Split(namesText, ":")
		if len(v.names) != v.n {
			return listenVars{}, listenError(envListenFDNames, namesText, itoa(len(v.names))+" names for "+envListenFDs+"="+fdsText+" files", syscall.EINVAL)
		}
	} else {
		v.names = make([]string, v.n)
		for i := range v.names {
			v.names[i] = "unknown"
		}
	}
	return v, nil
}

func listenError(key, value, reason string, errno syscall.Errno) error {
	return &wrapError{msg: "sdnotify: " + key + "=" + quote(value) + ": " + reason, err: errno}
}

// isDigits reports whether s is a non-empty run of decimal digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
