//go:build linux

package bench

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	mdsdnotify "github.com/mdlayher/sdnotify"
	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify"
)

// TestDelivery checks the harness: every way of sending that the
// benchmarks time reaches each receiver, once, and the receiver takes (and
// closes) the descriptors sent with FDSTORE.
func TestDelivery(t *testing.T) {
	for _, r := range regimes {
		t.Run(strings.ReplaceAll(r.name, " ", "-"), func(t *testing.T) { testDelivery(t, r) })
	}
}

func testDelivery(t *testing.T, r *regime) {
	addr := r.addrOf(t)
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
		{"raw/connected-blocking", 0, func(t *testing.T) error { return rawBlockingWrite(rawBlockingSocket(t, addr), msg) }},
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
		{"sdnotify/Send-Statusf", 0, func(t *testing.T) error {
			return sendOnce(addr, func(n *sdnotify.Notifier) error { return n.Send(sdnotify.Statusf("request %d", 1)) })
		}},
		{"sdnotify/Send-FDStore", 1, func(t *testing.T) error {
			return sendOnce(addr, func(n *sdnotify.Notifier) error { return n.Send(sdnotify.FDStore("x", f)) })
		}},
	}
	for _, s := range senders {
		t.Run(s.name, func(t *testing.T) {
			msgs0, fds0 := r.statsOf(t)
			if err := s.send(t); err != nil {
				t.Fatal(err)
			}
			msgs1, fds1 := r.statsOf(t)
			if msgs1-msgs0 != 1 || fds1-fds0 != s.fds {
				t.Errorf("receiver took %d datagrams and %d fds, want 1 and %d", msgs1-msgs0, fds1-fds0, s.fds)
			}
		})
	}
}

// TestBusy checks that the busy receiver is what BenchmarkNotifyBusy needs:
// slower than a sender, so that sends find its queue full and wait, and
// that the library's sends, waiting in the poller, all arrive.
func TestBusy(t *testing.T) {
	addr := busyReceiverAddr(t)
	const sends = 1000
	msg := []byte(ready)

	fd := rawSocket(t, addr, true)
	var stalls int64
	start := time.Now()
	for range sends {
		if err := rawWrite(fd, msg, &stalls); err != nil {
			t.Fatal(err)
		}
	}
	busy.statsOf(t) // wait until it has taken them all
	elapsed := time.Since(start)
	t.Logf("raw: %d sends in %v (%v each), %d found the queue full", sends, elapsed, elapsed/sends, stalls)
	// A sender woken by room in the queue may find room for more than one
	// datagram by the time it runs, so not every send stalls.
	if stalls < sends/10 {
		t.Errorf("only %d of %d sends found the queue full", stalls, sends)
	}
	if elapsed < sends*busy.pace*9/10 {
		t.Errorf("%d sends took %v, less than the receiver's pace (%v each) allows", sends, elapsed, busy.pace)
	}

	msgs0, _ := busy.statsOf(t)
	n := sdnotify.NewAddr(addr)
	defer n.Close()
	for range sends {
		if err := n.Notify(ready); err != nil {
			t.Fatal(err)
		}
	}
	if msgs1, _ := busy.statsOf(t); msgs1-msgs0 != sends {
		t.Errorf("the receiver took %d datagrams from sdnotify, want %d", msgs1-msgs0, sends)
	}
}

// sendOnce sends with a new Notifier for addr and closes it.
func sendOnce(addr string, send func(*sdnotify.Notifier) error) error {
	n := sdnotify.NewAddr(addr)
	defer n.Close()
	return send(n)
}
