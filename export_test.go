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
