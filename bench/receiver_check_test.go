//go:build linux

package bench

import (
	"os"
	"testing"

	"github.com/coreos/go-systemd/v22/daemon"
	mdsdnotify "github.com/mdlayher/sdnotify"
	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify"
)

// TestDelivery checks the harness: every way of sending that the
// benchmarks time reaches the receiver, once, and the receiver takes (and
// closes) the descriptors sent with FDSTORE.
func TestDelivery(t *testing.T) {
	addr := receiverAddr(t)
	sa := &unix.SockaddrUnix{Name: addr}
	msg := []byte(ready)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stalls int64

	senders := []struct {
		name string
		fds  uint64
		send func(t *testing.T) error
	}{
		{"raw/connected", 0, func(t *testing.T) error { return rawWrite(rawSocket(t, addr, true), msg, &stalls) }},
		{"raw/sendto", 0, func(t *testing.T) error { return rawSendto(rawSocket(t, addr, false), msg, sa, &stalls) }},
		{"raw/socket-per-send", 0, func(t *testing.T) error { return rawSocketPerSend(msg, sa, &stalls) }},
		{"raw/socket-connect-write-close", 0, func(t *testing.T) error { return rawCold(msg, sa, &stalls) }},
		{"raw/sendmsg-rights", 1, func(t *testing.T) error {
			return rawSendmsg(rawSocket(t, addr, true), msg, unix.UnixRights(int(f.Fd())), nil, &stalls)
		}},
		{"coreos/SdNotify", 0, func(t *testing.T) error {
			t.Setenv("NOTIFY_SOCKET", addr)
			_, err := daemon.SdNotify(false, ready)
			return err
		}},
		{"mdlayher/Notify", 0, func(t *testing.T) error {
			n, err := mdsdnotify.Open(addr)
			if err != nil {
				return err
			}
			defer n.Close()
			return n.Notify(mdsdnotify.Ready)
		}},
		{"sdnotify/Notify", 0, func(t *testing.T) error {
			return sendOnce(addr, func(n *sdnotify.Notifier) error { return n.Notify(ready) })
		}},
		{"sdnotify/Statusf", 0, func(t *testing.T) error {
			return sendOnce(addr, func(n *sdnotify.Notifier) error { return n.Statusf("request %d", 1) })
		}},
		{"sdnotify/StoreFiles", 1, func(t *testing.T) error {
			return sendOnce(addr, func(n *sdnotify.Notifier) error { return n.StoreFiles("x", f) })
		}},
	}
	for _, s := range senders {
		t.Run(s.name, func(t *testing.T) {
			msgs0, fds0 := receiverStats(t)
			if err := s.send(t); err != nil {
				t.Fatal(err)
			}
			msgs1, fds1 := receiverStats(t)
			if msgs1-msgs0 != 1 || fds1-fds0 != s.fds {
				t.Errorf("receiver took %d datagrams and %d fds, want 1 and %d", msgs1-msgs0, fds1-fds0, s.fds)
			}
		})
	}
}

// sendOnce sends with a new Notifier for addr and closes it.
func sendOnce(addr string, send func(*sdnotify.Notifier) error) error {
	n := sdnotify.NewAddr(addr)
	defer n.Close()
	return send(n)
}
