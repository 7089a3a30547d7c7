package journal

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// sndbuf is the send buffer a Conn asks for, as libsystemd does.
const sndbuf = 8 << 20

// memfdCreate is unix.MemfdCreate; tests replace it to reach the /dev/shm
// fallback.
var memfdCreate = unix.MemfdCreate

func (c *Conn) send(b []byte) error {
	c.mu.RLock()
	fd := c.fd
	var err error
	if fd >= 0 {
		err = write(fd, b, c.timeout)
	}
	c.mu.RUnlock()
	if fd >= 0 && !gone(err) {
		return c.wrap(err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.fd == fd { // nobody reconnected in the meantime
		if c.fd >= 0 {
			closeFD(c.fd)
			c.fd = -1
		}
		if c.fd, err = c.open(); err != nil {
			return c.wrap(err)
		}
	}
	return c.wrap(write(c.fd, b, c.timeout))
}

func (c *Conn) openNow() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.fd >= 0 {
		return nil
	}
	var err error
	c.fd, err = c.open()
	return c.wrap(err)
}

// gone reports whether err means journald's socket went away or was never
// there, so that a new socket may find a new journald.
func gone(err error) bool {
	return err == unix.ECONNREFUSED || err == unix.ENOTCONN || err == unix.ENOENT
}

func (c *Conn) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case err == unix.EAGAIN:
		return fmt.Errorf("journal: send to %s: %w: %w (no room in journald's queue within %v)", strconv.Quote(c.path), os.ErrDeadlineExceeded, err, c.timeout)
	case err == unix.ENOENT:
		return fmt.Errorf("journal: send to %s: %w (is systemd-journald running?)", strconv.Quote(c.path), err)
	}
	return fmt.Errorf("journal: send to %s: %w", strconv.Quote(c.path), err)
}

// open must be called with c.mu held.
func (c *Conn) open() (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndbuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf) // capped at net.core.wmem_max
	}
	setTimeout(fd, c.timeout)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: c.path}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func setTimeout(fd int, d time.Duration) {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
}

func closeFD(fd int) error { return unix.Close(fd) }

// write sends b as one datagram, or in a file when it is too big for one.
// A send blocked under SO_SNDTIMEO fails with EINTR when a signal arrives
// (the Go runtime sends them to preempt), and each retry starts the
// socket's timeout anew: once timeout has passed in all, write gives up
// with EAGAIN, as the timeout would have.
func write(fd int, b []byte, timeout time.Duration) error {
	var start time.Time
	for {
		_, err := unix.Write(fd, b)
		switch err {
		case unix.EINTR:
			if timeout > 0 {
				if start.IsZero() {
					start = time.Now()
				} else if time.Since(start) >= timeout {
					return unix.EAGAIN
				}
			}
			continue
		case unix.EMSGSIZE, unix.ENOBUFS:
			return writeFile(fd, b)
		}
		return err
	}
}

// writeFile sends b in a sealed memfd, or where there is no memfd_create,
// in an unlinked file in /dev/shm: the datagram is empty and carries the
// file's descriptor, which journald reads the entry from.
func writeFile(fd int, b []byte) error {
	f, err := sealedMemfd(b)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		f, err = shmFile(b)
	}
	if err != nil {
		return fmt.Errorf("an entry of %d bytes, too big for a datagram: %w", len(b), err)
	}
	defer unix.Close(f)
	for {
		err = unix.Sendmsg(fd, nil, unix.UnixRights(f), nil, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

func sealedMemfd(b []byte) (int, error) {
	f, err := memfdCreate("journal-entry", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, err
	}
	if err := writeAll(f, b); err != nil {
		unix.Close(f)
		return -1, err
	}
	const seals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(f), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(f)
		return -1, err
	}
	return f, nil
}

func shmFile(b []byte) (int, error) {
	f, err := os.CreateTemp("/dev/shm", "journal-entry-")
	if err != nil {
		return -1, err
	}
	defer f.Close()
	os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		return -1, err
	}
	return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
