//go:build linux

package bench

import (
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Most raw benchmarks use non-blocking sockets, as the library does, so
// that a full receive queue shows up as EAGAIN: they count it (stalls),
// wait in poll(2) and write again. The floor of the Notify groups is a
// blocking socket and a plain write(2), which the kernel puts to sleep
// until there is room: the least a send can cost, whether or not it waits.

// rawSocket opens a non-blocking, close-on-exec datagram socket, connected
// to addr if connect is set.
func rawSocket(tb testing.TB, addr string, connect bool) int {
	tb.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(os.NewSyscallError("socket", err))
	}
	if connect {
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
			unix.Close(fd)
			tb.Fatal(os.NewSyscallError("connect", err))
		}
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return fd
}

// rawBlockingSocket opens a blocking, close-on-exec datagram socket
// connected to addr.
func rawBlockingSocket(tb testing.TB, addr string) int {
	tb.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(os.NewSyscallError("socket", err))
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		tb.Fatal(os.NewSyscallError("connect", err))
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return fd
}

// rawBlockingWrite writes p to the blocking, connected socket fd: one
// write(2), which sleeps in the kernel while the receiver's queue is full.
func rawBlockingWrite(fd int, p []byte) error {
	for {
		_, err := unix.Write(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		return nil
	}
}

// waitWritable waits until fd can take a datagram.
func waitWritable(fd int) {
	pfd := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		if _, err := unix.Poll(pfd[:], -1); err != unix.EINTR {
			return
		}
	}
}

// rawWrite writes p to the connected socket fd: one write(2).
func rawWrite(fd int, p []byte, stalls *int64) error {
	for {
		_, err := unix.Write(fd, p)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			*stalls++
			waitWritable(fd)
			continue
		}
		return os.NewSyscallError("write", err)
	}
}

// rawSendto sends p to sa on the unconnected socket fd: one sendto(2).
func rawSendto(fd int, p []byte, sa unix.Sockaddr, stalls *int64) error {
	for {
		err := unix.Sendto(fd, p, unix.MSG_NOSIGNAL, sa)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			*stalls++
			waitWritable(fd)
			continue
		}
		return os.NewSyscallError("sendto", err)
	}
}

// rawSendmsg sends p with the ancillary data oob (to sa, if not nil): one
// sendmsg(2).
func rawSendmsg(fd int, p, oob []byte, sa unix.Sockaddr, stalls *int64) error {
	for {
		_, err := unix.SendmsgN(fd, p, oob, sa, unix.MSG_NOSIGNAL)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			*stalls++
			waitWritable(fd)
			continue
		}
		return os.NewSyscallError("sendmsg", err)
	}
}

// rawSocketPerSend is libsystemd's sd_notify: a new socket for each
// notification, sendmsg(2) with the address, close.
func rawSocketPerSend(p []byte, sa unix.Sockaddr, stalls *int64) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	err = rawSendmsg(fd, p, nil, sa, stalls)
	unix.Close(fd)
	return err
}

// rawCold opens a socket, connects it, writes p once and closes it: the
// raw counterpart of a Notifier that sends once.
func rawCold(p []byte, sa unix.Sockaddr, stalls *int64) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return os.NewSyscallError("connect", err)
	}
	return rawWrite(fd, p, stalls)
}

// reportStalls reports how often a raw send found the receiver's queue
// full, per operation. Anything but 0 means the receiver, not the sender,
// set the pace for a while.
func reportStalls(b *testing.B, stalls int64) {
	b.ReportMetric(float64(stalls)/float64(b.N), "stalls/op")
}

// parallelStalls adds up the stalls of RunParallel's goroutines.
type parallelStalls struct{ n atomic.Int64 }

func (s *parallelStalls) add(n int64) { s.n.Add(n) }
