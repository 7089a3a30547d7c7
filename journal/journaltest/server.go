// Package journaltest is a fake journald for tests: a datagram socket that
// receives native journal entries and decodes them as journald does,
// entries passed in a memfd or a file included.
//
//	s := journaltest.New(t)
//	logger := slog.New(journal.NewNativeHandler(&journal.HandlerOptions{Conn: s.Conn()}))
//	logger.Info("hello", "user", "ann")
//	e, err := s.Next(ctx) // e.Value("MESSAGE") == "hello", e.Value("USER") == "ann"
//
// Where journald would drop a field (an invalid or trusted name) the
// Entry says so in Dropped; where it would ignore a whole datagram (more
// than 1024 fields, a malformed field, data and a file together, a file it
// refuses) the Server records an error instead of an entry. Both are
// silent in journald, and visible here.
package journaltest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gosdnotify/sdnotify/internal/journalwire"
	"github.com/gosdnotify/sdnotify/journal"
)

// An Entry is one entry as journald would store it.
type Entry struct {
	// Fields in the order they came, repeated names included.
	Fields []journal.Field
	// Dropped names the fields journald would drop: invalid names, and
	// trusted ones (starting with '_').
	Dropped []string
	// Via says how the entry came: "datagram", "memfd" (a sealed memfd)
	// or "file" (an unsealed file, which journald takes from root, or from
	// anyone when it is directly in /dev/shm, /tmp or /var/tmp).
	Via string
	// UID is the sender's user ID, from its credentials.
	UID int
}

// Value returns the first value of the named field, or "".
func (e *Entry) Value(name string) string {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Values returns every value of the named field, in order.
func (e *Entry) Values(name string) []string {
	var vs []string
	for _, f := range e.Fields {
		if f.Name == name {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Extra decodes the fields that travelled inside the entry's
// journal.ExtraFieldsName field (an entry of more than journal.MaxFields),
// in order; none when there is no such field.
func (e *Entry) Extra() ([]journal.Field, error) {
	var fields []journal.Field
	for _, v := range e.Values(journal.ExtraFieldsName) {
		x, err := decode([]byte(v), false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", journal.ExtraFieldsName, err)
		}
		fields = append(fields, x.Fields...)
	}
	return fields, nil
}

// Parse decodes the payload of one native datagram as journald does:
// fields with invalid or trusted names go to Dropped, and an error says
// why journald would ignore the whole entry.
func Parse(b []byte) (*Entry, error) { return decode(b, true) }

func decode(b []byte, limit bool) (*Entry, error) {
	e := &Entry{Via: "datagram", UID: -1}
	if len(b) == 0 {
		return nil, errors.New("empty entry")
	}
	for len(b) > 0 {
		name, value, rest, err := journalwire.Next(b)
		if err != nil {
			return nil, err
		}
		if !journalwire.ValidName(name) {
			e.Dropped = append(e.Dropped, name)
		} else {
			e.Fields = append(e.Fields, journal.Field{Name: name, Value: string(value)})
		}
		if limit && len(e.Fields) > journalwire.MaxFields {
			return nil, fmt.Errorf("more than %d fields: journald ignores the entry", journalwire.MaxFields)
		}
		b = rest
	}
	return e, nil
}

// A Server is a fake journald listening on a socket in a directory of its
// own. Its methods are safe for concurrent use.
type Server struct {
	// Socket is the path of the socket: give it to journal.NewConn.
	Socket string

	sock   *socket
	done   chan struct{}
	mu     sync.Mutex
	cond   chan struct{} // closed and replaced when an entry or error arrives
	got    []*Entry
	errs   []error
	paused chan struct{} // non-nil while paused
	err    error         // why the reader stopped
}

// New starts a Server and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "journaltest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := Listen(filepath.Join(dir, "socket"))
	if err != nil {
		t.Fatalf("journaltest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Listen starts a Server on a new socket at path.
func Listen(path string) (*Server, error) {
	sock, err := listen(path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	s := &Server{Socket: path, sock: sock, done: make(chan struct{}), cond: make(chan struct{})}
	go s.read()
	return s, nil
}

// Conn returns a journal.Conn for the server's socket.
func (s *Server) Conn() *journal.Conn { return journal.NewConn(s.Socket) }

func (s *Server) add(e *Entry, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs = append(s.errs, err)
	} else {
		s.got = append(s.got, e)
	}
	close(s.cond)
	s.cond = make(chan struct{})
}

// Entries returns the entries received so far.
func (s *Server) Entries() []*Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Entry(nil), s.got...)
}

// Errors returns, for each datagram journald would have ignored, why.
func (s *Server) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Next waits for the next entry not yet returned by Next, and returns it.
// It fails when ctx ends first, or when a datagram journald would ignore
// arrives first (with the reason).
func (s *Server) Next(ctx context.Context) (*Entry, error) {
	for {
		s.mu.Lock()
		switch {
		case len(s.errs) > 0:
			err := s.errs[0]
			s.errs = s.errs[1:]
			s.mu.Unlock()
			return nil, err
		case len(s.got) > 0:
			e := s.got[0]
			s.got = s.got[1:]
			s.mu.Unlock()
			return e, nil
		case s.err != nil:
			err := s.err
			s.mu.Unlock()
			return nil, err
		}
		wait := s.cond
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("journaltest: no entry: %w", ctx.Err())
		}
	}
}

// Pause stops reading, as a busy journald does: once the socket's queue
// is full, senders block. Resume reads again.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused == nil {
		s.paused = make(chan struct{})
		s.sock.interrupt()
	}
}

// Resume undoes Pause.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused != nil {
		close(s.paused)
		s.paused = nil
	}
}

func (s *Server) gate() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

func (s *Server) stop(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	close(s.cond)
	s.cond = make(chan struct{})
}

// Close stops the server and removes its socket; it waits for the reader.
func (s *Server) Close() error {
	s.Resume()
	err := s.sock.close()
	<-s.done
	return err
}
