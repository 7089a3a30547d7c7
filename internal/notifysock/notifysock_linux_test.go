package notifysock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/notifysock"
)

func send(t *testing.T, addr string, b []byte, fds ...int) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 1<<20)
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	if err := syscall.Sendmsg(fd, b, oob, &syscall.SockaddrUnix{Name: addr}, 0); err != nil {
		t.Fatal(err)
	}
}

func TestReceive(t *testing.T) {
	s, err := notifysock.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(s.Addr)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	send(t, s.Addr, []byte("READY=1"), int(w.Fd()))
	send(t, s.Addr, []byte(strings.Repeat("x", 70000)))
	d, err := s.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Data) != "READY=1" || d.PID != os.Getpid() || d.UID != os.Getuid() || len(d.Files) != 1 || d.Size != 0 || d.ControlTruncated {
		t.Errorf("got %+v", d)
	}
	if in := d.Input(); in.Files != 1 || string(in.Data) != "READY=1" {
		t.Errorf("Input() = %+v", in)
	}
	d.CloseFiles()
	if d, err = s.Receive(); err != nil || d.Size != 70000 || len(d.Data) != 1<<16 {
		t.Errorf("an oversized datagram: size %d, %d bytes read, %v", d.Size, len(d.Data), err)
	}
	got := make(chan error, 1)
	go func() { _, err := s.Receive(); got <- err }()
	for i := 0; ; i++ {
		s.Interrupt() // again, in case it came before Receive waited
		select {
		case err := <-got:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("after Interrupt: %v", err)
			}
		case <-time.After(10 * time.Millisecond):
			if i < 1000 {
				continue
			}
			t.Fatal("Interrupt did not wake Receive within 10s")
		}
		break
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the private directory is still there: %v", err)
	}
	if _, err := s.Receive(); err == nil {
		t.Error("Receive after Close succeeded")
	}
}

func TestListenAddresses(t *testing.T) {
	s, err := notifysock.Listen("@")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.Addr, "@") {
		t.Errorf("autobound address %q", s.Addr)
	}
	if _, err := notifysock.Listen("relative"); err == nil {
		t.Error("a relative address was bound")
	}
}
