package fdstore_test

import (
	"errors"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/gosdnotify/sdnotify/internal/fdstore"
	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/proto"
)

// pipe returns a pipe's ends, closed when the test ends.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// socketPair returns the two ends of a connected stream socket.
func socketPair(t *testing.T) (a, b *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b = os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// dup returns a new descriptor for f's open file, as a message carries it.
func dup(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name())
}

// isClosed reports whether the store closed f.
func isClosed(f *os.File) bool { return errors.Is(f.Close(), os.ErrClosed) }

// apply applies a notification from the main process, as the manager
// (package manager) judges it, to the store.
func apply(t *testing.T, s *fdstore.Store, data string, files ...*os.File) (fdstore.Result, error) {
	t.Helper()
	u := &manager.Unit{Version: manager.V254, Access: proto.AccessMain, MainPID: 1}
	v := u.Notify(manager.Decode(manager.Input{Data: []byte(data), Files: len(files)}, u.Version), manager.Sender{PID: 1})
	return s.Apply(v, files)
}

func names(s *fdstore.Store) []string { return s.Names() }

func TestNamesAndOrder(t *testing.T) {
	s := fdstore.New(10)
	defer s.Close()
	r1, _ := pipe(t)
	r2, _ := pipe(t)
	r3, _ := pipe(t)
	r4, _ := pipe(t)
	r5, _ := pipe(t)
	if res, err := apply(t, s, "FDSTORE=1\nFDNAME=a", dup(t, r1)); err != nil || res.Op != fdstore.OpStore || res.Name != "a" || res.Stored != 1 {
		t.Fatalf("store a: %+v, %v", res, err)
	}
	if _, err := apply(t, s, "FDNAME=b\nFDSTORE=1\nFDNAME=ignored", dup(t, r2), dup(t, r3)); err != nil {
		t.Fatalf("store b: %v", err)
	}
	if res, err := apply(t, s, "FDSTORE=1", dup(t, r4)); err != nil || res.Name != fdstore.DefaultName {
		t.Fatalf("store without FDNAME: %+v, %v", res, err)
	}
	res, err := apply(t, s, "FDSTORE=1\nFDNAME=x:y", dup(t, r5))
	if !errors.Is(err, fdstore.ErrName) || res.Name != "stored" || res.Stored != 1 {
		t.Fatalf("store with a bad name: %+v, %v", res, err)
	}
	t.Logf("bad name: %v", err)
	want := []string{"stored", "stored", "b", "b", "a"}
	if got := names(s); !slices.Equal(got, want) {
		t.Fatalf("names %q, want %q", got, want)
	}
	files := s.Files()
	for i, r := range []*os.File{r5, r4, r2, r3, r1} {
		if files[i].Name != want[i] || !sameInode(t, files[i].File, r) {
			t.Errorf("file %d: %q is not the pipe stored as %q", i, files[i].Name, want[i])
		}
	}
	if s.Len() != 5 || s.Max() != 10 {
		t.Errorf("Len %d, Max %d", s.Len(), s.Max())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || !isClosed(files[0].File) {
		t.Error("Close left files")
	}
}

func TestEmptyNameIsValid(t *testing.T) {
	s := fdstore.New(1)
	defer s.Close()
	r, _ := pipe(t)
	if res, err := apply(t, s, "FDSTORE=1\nFDNAME=", dup(t, r)); err != nil || res.Name != "" {
		t.Fatalf("%+v, %v", res, err)
	}
	if got := names(s); !slices.Equal(got, []string{""}) {
		t.Fatalf("names %q", got)
	}
}

func sameInode(t *testing.T, a, b *os.File) bool {
	t.Helper()
	sa, err := a.Stat()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(sa, sb)
}

func TestHangUpDropped(t *testing.T) {
	s := fdstore.New(10)
	defer s.Close()
	a, b := socketPair(t)
	r, w := pipe(t)
	r2, w2 := pipe(t)
	kept, keptPeer := socketPair(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, "FDSTORE=1\nFDNAME=listener", lf)
	apply(t, s, "FDSTORE=1\nFDNAME=conn", dup(t, a))
	apply(t, s, "FDSTORE=1\nFDNAME=reader", dup(t, r))
	apply(t, s, "FDSTORE=1\nFDNAME=writer", dup(t, w2))
	if res, err := apply(t, s, "FDSTORE=1\nFDNAME=nopoll\nFDPOLL=0", dup(t, kept)); err != nil || !res.NoPoll {
		t.Fatalf("FDPOLL=0: %+v, %v", res, err)
	}
	if got := s.Prune(); len(got) != 0 {
		t.Fatalf("dropped %q before any hang-up", got)
	}
	a.Close()
	b.Close()        // conn: POLLHUP
	w.Close()        // reader: POLLHUP, its writer is gone
	r2.Close()       // writer: POLLERR, its reader is gone
	keptPeer.Close() // nopoll: hangs up, but FDPOLL=0
	res, err := apply(t, s, "STATUS=x")
	if err != nil || res.Op != fdstore.OpNone {
		t.Fatalf("%+v, %v", res, err)
	}
	if want := []string{"conn", "reader", "writer"}; !slices.Equal(res.HungUp, want) {
		t.Errorf("HungUp %q, want %q", res.HungUp, want)
	}
	if got, want := names(s), []string{"nopoll", "listener"}; !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
}

func TestRemove(t *testing.T) {
	s := fdstore.New(10)
	defer s.Close()
	var stored []*os.File
	for _, name := range []string{"a", "b", "a"} {
		r, _ := pipe(t)
		f := dup(t, r)
		stored = append(stored, f)
		apply(t, s, "FDSTORE=1\nFDNAME="+name, f)
	}
	if _, err := apply(t, s, "FDSTOREREMOVE=1"); !errors.Is(err, fdstore.ErrName) {
		t.Errorf("remove without FDNAME: %v", err)
	}
	if _, err := apply(t, s, "FDSTOREREMOVE=1\nFDNAME=a\x7f"); !errors.Is(err, fdstore.ErrName) {
		t.Errorf("remove with a bad FDNAME: %v", err)
	}
	if s.Len() != 3 {
		t.Fatalf("a bad remove removed files: %q", names(s))
	}
	res, err := apply(t, s, "FDSTOREREMOVE=1\nFDNAME=a")
	if err != nil || res.Op != fdstore.OpRemove || res.Removed != 2 {
		t.Fatalf("remove a: %+v, %v", res, err)
	}
	if got := names(s); !slices.Equal(got, []string{"b"}) {
		t.Errorf("names %q", got)
	}
	if !isClosed(stored[0]) || !isClosed(stored[2]) || isClosed(stored[1]) {
		t.Error("remove closed the wrong files")
	}
	// FDSTOREREMOVE=1 wins over FDSTORE=1, and its files are closed.
	r, _ := pipe(t)
	f := dup(t, r)
	res, err = apply(t, s, "FDSTORE=1\nFDSTOREREMOVE=1\nFDNAME=b", f)
	if !errors.Is(err, fdstore.ErrNotStored) || res.Removed != 1 || res.NotStored != 1 || s.Len() != 0 || !isClosed(f) {
		t.Errorf("store and remove: %+v, %v, names %q", res, err, names(s))
	}
}

func TestMax(t *testing.T) {
	s := fdstore.New(2)
	defer s.Close()
	var fs []*os.File
	for range 3 {
		r, _ := pipe(t)
		fs = append(fs, dup(t, r))
	}
	res, err := apply(t, s, "FDSTORE=1\nFDNAME=x", fs...)
	if !errors.Is(err, fdstore.ErrFull) || res.Stored != 2 || res.Full != 1 || !isClosed(fs[2]) {
		t.Fatalf("%+v, %v", res, err)
	}
	t.Logf("full: %v", err)
	r, _ := pipe(t)
	if res, err := apply(t, s, "FDSTORE=1", dup(t, r)); !errors.Is(err, fdstore.ErrFull) || res.Full != 1 {
		t.Errorf("a full store: %+v, %v", res, err)
	}
	zero := fdstore.New(0)
	if res, err := apply(t, zero, "FDSTORE=1", dup(t, r)); !errors.Is(err, fdstore.ErrFull) || res.Stored != 0 {
		t.Errorf("FileDescriptorStoreMax=0: %+v, %v", res, err)
	}
}

func TestDuplicates(t *testing.T) {
	s := fdstore.New(10)
	defer s.Close()
	r, _ := pipe(t)
	other, _ := pipe(t)
	res, err := apply(t, s, "FDSTORE=1\nFDNAME=x", dup(t, r), dup(t, r), dup(t, other))
	if err != nil || res.Stored != 2 || res.Duplicates != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	res, err = apply(t, s, "FDSTORE=1\nFDNAME=y", dup(t, r))
	if err != nil || res.Stored != 0 || res.Duplicates != 1 {
		t.Fatalf("again: %+v, %v", res, err)
	}
	if got := names(s); !slices.Equal(got, []string{"x", "x"}) {
		t.Errorf("names %q", got)
	}
}

func TestNotStored(t *testing.T) {
	s := fdstore.New(10)
	defer s.Close()
	r, _ := pipe(t)
	f := dup(t, r)
	res, err := apply(t, s, "READY=1\nFDNAME=x", f)
	if !errors.Is(err, fdstore.ErrNotStored) || res.NotStored != 1 || !isClosed(f) || s.Len() != 0 {
		t.Errorf("%+v, %v", res, err)
	}
	if _, err := apply(t, s, "FDSTORE=1"); !errors.Is(err, fdstore.ErrNoFiles) {
		t.Errorf("FDSTORE=1 alone: %v", err)
	}
	// Lines are whole: "FDSTORE=10" and " FDSTORE=1" are not FDSTORE=1.
	g := dup(t, r)
	if res, _ := apply(t, s, "FDSTORE=10\r FDSTORE=1", g); res.Op != fdstore.OpNone || !isClosed(g) {
		t.Errorf("not quite FDSTORE=1: %+v", res)
	}
}
