//go:build linux

package bench

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cjournal "github.com/coreos/go-systemd/v22/journal"
	slogjournal "github.com/systemd/slog-journal"
	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify/journal"
)

// The journal benchmarks log one record, journalMsg with five attributes
// (three strings, two ints), through the library's native handler and
// its peers, to the receiver that keeps up, reached as
// /run/systemd/journal/socket (see atJournalSocket). The floor sends the
// bytes the library's handler sends for that record (journalEntry; the
// test TestJournalPayload checks that they are the same) with one system
// call on a socket set up as the library's Conn sets up its own (an 8 MiB
// send buffer, blocking). Each benchmark that sends to the receiver checks
// at the end that it took one datagram an operation (deliveryMeter).

const journalMsg = "request handled"

// logRecord logs the benchmarks' record through l: the same call for
// every slog handler.
func logRecord(l *slog.Logger) {
	l.Info(journalMsg, "user", "ann", "id", 42, "path", "/x", "status", 200, "method", "GET")
}

// logRecordUpper is logRecord with the keys already as journald wants
// them: slog-journal's best case, which needs no ReplaceAttr.
func logRecordUpper(l *slog.Logger) {
	l.Info(journalMsg, "USER", "ann", "ID", 42, "PATH", "/x", "STATUS", 200, "METHOD", "GET")
}

// coreosRecord sends the record with go-systemd's journal.Send: the fields
// in a map, built for each call as a caller formats its values, with the
// SYSLOG_IDENTIFIER the slog handlers add.
func coreosRecord(ident string, id, status int) error {
	return cjournal.Send(journalMsg, cjournal.PriInfo, map[string]string{
		"SYSLOG_IDENTIFIER": ident,
		"USER":              "ann",
		"ID":                strconv.Itoa(id),
		"PATH":              "/x",
		"STATUS":            strconv.Itoa(status),
		"METHOD":            "GET",
	})
}

// identifier is the SYSLOG_IDENTIFIER that the slog handlers send by
// default: the program's file name.
var identifier = filepath.Base(os.Args[0])

// journalEntry returns the record as the library's handler encodes it.
func journalEntry() []byte {
	var e journal.Entry
	e.Add("MESSAGE", journalMsg)
	e.Add("PRIORITY", strconv.Itoa(int(journal.Info)))
	e.Add("SYSLOG_IDENTIFIER", identifier)
	e.Add("USER", "ann")
	e.Add("ID", "42")
	e.Add("PATH", "/x")
	e.Add("STATUS", "200")
	e.Add("METHOD", "GET")
	return bytes.Clone(e.Bytes())
}

// upperKeys is the ReplaceAttr that slog-journal's README gives for keys
// that are not journald field names.
func upperKeys(_ []string, a slog.Attr) slog.Attr {
	a.Key = strings.ReplaceAll(strings.ToUpper(a.Key), "-", "_")
	return a
}

// journalSndbuf is the send buffer the library's Conn asks for (and
// libsystemd): the raw sockets ask for it too.
const journalSndbuf = 8 << 20

// rawJournalSocket opens a blocking datagram socket with the library's
// send buffer and timeout, connected to path if connect is set, closed
// when the benchmark ends.
func rawJournalSocket(tb testing.TB, path string, connect bool, timeout time.Duration) int {
	tb.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(os.NewSyscallError("socket", err))
	}
	tb.Cleanup(func() { unix.Close(fd) })
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, journalSndbuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, journalSndbuf)
	}
	if timeout > 0 {
		tv := unix.NsecToTimeval(timeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			tb.Fatal(os.NewSyscallError("setsockopt(SO_SNDTIMEO)", err))
		}
	}
	if connect {
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			tb.Fatal(os.NewSyscallError("connect "+path, err))
		}
	}
	return fd
}

