package sdnotify

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// MaxStateLen is the largest notification systemd reads: it drops a longer
// datagram whole, without a word.
const MaxStateLen = 4096

// MaxFiles is the most file descriptors one notification can carry
// (the kernel's SCM_MAX_FD).
const MaxFiles = 253

// ErrInvalid is matched, with errors.Is, by every error that refuses a
// notification before sending it: an empty state, a NUL byte, more than
// MaxStateLen bytes, a bad value given to one of the typed assignments.
var ErrInvalid = errors.New("sdnotify: invalid notification")

// form says how an Assignment renders.
type form uint8

const (
	formText      form = iota // key=value
	formNumber                // key=num
	formReloading             // RELOADING=1\nMONOTONIC_USEC=num
)

// An Assignment is one KEY=VALUE line of a notification, made by the
// functions and variables of this package, which check the value as they
// make it. An Assignment whose value was refused carries the error, and a
// send that includes it returns that error and sends nothing.
//
// The zero Assignment is invalid.
type Assignment struct {
	key   string
	value string
	num   uint64
	form  form
	err   error
}

// Err reports why the assignment was refused, or nil if it is valid.
func (a Assignment) Err() error {
	if a.err == nil && a.key == "" {
		return invalid("zero Assignment")
	}
	return a.err
}

// String returns the assignment as it goes on the wire, or "" if it is
// invalid.
func (a Assignment) String() string {
	if a.Err() != nil {
		return ""
	}
	return string(a.appendTo(nil))
}

func (a Assignment) len() int {
	switch a.form {
	case formNumber:
		return len(a.key) + 1 + decimalLen(a.num)
	case formReloading:
		return len("RELOADING=1\nMONOTONIC_USEC=") + decimalLen(a.num)
	}
	return len(a.key) + 1 + len(a.value)
}

func (a Assignment) appendTo(b []byte) []byte {
	switch a.form {
	case formNumber:
		b = append(b, a.key...)
		b = append(b, '=')
		return strconv.AppendUint(b, a.num, 10)
	case formReloading:
		b = append(b, "RELOADING=1\nMONOTONIC_USEC="...)
		return strconv.AppendUint(b, a.num, 10)
	}
	b = append(b, a.key...)
	b = append(b, '=')
	return append(b, a.value...)
}

func decimalLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

func text(key, value string) Assignment { return Assignment{key: key, value: value} }

func number(key string, v uint64) Assignment { return Assignment{key: key, num: v, form: formNumber} }

func refused(key string, err error) Assignment { return Assignment{key: key, err: err} }

// The assignments that take no value.
var (
	// Ready tells the manager that startup, or a reload, is finished.
	Ready = text("READY", "1")
	// Stopping tells the manager that the service is shutting down.
	Stopping = text("STOPPING", "1")
	// Watchdog is the watchdog keep-alive, WATCHDOG=1.
	Watchdog = text("WATCHDOG", "1")
	// WatchdogTrigger makes the manager act as if the watchdog timed out,
	// WATCHDOG=trigger (systemd 243).
	WatchdogTrigger = text("WATCHDOG", "trigger")
	// FDStore asks the manager to keep the files sent with it (FDSTORE=1).
	// See Notifier.StoreFiles.
	FDStore = text("FDSTORE", "1")
	// FDStoreRemove asks the manager to close the stored files named by an
	// FDName assignment in the same notification (FDSTOREREMOVE=1).
	FDStoreRemove = text("FDSTOREREMOVE", "1")
	// FDPollDisable tells the manager not to watch the files stored with
	// it for errors and hang-ups (FDPOLL=0, systemd 246).
	FDPollDisable = text("FDPOLL", "0")
	// RestartReset resets the unit's restart counter (RESTART_RESET=1,
	// systemd 258).
	RestartReset = text("RESTART_RESET", "1")
)

// Status is the STATUS= assignment: free text that systemctl status shows.
//
// Status text often comes from outside the program (an error message, a
// file name), so Status repairs it rather than refusing it: invalid UTF-8
// (which systemd would ignore) becomes U+FFFD, carriage returns and
// newlines (which would start another assignment) become spaces, and NUL
// bytes (which would make systemd drop the whole notification) become
// U+FFFD. If a notification would exceed MaxStateLen, its status text is
// shortened to fit, at a character boundary. A bad status therefore never
// costs the assignments sent beside it.
func Status(text string) Assignment {
	return Assignment{key: "STATUS", value: repairStatus(text)}
}

// Statusf is Status with fmt.Sprintf formatting. It is the one part of
// this package that uses fmt, which a program pays for (about 200 KB)
// only if it calls Statusf.
func Statusf(format string, args ...any) Assignment {
	return Status(fmt.Sprintf(format, args...))
}

