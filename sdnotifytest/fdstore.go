package sdnotifytest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/internal/fdstore"
	"github.com/gosdnotify/sdnotify/internal/manager"
	"github.com/gosdnotify/sdnotify/internal/notifysock"
	"github.com/gosdnotify/sdnotify/internal/proto"
)

// A File is a file that the manager passes to a service it starts, with
// its name in LISTEN_FDNAMES: a socket of a .socket unit
// (FileDescriptorName=), or a file of the fd store (FDNAME=).
type File struct {
	Name string
	File *os.File
}

// EnableFDStore makes l keep the service's file descriptor store, as the
// manager does for a unit with FileDescriptorStoreMax=max: the files sent
// with FDSTORE=1 from then on are kept (duplicates of them: the messages
// keep their Files), under their FDNAME=, until FDSTOREREMOVE=1 removes
// them, their peer hangs up (unless sent with FDPOLL=0), or l is closed.
// Start passes them to the next process and sets FDSTORE=max in its
// environment. The rules are systemd's, for names, duplicates, the
// maximum and the order; see Stored.
//
// Calling it again closes the files stored so far and starts an empty
// store of the new size.
func (l *Listener) EnableFDStore(max int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		l.store.Close()
	}
	l.store = fdstore.New(max)
}

// Stored returns the files in l's fd store with their names, in the order
// in which Start passes them: newest first, as systemd passes them (the
// files of one message in the order sent). A stored file whose peer has
// hung up is dropped first, unless it was stored with FDPOLL=0. The files
// stay the store's: do not close them. Without EnableFDStore there are
// none.
func (l *Listener) Stored() []File {
	st := l.fdStore()
	if st == nil {
		return nil
	}
	var files []File
	for _, f := range st.Files() {
		files = append(files, File(f))
	}
	return files
}

func (l *Listener) fdStore() *fdstore.Store {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.store
}

// keep applies m, decoded as d, to the fd store, if there is one, as the
// manager would: the Listener stands for a unit whose main process is the
// sender, and whose NotifyAccess= lets it notify. Must be called with l.mu
// held.
func (l *Listener) keep(m *Message, d *manager.Datagram) {
	if l.store == nil || d.Drop != "" || d.Barrier {
		return
	}
	u := &manager.Unit{Version: d.Version, Access: proto.AccessMain, MainPID: m.PID}
	v := u.Notify(d, manager.Sender{PID: m.PID, UID: m.UID, InUnit: true})
	// The errors are what systemd would log; the store's contents tell
	// what it did.
	l.store.Apply(v, notifysock.DupFiles(m.Files))
}

// syncKey is the assignment that Sync sends to l from this process, to
// know that every message sent before it has been handled. It is not
// recorded.
const syncKey = "X_SDNOTIFYTEST_SYNC"

// isSync reports whether m is a marker of Sync, and its number.
func isSync(m *Message) (uint64, bool) {
	v, ok := strings.CutPrefix(string(m.Data), syncKey+"=")
	if !ok || m.PID != os.Getpid() {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

// Sync waits until l has handled every notification that reached its
// socket before the call: a daemon that has exited has had all its
// notifications recorded, and its fd store requests applied, when Sync
// returns. It sends a marker (not recorded) to l and waits for it, until
// ctx ends or l is closed. A paused Listener handles nothing until Resume.
func (l *Listener) Sync(ctx context.Context) error {
	l.mu.Lock()
	l.syncSent++
	n := l.syncSent
	l.mu.Unlock()
	sender := sdnotify.NewAddr(l.Addr)
	defer sender.Close()
	if err := sender.Send(sdnotify.Var(syncKey, strconv.FormatUint(n, 10))); err != nil {
		return fmt.Errorf("sdnotifytest: sync: %w", err)
	}
	for {
		l.mu.Lock()
		done, arrived, err := l.syncSeen >= n, l.arrived, l.err
		l.mu.Unlock()
		switch {
		case done:
			return nil
		case err != nil:
			return fmt.Errorf("sdnotifytest: sync: %w", err)
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return fmt.Errorf("sdnotifytest: sync: %w", ctx.Err())
		}
	}
}
