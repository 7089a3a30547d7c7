//go:build linux

// Command journaldaemon is a Type=notify service that logs through package
// journal, with one behaviour per scenario of the real-journald tests in
// internal/realsystemd (journal_test.go). It is not an example to copy.
//
// Each mode logs what its scenario reads back, ends with a record whose
// message is "done" (the tests wait for it), sends READY=1 and waits for
// SIGTERM, so that journald can still attribute every entry to the unit.
//
// Usage: journaldaemon -mode native|big|fallback|text|restart [-size N]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/journal"
	"golang.org/x/sys/unix"
)

var (
	mode = flag.String("mode", "native", "scenario: native, big, fallback, text or restart")
	size = flag.Int("size", 2<<20, "big: the size of the payload attribute in bytes")
)

// levels are the slog levels the native, fallback and text modes log once
// each, as "level N".
var levels = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelInfo + 2, slog.LevelWarn, slog.LevelError, slog.LevelError + 4}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "journaldaemon:", err)
		os.Exit(1)
	}
}

func run() error {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)

	h := journal.NewHandler(&journal.HandlerOptions{Level: slog.LevelDebug, AddSource: *mode == "native"})
	logger := slog.New(h)
	slog.SetDefault(logger)
	ctx := context.Background()

	switch *mode {
	case "native":
		logNative(logger)
	case "big":
		logger.Info("big", "payload", payload(*size), "size", *size)
		logger.Info("done", "uid", os.Getuid(), "sndbuf", sndbuf(), "datagram", datagram(*size))
	case "fallback":
		logLevels(ctx, logger)
		logger.Info("native socket", "err", fmt.Sprint(journal.DefaultConn().Open()))
		logger.Info("done")
	case "text":
		logLevels(ctx, logger)
		logger.Info("text record", "stream", journal.IsJournalStream(os.Stderr))
		// The marker goes natively whatever the handler is: the handler's
		// entries, had it sent any natively, came before it on the same
		// socket.
		if err := journal.Send("done", journal.Info); err != nil {
			return err
		}
	case "restart":
		// Each step logs, then waits for the test to change journald
		// (restart it, take its socket away, put it back) and SIGUSR1.
		steps := []struct {
			level slog.Level
			msg   string
		}{
			{slog.LevelInfo, "before restart"},
			{slog.LevelInfo, "after restart"},
			{slog.LevelWarn, "socket gone"},
			{slog.LevelInfo, "socket back"},
		}
		for i, s := range steps {
			if i > 0 {
				select {
				case <-usr1:
				case <-time.After(2 * time.Minute):
					return fmt.Errorf("no SIGUSR1 for step %d within 2 minutes", i)
				}
			}
			err := logger.Handler().Handle(ctx, slog.NewRecord(time.Now(), s.level, s.msg, 0))
			if err := notify(sdnotify.Statusf("step %d: %v", i, err)); err != nil {
				return err
			}
		}
		logger.Info("done")
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	if *mode != "restart" { // its last status is its last step's
		if err := notify(sdnotify.Status("logged")); err != nil {
			return err
		}
	}
	select {
	case <-term:
	case <-time.After(5 * time.Minute):
	}
	return nil
}

func notify(status sdnotify.Assignment) error {
	n := sdnotify.New()
	defer n.Close()
	return n.Send(sdnotify.Ready(), status)
}

func logLevels(ctx context.Context, logger *slog.Logger) {
	for _, l := range levels {
		logger.Log(ctx, l, fmt.Sprintf("level %d", l), "level", int(l))
	}
}

// logNative logs the records of the native scenario.
func logNative(logger *slog.Logger) {
	ctx := context.Background()
	logLevels(ctx, logger)
	logger.Info("first line\nsecond line\n\n\tlast line")
	logger.Info("binary", "blob", []byte("\x00\xff\nmiddle\x00\n\xfe"), "text", "nul\x00and \xff invalid utf-8")
	logger.Info("repeat", "user.id", "first", "USER_ID", "second")
	if err := journal.Send("send repeat", journal.Notice, journal.Field{Name: "TAG", Value: "one"}, journal.Field{Name: "TAG", Value: "two"}); err != nil {
		logger.Error("journal.Send", "err", err)
	}
	logger.Info("group", slog.Group("req", "method", "GET", "path", "/x"))
	logger.WithGroup("req").With("id", 7).Info("with group", "method", "POST")
	// More attributes than journald takes fields in one entry.
	many := make([]any, 1100)
	for i := range many {
		many[i] = slog.Int(fmt.Sprintf("f%04d", i), i)
	}
	logger.Info("many", many...)
	logger.Info("reserved", "message", "not the message", "_PID", "not the pid", "2fa", "on")
	_, _, line, _ := runtime.Caller(0)
	logger.Info("source", "want_line", line+1)
	log.Printf("via log %d", 42)
	logger.Info("done")
}

// payload returns n bytes that hold every byte value, NUL, 0xff and '\n'
// included; the tests compute the same bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i>>8)
	}
	return b
}

// sndbuf reports the send buffer a socket of this process gets when it asks
// for 8 MiB as journal.Conn does: a datagram bigger than about this cannot
// be sent, and goes in a memfd.
func sndbuf() int {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	defer unix.Close(fd)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 8<<20)
	}
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return -1
	}
	return n
}

// datagram reports what sending n bytes as one datagram does, from a socket
// set up as journal.Conn sets up its own, to a socket of this process:
// "ok", or the error (EMSGSIZE, ENOBUFS) that sends the entry to a memfd.
func datagram(n int) string {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err.Error()
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20) != nil {
		unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 8<<20)
	}
	if unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if _, err := unix.Write(fds[0], make([]byte, n)); err != nil {
		return unix.ErrnoName(err.(unix.Errno))
	}
	return "ok"
}
