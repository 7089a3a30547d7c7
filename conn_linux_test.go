package sdnotify

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The vsock tests may not connect anywhere: without a loopback transport,
// vsock traffic goes to the hypervisor. They check the socket setup here,
// and the whole exchange where a loopback listener can be bound.

func vsockAvailable(t *testing.T) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no AF_VSOCK sockets here: %v", err)
	}
	unix.Close(fd)
}

func TestVsockTypeAuto(t *testing.T) {
	vsockAvailable(t)
	got, err := vsockType(typeAuto)
	if err != nil {
		t.Fatal(err)
	}
	// The first of datagram, seqpacket, stream that this kernel can open.
	var want int
	for _, sotype := range []int{unix.SOCK_DGRAM, unix.SOCK_SEQPACKET, unix.SOCK_STREAM} {
		if fd, err := unix.Socket(unix.AF_VSOCK, sotype, 0); err == nil {
			unix.Close(fd)
			want = sotype
			break
		}
	}
	if got != want {
		t.Fatalf("vsockType(auto) = %d; want %d", got, want)
	}
	for typ, want := range map[sockType]int{typeDgram: unix.SOCK_DGRAM, typeSeqpacket: unix.SOCK_SEQPACKET, typeStream: unix.SOCK_STREAM} {
		if got, err := vsockType(typ); got != want || err != nil {
			t.Errorf("vsockType(%d) = %d, %v; want %d", typ, got, err, want)
		}
	}
}

func TestVsockDialSetup(t *testing.T) {
	vsockAvailable(t)
	for _, s := range []string{"vsock-stream:3:1234", "vsock-seqpacket:3:1234"} {
		a, err := parseAddress(s, "NewAddr")
		if err != nil {
			t.Fatal(err)
		}
		tr, err := dial(&a)
		if err != nil {
			t.Fatalf("dial(%s): %v", s, err)
		}
		// Connection-per-message kinds open nothing until a send.
		c, ok := tr.(*streamConn)
		if !ok || c.family != unix.AF_VSOCK {
			t.Fatalf("dial(%s) = %#v; want a vsock streamConn", s, tr)
		}
		sa, ok := c.sa.(*unix.SockaddrVM)
		if !ok || sa.CID != 3 || sa.Port != 1234 {
			t.Errorf("dial(%s) address %#v", s, c.sa)
		}
	}
	// The socket a send would open: non-blocking, close-on-exec, bound to a
	// privileged port when we may.
	f, err := newSocket(unix.AF_VSOCK, unix.SOCK_STREAM, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fd int
	rc, _ := f.SyscallConn()
	rc.Control(func(u uintptr) { fd = int(u) })
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("FD_CLOEXEC not set (flags %#x, %v)", flags, err)
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("O_NONBLOCK not set (flags %#x, %v)", fl, err)
	}
	if os.Geteuid() == 0 {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		if vm, ok := sa.(*unix.SockaddrVM); !ok || vm.Port >= 1024 {
			t.Errorf("bound to %#v; want a privileged port (as root)", sa)
		}
	}
}

// TestVsockLoopback runs the whole exchange over vsock where this kernel
// has a loopback transport (CONFIG_VSOCKETS_LOOPBACK).
func TestVsockLoopback(t *testing.T) {
	vsockAvailable(t)
	for _, sotype := range []int{unix.SOCK_STREAM, unix.SOCK_SEQPACKET} {
		lfd, err := unix.Socket(unix.AF_VSOCK, sotype|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Skipf("vsock socket type %d: %v", sotype, err)
		}
		defer unix.Close(lfd)
		if err := unix.Bind(lfd, &unix.SockaddrVM{CID: unix.VMADDR_CID_LOCAL, Port: unix.VMADDR_PORT_ANY}); err != nil {
			t.Skipf("no vsock loopback here (binding CID 1: %v)", err)
		}
		if err := unix.Listen(lfd, 1); err != nil {
			t.Fatal(err)
		}
		sa, _ := unix.Getsockname(lfd)
		port := sa.(*unix.SockaddrVM).Port
		prefix := map[int]string{unix.SOCK_STREAM: "vsock-stream:", unix.SOCK_SEQPACKET: "vsock-seqpacket:"}[sotype]
		got := make(chan string, 1)
		go func() {
			nfd, _, err := unix.Accept(lfd)
			if err != nil {
				got <- err.Error()
				return
			}
			f := os.NewFile(uintptr(nfd), "accepted")
			b, _ := io.ReadAll(f)
			f.Close()
			got <- string(b)
		}()
		n := NewAddr(prefix + "1:" + itoa(int(port)))
		if err := n.Notify("READY=1\nSTATUS=vsock"); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != "READY=1\nSTATUS=vsock" {
			t.Fatalf("%s received %q", prefix, s)
		}
		n.Close()
	}
}

// TestConnectionPerMessage drives the vsock stream and seqpacket exchange
// (connect, write, shut down, wait for the receiver to close) over AF_UNIX
// sockets of the same types, which this machine has.
func TestConnectionPerMessage(t *testing.T) {
	for _, sotype := range []int{unix.SOCK_STREAM, unix.SOCK_SEQPACKET} {
		dir, err := os.MkdirTemp("", "sdn")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "s")
		lfd, err := unix.Socket(unix.AF_UNIX, sotype|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(lfd)
		if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: path}); err != nil {
			t.Fatal(err)
		}
		unix.Listen(lfd, 4)
		got := make(chan string, 2)
		go func() {
			for i := 0; i < 2; i++ {
				nfd, _, err := unix.Accept(lfd)
				if err != nil {
					got <- err.Error()
					return
				}
				f := os.NewFile(uintptr(nfd), "accepted")
				b, _ := io.ReadAll(f) // to the sender's shutdown
				f.Close()             // which releases the sender
				got <- string(b)
			}
		}()
		c := &streamConn{family: unix.AF_UNIX, sotype: sotype, sa: &unix.SockaddrUnix{Name: path}}
		for _, msg := range []string{"READY=1", "STATUS=second connection"} {
			if err := c.send(context.Background(), &waiter{}, []byte(msg), nil, 0); err != nil {
				t.Fatalf("type %d: send: %v", sotype, err)
			}
			if s := <-got; s != msg {
				t.Fatalf("type %d: received %q, want %q", sotype, s, msg)
			}
		}
	}
}

// TestConnectionPerMessageBounded checks that a receiver that accepts but
// never closes cannot hold the sender past its context.
func TestConnectionPerMessageBounded(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "s")
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(lfd, 4) // never accepted: the kernel completes the connection anyway
	c := &streamConn{family: unix.AF_UNIX, sotype: unix.SOCK_STREAM, sa: &unix.SockaddrUnix{Name: path}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.send(ctx, &waiter{}, []byte("READY=1"), nil, 0)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("send to a receiver that never closes = %v; want a deadline error", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("returned after %v", elapsed)
	}
}
