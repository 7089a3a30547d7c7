//go:build linux

package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/coreos/go-systemd/v22/daemon"
	mdsdnotify "github.com/mdlayher/sdnotify"
	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify"
)

// Benchmark names are GROUP/IMPL/VARIANT. cmd/benchtable takes the first
// raw/ benchmark of each group as its floor, and compares the sdnotify/
// ones with the coreos/ and mdlayher/ ones of the same group.

const ready = "READY=1"

// setenv points NOTIFY_SOCKET at addr until the benchmark ends.
func setenv(b *testing.B, addr string) {
	b.Helper()
	os.Setenv("NOTIFY_SOCKET", addr)
	b.Cleanup(func() { os.Unsetenv("NOTIFY_SOCKET") })
}

// newNotifier returns a Notifier made by New from NOTIFY_SOCKET=addr, with
// its socket open, closed when the benchmark ends.
func newNotifier(b *testing.B, addr string) *sdnotify.Notifier {
	b.Helper()
	os.Setenv("NOTIFY_SOCKET", addr)
	n := sdnotify.New()
	os.Unsetenv("NOTIFY_SOCKET")
	if err := n.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	return n
}

// meter starts measuring a benchmark beyond go test's own figures; its
// report method, deferred, reports
//
//   - mallocs/op: the exact mean number of allocations, where go test's
//     allocs/op is truncated to an integer (0.9 allocations per send
//     prints as 0 allocs/op);
//   - cpu-ns/op: the CPU time (user and system) that the whole test
//     process used, per operation: unlike ns/op, it does not grow while
//     other processes take the CPU, and it does include the garbage
//     collector's work. The receiver, a process of its own, is not in it.
//
// Call it after setting up:
//
//	defer meter(b).report()
func meter(b *testing.B) *meterState { return meterFor(b, nil) }

// meterFor is meter for a benchmark that sends to the receiver of regime
// r. For a busy receiver it reports rcv-waits/op as well: how many times,
// per operation, the receiver found its queue empty and had to wait for
// the sender. Near 0, the receiver set the pace and the sender kept its
// queue filled; the higher, the more the sender's waiting for room (and
// being woken) made the receiver wait in turn.
func meterFor(b *testing.B, r *regime) *meterState {
	b.ReportAllocs()
	m := &meterState{b: b}
	if r != nil && r.pace > 0 {
		m.r, m.rc = r, r.mustStats(b)
	}
	runtime.ReadMemStats(&m.mem)
	unix.Getrusage(unix.RUSAGE_SELF, &m.ru) // the last thing before the loop
	return m
}

type meterState struct {
	b   *testing.B
	mem runtime.MemStats
	ru  unix.Rusage
	r   *regime        // the busy receiver, or nil
	rc  receiverCounts // its counters before
}

func (m *meterState) report() {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	n := float64(m.b.N)
	cpu := ru.Utime.Nano() + ru.Stime.Nano() - m.ru.Utime.Nano() - m.ru.Stime.Nano()
	m.b.ReportMetric(float64(cpu)/n, "cpu-ns/op")
	m.b.ReportMetric(float64(mem.Mallocs-m.mem.Mallocs)/n, "mallocs/op")
	if m.r != nil {
		rc := m.r.mustStats(m.b)
		m.b.ReportMetric(float64(rc.waits-m.rc.waits)/n, "rcv-waits/op")
	}
}

