package sdnotify

import "time"

// SetSendTimeout shortens DefaultTimeout for a test and returns a function
// that restores it.
func SetSendTimeout(d time.Duration) (restore func()) {
	old := sendTimeout
	sendTimeout = d
	return func() { sendTimeout = old }
}

// ParseAddress exposes the NOTIFY_SOCKET parser: it returns the address
// formatted back, or the error.
func ParseAddress(s string) (string, error) {
	a, err := parseAddress(s, "NOTIFY_SOCKET")
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// CheckState exposes the check Notify makes.
func CheckState(s string) error { return checkState(s) }

// Encode exposes the datagram Send builds.
func Encode(as ...Assignment) (string, error) {
	b, _, err := encode(nil, as)
	return string(b), err
}

// WatchdogTimeoutFrom exposes WatchdogTimeout's parsing for given values,
// "-" meaning unset, as seen by process self.
func WatchdogTimeoutFrom(usec, pid string, self int) (time.Duration, error) {
	e := environment{watchdogUsec: usec, watchdogPID: pid, watchdogUsecSet: usec != "-", watchdogPIDSet: pid != "-"}
	return watchdogTimeout(e, self)
}

// Quote exposes the quoting of error messages.
func Quote(s string) string { return quote(s) }

// ParseListen exposes the rules of Files for given variables ("-" meaning
// unset), as seen by process self with pidfd inode ID ownID: the number of
// files and their names.
func ParseListen(pid, pidfdid, fds, names string, self int, ownID uint64) (int, []string, error) {
	env := map[string]string{envListenPID: pid, envListenPIDFDID: pidfdid, envListenFDs: fds, envListenFDNames: names}
	lookup := func(k string) (string, bool) {
		v := env[k]
		return v, v != "-"
	}
	v, err := parseListen(lookup, self, ownID)
	return v.n, v.names, err
}

// OwnPidfdID exposes the inode ID of our own pidfd, 0 if none.
func OwnPidfdID() uint64 { return ownPidfdID() }
