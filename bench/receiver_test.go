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
// with receiverEnv set to the path to bind its socket at.
const receiverEnv = "SDNOTIFY_BENCH_RECEIVER"

// statsRequest makes the receiver write its counters to its stdout.
const statsRequest = "BENCH_STATS=1"

// receiver is the running receiver, started by the first benchmark.
var receiver struct {
	once sync.Once
	err  error
	dir  string
	addr string // the socket's path, in NOTIFY_SOCKET syntax
	cmd  *exec.Cmd
	out  *bufio.Reader
	mu   sync.Mutex // serializes stats requests
}

// receiverAddr returns the receiver's address, starting it if need be.
func receiverAddr(tb testing.TB) string {
	tb.Helper()
	receiver.once.Do(func() {
		if receiver.err = startReceiver(); receiver.err == nil {
			receiver.err = warmUp(warmUpSends)
		}
	})
	if receiver.err != nil {
		tb.Fatalf("starting the receiver: %v", receiver.err)
	}
	return receiver.addr
}

func startReceiver() error {
	dir, err := os.MkdirTemp("", "sdnotify-bench-")
	if err != nil {
		return err
	}
	receiver.dir = dir
	path := filepath.Join(dir, "notify")
	// In a network namespace of its own, the receiver can raise
	// max_dgram_qlen for its socket alone. Where that is not allowed (not
	// root), it runs in ours with the queue length it finds.
	// BENCH_RECEIVER_NETNS=0 keeps it in ours, for comparison.
	err = errors.New("private network namespace not wanted")
	if os.Getenv("BENCH_RECEIVER_NETNS") != "0" {
		err = startChild(path, true)
	}
	if err != nil {
		os.Remove(path)
		err = startChild(path, false)
	}
	return err
}

// startChild starts the receiver process, in a new network namespace if
// newNetns, and waits until its socket is bound at path.
func startChild(path string, newNetns bool) error {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), receiverEnv+"="+path)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if newNetns {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("receiver did not start (%q, %v)", line, err)
	}
	// One line on stderr, beside the results: how deep the queue is.
	fmt.Fprintf(os.Stderr, "receiver: %s", strings.TrimPrefix(line, "ready "))
	receiver.cmd = cmd
	receiver.out = r
	receiver.addr = path
	return nil
}

// warmUpSends is how many datagrams warmUp sends: some tens of
// milliseconds' worth.
const warmUpSends = 20000

// warmUp sends n datagrams to the receiver and waits until it has taken
// them, so that the first benchmark does not pay for the receiver's first
// page faults and the CPUs waking up.
func warmUp(n int) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: receiver.addr}); err != nil {
		return os.NewSyscallError("connect", err)
	}
	msg := []byte("WARMUP=1")
	for range n {
		if _, err := unix.Write(fd, msg); err != nil {
			return os.NewSyscallError("write", err)
		}
	}
	_, _, err = stats()
	return err
}

// stopReceiver kills the receiver and removes its socket.
func stopReceiver() {
	if receiver.cmd != nil {
		receiver.cmd.Process.Kill()
		receiver.cmd.Wait()
	}
	if receiver.dir != "" {
		os.RemoveAll(receiver.dir)
	}
}

// receiverStats returns how many datagrams and file descriptors the
// receiver has taken so far (the stats requests not counted). Every
// datagram sent before the call is counted: the request queues behind
// them.
func receiverStats(tb testing.TB) (msgs, fds uint64) {
	tb.Helper()
	receiverAddr(tb)
	msgs, fds, err := stats()
	if err != nil {
		tb.Fatal(err)
	}
	return msgs, fds
}

func stats() (msgs, fds uint64, err error) {
	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, []byte(statsRequest), 0, &unix.SockaddrUnix{Name: receiver.addr}); err != nil {
		return 0, 0, os.NewSyscallError("sendto", err)
	}
	line, err := receiver.out.ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("reading the receiver's stats: %v", err)
	}
	if _, err := fmt.Sscanf(line, "msgs=%d fds=%d", &msgs, &fds); err != nil {
		return 0, 0, fmt.Errorf("receiver stats %q: %v", line, err)
	}
	return msgs, fds, nil
}

// receiverQlen is the net.unix.max_dgram_qlen that the receiver sets in its
// own network namespace, so that the senders, which may get this far ahead
// of it, do not wait for it while it wakes up. A sender's SO_SNDBUF (a few
// hundred small datagrams by default) bounds how far ahead it gets anyway.
const receiverQlen = 1 << 16

// runReceiver is the child's main: it binds the socket at the path given
// in receiverEnv and drains it until killed.
func runReceiver(path string) {
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "receiver: %v\n", err)
		os.Exit(1)
	}
	spin := time.Duration(0)
	if s := os.Getenv("BENCH_RECEIVER_SPIN"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			fail(fmt.Errorf("BENCH_RECEIVER_SPIN=%q: %v", s, err))
		}
		spin = d
	}
	// Raising the queue length affects only this network namespace: the
	// parent starts us in a new one when it may. In the parent's own, we
	// leave the setting alone.
	const qlenFile = "/proc/sys/net/unix/max_dgram_qlen"
	where := "the parent's network namespace"
	if private, _ := privateNetns(); private {
		where = "a private network namespace"
		if err := os.WriteFile(qlenFile, []byte(strconv.Itoa(receiverQlen)), 0); err != nil {
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
	mode := "blocking recvmmsg"
	if spin > 0 {
		mode = "polling recvmmsg, blocking after " + spin.String() + " idle"
	}
	fmt.Printf("ready in %s, net.unix.max_dgram_qlen=%s, %s\n", where, strings.TrimSpace(string(qlen)), mode)
	if err := drain(fd, spin); err != nil {
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

// drain reads datagrams from fd in batches and throws them away. It polls
// without blocking while datagrams keep coming and blocks once it has been
// idle for spin.
func drain(fd int, spin time.Duration) error {
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
	var msgs, fds uint64
	idleSince := time.Time{}
	polls := 0
	for {
		for i := range hdrs {
			hdrs[i].Hdr.SetControllen(oobSize)
			hdrs[i].Hdr.Flags = 0
		}
		flags := unix.MSG_CMSG_CLOEXEC | unix.MSG_DONTWAIT
		if spin == 0 || (!idleSince.IsZero() && polls%spinPoll == 0 && time.Since(idleSince) > spin) {
			flags = unix.MSG_CMSG_CLOEXEC | unix.MSG_WAITFORONE
		}
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), batch, uintptr(flags), 0, 0)
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
		for i := 0; i < int(n); i++ {
			h := &hdrs[i]
			fds += closeRights(oobs[i][:h.Hdr.Controllen])
			if int(h.Len) == len(statsRequest) && string(bufs[i][:h.Len]) == statsRequest {
				line := "msgs=" + strconv.FormatUint(msgs, 10) + " fds=" + strconv.FormatUint(fds, 10) + "\n"
				if _, err := unix.Write(stdoutFD, []byte(line)); err != nil {
					return err
				}
				continue
			}
			msgs++
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
