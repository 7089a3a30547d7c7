//go:build linux

package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The receiver runs in a child process: the test binary, started again
// with receiverEnv set to the path to bind its socket at, and the regime's
// queue length and pace in qlenEnv and paceEnv.
const (
	receiverEnv = "SDNOTIFY_BENCH_RECEIVER"
	qlenEnv     = "SDNOTIFY_BENCH_RECEIVER_QLEN"
	paceEnv     = "SDNOTIFY_BENCH_RECEIVER_PACE"
)

// statsRequest makes the receiver write its counters to its stdout.
const statsRequest = "BENCH_STATS=1"

// A regime is a kind of service manager the benchmarks send to: how many
// datagrams its socket queues and how fast it takes them.
type regime struct {
	name string // for the line that describes the receiver
	// qlen is the net.unix.max_dgram_qlen that the receiver sets in its
	// own network namespace before it makes its socket.
	qlen int
	// pace, if not 0, makes the receiver slow: it takes one datagram at a
	// time and then spins until pace has passed since it took it. If 0, it
	// takes up to batch datagrams at once, as fast as it can.
	pace time.Duration
	// warmUp is how many datagrams warmUp sends: some tens of
	// milliseconds' worth.
	warmUp int

	once sync.Once
	err  error
	dir  string
	addr string // the socket's path, in NOTIFY_SOCKET syntax
	cmd  *exec.Cmd
	out  *bufio.Reader
	mu   sync.Mutex // serializes stats requests
}

// keepsUp is a manager that keeps up: systemd's queue length (PID 1 sets
// net.unix.max_dgram_qlen to 512 at boot), drained in batches by a
// receiver that only waits for datagrams, so that the senders seldom find
// the queue full. The senders' SO_SNDBUF (a few hundred small datagrams by
// default) bounds how far ahead of it they can get.
var keepsUp = &regime{name: "keeps up", qlen: 512, warmUp: 20000}

// busy is a manager that does not keep up, as PID 1 in a long
// daemon-reload: the kernel's default queue of 10 datagrams, taken one at
// a time every defaultBusyPace (BENCH_BUSY_PACE) at most, more slowly than
// the senders that keep a socket send (coreos/go-systemd, which makes one
// for each send, is slower still). The queue is full nearly always, and a
// send waits for room: the library's slow path, which waits in the
// runtime's poller.
var busy = &regime{name: "busy", qlen: 10, pace: busyPace(), warmUp: 200}

// defaultBusyPace is the busy receiver's time per datagram.
const defaultBusyPace = 5 * time.Microsecond

func busyPace() time.Duration {
	if s := os.Getenv("BENCH_BUSY_PACE"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d
		}
		fmt.Fprintf(os.Stderr, "BENCH_BUSY_PACE=%q: not a positive duration; using %v\n", s, defaultBusyPace)
	}
	return defaultBusyPace
}

var regimes = []*regime{keepsUp, busy}

// receiverAddr returns the address of the receiver that keeps up,
// starting it if need be.
func receiverAddr(tb testing.TB) string { return keepsUp.addrOf(tb) }

// busyReceiverAddr returns the address of the busy receiver, starting it
// if need be.
func busyReceiverAddr(tb testing.TB) string { return busy.addrOf(tb) }

// addrOf returns the regime's receiver's address, starting it if need be.
func (r *regime) addrOf(tb testing.TB) string {
	tb.Helper()
	r.once.Do(func() {
		if r.err = r.start(); r.err == nil {
			r.err = r.warm()
		}
	})
	if r.err != nil {
		tb.Fatalf("starting the receiver (%s): %v", r.name, r.err)
	}
	return r.addr
}

func (r *regime) start() error {
	dir, err := os.MkdirTemp("", "sdnotify-bench-")
	if err != nil {
		return err
	}
	r.dir = dir
	path := filepath.Join(dir, "notify")
	// In a network namespace of its own, the receiver can set
	// max_dgram_qlen for its socket alone. Where that is not allowed (not
	// root), it runs in ours with the queue length it finds.
	// BENCH_RECEIVER_NETNS=0 keeps it in ours, for comparison.
	err = errors.New("private network namespace not wanted")
	if os.Getenv("BENCH_RECEIVER_NETNS") != "0" {
		err = r.startChild(path, true)
	}
	if err != nil {
		os.Remove(path)
		err = r.startChild(path, false)
	}
	return err
}

// startChild starts the receiver process, in a new network namespace if
// newNetns, and waits until its socket is bound at path.
func (r *regime) startChild(path string, newNetns bool) error {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		receiverEnv+"="+path,
		qlenEnv+"="+strconv.Itoa(r.qlen),
		paceEnv+"="+r.pace.String())
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if newNetns {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := startOnThread(cmd); err != nil {
		return err
	}
	br := bufio.NewReader(out)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("receiver did not start (%q, %v)", line, err)
	}
	// One line on stderr, beside the results: the regime, how deep the
	// queue is and how the receiver reads it.
	fmt.Fprintf(os.Stderr, "receiver (%s): %s", r.name, strings.TrimPrefix(line, "ready "))
	r.cmd = cmd
	r.out = br
	r.addr = path
	return nil
}

