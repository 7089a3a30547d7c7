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
	a, err := parseAddress(s)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// CheckState exposes the check Notify makes.
func CheckState(s string) error { return checkState(s) }

// Encode exposes the datagram Send builds.
func Encode(as ...Assignment) (string, error) {
	b, err := encode(nil, as)
	return string(b), err
}

// WatchdogTimeoutFrom exposes WatchdogTimeout's parsing for given values,
// "-" meaning unset, as seen by process self.
func WatchdogTimeoutFrom(usec, pid string, self int) (time.Duration, error) {
	e := environment{watchdogUsec: usec, watchdogPID: pid, watchdogUsecSet: usec != "-", watchdogPIDSet: pid != "-"}
	return watchdogTimeout(e, self)
}

// ForgetContextWaits empties contextWaits, as in a program that has not yet
// called a function taking a context, and reports whether it was filled.
func ForgetContextWaits() (wasFilled bool) {
	return contextWaits.Swap(nil) != nil
}

// ContextWaitsFilled reports whether contextWaits is filled.
func ContextWaitsFilled() bool { return contextWaits.Load() != nil }

// Quote exposes the quoting of error messages.
func Quote(s string) string { return quote(s) }