func repairStatus(s string) string {
	if utf8.ValidString(s) && !strings.ContainsAny(s, "\n\r\x00") {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.NewReplacer("\n", " ", "\r", " ", "\x00", "\uFFFD").Replace(s)
}

// Errno is the ERRNO= assignment: the errno-style reason for a failure,
// shown by systemctl as StatusErrno. It takes the errno out of err's
// chain, so an *os.PathError or a syscall.Errno both work; an error that
// wraps no syscall.Errno is refused. syscall.Errno(0) sends ERRNO=0, which
// clears the StatusErrno that an earlier ERRNO= set.
func Errno(err error) Assignment {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return refused("ERRNO", invalid("ERRNO: "+errText(err)+" wraps no syscall.Errno"))
	}
	return number("ERRNO", uint64(errno))
}

// BusError is the BUSERROR= assignment: a D-Bus error name such as
// "org.freedesktop.DBus.Error.TimedOut".
func BusError(name string) Assignment {
	if err := checkDottedName(name, false); err != nil {
		return refused("BUSERROR", invalid("BUSERROR="+quote(name)+": "+err.Error()))
	}
	return text("BUSERROR", name)
}

// VarlinkError is the VARLINKERROR= assignment (systemd 257): a Varlink
// error name such as "io.systemd.System.NoSuchUnit".
func VarlinkError(name string) Assignment {
	if err := checkDottedName(name, true); err != nil {
		return refused("VARLINKERROR", invalid("VARLINKERROR="+quote(name)+": "+err.Error()))
	}
	return text("VARLINKERROR", name)
}

// checkDottedName checks a D-Bus or Varlink error name: at most 255 bytes,
// two or more dot-separated elements of ASCII letters, digits and
// underscores (and dashes in Varlink's interface part), none empty or
// starting with a digit. Varlink's last element starts upper-case.
func checkDottedName(name string, varlink bool) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 255 {
		return errors.New(itoa(len(name)) + " bytes, over 255")
	}
	elems := strings.Split(name, ".")
	if len(elems) < 2 {
		return errors.New("want at least two dot-separated elements")
	}
	for i, e := range elems {
		if e == "" {
			return errors.New("empty element")
		}
		if e[0] >= '0' && e[0] <= '9' {
			return errors.New("element " + quote(e) + " starts with a digit")
		}
		for j := 0; j < len(e); j++ {
			c := e[j]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
				varlink && c == '-' && i < len(elems)-1
			if !ok {
				return errors.New("byte " + quoteByte(c) + " not allowed in element " + quote(e))
			}
		}
	}
	if varlink {
		if last := elems[len(elems)-1]; last[0] < 'A' || last[0] > 'Z' {
			return errors.New("error name " + quote(last) + " must start with an upper-case letter")
		}
	}
	return nil
}

// ExitStatus is the EXIT_STATUS= assignment (systemd 254), 0 to 255. The
// manager only logs it.
func ExitStatus(code int) Assignment {
	if code < 0 || code > 255 {
		return refused("EXIT_STATUS", invalid("EXIT_STATUS="+itoa(code)+": want 0 to 255"))
	}
	return number("EXIT_STATUS", uint64(code))
}

// MainPID is the MAINPID= assignment: it tells the manager which process
// is the service's main process.
func MainPID(pid int) Assignment {
	if pid <= 0 || pid > math.MaxInt32 {
		return refused("MAINPID", invalid("MAINPID="+itoa(pid)+": want a positive process ID"))
	}
	return number("MAINPID", uint64(pid))
}

// WatchdogTimeout is the WATCHDOG_USEC= assignment (systemd 233): it
// changes the watchdog timeout of the service to d.
func WatchdogTimeout(d time.Duration) Assignment {
	return usec("WATCHDOG_USEC", d)
}

// ExtendTimeout is the EXTEND_TIMEOUT_USEC= assignment (systemd 236): it
// asks the manager for d more time to start, stop or run, counted from
// now.
func ExtendTimeout(d time.Duration) Assignment {
	return usec("EXTEND_TIMEOUT_USEC", d)
}

// usec converts d to microseconds exactly, refusing negative durations and
// fractions of a microsecond (which would be silently rounded).
func usec(key string, d time.Duration) Assignment {
	switch {
	case d <= 0:
		return refused(key, invalid(key+": "+d.String()+": want a positive duration"))
	case d%time.Microsecond != 0:
		return refused(key, invalid(key+": "+d.String()+" is not a whole number of microseconds"))
	}
	return number(key, uint64(d/time.Microsecond))
}

// Access is a value of NOTIFYACCESS=: who may send notifications for the
// service.
type Access string

// The values of NotifyAccess= in a unit file.
const (
	AccessNone Access = "none" // nobody
	AccessMain Access = "main" // only the main process
	AccessExec Access = "exec" // the main process and the Exec*= commands
	AccessAll  Access = "all"  // any process in the service's cgroup
)

