// Package proto holds the facts of the sd_notify protocol that more than
// one part of this module needs, each in one place: the sizes the manager
// accepts, how it splits a datagram into assignments, how it reads the
// numbers in them, the rule for file descriptor names, the values of
// NotifyAccess=, and the clock of MONOTONIC_USEC=.
//
// The facts are systemd's, as its manager (src/core/manager.c and
// service.c) and its parsers (src/basic/parse-util.c, extract-word.c)
// implement them in versions 252 and 254, checked against those managers
// running here (internal/realsystemd). The package depends on nothing but
// the standard library and, on Linux, golang.org/x/sys/unix.
package proto

import "strconv"

// MaxMessageLen is the most bytes of a notification the manager reads
// (NOTIFY_BUFFER_MAX): it drops a longer datagram whole.
const MaxMessageLen = 4096

// MaxFiles is the most file descriptors one notification can carry: the
// kernel's SCM_MAX_FD.
const MaxFiles = 253

// MaxFDNameLen is the longest valid file descriptor name (FDNAME=,
// FileDescriptorName=), in bytes.
const MaxFDNameLen = 255

// DefaultFDName is the name of files stored without a valid FDNAME=.
const DefaultFDName = "stored"

// FDNameProblem says what makes name an invalid FDNAME=, or returns "" if
// it is valid: at most MaxFDNameLen bytes of printable ASCII without ':'
// (systemd's fdname_is_valid). The empty name is valid.
func FDNameProblem(name string) string {
	if len(name) > MaxFDNameLen {
		return strconv.Itoa(len(name)) + " bytes, more than " + strconv.Itoa(MaxFDNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c >= 0x7f || c == ':' {
			return "byte " + quoteByte(c) + " at offset " + strconv.Itoa(i) + ": printable ASCII only, no ':'"
		}
	}
	return ""
}

// ValidFDName reports whether name is a valid FDNAME= (see FDNameProblem).
func ValidFDName(name string) bool { return FDNameProblem(name) == "" }

// The values of NotifyAccess= and of NOTIFYACCESS=, in the order the
// manager lists them.
const (
	AccessNone = "none" // nobody may notify
	AccessMain = "main" // the main process only
	AccessExec = "exec" // the main process and the control processes (ExecStartPre= and the like)
	AccessAll  = "all"  // any process of the unit's cgroup
)

// ValidAccess reports whether s is a value of NotifyAccess=.
func ValidAccess(s string) bool {
	switch s {
	case AccessNone, AccessMain, AccessExec, AccessAll:
		return true
	}
	return false
}

// quoteByte quotes c as a character literal: 'a', '\n', '\x00', '\xff'.
func quoteByte(c byte) string {
	if c < 0x80 {
		return strconv.QuoteRune(rune(c))
	}
	const hex = "0123456789abcdef"
	return string([]byte{'\'', '\\', 'x', hex[c>>4], hex[c&0xf], '\''})
}
