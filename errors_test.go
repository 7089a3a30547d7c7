//go:build linux

package sdnotify_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gosdnotify/sdnotify"
)

// TestErrorsNameTheirSource checks that every error names the address,
// quoted, and where it came from, and explains the common errnos.
func TestErrorsNameTheirSource(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "stale")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: stale}); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd) // the file stays; nobody listens
	stream := filepath.Join(dir, "stream")
	sfd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(sfd)
	if err := syscall.Bind(sfd, &syscall.SockaddrUnix{Name: stream}); err != nil {
		t.Fatal(err)
	}
	syscall.Listen(sfd, 1)

	tests := []struct {
		name, addr string
		errno      syscall.Errno
		hint       string
	}{
		{"directory", dir, syscall.ECONNREFUSED, "this is a directory, not a socket"},
		{"regular file", regular, syscall.ECONNREFUSED, "this is a regular file, not a socket"},
		{"stale socket", stale, syscall.ECONNREFUSED, "nothing is listening on this socket"},
		{"stream socket", stream, syscall.EPROTOTYPE, "not a datagram socket"},
		{"missing", filepath.Join(dir, "missing"), syscall.ENOENT, "no socket at this path"},
		{"trailing newline", stream + "\n", syscall.ENOENT, "white space around it, and there is a socket at " + quote(stream)},
		{"trailing space", dir + "/missing ", syscall.ENOENT, "white space around it: was the variable set with a stray newline"},
		{"abstract", "@sdnotify-test-nobody-" + strings.Repeat("x", 8), syscall.ECONNREFUSED, "nothing is listening on this address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.addr)
			for source, n := range map[string]*sdnotify.Notifier{
				"NOTIFY_SOCKET=": sdnotify.New(),
				"NewAddr(":       sdnotify.NewAddr(tt.addr),
			} {
				err := n.Notify("READY=1")
				n.Close()
				if !errors.Is(err, tt.errno) {
					t.Fatalf("%s: error %v; want %v", source, err, tt.errno)
				}
				msg := err.Error()
				if want := source + quote(tt.addr); !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %s", msg, want)
				}
				if !strings.Contains(msg, tt.hint) {
					t.Errorf("error %q does not explain %q", msg, tt.hint)
				}
				if strings.ContainsAny(msg, "\n\r") || strings.Count(msg, "sdnotify:") != 1 {
					t.Errorf("error %q: want one line with one sdnotify: prefix", msg)
				}
			}
		})
	}
}

func TestAddressErrorNamesItsSource(t *testing.T) {
	var ae *sdnotify.AddressError
	err := sdnotify.NewAddr("run/notify").Notify("READY=1")
	if !errors.As(err, &ae) || ae.Source != "NewAddr" || !strings.HasPrefix(err.Error(), `sdnotify: NewAddr("run/notify"): `) {
		t.Errorf("NewAddr(relative): %v (%#v)", err, ae)
	}
	t.Setenv("NOTIFY_SOCKET", "run/notify")
	err = sdnotify.New().Notify("READY=1")
	if !errors.As(err, &ae) || ae.Source != "NOTIFY_SOCKET" || !strings.HasPrefix(err.Error(), `sdnotify: NOTIFY_SOCKET="run/notify": `) {
		t.Errorf("NOTIFY_SOCKET=relative: %v (%#v)", err, ae)
	}
	long := "/" + strings.Repeat("x", 200)
	if err := sdnotify.NewAddr(long).Notify("READY=1"); !errors.Is(err, syscall.ENAMETOOLONG) || !strings.Contains(err.Error(), "at most 107") {
		t.Errorf("a path too long: %v", err)
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"` }

// TestNilContext: a nil context is refused with an error, never a panic.
func TestNilContext(t *testing.T) {
	_, n := pair(t)
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", "")
	os.Unsetenv("WATCHDOG_PID")
	//lint:ignore SA1012 the nil context is what is tested
	if err := n.SendContext(nil, sdnotify.Ready()); !errors.Is(err, sdnotify.ErrInvalid) {
		t.Errorf("SendContext(nil) = %v; want ErrInvalid", err)
	}
	//lint:ignore SA1012 the nil context is what is tested
	if err := n.Barrier(nil); !errors.Is(err, sdnotify.ErrInvalid) {
		t.Errorf("Barrier(nil) = %v; want ErrInvalid", err)
	}
	w := sdnotify.NewAddr(n.Addr())
	defer w.Close()
	//lint:ignore SA1012 the nil context is what is tested
	if err := w.KeepAlive(nil, nil); !errors.Is(err, sdnotify.ErrInvalid) {
		t.Errorf("KeepAlive(nil) = %v; want ErrInvalid", err)
	}
}
