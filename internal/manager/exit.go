package manager

// Signal numbers (Linux's), for Exit.
const (
	SIGHUP  = 1
	SIGINT  = 2
	SIGPIPE = 13
	SIGTERM = 15
)

// An Exit is how the main process ended.
type Exit struct {
	Code     int  // its exit status, if it exited
	Signal   int  // the signal that killed it, or 0
	CoreDump bool // it dumped core
	Unknown  bool // the status could not be read (counted as a clean exit)
}

// Clean reports whether the manager counts e as a clean end of a daemon:
// status 0, or SIGHUP, SIGINT, SIGTERM or SIGPIPE.
func (e Exit) Clean() bool {
	switch {
	case e.Unknown:
		return true
	case e.Signal == 0:
		return e.Code == 0
	}
	switch e.Signal {
	case SIGHUP, SIGINT, SIGTERM, SIGPIPE:
		return !e.CoreDump
	}
	return false
}

// Exited records that the main process ended as e, and returns the
// unit's Result= as the manager names it: the failure recorded before,
// if any (timeout, watchdog); "protocol" for a Type=notify unit whose
// main process ended cleanly before READY=1 (it never became active and
// never will); otherwise "success" for a clean end, "exit-code",
// "signal" or "core-dump".
func (u *Unit) Exited(e Exit) string {
	starting := u.state == Starting
	u.state = Stopped
	f := "success"
	switch {
	case e.Clean():
	case e.Signal == 0:
		f = "exit-code"
	case e.CoreDump:
		f = "core-dump"
	default:
		f = "signal"
	}
	if starting && f == "success" {
		f = "protocol"
	}
	if u.result == "" {
		u.result = f
	}
	return u.result
}