// rawBlockingSendmsg sends p on the blocking socket fd, to sa if it is
// not nil (sendto(2)), and otherwise to the socket's peer (sendmsg(2)): one
// system call, which sleeps in the kernel while the receiver's queue is
// full.
func rawBlockingSendmsg(fd int, p []byte, sa unix.Sockaddr) error {
	for {
		var err error
		if sa != nil {
			err = unix.Sendto(fd, p, unix.MSG_NOSIGNAL, sa)
		} else {
			_, err = unix.SendmsgN(fd, p, nil, nil, unix.MSG_NOSIGNAL)
		}
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		}
		if sa != nil {
			return os.NewSyscallError("sendto", err)
		}
		return os.NewSyscallError("sendmsg", err)
	}
}

// journalLogger returns a logger through the library's native handler,
// sending to path with a Conn of its own, closed when the benchmark ends.
func journalLogger(tb testing.TB, path string) (*slog.Logger, *journal.Conn) {
	c := journal.NewConn(path)
	tb.Cleanup(func() { c.Close() })
	return slog.New(journal.NewNativeHandler(&journal.HandlerOptions{Conn: c})), c
}

// slogJournalLogger returns a logger through github.com/systemd/slog-journal
// with opts.
func slogJournalLogger(tb testing.TB, opts *slogjournal.Options) *slog.Logger {
	tb.Helper()
	h, err := slogjournal.NewHandler(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return slog.New(h)
}

// deliveryMeter is meter for a benchmark that sends one datagram an
// operation to the receiver that keeps up: its report also fails the
// benchmark unless the receiver took b.N datagrams, for slog.Logger drops
// what its handler's Handle returns, errors included.
func deliveryMeter(b *testing.B) *deliveryMeterState {
	msgs, _ := receiverStats(b)
	return &deliveryMeterState{meter(b), msgs}
}

type deliveryMeterState struct {
	*meterState
	msgs uint64 // the receiver's count before
}

func (m *deliveryMeterState) report() {
	m.meterState.report()
	msgs, _ := receiverStats(m.b)
	if got := msgs - m.msgs; got != uint64(m.b.N) {
		m.b.Fatalf("the receiver took %d datagrams in %d operations", got, m.b.N)
	}
}

// BenchmarkJournal logs the record to a journald that keeps up. The floor
// is raw/write: the entry, encoded once, written to a connected socket
// with write(2), as the library's Conn sends; raw/sendmsg is the same with
// sendmsg(2) (what the issue names; a little dearer, for the msghdr), and
// raw/sendto an unconnected socket that names the path in every send, as
// libsystemd, slog-journal and go-systemd do. journal/Handler.Handle and
// journal/Conn.Send take slog.Logger's work, and then the encoding, away.
func BenchmarkJournal(b *testing.B) {
	target := receiverAddr(b)
	entry := journalEntry()

	b.Run("raw/write", func(b *testing.B) {
		fd := rawJournalSocket(b, atJournalSocket(b, target, false), true, 0)
		defer deliveryMeter(b).report()
		for b.Loop() {
			if err := rawBlockingWrite(fd, entry); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw/sendmsg", func(b *testing.B) {
		fd := rawJournalSocket(b, atJournalSocket(b, target, false), true, 0)
		defer deliveryMeter(b).report()
		for b.Loop() {
			if err := rawBlockingSendmsg(fd, entry, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw/sendto", func(b *testing.B) {
		sa := &unix.SockaddrUnix{Name: atJournalSocket(b, target, false)}
		fd := rawJournalSocket(b, "", false, 0)
		defer deliveryMeter(b).report()
		for b.Loop() {
			if err := rawBlockingSendmsg(fd, entry, sa); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("journal/Logger.Info", func(b *testing.B) {
		l, c := journalLogger(b, atJournalSocket(b, target, false))
		if err := c.Open(); err != nil {
			b.Fatal(err)
		}
		defer deliveryMeter(b).report()
		for b.Loop() {
			logRecord(l)
		}
	})
	// With CODE_FILE, CODE_LINE and CODE_FUNC, as slog-journal always
	// sends them.
	b.Run("journal/Logger.Info-AddSource", func(b *testing.B) {
		c := journal.NewConn(atJournalSocket(b, target, false))
		b.Cleanup(func() { c.Close() })
		l := slog.New(journal.NewNativeHandler(&journal.HandlerOptions{Conn: c, AddSource: true}))
		defer deliveryMeter(b).report()
		for b.Loop() {
			logRecord(l)
		}
	})
	// The handler alone, without slog.Logger's work (the caller's PC, the
	// time, the Record): a Record made once, sent again and again.
	b.Run("journal/Handler.Handle", func(b *testing.B) {
		c := journal.NewConn(atJournalSocket(b, target, false))
		b.Cleanup(func() { c.Close() })
		h := journal.NewNativeHandler(&journal.HandlerOptions{Conn: c})
		r := slog.NewRecord(time.Now(), slog.LevelInfo, journalMsg, 0)
		r.Add("user", "ann", "id", 42, "path", "/x", "status", 200, "method", "GET")
		ctx := context.Background()
		defer deliveryMeter(b).report()
		for b.Loop() {
			if err := h.Handle(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The library's Conn alone: the encoded entry, made once.
	b.Run("journal/Conn.Send", func(b *testing.B) {
		c := journal.NewConn(atJournalSocket(b, target, false))
		b.Cleanup(func() { c.Close() })
		var e journal.Entry
		for name, value := range journalFields() {
			e.Add(name, value)
		}
		defer deliveryMeter(b).report()
		for b.Loop() {
			if err := c.Send(&e); err != nil {
				b.Fatal(err)
			}
		}
	})
	// slog-journal as its README has it: keys upper-cased by ReplaceAttr,
	// without which journald would drop the record's five fields.
	b.Run("slogjournal/Logger.Info", func(b *testing.B) {
		atJournalSocket(b, target, true)
		l := slogJournalLogger(b, &slogjournal.Options{ReplaceAttr: upperKeys})
		defer deliveryMeter(b).report()
		for b.Loop() {
			logRecord(l)
		}
	})
	// slog-journal's best case: the record's keys upper-case already.
	b.Run("slogjournal/Logger.Info-upper-keys", func(b *testing.B) {
		atJournalSocket(b, target, true)
		l := slogJournalLogger(b, nil)
		defer deliveryMeter(b).report()
		for b.Loop() {
			logRecordUpper(l)
		}
	})
	b.Run("coreos/journal.Send", func(b *testing.B) {
		atJournalSocket(b, target, true)
		id, status := 42, 200
		defer deliveryMeter(b).report()
		for b.Loop() {
			if err := coreosRecord(identifier, id, status); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Not a journal: slog's own text handler writing to a file, what a
	// daemon pays to log at all.
	b.Run("slog/TextHandler-file", func(b *testing.B) {
		f, err := os.CreateTemp("", "sdnotify-bench-log-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
		l := slog.New(slog.NewTextHandler(f, nil))
		m := meter(b)
		for b.Loop() {
			logRecord(l)
		}
		m.report()
		// Each line: time=... level=INFO msg="request handled" and the
		// five attributes, more than 90 bytes.
		if fi, err := f.Stat(); err != nil || fi.Size() < int64(b.N)*90 {
			b.Fatalf("the log file holds %d bytes after %d records (%v)", fi.Size(), b.N, err)
		}
	})
}

// journalFields yields the fields of journalEntry, in order.
func journalFields() func(yield func(name, value string) bool) {
	return func(yield func(name, value string) bool) {
		rest := journalEntry()
		for len(rest) > 0 {
			line, next, _ := bytes.Cut(rest, []byte{'\n'})
			name, value, _ := bytes.Cut(line, []byte{'='})
			if !yield(string(name), string(value)) {
				return
			}
			rest = next
		}
	}
}

// stalledTimeout is the Conn timeout of BenchmarkJournalStalled.
const stalledTimeout = 10 * time.Millisecond

// stalledSocket binds a datagram socket at a new path that nobody reads,
// fills its queue and returns the path and the socket (closed when the
// benchmark or test ends): a journald that stopped reading.
func stalledSocket(tb testing.TB) (string, int) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "socket")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(os.NewSyscallError("socket", err))
	}
	tb.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		tb.Fatal(os.NewSyscallError("bind", err))
	}
	// Fill the queue: send until a non-blocking send finds no room.
	w := rawSocket(tb, path, true)
	msg := []byte("FILL=1\n")
	for i := 0; ; i++ {
		_, err := unix.Write(w, msg)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			tb.Fatal(os.NewSyscallError("write", err))
		}
		if i > 1<<20 {
			tb.Fatal("the stalled socket's queue never filled")
		}
	}
	return path, fd
}

// BenchmarkJournalStalled logs to a journald that does not read, its queue
// full: the library's Conn, with SetTimeout(stalledTimeout), gives up after
// the timeout with an error that wraps os.ErrDeadlineExceeded, and its
// handler writes the record to standard error instead. The floor is a
// write(2) on a socket with SO_SNDTIMEO, which fails with EAGAIN when the
// timeout passes. slog-journal and go-systemd cannot be measured here:
// they wait until journald reads again, however long that is (see
// TestJournalStalled).
func BenchmarkJournalStalled(b *testing.B) {
	entry := journalEntry()

	b.Run("raw/write-SO_SNDTIMEO", func(b *testing.B) {
		path, _ := stalledSocket(b)
		fd := rawJournalSocket(b, path, true, stalledTimeout)
		defer meter(b).report()
		for b.Loop() {
			if _, err := unix.Write(fd, entry); err != unix.EAGAIN {
				b.Fatalf("write to a full queue: %v, want EAGAIN", err)
			}
		}
	})
	b.Run("journal/Conn.Send", func(b *testing.B) {
		path, _ := stalledSocket(b)
		c := journal.NewConn(path)
		b.Cleanup(func() { c.Close() })
		c.SetTimeout(stalledTimeout)
		var e journal.Entry
		for name, value := range journalFields() {
			e.Add(name, value)
		}
		defer meter(b).report()
		for b.Loop() {
			if err := c.Send(&e); !errors.Is(err, os.ErrDeadlineExceeded) {
				b.Fatalf("Send to a full queue: %v, want os.ErrDeadlineExceeded", err)
			}
		}
	})
	// The handler writes each record to standard error when the send fails:
	// here a temporary file, which is checked at the end.
	b.Run("journal/Logger.Info", func(b *testing.B) {
		path, _ := stalledSocket(b)
		c := journal.NewConn(path)
		b.Cleanup(func() { c.Close() })
		c.SetTimeout(stalledTimeout)
		l, stderr := withStderr(b, func() *slog.Logger {
			return slog.New(journal.NewNativeHandler(&journal.HandlerOptions{Conn: c}))
		})
		m := meter(b)
		for b.Loop() {
			logRecord(l)
		}
		m.report()
		if n := countRecords(b, stderr); n != b.N {
			b.Fatalf("%d records on standard error after %d failed sends", n, b.N)
		}
	})
}

// withStderr calls mk with os.Stderr set to a temporary file, which it
// returns with mk's result: a handler made then writes there.
func withStderr[T any](tb testing.TB, mk func() T) (T, *os.File) {
	tb.Helper()
	f, err := os.CreateTemp("", "sdnotify-bench-stderr-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
	saved := os.Stderr
	os.Stderr = f
	defer func() { os.Stderr = saved }()
	return mk(), f
}

// countRecords counts the lines in f that carry the record's message.
func countRecords(tb testing.TB, f *os.File) int {
	tb.Helper()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Count(string(data), journalMsg)
}
