package sdnotify

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// encode appends the notification made of as to b: the lines of the
// assignments joined by newlines. It returns an error, and nothing is to be
// sent, if any assignment is invalid or none adds a line. If the
// notification would exceed MaxStateLen and holds a STATUS assignment, the
// last status text is shortened to fit. pid is the process named by a
// Sender assignment, or 0.
func encode(b []byte, as []Assignment) (_ []byte, pid int, err error) {
	total, lines, status := 0, 0, -1
	for i, a := range as {
		if err := a.Err(); err != nil {
			return b, 0, err
		}
		if a.form == formSender {
			if pid != 0 && pid != a.pid {
				return b, 0, invalid("two Sender assignments in one notification (" + itoa(pid) + " and " + itoa(a.pid) + ")")
			}
			pid = a.pid
			continue
		}
		if a.key == "STATUS" && a.form == formText {
			status = i
		}
		total += a.len()
		lines++
	}
	if lines == 0 {
		return b, 0, invalid("no assignments: systemd must never be sent an empty notification")
	}
	total += lines - 1 // the newlines between them
	cut := 0
	if total > MaxStateLen {
		if status < 0 || total-MaxStateLen > len(as[status].value) {
			return b, 0, invalid("notification is " + itoa(total) + " bytes; systemd drops any over " + itoa(MaxStateLen))
		}
		cut = total - MaxStateLen
	}
	first := true
	for i, a := range as {
		if a.form == formSender {
			continue
		}
		if !first {
			b = append(b, '\n')
		}
		first = false
		if i == status && cut > 0 {
			v := a.value[:runeBoundary(a.value, len(a.value)-cut)]
			if proto.EscapesNewline(v) {
				v = v[:len(v)-1] // not half of a doubled backslash
			}
			b = append(b, "STATUS="...)
			b = append(b, v...)
			continue
		}
		b = a.appendTo(b)
	}
	return b, pid, nil
}

// hasSender reports whether a Sender assignment is among as: the
// notification then carries credentials, which the lock-free path does not
// send.
func hasSender(as []Assignment) bool {
	for _, a := range as {
		if a.form == formSender {
			return true
		}
	}
	return false
}

// countFiles returns the number of files the assignments carry.
func countFiles(as []Assignment) int {
	k := 0
	for _, a := range as {
		k += len(a.files)
	}
	return k
}

// appendFDs appends the descriptors of the files that the assignments
// carry to fds. It reads them with SyscallConn's Control, which, unlike
// Fd, leaves a file's blocking mode alone.
func appendFDs(fds []int32, as []Assignment) ([]int32, error) {
	for _, a := range as {
		for _, f := range a.files {
			rc, err := f.SyscallConn()
			if err != nil {
				return nil, wrap("sdnotify: "+a.key+": "+f.Name(), err)
			}
			var fd int32 = -1
			if err := rc.Control(func(u uintptr) { fd = int32(u) }); err != nil {
				return nil, wrap("sdnotify: "+a.key+": "+f.Name(), err)
			}
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// checkFiles refuses more files than one notification can carry.
func checkFiles(k int) error {
	if k > MaxFiles {
		return invalid(itoa(k) + " files in one notification; the kernel takes at most " + itoa(MaxFiles))
	}
	return nil
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
// byte, at most MaxStateLen bytes, no backslash at the end (the manager
// cannot split it).
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
	if proto.EscapesNewline(s) {
		return invalid("a backslash at the end escapes nothing; systemd drops such a notification")
	}
	return nil
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

func checkFDName(name string) error {
	if name == "" {
		return invalid("FDNAME=\"\": want 1 to 255 characters")
	}
	if p := proto.FDNameProblem(name); p != "" {
		return invalid("FDNAME=" + quote(name) + ": " + p)
	}
	if i := strings.IndexByte(name, '\\'); i >= 0 {
		return invalid("FDNAME=" + quote(name) + ": a backslash at offset " + itoa(i) + " is an escape to the manager, which would not read the name as it is")
	}
	return nil
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
