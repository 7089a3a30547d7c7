package sdnotify

import (
	"strings"
	"unicode/utf8"
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
			b = append(b, "STATUS="...)
			b = append(b, a.value[:runeBoundary(a.value, len(a.value)-cut)]...)
			continue
		}
		b = a.appendTo(b)
	}
	return b, pid, nil
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
