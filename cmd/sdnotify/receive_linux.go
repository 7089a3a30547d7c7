package main

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/internal/notifysock"
)

// syncKey is the assignment of the marker run sends to its own socket to
// know that everything queued before it has been read.
const syncKey = "X_SDNOTIFY_RUN_SYNC"

// A receiver is run's notification socket, read in the background.
type receiver struct {
	sock  *notifysock.Socket
	msgs  chan *notifysock.Datagram
	syncN *sdnotify.Notifier // sends the markers
	seq   int
}

// listen binds the notification socket, in a new private directory.
func listen() (*receiver, error) {
	sock, err := notifysock.Listen("")
	if err != nil {
		return nil, err
	}
	return &receiver{sock: sock, msgs: make(chan *notifysock.Datagram), syncN: sdnotify.NewAddr(sock.Addr)}, nil
}

// close closes the socket and removes its directory.
func (r *receiver) close() {
	r.syncN.Close()
	r.sock.Close()
}

// read passes the datagrams on to the main loop until ctx ends.
func (r *receiver) read(ctx context.Context) {
	for {
		d, err := r.sock.Receive()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return
		}
		select {
		case r.msgs <- d:
		case <-ctx.Done():
			d.CloseFiles()
			return
		}
	}
}

// isMarker reports whether d is a marker of ours, and its number.
func (s *supervisor) isMarker(d *notifysock.Datagram) (string, bool) {
	if d.PID != s.self || len(d.Data) <= len(syncKey)+1 || string(d.Data[:len(syncKey)+1]) != syncKey+"=" {
		return "", false
	}
	return string(d.Data[len(syncKey)+1:]), true
}

// syncMessages processes every notification sent before now: it sends a
// marker to its own socket and handles what arrives until the marker does
// (datagrams are queued in order), for at most a second.
func (s *supervisor) syncMessages() {
	r := s.recv
	r.seq++
	marker := strconv.Itoa(r.seq)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.syncN.SendContext(ctx, sdnotify.Var(syncKey, marker)); err != nil {
		return
	}
	for {
		select {
		case d := <-r.msgs:
			if n, ok := s.isMarker(d); ok && n == marker {
				return
			}
			s.handle(d)
		case <-ctx.Done():
			return
		}
	}
}
