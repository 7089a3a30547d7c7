package journal

import (
	"log/slog"
	"os"
)

// NewHandler returns the handler that fits where this process's standard
// error goes, decided once, now:
//
//   - standard error is the journal (IsJournalStream) and the native socket
//     (opts.Conn, or DefaultConn()) accepts a connection: a native Handler
//     (NewNativeHandler), structured fields and all;
//   - standard error is the journal but the socket cannot be reached (a
//     container with the stream but not /run/systemd/journal): a Handler
//     writing lines with a priority prefix to standard error
//     (NewStreamHandler);
//   - anything else (a terminal, a file, a pipe, a container's log): a
//     slog.TextHandler on standard error with the same Level, AddSource and
//     ReplaceAttr, readable by a person.
//
// A daemon calls it once and passes the result to slog.New; after
// slog.SetDefault, the log package's functions go the same way.
func NewHandler(opts *HandlerOptions) slog.Handler {
	if opts == nil {
		opts = new(HandlerOptions)
	}
	if !IsJournalStream(os.Stderr) {
		return slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
			Level:       opts.Level,
			AddSource:   opts.AddSource,
			ReplaceAttr: opts.ReplaceAttr,
		})
	}
	conn := opts.Conn
	if conn == nil {
		conn = DefaultConn()
	}
	if conn.Open() != nil {
		return NewStreamHandler(os.Stderr, opts)
	}
	return NewNativeHandler(opts)
}

// IsJournalStream reports whether f is connected to the journal: whether
// the JOURNAL_STREAM variable, which systemd sets for a service whose
// output goes to the journal, names f's device and inode. A process whose
// standard error was redirected (to a file, a terminal, a pipe) keeps the
// variable but fails the check, and must not log natively in its stead.
// It is false on systems other than Linux.
func IsJournalStream(f *os.File) bool { return isJournalStream(f) }