// startOnThread starts cmd from an OS thread kept for as long as the
// process runs. The kernel sends a child its Pdeathsig when the thread
// that forked it ends, not the process; the Go runtime ends a thread when
// a goroutine locked to it returns, as the journal benchmarks' goroutines
// do (see atJournalSocket), and any goroutine may have run on the thread
// that forked the receiver before.
func startOnThread(cmd *exec.Cmd) error {
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // for good: this thread never ends
		errc <- cmd.Start()
		select {}
	}()
	return <-errc
}

// warm sends r.warmUp datagrams to the receiver and waits until it has
// taken them, so that the first benchmark does not pay for the receiver's
// first page faults and the CPUs waking up.
func (r *regime) warm() error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: r.addr}); err != nil {
		return os.NewSyscallError("connect", err)
	}
	msg := []byte("WARMUP=1")
	for range r.warmUp {
		if _, err := unix.Write(fd, msg); err != nil {
			return os.NewSyscallError("write", err)
		}
	}
	_, err = r.stats()
	return err
}

// stopReceivers kills the receivers and removes their sockets.
func stopReceivers() {
	for _, r := range regimes {
		if r.cmd != nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
		if r.dir != "" {
			os.RemoveAll(r.dir)
		}
	}
}

// receiverStats returns how many datagrams and file descriptors the
// receiver that keeps up has taken so far (the stats requests not
// counted). Every datagram sent before the call is counted: the request
// queues behind them.
func receiverStats(tb testing.TB) (msgs, fds uint64) { return keepsUp.statsOf(tb) }

func (r *regime) statsOf(tb testing.TB) (msgs, fds uint64) {
	tb.Helper()
	st := r.mustStats(tb)
	return st.msgs, st.fds
}

// receiverCounts are a receiver's counters: the datagrams it took (stats
// requests not counted), the file descriptors that came with them, and,
// for a busy receiver, the times it found the queue empty.
type receiverCounts struct{ msgs, fds, waits uint64 }

func (r *regime) mustStats(tb testing.TB) receiverCounts {
	tb.Helper()
	r.addrOf(tb)
	st, err := r.stats()
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func (r *regime) stats() (st receiverCounts, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A blocking socket: with a busy receiver, the request waits for room
	// in the queue like any datagram.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return st, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, []byte(statsRequest), 0, &unix.SockaddrUnix{Name: r.addr}); err != nil {
		return st, os.NewSyscallError("sendto", err)
	}
	line, err := r.out.ReadString('\n')
	if err != nil {
		return st, fmt.Errorf("reading the receiver's stats: %v", err)
	}
	if _, err := fmt.Sscanf(line, "msgs=%d fds=%d waits=%d", &st.msgs, &st.fds, &st.waits); err != nil {
		return st, fmt.Errorf("receiver stats %q: %v", line, err)
	}
	return st, nil
}

// runReceiver is the child's main: it binds the socket at the path given
// in receiverEnv and drains it until killed, in batches or, with a pace,
// one datagram at a time.
func runReceiver(path string) {
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "receiver: %v\n", err)
		os.Exit(1)
	}
	duration := func(env string) time.Duration {
		s := os.Getenv(env)
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			fail(fmt.Errorf("%s=%q: %v", env, s, err))
		}
		return d
	}
	spin, pace := duration("BENCH_RECEIVER_SPIN"), duration(paceEnv)
	wantQlen, err := strconv.Atoi(os.Getenv(qlenEnv))
	if err != nil {
		fail(fmt.Errorf("%s: %v", qlenEnv, err))
	}
	// Setting the queue length affects only this network namespace: the
	// parent starts us in a new one when it may. In the parent's own, we
	// leave the setting alone. The kernel reads it when the socket is made.
	const qlenFile = "/proc/sys/net/unix/max_dgram_qlen"
	where := "the parent's network namespace"
	if private, _ := privateNetns(); private {
		where = "a private network namespace"
		if err := os.WriteFile(qlenFile, []byte(strconv.Itoa(wantQlen)), 0); err != nil {
			fail(err)
		}
	}
	qlen, err := os.ReadFile(qlenFile)
	if err != nil {
		fail(err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fail(os.NewSyscallError("socket", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		fail(os.NewSyscallError("bind", err))
	}
	// A large receive buffer, so that bytes never limit the queue. Root may
	// exceed net.core.rmem_max with SO_RCVBUFFORCE.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 64<<20)
	}
	// BENCH_RECEIVER_CPU=N pins the receiving thread to CPU N.
	if c := os.Getenv("BENCH_RECEIVER_CPU"); c != "" {
		cpu, err := strconv.Atoi(c)
		if err != nil {
			fail(fmt.Errorf("BENCH_RECEIVER_CPU=%q: %v", c, err))
		}
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			fail(os.NewSyscallError("sched_setaffinity", err))
		}
	}
	mode := "blocking recvmmsg of up to " + strconv.Itoa(batch)
	vlen := batch
	switch {
	case pace > 0:
		vlen, spin = 1, 0
		mode = "one datagram at a time, one every " + pace.String()
	case spin > 0:
		mode = "polling recvmmsg of up to " + strconv.Itoa(batch) + ", blocking after " + spin.String() + " idle"
	}
	fmt.Printf("ready in %s, net.unix.max_dgram_qlen=%s, %s\n", where, strings.TrimSpace(string(qlen)), mode)
	if err := drain(fd, vlen, spin, pace); err != nil {
		fail(err)
	}
}

