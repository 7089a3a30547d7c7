// Package notifysock is the receiving end of sd_notify: a datagram socket
// bound as a service manager binds its notification socket, with
// SO_PASSCRED on, that hands over each datagram with the sender's
// credentials and the files passed with it. It decides nothing about the
// datagrams (package manager does); sdnotifytest's Listener and sdnotify
// run both receive through it.
package notifysock

import (
	"os"
	"time"

	"github.com/gosdnotify/sdnotify/internal/manager"
)

// A Datagram is one notification as received.
type Datagram struct {
	// Data is the datagram, or its first bufferLen bytes when Size says
	// that it was longer.
	Data []byte
	// Size is the datagram's size when it was longer than the buffer,
	// else 0.
	Size int
	// ControlTruncated is set when the kernel cut the control data short
	// (more files than the socket takes), or it could not be parsed.
	ControlTruncated bool
	// PID, UID and GID are the sender's credentials (SCM_CREDENTIALS).
	PID, UID, GID int
	// Files are the descriptors passed with it (SCM_RIGHTS), close-on-exec.
	Files []*os.File
	// Received is when it was read.
	Received time.Time
}

// Input returns what package manager decodes of d.
func (d *Datagram) Input() manager.Input {
	return manager.Input{Data: d.Data, Size: d.Size, Files: len(d.Files), ControlTruncated: d.ControlTruncated}
}

// CloseFiles closes d's files.
func (d *Datagram) CloseFiles() {
	for _, f := range d.Files {
		f.Close()
	}
}
