// Package fdstore keeps a service's file descriptor store by the service
// manager's rules, for the fake managers of this module (sdnotifytest's
// Listener and sdnotify run): what FDSTORE=1, FDSTOREREMOVE=1, FDNAME=
// and FDPOLL=0 do, FileDescriptorStoreMax=, and which files come back, in
// which order and under which names, when the service starts again.
// Which of those a notification asks for is package manager's verdict;
// the store carries it out.
//
// The rules are systemd's (service_notify_message and
// service_add_fd_store in src/core/service.c):
//
//   - FDSTOREREMOVE=1 with a valid FDNAME= closes every stored file of
//     that name; without a valid one it is ignored. It wins over an
//     FDSTORE=1 in the same message, whose files are then closed.
//   - FDSTORE=1 stores the message's files under the first FDNAME= of the
//     message, or under "stored" when there is none or it is not valid.
//     A valid name has at most 255 ASCII characters, no control characters
//     and no ':'; the empty name is valid.
//   - A file that is already in the store (the same open file, as kcmp
//     tells) is closed, not stored twice.
//   - Once the store holds max files (FileDescriptorStoreMax=), the
//     message's remaining files are closed.
//   - Files sent without FDSTORE=1 are closed.
//   - A stored file whose peer hangs up or that reports an error
//     (POLLHUP, POLLERR) is dropped from the store and closed, unless it
//     was stored with FDPOLL=0. The manager watches for this all the time;
//     a Store looks when it is used (Apply, Files, Names, Len, Prune).
//   - The files come back newest first: the manager adds each stored file
//     at the head of its list, and passes the list in order. (Among the
//     files of one message its order is not defined; a Store keeps the
//     message's order.)
//
// A Store is safe for use by several goroutines.
package fdstore

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/proto"
	"github.com/gosdnotify/sdnotify/internal/spawn"
)

// DefaultName is the name of files stored without a valid FDNAME=.
const DefaultName = proto.DefaultFDName

// Errors that Apply's error matches (with errors.Is), for what systemd
// would warn about. The message is still applied as far as it can be.
var (
	// ErrName: an FDNAME= that is not a valid name (the files are stored
	// as DefaultName), or FDSTOREREMOVE=1 without a valid FDNAME= (nothing
	// is removed).
	ErrName = errors.New("not a valid FDNAME=")
	// ErrFull: the store was full, and files were closed.
	ErrFull = errors.New("the fd store is full")
	// ErrNotStored: files came without FDSTORE=1 (or with
	// FDSTOREREMOVE=1), and were closed.
	ErrNotStored = errors.New("files sent without FDSTORE=1")
	// ErrNoFiles: FDSTORE=1 came without any file.
	ErrNoFiles = errors.New("FDSTORE=1 without any file")
)

// An Op is what a notification asked of the store.
type Op string

// The operations.
const (
	OpNone   Op = ""       // neither FDSTORE=1 nor FDSTOREREMOVE=1
	OpStore  Op = "store"  // FDSTORE=1
	OpRemove Op = "remove" // FDSTOREREMOVE=1
)

// A Result says what Apply did with one notification.
type Result struct {
	// Op is what the message asked: OpStore, OpRemove or OpNone.
	Op Op
	// Name is the name that files were stored or removed under. It is
	// "" for OpNone, and for an OpRemove without a valid FDNAME=.
	Name string
	// NoPoll is true when FDSTORE=1 came with FDPOLL=0: the stored files
	// stay even when their peer hangs up.
	NoPoll bool

	Stored     int // files added to the store
	Duplicates int // files already in the store: closed
	Full       int // files closed because the store was full
	Removed    int // stored files that FDSTOREREMOVE=1 closed
	NotStored  int // files closed because FDSTORE=1 was missing

	// HungUp are the names of stored files dropped before the message
	// was applied because their peer had hung up, oldest first.
	HungUp []string
}

// A Store is a service's file descriptor store.
type Store struct {
	mu      sync.Mutex
	max     int
	entries []entry // newest first, as the manager passes them
}

type entry struct {
	name string
	f    *os.File
	poll bool // drop it on POLLHUP or POLLERR
}

// New returns an empty store that holds at most max files, as
// FileDescriptorStoreMax=max does (0 stores nothing).
func New(max int) *Store { return &Store{max: max} }

// Max returns the most files the store holds.
func (s *Store) Max() int { return s.max }

