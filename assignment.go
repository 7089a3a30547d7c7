package sdnotify

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// MaxStateLen is the largest notification systemd reads: it drops a longer
// datagram whole, without a word.
const MaxStateLen = proto.MaxMessageLen

// MaxFiles is the most file descriptors one notification can carry
// (the kernel's SCM_MAX_FD).
const MaxFiles = proto.MaxFiles

// form says how an Assignment renders.
type form uint8

const (
	formText      form = iota // key=value
	formNumber                // key=num
	formReloading             // RELOADING=1\nMONOTONIC_USEC=num
	formSender                // no line: credentials for pid
)

// An Assignment is one part of a notification: a KEY=VALUE line, with the
// files that go with it (FDStore, MainPIDFD), or the sender's credentials
// (Sender). Assignments are made by the functions of this package, which
// check each value as they make it; Notifier.Send joins them into one
// datagram.
//
// An Assignment whose value was refused carries the error, and a send that
// includes it returns that error and sends nothing. The zero Assignment is
// invalid.
type Assignment struct {
	key    string
	value  string
	fdname string // FDNAME= line after key=value, if not ""
	num    uint64 // formNumber, formReloading
	pid    int    // formSender
	files  []*os.File
	form   form
	err    error
}

// Err reports why the assignment was refused, or nil if it is valid.
func (a Assignment) Err() error {
	if a.err == nil && a.key == "" && a.form != formSender {
		return invalid("zero Assignment")
	}
	return a.err
}

// String returns the assignment's lines as they go on the wire, or "" if it
// is invalid or adds no line (Sender).
func (a Assignment) String() string {
	if a.Err() != nil {
		return ""
	}
	return string(a.appendTo(nil))
}

// len is the length of the assignment's lines.
func (a Assignment) len() int {
	n := 0
	switch a.form {
	case formSender:
		return 0
	case formNumber:
		n = len(a.key) + 1 + decimalLen(a.num)
	case formReloading:
		n = len("RELOADING=1\nMONOTONIC_USEC=") + decimalLen(a.num)
	default:
		n = len(a.key) + 1 + len(a.value)
	}
	if a.fdname != "" {
		n += len("\nFDNAME=") + len(a.fdname)
	}
	return n
}