// openMdlayher returns an mdlayher/sdnotify Notifier on addr, closed when
// the benchmark ends.
func openMdlayher(b *testing.B, addr string) *mdsdnotify.Notifier {
	b.Helper()
	n, err := mdsdnotify.Open(addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	return n
}

// BenchmarkNotify sends the constant READY=1 to a manager that keeps up
// (see keepsUp): the queue nearly always has room, and a send is one
// system call that does not wait.
func BenchmarkNotify(b *testing.B) {
	addr := receiverAddr(b)
	sa := &unix.SockaddrUnix{Name: addr}
	msg := []byte(ready)

	benchNotify(b, keepsUp)
	b.Run("raw/sendto", func(b *testing.B) {
		fd := rawSocket(b, addr, false)
		defer meter(b).report()
		var stalls int64
		for b.Loop() {
			if err := rawSendto(fd, msg, sa, &stalls); err != nil {
				b.Fatal(err)
			}
		}
		reportStalls(b, stalls)
	})
	b.Run("raw/socket-per-send", func(b *testing.B) {
		defer meter(b).report()
		var stalls int64
		for b.Loop() {
			if err := rawSocketPerSend(msg, sa, &stalls); err != nil {
				b.Fatal(err)
			}
		}
		reportStalls(b, stalls)
	})
}

// BenchmarkNotifyBusy sends the constant READY=1 to a busy manager (see
// busy), slower than every sender: the queue is nearly always full, and
// nearly every send waits for room, the library's in the runtime's poller
// (its slow path). The stalls/op of raw/connected say how many sends found
// the queue full.
func BenchmarkNotifyBusy(b *testing.B) {
	benchNotify(b, busy)
}

// benchNotify runs the benchmarks that BenchmarkNotify and
// BenchmarkNotifyBusy share, the floor first, with the receiver of r.
func benchNotify(b *testing.B, r *regime) {
	addr := r.addrOf(b)
	msg := []byte(ready)

	b.Run("raw/connected-blocking", func(b *testing.B) {
		fd := rawBlockingSocket(b, addr)
		defer meterFor(b, r).report()
		for b.Loop() {
			if err := rawBlockingWrite(fd, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw/connected", func(b *testing.B) {
		fd := rawSocket(b, addr, true)
		defer meterFor(b, r).report()
		var stalls int64
		for b.Loop() {
			if err := rawWrite(fd, msg, &stalls); err != nil {
				b.Fatal(err)
			}
		}
		reportStalls(b, stalls)
	})
	b.Run("coreos/SdNotify", func(b *testing.B) { coreosReady(b, addr, r) })
	b.Run("mdlayher/Notify", func(b *testing.B) {
		n := openMdlayher(b, addr)
		defer meterFor(b, r).report()
		for b.Loop() {
			if err := n.Notify(mdsdnotify.Ready); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdnotify/Notify", func(b *testing.B) {
		n := newNotifier(b, addr)
		defer meterFor(b, r).report()
		for b.Loop() {
			if err := n.Notify(ready); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStatus sends a formatted status, "STATUS=request N".
func BenchmarkStatus(b *testing.B) {
	addr := receiverAddr(b)

	b.Run("raw/connected", func(b *testing.B) {
		fd := rawSocket(b, addr, true)
		defer meter(b).report()
		var stalls int64
		buf := make([]byte, 0, 64)
		i := 0
		for b.Loop() {
			buf = strconv.AppendInt(append(buf[:0], "STATUS=request "...), int64(i), 10)
			if err := rawWrite(fd, buf, &stalls); err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportStalls(b, stalls)
	})
	b.Run("coreos/SdNotify", func(b *testing.B) {
		setenv(b, addr)
		defer meter(b).report()
		i := 0
		for b.Loop() {
			if ok, err := daemon.SdNotify(false, fmt.Sprintf("STATUS=request %d", i)); !ok || err != nil {
				b.Fatal(ok, err)
			}
			i++
		}
	})
	b.Run("mdlayher/Notify", func(b *testing.B) {
		n := openMdlayher(b, addr)
		defer meter(b).report()
		i := 0
		for b.Loop() {
			if err := n.Notify(mdsdnotify.Statusf("request %d", i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("sdnotify/Send-Statusf", func(b *testing.B) {
		n := newNotifier(b, addr)
		defer meter(b).report()
		i := 0
		for b.Loop() {
			if err := n.Send(sdnotify.Statusf("request %d", i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkDisabled sends with NOTIFY_SOCKET unset: what a daemon pays for
// notifying unconditionally when it runs outside systemd.
func BenchmarkDisabled(b *testing.B) {
	os.Unsetenv("NOTIFY_SOCKET")

	b.Run("coreos/SdNotify", func(b *testing.B) {
		defer meter(b).report()
		for b.Loop() {
			if ok, err := daemon.SdNotify(false, ready); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("mdlayher/Notify", func(b *testing.B) {
		n, err := mdsdnotify.New() // nil, os.ErrNotExist
		if n != nil || err == nil {
			b.Fatal("mdlayher/sdnotify.New succeeded with NOTIFY_SOCKET unset")
		}
		defer meter(b).report()
		for b.Loop() {
			if err := n.Notify(mdsdnotify.Ready); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdnotify/Notify", func(b *testing.B) {
		n := sdnotify.New()
		if n.Enabled() {
			b.Fatal("enabled with NOTIFY_SOCKET unset")
		}
		defer meter(b).report()
		for b.Loop() {
			if err := n.Notify(ready); err != nil {
				b.Fatal(err)
			}
		}
	})
	// New as well as Notify in the loop: a daemon that makes a Notifier
	// for each notification (informational; no target).
	b.Run("sdnotify/New-Notify", func(b *testing.B) {
		defer meter(b).report()
		for b.Loop() {
			if err := sdnotify.New().Notify(ready); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFDStore stores one file descriptor with the manager:
// FDSTORE=1 and FDNAME=x, with the descriptor in SCM_RIGHTS. The receiver
// closes what it receives.
func BenchmarkFDStore(b *testing.B) {
	addr := receiverAddr(b)
	f, err := os.Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()

	b.Run("raw/sendmsg-rights", func(b *testing.B) {
		fd := rawSocket(b, addr, true)
		msg := []byte("FDSTORE=1\nFDNAME=x")
		oob := unix.UnixRights(int(f.Fd()))
		defer meter(b).report()
		var stalls int64
		for b.Loop() {
			if err := rawSendmsg(fd, msg, oob, nil, &stalls); err != nil {
				b.Fatal(err)
			}
		}
		reportStalls(b, stalls)
	})
	b.Run("sdnotify/Send-FDStore", func(b *testing.B) {
		n := newNotifier(b, addr)
		defer meter(b).report()
		for b.Loop() {
			if err := n.Send(sdnotify.FDStore("x", f)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParallel sends READY=1 from GOMAXPROCS goroutines at once, all
// on one socket (one Notifier).
func BenchmarkParallel(b *testing.B) {
	addr := receiverAddr(b)
	msg := []byte(ready)

	b.Run("raw/connected", func(b *testing.B) {
		fd := rawSocket(b, addr, true)
		defer meter(b).report()
		var total parallelStalls
		b.RunParallel(func(pb *testing.PB) {
			var stalls int64
			for pb.Next() {
				if err := rawWrite(fd, msg, &stalls); err != nil {
					b.Error(err)
					return
				}
			}
			total.add(stalls)
		})
		reportStalls(b, total.n.Load())
	})
	b.Run("coreos/SdNotify", func(b *testing.B) {
		setenv(b, addr)
		defer meter(b).report()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, err := daemon.SdNotify(false, ready); !ok || err != nil {
					b.Error(ok, err)
					return
				}
			}
		})
	})
	b.Run("mdlayher/Notify", func(b *testing.B) {
		n := openMdlayher(b, addr)
		defer meter(b).report()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := n.Notify(mdsdnotify.Ready); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("sdnotify/Notify", func(b *testing.B) {
		n := newNotifier(b, addr)
		defer meter(b).report()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := n.Notify(ready); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkCold sends one notification from nothing: make the sender, send
// READY=1, close, as a short-lived program or a per-request notifier does.
func BenchmarkCold(b *testing.B) {
	addr := receiverAddr(b)
	sa := &unix.SockaddrUnix{Name: addr}
	msg := []byte(ready)

	b.Run("raw/socket-connect-write-close", func(b *testing.B) {
		defer meter(b).report()
		var stalls int64
		for b.Loop() {
			if err := rawCold(msg, sa, &stalls); err != nil {
				b.Fatal(err)
			}
		}
		reportStalls(b, stalls)
	})
	b.Run("coreos/SdNotify", func(b *testing.B) { coreosReady(b, addr, keepsUp) })
	b.Run("mdlayher/Open-Notify-Close", func(b *testing.B) {
		defer meter(b).report()
		for b.Loop() {
			n, err := mdsdnotify.Open(addr)
			if err != nil {
				b.Fatal(err)
			}
			if err := n.Notify(mdsdnotify.Ready); err != nil {
				b.Fatal(err)
			}
			if err := n.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdnotify/NewAddr-Notify-Close", func(b *testing.B) {
		defer meter(b).report()
		for b.Loop() {
			n := sdnotify.NewAddr(addr)
			if err := n.Notify(ready); err != nil {
				b.Fatal(err)
			}
			if err := n.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// coreosReady sends READY=1 with coreos/go-systemd's SdNotify, which opens
// a socket for each notification, so it is both the warm and the cold
// case.
func coreosReady(b *testing.B, addr string, r *regime) {
	setenv(b, addr)
	defer meterFor(b, r).report()
	for b.Loop() {
		if ok, err := daemon.SdNotify(false, ready); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