// Apply carries out what the manager decided about one notification's
// fd store part (v, a verdict of package manager), with the files sent
// with it: FDSTOREREMOVE=1 closes the stored files of its FDNAME=,
// FDSTORE=1 stores the files. Apply takes all of files: it keeps those it
// stores and closes the others. A verdict the unit did not accept (a
// dropped datagram, a barrier, a refused sender) stores nothing.
//
// The error, if not nil, joins what systemd would warn about, each
// matching one of ErrName, ErrFull, ErrNotStored, ErrNoFiles, or a system
// error on a file (which is then closed). The Result tells what was done
// all the same.
func (s *Store) Apply(v *manager.Verdict, files []*os.File) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Result
	r.HungUp = s.prune()
	if !v.Accepted() {
		closeAll(files)
		return r, nil
	}
	var errs []error
	badName := ""
	for _, o := range v.Outcomes {
		if o.Key == "FDNAME" && o.HasEq {
			if o.Use == manager.Ignored && strings.HasPrefix(o.Why, "not a valid name") {
				badName = o.Value
			}
			break
		}
	}
	switch {
	case v.Has("FDSTOREREMOVE=1") || hasNoEffect(v, "FDSTOREREMOVE=1"):
		r.Op = OpRemove
		for _, c := range v.Changes {
			if c.Kind == manager.FilesRemoved {
				r.Name = c.Text
				r.Removed = s.remove(c.Text)
			}
		}
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("fdstore: FDSTOREREMOVE=1 without a valid FDNAME=: ignored: %w", ErrName))
		}
	case v.Has("FDSTORE=1") || hasNoEffect(v, "FDSTORE=1"):
		r.Op = OpStore
		r.Name = DefaultName
		if name, ok := v.Read("FDNAME"); ok {
			r.Name = name
		}
		if badName != "" {
			errs = append(errs, fmt.Errorf("fdstore: FDNAME=%q (%s): the files are stored as %q: %w", badName, proto.FDNameProblem(badName), DefaultName, ErrName))
		}
		for _, c := range v.Changes {
			if c.Kind == manager.FilesStored {
				r.Name, r.NoPoll = c.Text, !c.Poll
			}
		}
		if len(files) == 0 {
			errs = append(errs, fmt.Errorf("fdstore: nothing to store under %q: %w", r.Name, ErrNoFiles))
		}
		errs = append(errs, s.store(&r, files))
		files = nil
	}
	if len(files) > 0 {
		r.NotStored = len(files)
		closeAll(files)
		what := "without FDSTORE=1"
		if r.Op == OpRemove {
			what = "with FDSTOREREMOVE=1"
		}
		errs = append(errs, fmt.Errorf("fdstore: %d file(s) sent %s: closed: %w", len(files), what, ErrNotStored))
	}
	return r, errors.Join(errs...)
}

// hasNoEffect reports whether v read line and it changed nothing.
func hasNoEffect(v *manager.Verdict, line string) bool {
	for _, o := range v.Outcomes {
		if o.Text == line && o.Effect == manager.NoEffect {
			return true
		}
	}
	return false
}

// store adds the files of one FDSTORE=1 message, at the head of the list
// and in their order, and closes those it does not keep.
func (s *Store) store(r *Result, files []*os.File) error {
	var added []entry
	var errs []error
	for i, f := range files {
		if len(s.entries)+len(added) >= s.max {
			r.Full = len(files) - i
			closeAll(files[i:])
			errs = append(errs, fmt.Errorf("fdstore: %d file(s) for %q closed: the store holds at most %d (FileDescriptorStoreMax=): %w", r.Full, r.Name, s.max, ErrFull))
			break
		}
		dup, err := s.has(f, added)
		if err != nil {
			f.Close()
			errs = append(errs, fmt.Errorf("fdstore: file %d for %q: closed: %w", i, r.Name, err))
			continue
		}
		if dup {
			r.Duplicates++
			f.Close()
			continue
		}
		added = append(added, entry{name: r.Name, f: f, poll: !r.NoPoll})
		r.Stored++
	}
	s.entries = append(added, s.entries...)
	return errors.Join(errs...)
}

// has reports whether f is the same open file as one in the store or in
// added.
func (s *Store) has(f *os.File, added []entry) (bool, error) {
	for _, list := range [][]entry{added, s.entries} {
		for _, e := range list {
			same, err := sameFile(e.f, f)
			if same || err != nil {
				return same, err
			}
		}
	}
	return false, nil
}

// remove closes the stored files named name, and returns how many.
func (s *Store) remove(name string) int {
	kept := s.entries[:0]
	n := 0
	for _, e := range s.entries {
		if e.name == name {
			e.f.Close()
			n++
			continue
		}
		kept = append(kept, e)
	}
	clear(s.entries[len(kept):])
	s.entries = kept
	return n
}

// prune drops the polled files whose peer hung up, and returns their names,
// oldest first.
func (s *Store) prune() []string {
	var gone []string
	kept := s.entries[:0]
	for _, e := range s.entries {
		if e.poll && hungUp(e.f) {
			e.f.Close()
			gone = append(gone, e.name)
			continue
		}
		kept = append(kept, e)
	}
	clear(s.entries[len(kept):])
	s.entries = kept
	slices.Reverse(gone)
	return gone
}

// Prune drops the stored files whose peer has hung up (unless stored with
// FDPOLL=0), as the manager does when it sees them, and returns their
// names, oldest first. Apply, Files, Names and Len prune, too.
func (s *Store) Prune() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prune()
}

// Files returns the stored files, newest first, with their names, as the
// manager passes them to the service's next process (after the sockets of
// its socket units). Hung-up files are dropped first. The files stay the
// store's: pass them on (spawn.Command duplicates them into the new
// process), but do not close them.
func (s *Store) Files() []spawn.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	files := make([]spawn.File, len(s.entries))
	for i, e := range s.entries {
		files[i] = spawn.File{Name: e.name, File: e.f}
	}
	return files
}

// Names returns the names of the stored files, in the order of Files.
func (s *Store) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	names := make([]string, len(s.entries))
	for i, e := range s.entries {
		names[i] = e.name
	}
	return names
}

// Len returns how many files the store holds.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	return len(s.entries)
}

// Close closes every stored file and empties the store, as the manager
// does when the service stops for good. The store can be used again.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range s.entries {
		if err := e.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("fdstore: closing %q: %w", e.name, err))
		}
	}
	clear(s.entries)
	s.entries = nil
	return errors.Join(errs...)
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