func (a Assignment) appendTo(b []byte) []byte {
	switch a.form {
	case formSender:
		return b
	case formNumber:
		b = append(b, a.key...)
		b = append(b, '=')
		b = strconv.AppendUint(b, a.num, 10)
	case formReloading:
		b = append(b, "RELOADING=1\nMONOTONIC_USEC="...)
		b = strconv.AppendUint(b, a.num, 10)
	default:
		b = append(b, a.key...)
		b = append(b, '=')
		b = append(b, a.value...)
	}
	if a.fdname != "" {
		b = append(b, "\nFDNAME="...)
		b = append(b, a.fdname...)
	}
	return b
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

// Ready is READY=1: startup, or a reload, is finished.
func Ready() Assignment { return text("READY", "1") }

// Stopping is STOPPING=1: the service is shutting down (final since
// systemd 259).
func Stopping() Assignment { return text("STOPPING", "1") }

// Reloading is RELOADING=1 together with MONOTONIC_USEC=, the current
// CLOCK_MONOTONIC time in microseconds, as Type=notify-reload services
// (systemd 253) must send them: in one notification. Send it when a reload
// starts, and Ready when it is done.
func Reloading() Assignment {
	return Assignment{key: "RELOADING", num: proto.MonotonicUsec(), form: formReloading}
}

// Monotonic is MONOTONIC_USEC= alone: the current CLOCK_MONOTONIC time in
// microseconds. Reloading includes it already.
func Monotonic() Assignment { return number("MONOTONIC_USEC", proto.MonotonicUsec()) }

// Watchdog is WATCHDOG=1, the watchdog keep-alive. Notifier.KeepAlive
// sends it on time.
func Watchdog() Assignment { return text("WATCHDOG", "1") }

// WatchdogTrigger is WATCHDOG=trigger (systemd 243), which fails the
// service now: the manager acts as if the watchdog timed out (and kills or
// restarts it as WatchdogSignal= and Restart= say). It is not a
// keep-alive; Watchdog is.
func WatchdogTrigger() Assignment { return text("WATCHDOG", "trigger") }

// SetWatchdogTimeout is WATCHDOG_USEC= (systemd 233): it changes the
// service's watchdog timeout to d. Notifier.WatchdogTimeout reads the
// timeout the service was started with.
func SetWatchdogTimeout(d time.Duration) Assignment { return usec("WATCHDOG_USEC", d) }

// ExtendTimeout is EXTEND_TIMEOUT_USEC= (systemd 236): it asks the manager
// for d more time to start, stop or run, counted from now.
func ExtendTimeout(d time.Duration) Assignment { return usec("EXTEND_TIMEOUT_USEC", d) }

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

// RestartReset is RESTART_RESET=1 (systemd 258): it resets the unit's
// restart counter.
func RestartReset() Assignment { return text("RESTART_RESET", "1") }

// Status is STATUS=text: free text that systemctl status shows.
//
// Status text often comes from outside the program (an error message, a
// file name), so Status repairs it rather than refusing it: invalid UTF-8
// (which systemd would ignore) becomes U+FFFD, carriage returns and
// newlines (which would start another assignment) become spaces, and NUL
// bytes (which would make systemd drop the whole notification) become
// U+FFFD, and each backslash is doubled (the manager reads a backslash as
// an escape: it removes it and keeps the byte after it, so doubled it
// shows as one). If a notification would exceed MaxStateLen, its status text is
// shortened to fit, at a character boundary. A bad status therefore never
// costs the assignments sent beside it.
func Status(text string) Assignment {
	return Assignment{key: "STATUS", value: repairStatus(text)}
}

// Statusf is Status with fmt.Sprintf formatting.
func Statusf(format string, args ...any) Assignment {
	return Status(fmt.Sprintf(format, args...))
}

func repairStatus(s string) string {
	if utf8.ValidString(s) && !strings.ContainsAny(s, "\n\r\x00\\") {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.NewReplacer("\n", " ", "\r", " ", "\x00", "\uFFFD", `\`, `\\`).Replace(s)
}

// Errno is ERRNO=: the errno-style reason for a failure, shown by
// systemctl as StatusErrno. It takes the errno out of err's chain, so an
// *os.PathError or a syscall.Errno both work; an error that wraps no
// syscall.Errno is refused, and so is one above 4095, which the manager
// ignores. syscall.Errno(0) sends ERRNO=0, which clears the StatusErrno
// that an earlier ERRNO= set.
func Errno(err error) Assignment {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return refused("ERRNO", invalid(fmt.Sprintf("ERRNO: %v wraps no syscall.Errno", err)))
	}
	if errno > proto.MaxErrno {
		return refused("ERRNO", invalid(fmt.Sprintf("ERRNO=%d: over %d, which systemd ignores", uint64(errno), proto.MaxErrno)))
	}
	return number("ERRNO", uint64(errno))
}

// BusError is BUSERROR=: a D-Bus error name such as
// "org.freedesktop.DBus.Error.TimedOut".
func BusError(name string) Assignment {
	if err := checkDottedName(name, false); err != nil {
		return refused("BUSERROR", invalid("BUSERROR="+quote(name)+": "+err.Error()))
	}
	return text("BUSERROR", name)
}

// VarlinkError is VARLINKERROR= (systemd 257): a Varlink error name such
// as "io.systemd.System.NoSuchUnit".
func VarlinkError(name string) Assignment {
	if err := checkDottedName(name, true); err != nil {
		return refused("VARLINKERROR", invalid("VARLINKERROR="+quote(name)+": "+err.Error()))
	}
	return text("VARLINKERROR", name)
}

// ExitStatus is EXIT_STATUS= (systemd 254), 0 to 255. The manager only
// logs it.
func ExitStatus(code int) Assignment {
	if code < 0 || code > 255 {
		return refused("EXIT_STATUS", invalid("EXIT_STATUS="+itoa(code)+": want 0 to 255"))
	}
	return number("EXIT_STATUS", uint64(code))
}

// MainPID is MAINPID=: it tells the manager which process is the service's
// main process.
func MainPID(pid int) Assignment {
	if pid <= 0 || pid > math.MaxInt32 {
		return refused("MAINPID", invalid("MAINPID="+itoa(pid)+": want a positive process ID"))
	}
	return number("MAINPID", uint64(pid))
}

// MainPIDFD is MAINPIDFD=1 (systemd 257) with pidfd, a pidfd of the new
// main process, passed alongside: it names the main process without the
// race of a reused process ID. The caller still owns pidfd.
func MainPIDFD(pidfd *os.File) Assignment {
	if pidfd == nil {
		return refused("MAINPIDFD", invalid("MAINPIDFD: nil pidfd"))
	}
	return Assignment{key: "MAINPIDFD", value: "1", files: []*os.File{pidfd}}
}

// MainPIDFDID is MAINPIDFDID= (systemd 257): the inode number of the new
// main process's pidfd, sent beside MainPID so that the manager can tell
// the process from a later one with the same process ID.
func MainPIDFDID(id uint64) Assignment {
	if id == 0 {
		return refused("MAINPIDFDID", invalid("MAINPIDFDID=0: want a pidfd inode ID"))
	}
	return number("MAINPIDFDID", id)
}

// Access is a value of NOTIFYACCESS=: who may send notifications for the
// service.
type Access string

// The values of NotifyAccess= in a unit file.
const (
	AccessNone Access = proto.AccessNone // nobody
	AccessMain Access = proto.AccessMain // only the main process
	AccessExec Access = proto.AccessExec // the main process and the Exec*= commands
	AccessAll  Access = proto.AccessAll  // any process in the service's cgroup
)

// NotifyAccess is NOTIFYACCESS= (systemd 254): it changes who may send
// notifications for the service, as NotifyAccess= in the unit file does.
func NotifyAccess(a Access) Assignment {
	if proto.ValidAccess(string(a)) {
		return text("NOTIFYACCESS", string(a))
	}
	return refused("NOTIFYACCESS", invalid("NOTIFYACCESS="+quote(string(a))+": want none, main, exec or all"))
}

// FDStore is FDSTORE=1 and FDNAME=name with files passed alongside: it asks
// the manager to keep the files in the service's file descriptor store for
// the unit's next start, where they come back in LISTEN_FDS and
// LISTEN_FDNAMES. An empty name sends no FDNAME (systemd then names them
// "stored"); otherwise systemd's rules apply: at most 255 ASCII
// characters, no control characters and no ':'. The unit needs
// FileDescriptorStoreMax= set, or the manager closes them.
//
// The files must stay open until the send returns; the caller still owns
// them afterwards (the manager receives duplicates).
func FDStore(name string, files ...*os.File) Assignment {
	if len(files) == 0 {
		return refused("FDSTORE", invalid("FDSTORE: no files to store"))
	}
	for i, f := range files {
		if f == nil {
			return refused("FDSTORE", invalid("FDSTORE: file "+itoa(i)+" is nil"))
		}
	}
	if name != "" {
		if err := checkFDName(name); err != nil {
			return refused("FDSTORE", err)
		}
	}
	return Assignment{key: "FDSTORE", value: "1", fdname: name, files: files}
}

// FDStoreRemove is FDSTOREREMOVE=1 and FDNAME=name: it asks the manager to
// close the files stored under name.
func FDStoreRemove(name string) Assignment {
	if err := checkFDName(name); err != nil {
		return refused("FDSTOREREMOVE", err)
	}
	return Assignment{key: "FDSTOREREMOVE", value: "1", fdname: name}
}

// FDPollDisable is FDPOLL=0 (systemd 246), sent beside FDStore: the manager
// does not watch the files stored for errors and hang-ups, and keeps them
// when their peer hangs up.
func FDPollDisable() Assignment { return text("FDPOLL", "0") }

// Sender adds no line: it makes the notification carry explicit credentials
// naming process pid as its sender, as sd_pid_notify does, so that the
// manager attributes it to pid (a relay speaking for the process it
// started, as systemd-notify speaks for its shell). The kernel allows that
// only to privileged senders or for the sender's own process ID; when it
// refuses (EPERM, ESRCH), the notification goes out again with the
// sender's own credentials, as libsystemd does.
func Sender(pid int) Assignment {
	if pid <= 0 || pid > math.MaxInt32 {
		return Assignment{form: formSender, err: invalid("Sender(" + itoa(pid) + "): want a positive process ID")}
	}
	return Assignment{form: formSender, pid: pid}
}

// Var is any KEY=VALUE assignment, for keys that have no function of their
// own, including private ones, which should start with "X_". The key must
// be a non-empty run of ASCII letters, digits and underscores not starting
// with a digit; the value must not contain a newline, a carriage return or
// a NUL byte, nor a backslash, which the manager reads as an escape (it
// removes it, and one at the end of a line joins the next line to it). A
// STATUS value must also be valid UTF-8 (Status repairs it instead).
func Var(key, value string) Assignment {
	if err := checkKey(key); err != nil {
		return refused(key, err)
	}
	if i := strings.IndexAny(value, "\n\r\x00\\"); i >= 0 {
		what := " would split or end the notification"
		if value[i] == '\\' {
			what = " is an escape to the manager, which would not read the value as it is"
		}
		return refused(key, invalid(key+"="+quote(value)+": byte "+quoteByte(value[i])+" at offset "+itoa(i)+what))
	}
	if key == "STATUS" && !utf8.ValidString(value) {
		return refused(key, invalid("STATUS="+quote(value)+" is not valid UTF-8; systemd would ignore it"))
	}
	return text(key, value)
}
