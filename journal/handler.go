package journal

import (
	"context"
	"encoding"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosdnotify/sdnotify/internal/journalwire"
)

// HandlerOptions configure a Handler. A nil *HandlerOptions means the
// defaults.
type HandlerOptions struct {
	// Level is the least level logged; nil means slog.LevelInfo.
	Level slog.Leveler

	// AddSource adds CODE_FILE, CODE_LINE and CODE_FUNC, from the
	// record's program counter.
	AddSource bool

	// ReplaceAttr, as in slog.HandlerOptions, rewrites or drops (by
	// returning the zero Attr) each attribute before it is encoded. It is
	// called with the enclosing groups for every attribute that is not a
	// group, the WithAttrs ones included; it is not called for the fields
	// the handler itself sets (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
	// CODE_*).
	ReplaceAttr func(groups []string, a slog.Attr) slog.Attr

	// Identifier is SYSLOG_IDENTIFIER, the name journalctl shows and
	// `journalctl -t` selects by; "" means the program's file name.
	Identifier string

	// Conn is where native entries go; nil means DefaultConn().
	Conn *Conn
}

// A Handler is a slog.Handler that writes to the journal: natively, one
// entry a record with the attributes as fields (see NewNativeHandler), or
// as lines with a priority prefix on a journal stream (see
// NewStreamHandler). It is safe for concurrent use.
//
// A record becomes MESSAGE, PRIORITY (see LevelPriority) and, natively,
// SYSLOG_IDENTIFIER and with AddSource CODE_FILE, CODE_LINE and
// CODE_FUNC. Each attribute becomes a field: the name is the key through
// FieldName, after the names of its groups joined with '_' (group "req",
// key "method": REQ_METHOD); a key that would take the name of one of the
// handler's own fields gets "X_" in front (X_MESSAGE). Values are sent as
// they are, byte for byte, invalid UTF-8 and NUL included: strings,
// numbers, bools, []byte (binary), errors (their Error text), times
// (RFC 3339 with nanoseconds), durations (as time.Duration.String),
// encoding.TextMarshalers, LogValuers (resolved) and anything else
// through fmt.Print. A value with a newline goes in the protocol's binary
// form, so it survives whole. Fields past the 1023rd of an entry travel
// inside one EXTRA_FIELDS field (see Entry.Add). WithAttrs and WithGroup
// encode their attributes once, when they are called.
type Handler struct {
	opts   HandlerOptions
	conn   *Conn     // nil: lines only
	lines  io.Writer // where lines go: the stream, or stderr as the fallback
	head   []byte    // SYSLOG_IDENTIFIER, encoded
	attrs  *Entry    // the WithAttrs fields, encoded
	prefix []byte    // the WithGroup names, mapped and joined, with a final '_'
	groups []string  // the WithGroup names, for ReplaceAttr
	state  *state    // shared by the handlers derived from one another
}

// state is what the handlers derived from one constructor share.
type state struct {
	failing atomic.Bool // the last native send failed
}

var _ slog.Handler = (*Handler)(nil)

// NewNativeHandler returns a Handler that sends each record as an entry
// through opts.Conn (or DefaultConn()). When a send fails (journald gone, a
// full queue past Conn.SetTimeout, an entry over journald's size limit),
// the record is written as a line to standard error instead, with the
// priority prefix, and Handle returns the error; the first failure after a
// success also writes one line that says why, so nothing is lost without a
// trace.
func NewNativeHandler(opts *HandlerOptions) *Handler {
	h := newHandler(opts, os.Stderr)
	h.conn = h.opts.Conn
	if h.conn == nil {
		h.conn = DefaultConn()
	}
	ident := h.opts.Identifier
	if ident == "" {
		ident = filepath.Base(os.Args[0])
	}
	h.head = journalwire.AppendValue(append([]byte(nil), "SYSLOG_IDENTIFIER"...), ident)
	return h
}

// NewStreamHandler returns a Handler that writes each record to w as one
// line for a journal stream (a service's standard output or error with
// StandardOutput=journal): "<N>" with N the priority, the message, and
// the attributes as NAME=value, values quoted (strconv.Quote) where they
// hold a space, a quote, '=', a control character or invalid UTF-8, as
// does a message with a newline. journald gives the line that priority and
// the unit's identifier; the fields stay text. Each line is one Write.
func NewStreamHandler(w io.Writer, opts *HandlerOptions) *Handler {
	return newHandler(opts, w)
}

func newHandler(opts *HandlerOptions, w io.Writer) *Handler {
	h := &Handler{lines: w, state: new(state), attrs: new(Entry)}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Level == nil {
		h.opts.Level = slog.LevelInfo
	}
	return h
}

// Enabled reports whether level is at least the handler's Level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.opts.Level.Level()
}

// LevelPriority maps a slog level to a journal priority: below Info is
// Debug (7); Info is Info (6); between Info and Warn is Notice (5); from
// Warn Warning (4); from Error Err (3); from Error+4 Crit (2), from
// Error+8 Alert (1) and from Error+12 Emerg (0).
func LevelPriority(l slog.Level) Priority {
	switch {
	case l < slog.LevelInfo:
		return Debug
	case l == slog.LevelInfo:
		return Info
	case l < slog.LevelWarn:
		return Notice
	case l < slog.LevelError:
		return Warning
	case l < slog.LevelError+4:
		return Err
	case l < slog.LevelError+8:
		return Crit
	case l < slog.LevelError+12:
		return Alert
	}
	return Emerg
}

