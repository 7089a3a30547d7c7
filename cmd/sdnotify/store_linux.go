package main

import (
	"errors"
	"fmt"

	"github.com/gosdnotify/sdnotify/internal/fdstore"
	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/notifysock"
)

// The fd store is internal/fdstore's: FDSTORE=1, FDSTOREREMOVE=1, FDNAME=,
// FDPOLL=0 and --fd-store-max by systemd's rules, newest first, files
// whose peer hung up dropped. These are run's reports of what it did.

// applyFDStore carries out the verdict's fd store part with the
// notification's files, and reports what the store did.
func (s *supervisor) applyFDStore(v *manager.Verdict, m *notifysock.Datagram) {
	r, err := s.fds.Apply(v, m.Files)
	s.reportHangUps(r.HungUp)
	// Files stored now whose peer is already gone (the sender exited
	// before run read its message) go at once: reported after the store.
	// (The store's Names prunes too, silently: prune first.)
	gone := s.fds.Prune()
	defer s.reportHangUps(gone)
	max := s.fds.Max()
	switch r.Op {
	case fdstore.OpStore:
		if errors.Is(err, fdstore.ErrName) {
			s.em.emit(&event{Event: "warning", PID: m.PID, Message: fmt.Sprintf("FDNAME= is not a valid name: the files are stored as %q, as systemd does", fdstore.DefaultName)})
		}
		if errors.Is(err, fdstore.ErrNoFiles) {
			s.em.emit(&event{Event: "warning", PID: m.PID, Message: "FDSTORE=1 without any file descriptor: nothing to store"})
			break
		}
		msg := fmt.Sprintf("stored %d fd(s) as %q", r.Stored, r.Name)
		if r.NoPoll {
			msg += " with FDPOLL=0 (kept when their peer hangs up)"
		}
		if r.Duplicates > 0 {
			msg += fmt.Sprintf(", %d already in the store (closed)", r.Duplicates)
		}
		if r.Full > 0 {
			msg += fmt.Sprintf(", %d closed: the store is full (--fd-store-max=%d, systemd's FileDescriptorStoreMax=)", r.Full, max)
		}
		names := s.fds.Names()
		msg += fmt.Sprintf("; store: %s (%d of %d)", joinNames(names), len(names), max)
		s.em.emit(&event{Event: "fdstore", PID: m.PID, Reason: "store", FDs: r.Stored, FDStore: ptr(names), Message: msg})
	case fdstore.OpRemove:
		if r.Name == "" {
			s.em.emit(&event{Event: "warning", PID: m.PID, Message: "FDSTOREREMOVE=1 without a valid FDNAME=: ignored, as systemd ignores it"})
			break
		}
		names := s.fds.Names()
		s.em.emit(&event{Event: "fdstore", PID: m.PID, Reason: "remove", FDs: r.Removed, FDStore: ptr(names), Message: fmt.Sprintf("removed %d fd(s) named %q; store: %s (%d of %d)", r.Removed, r.Name, joinNames(names), len(names), max)})
	}
	if r.NotStored > 0 {
		why := "without FDSTORE=1"
		if r.Op == fdstore.OpRemove {
			why = "with FDSTOREREMOVE=1"
		}
		s.em.emit(&event{Event: "warning", PID: m.PID, FDs: r.NotStored, Message: fmt.Sprintf("pid %d sent %d fd(s) %s: closed, as systemd closes them", m.PID, r.NotStored, why)})
	}
	// A system error on a file (it was closed): say so.
	for _, e := range unjoin(err) {
		if !errors.Is(e, fdstore.ErrName) && !errors.Is(e, fdstore.ErrFull) && !errors.Is(e, fdstore.ErrNotStored) && !errors.Is(e, fdstore.ErrNoFiles) {
			s.em.emit(&event{Event: "warning", PID: m.PID, Message: e.Error()})
		}
	}
}

// pruneFDStore drops the stored files whose peer hung up, as the manager
// does as soon as it sees them (run looks at each notification, when the
// main process exits and before it starts COMMAND again), and reports them.
func (s *supervisor) pruneFDStore() { s.reportHangUps(s.fds.Prune()) }

func (s *supervisor) reportHangUps(names []string) {
	if len(names) == 0 {
		return
	}
	left := s.fds.Names()
	s.em.emit(&event{Event: "fdstore", Reason: "hangup", FDs: len(names), FDStore: ptr(left), Message: fmt.Sprintf("dropped %d fd(s) whose peer hung up (POLLHUP or POLLERR; store them with FDPOLL=0 to keep them), as systemd drops them: %s; store: %s (%d of %d)", len(names), joinNames(names), joinNames(left), len(left), s.fds.Max())})
}

// closeFDStore empties the store at the end of the run.
func (s *supervisor) closeFDStore() {
	s.pruneFDStore()
	if names := s.fds.Names(); len(names) > 0 {
		s.em.emit(&event{Event: "fdstore", FDStore: ptr(names), Message: "at exit: " + joinNames(names)})
	}
	s.fds.Close()
}

// unjoin returns the errors that errors.Join joined into err (or err).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