// privateNetns reports whether this process has a network namespace other
// than its parent's.
func privateNetns() (bool, error) {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return false, err
	}
	parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", os.Getppid()))
	if err != nil {
		return false, err
	}
	return self != parent, nil
}

const (
	batch    = 64         // datagrams per recvmmsg
	msgSize  = 4096 + 64  // more than MaxStateLen, to see what is sent whole
	oobSize  = 64 * 4 * 2 // room for a few SCM_RIGHTS fds and credentials
	spinPoll = 1024       // nonblocking polls between clock reads
	cmsgHdr  = unix.SizeofCmsghdr
	stdoutFD = 1
)

// drain reads datagrams from fd, up to vlen at a time, and throws them
// away. It polls without blocking while datagrams keep coming and blocks
// once it has been idle for spin. If pace is not 0, it takes at most one
// datagram (vlen 1) each pace: after each read it spins until pace has
// passed since the read returned, so that a sender waiting for room waits
// that long, and not for the receiver to wake up; and it counts the times
// it found the queue empty and had to wait for a datagram (waits).
func drain(fd, vlen int, spin, pace time.Duration) error {
	st := new(struct {
		hdrs [batch]unix.Mmsghdr
		iovs [batch]unix.Iovec
		bufs [batch][msgSize]byte
		oobs [batch][oobSize]byte
	})
	hdrs, iovs, bufs, oobs := &st.hdrs, &st.iovs, &st.bufs, &st.oobs
	for i := range hdrs {
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(msgSize)
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
		hdrs[i].Hdr.Control = &oobs[i][0]
	}
	var msgs, fds, waits uint64
	empty := false
	idleSince := time.Time{}
	polls := 0
	for {
		for i := range vlen {
			hdrs[i].Hdr.SetControllen(oobSize)
			hdrs[i].Hdr.Flags = 0
		}
		flags := unix.MSG_CMSG_CLOEXEC | unix.MSG_DONTWAIT
		switch {
		case pace > 0:
			// Look without blocking first, to count the times the
			// senders let the queue run dry.
			if empty {
				flags = unix.MSG_CMSG_CLOEXEC | unix.MSG_WAITFORONE
			}
		case spin == 0 || (!idleSince.IsZero() && polls%spinPoll == 0 && time.Since(idleSince) > spin):
			flags = unix.MSG_CMSG_CLOEXEC | unix.MSG_WAITFORONE
		}
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(vlen), uintptr(flags), 0, 0)
		if errno == unix.EAGAIN && pace > 0 {
			waits++
			empty = true
			continue
		}
		empty = false
		if errno != 0 {
			switch errno {
			case unix.EAGAIN:
				if idleSince.IsZero() {
					idleSince = time.Now()
					polls = 0
				}
				polls++
				continue
			case unix.EINTR:
				continue
			}
			return os.NewSyscallError("recvmmsg", errno)
		}
		idleSince = time.Time{}
		var took time.Time
		if pace > 0 {
			took = time.Now()
		}
		for i := 0; i < int(n); i++ {
			h := &hdrs[i]
			fds += closeRights(oobs[i][:h.Hdr.Controllen])
			if int(h.Len) == len(statsRequest) && string(bufs[i][:h.Len]) == statsRequest {
				line := "msgs=" + strconv.FormatUint(msgs, 10) + " fds=" + strconv.FormatUint(fds, 10) +
					" waits=" + strconv.FormatUint(waits, 10) + "\n"
				if _, err := unix.Write(stdoutFD, []byte(line)); err != nil {
					return err
				}
				continue
			}
			msgs++
		}
		// Spin rather than sleep: a sleep takes tens of microseconds
		// longer than asked for, and a CPU that idles wakes up slowly.
		for pace > 0 && time.Since(took) < pace {
		}
	}
}

// closeRights closes the file descriptors passed in the control messages
// oob and returns how many there were.
func closeRights(oob []byte) uint64 {
	var n uint64
	for len(oob) >= cmsgHdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < cmsgHdr || int(h.Len) > len(oob) {
			break
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_RIGHTS {
			data := oob[unix.CmsgLen(0):h.Len]
			for len(data) >= 4 {
				unix.Close(int(*(*int32)(unsafe.Pointer(&data[0]))))
				data = data[4:]
				n++
			}
		}
		next := unix.CmsgSpace(int(h.Len) - unix.CmsgLen(0))
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	return n
}