var entries = sync.Pool{New: func() any { return new(Entry) }}

// Handle sends the record: see Handler for the fields, and the
// constructors for what happens when a send fails.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	e := entries.Get().(*Entry)
	defer func() {
		if cap(e.buf) <= 64<<10 && cap(e.extra) <= 64<<10 && cap(e.scratch) <= 64<<10 {
			e.Reset()
			entries.Put(e)
		}
	}()
	e.Reset()
	p := LevelPriority(r.Level)
	e.Add("MESSAGE", r.Message)
	e.buf = appendPriority(e.buf, p)
	e.fields++
	if h.conn != nil {
		e.buf = append(e.buf, h.head...)
		e.fields++
		if h.opts.AddSource && r.PC != 0 {
			f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
			e.Add("CODE_FILE", f.File)
			e.buf = strconv.AppendInt(append(e.buf, "CODE_LINE="...), int64(f.Line), 10)
			e.buf = append(e.buf, '\n')
			e.fields++
			e.Add("CODE_FUNC", f.Function)
		}
	}
	user := len(e.buf)
	e.merge(h.attrs)
	if r.NumAttrs() > 0 {
		prefix := append(e.prefix[:0], h.prefix...)
		r.Attrs(func(a slog.Attr) bool {
			h.appendAttr(e, prefix, h.groups, a)
			return true
		})
		e.prefix = prefix[:0]
	}
	if h.conn == nil {
		return h.writeLine(e, user, p, r.Message)
	}
	err := h.conn.Send(e)
	if err == nil {
		h.state.failing.Store(false)
		return nil
	}
	if !h.state.failing.Swap(true) {
		fmt.Fprintf(h.lines, "<%d>%s; this record and the next ones go to standard error until a send works again\n", Warning, err)
	}
	h.writeLine(e, user, p, r.Message)
	return err
}

// WithAttrs returns a handler whose records carry attrs, encoded now.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = new(Entry)
	h2.attrs.merge(h.attrs)
	for _, a := range attrs {
		h.appendAttr(h2.attrs, slices.Clip(h.prefix), h.groups, a)
	}
	return &h2
}

// WithGroup returns a handler that puts name, and '_', in front of the
// names of later attributes. An empty name returns h.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = append(journalwire.AppendName(slices.Clone(h.prefix), 0, name), '_')
	h2.groups = append(slices.Clip(h.groups), name)
	return &h2
}

// appendAttr adds a as a field of e (or, for a group, its members), its
// name after prefix, a mapped name with a final '_' or nothing.
func (h *Handler) appendAttr(e *Entry, prefix []byte, groups []string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() != slog.KindGroup && h.opts.ReplaceAttr != nil {
		a = h.opts.ReplaceAttr(groups, a)
		a.Value = a.Value.Resolve()
	}
	if a.Key == "" && a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		members := a.Value.Group()
		if len(members) == 0 {
			return
		}
		if a.Key != "" {
			prefix = append(journalwire.AppendName(prefix, 0, a.Key), '_')
			if h.opts.ReplaceAttr != nil {
				groups = append(slices.Clip(groups), a.Key)
			}
		}
		for _, m := range members {
			h.appendAttr(e, prefix, groups, m)
		}
		return
	}
	b := e.begin()
	start := len(*b)
	*b = append(*b, prefix...)
	*b = journalwire.AppendName(*b, start, a.Key)
	switch string((*b)[start:]) {
	case "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC":
		*b = slices.Insert(*b, start, []byte(journalwire.NamePrefix)...)
	}
	*b = e.appendValue(*b, a.Value)
}

// appendValue appends v, encoded, after a field name.
func (e *Entry) appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return journalwire.AppendValue(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(append(b, '='), v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(append(b, '='), v.Uint64(), 10)
	case slog.KindFloat64:
		b = strconv.AppendFloat(append(b, '='), v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		b = strconv.AppendBool(append(b, '='), v.Bool())
	case slog.KindDuration:
		b = append(append(b, '='), v.Duration().String()...)
	case slog.KindTime:
		b = v.Time().AppendFormat(append(b, '='), time.RFC3339Nano)
	default:
		e.scratch = appendAny(e.scratch[:0], v.Any())
		return journalwire.AppendValue(b, e.scratch)
	}
	return append(b, '\n')
}

// appendAny formats a value of kind Any. A panic in a method of the value
// (an Error method on a nil pointer) is written in the value's place, as
// fmt does, instead of ending the program.
func appendAny(b []byte, v any) (out []byte) {
	defer func() {
		if p := recover(); p != nil {
			out = fmt.Appendf(b, "!PANIC(%v)", p)
		}
	}()
	switch x := v.(type) {
	case []byte:
		return append(b, x...)
	case error:
		return append(b, x.Error()...)
	case encoding.TextMarshaler:
		t, err := x.MarshalText()
		if err != nil {
			return fmt.Appendf(b, "!ERROR(%v)", err)
		}
		return append(b, t...)
	}
	return fmt.Append(b, v)
}