// NotifyAccess is the NOTIFYACCESS= assignment (systemd 254): it changes
// who may send notifications for the service, as NotifyAccess= in the
// unit file does.
func NotifyAccess(a Access) Assignment {
	switch a {
	case AccessNone, AccessMain, AccessExec, AccessAll:
		return text("NOTIFYACCESS", string(a))
	}
	return refused("NOTIFYACCESS", invalid("NOTIFYACCESS="+quote(string(a))+": want none, main, exec or all"))
}

// FDName is the FDNAME= assignment: the name of the files stored or
// removed by the same notification. systemd's rules apply: 1 to 255
// ASCII characters, no control characters and no ':'.
func FDName(name string) Assignment {
	if err := checkFDName(name); err != nil {
		return refused("FDNAME", err)
	}
	return text("FDNAME", name)
}

func checkFDName(name string) error {
	if name == "" || len(name) > 255 {
		return invalid("FDNAME=" + quote(name) + ": want 1 to 255 characters")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c >= 0x7f || c == ':' {
			return invalid("FDNAME=" + quote(name) + ": byte " + quoteByte(c) + " at offset " + itoa(i) + " is not allowed (ASCII only, no control characters or ':')")
		}
	}
	return nil
}

// Reloading is the RELOADING=1 assignment together with MONOTONIC_USEC=,
// the current CLOCK_MONOTONIC time in microseconds, in one notification,
// as Type=notify-reload services (systemd 253) must send it. Call it when
// the reload starts, and send Ready when it is done.
func Reloading() Assignment {
	return Assignment{key: "RELOADING", num: monotonicUsec(), form: formReloading}
}

// Monotonic is the MONOTONIC_USEC= assignment alone: the current
// CLOCK_MONOTONIC time in microseconds. Reloading includes it already.
func Monotonic() Assignment {
	return number("MONOTONIC_USEC", monotonicUsec())
}

// Var is any KEY=VALUE assignment, for keys that have no function of their
// own, including private ones, which should start with "X_". The key must
// be a non-empty run of ASCII letters, digits and underscores not starting
// with a digit; the value must not contain a newline, a carriage return or
// a NUL byte. A STATUS value must also be valid UTF-8 (Status repairs it
// instead).
func Var(key, value string) Assignment {
	if err := checkKey(key); err != nil {
		return refused(key, err)
	}
	if i := strings.IndexAny(value, "\n\r\x00"); i >= 0 {
		return refused(key, invalid(key+"="+quote(value)+": byte "+quoteByte(value[i])+" at offset "+itoa(i)+" would split or end the notification"))
	}
	if key == "STATUS" && !utf8.ValidString(value) {
		return refused(key, invalid("STATUS="+quote(value)+" is not valid UTF-8; systemd would ignore it"))
	}
	return text(key, value)
}

func checkKey(key string) error {
	if key == "" {
		return invalid("empty key")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c >= '0' && c <= '9' && i > 0) {
			return invalid("key " + quote(key) + ": byte " + quoteByte(c) + " at offset " + itoa(i) + " is not allowed (ASCII letters, digits and '_', not starting with a digit)")
		}
	}
	return nil
}

// encode appends the notification made of as to b: the assignments joined
// by newlines. It returns an error, and nothing is to be sent, if any
// assignment is invalid or there are none. If the notification would
// exceed MaxStateLen and holds a STATUS assignment, the last status text
// is shortened to fit.
func encode(b []byte, as []Assignment) ([]byte, error) {
	if len(as) == 0 {
		return b, invalid("no assignments: systemd must never be sent an empty notification")
	}
	total := len(as) - 1
	status := -1
	for i, a := range as {
		if err := a.Err(); err != nil {
			return b, err
		}
		if a.key == "STATUS" && a.form == formText {
			status = i
		}
		total += a.len()
	}
	cut := 0
	if total > MaxStateLen {
		if status < 0 || total-MaxStateLen > len(as[status].value) {
			return b, invalid("notification is " + itoa(total) + " bytes; systemd drops any over " + itoa(MaxStateLen))
		}
		cut = total - MaxStateLen
	}
	for i, a := range as {
		if i > 0 {
			b = append(b, '\n')
		}
		if i == status && cut > 0 {
			b = append(b, "STATUS="...)
			b = append(b, a.value[:runeBoundary(a.value, len(a.value)-cut)]...)
			continue
		}
		b = a.appendTo(b)
	}
	return b, nil
}

// runeBoundary returns the largest k <= n at which s can be cut without
// splitting a UTF-8 sequence. n must be less than len(s).
func runeBoundary[T string | []byte](s T, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// checkState checks a notification as systemd will: not empty, no NUL
// byte, at most MaxStateLen bytes.
func checkState(s string) error {
	switch {
	case s == "":
		return invalid("empty notification: systemd must never be sent one")
	case len(s) > MaxStateLen:
		return invalid("notification is " + itoa(len(s)) + " bytes; systemd drops any over " + itoa(MaxStateLen))
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return invalid("NUL byte at offset " + itoa(i) + "; systemd drops such a notification")
	}
	return nil
}
