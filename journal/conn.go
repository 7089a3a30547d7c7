package journal

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultSocket is where journald listens for native entries.
const DefaultSocket = "/run/systemd/journal/socket"

// ErrClosed is returned by a send on a closed Conn.
var ErrClosed = errors.New("journal: connection closed")

// A Conn sends entries to journald over its native socket. It is safe for
// concurrent use.
//
// The socket is created and connected at the first send and kept. A send
// that finds journald gone (its socket missing or refusing) reconnects once
// and tries again, so a restarted journald is found. The socket asks for an
// 8 MiB send buffer, as libsystemd does; an entry too big for one datagram
// travels in a sealed memfd (where memfd_create is missing: an unlinked
// file in /dev/shm), as journald expects.
//
// A send blocks while journald's queue is full, as libsystemd's and a write
// to a journal stream do; SetTimeout bounds that wait.
type Conn struct {
	path string

	mu      sync.RWMutex // guards fd and closed; a send holds it for reading
	fd      int          // -1 until the first send
	closed  bool
	timeout time.Duration
}

// NewConn returns a Conn for the socket at path, or DefaultSocket when path
// is "". It does no I/O.
func NewConn(path string) *Conn {
	if path == "" {
		path = DefaultSocket
	}
	return &Conn{path: path, fd: -1}
}

// Path reports the socket the Conn sends to.
func (c *Conn) Path() string { return c.path }

// SetTimeout bounds how long a send waits for room in journald's queue; 0,
// the default, waits as long as it takes. A send that runs out of time
// fails with an error that wraps os.ErrDeadlineExceeded and sends nothing.
func (c *Conn) SetTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeout = d
	if c.fd >= 0 {
		setTimeout(c.fd, d)
	}
}

// Open creates and connects the socket now, if it is not open, and reports
// whether journald's socket accepts it: for a daemon that chroots or drops
// privileges after it starts, and to tell whether journald is there.
func (c *Conn) Open() error { return c.openNow() }

// Send sends one entry. An entry without fields sends nothing. Errors name
// the socket and wrap the errno: errors.Is(err, fs.ErrNotExist) when no
// journald runs.
func (c *Conn) Send(e *Entry) error {
	if e.Fields() == 0 {
		return nil
	}
	return c.send(e.Bytes())
}

// Close closes the socket, once the sends in progress are done. Later
// sends fail with ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.fd < 0 {
		return nil
	}
	err := closeFD(c.fd)
	c.fd = -1
	return err
}

var (
	defaultMu   sync.Mutex
	defaultConn *Conn
)

// DefaultConn returns the Conn that Send and a Handler without a Conn of its
// own share: one socket for DefaultSocket per process.
func DefaultConn() *Conn {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultConn == nil {
		defaultConn = NewConn("")
	}
	return defaultConn
}

// Send sends one entry to journald on the Default Conn: MESSAGE, PRIORITY,
// then the fields in order (names through FieldName; repeats are kept),
// and SYSLOG_IDENTIFIER, the program's file name, unless a field gives it.
func Send(message string, p Priority, fields ...Field) error {
	var e Entry
	e.Add("MESSAGE", message)
	e.buf = appendPriority(e.buf, p)
	e.fields++
	ident := true
	for _, f := range fields {
		e.Add(f.Name, f.Value)
		ident = ident && f.Name != "SYSLOG_IDENTIFIER"
	}
	if ident { // as libsystemd does, so that journalctl -t finds the entry
		e.Add("SYSLOG_IDENTIFIER", filepath.Base(os.Args[0]))
	}
	return DefaultConn().Send(&e)
}

func appendPriority(b []byte, p Priority) []byte {
	if p < Emerg {
		p = Emerg
	}
	if p > Debug {
		p = Debug
	}
	return append(b, 'P', 'R', 'I', 'O', 'R', 'I', 'T', 'Y', '=', byte('0'+p), '\n')
}
