// Package listen turns the files that the service manager passes (socket
// activation, the fd store; see sdnotify.Files) into net.Listener and
// net.PacketConn values by name, and binds a socket itself when the
// manager passed none: the one call a daemon needs to take over its
// listening socket across restarts. It is the part of this module that
// uses package net; the sdnotify package does not.
//
// The *os.File values that sdnotify.Files returns stay open: Listener and
// PacketConn make duplicates (as net.FileListener does), so every call for
// a name, from any package, works, and the socket keeps queueing
// connections until the process exits, even after the net.Listener is
// closed.
package listen

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"github.com/gosdnotify/sdnotify"
)

// Listener returns a net.Listener for the first listening socket that the
// manager passed under name. It returns an error matching fs.ErrNotExist
// if the manager passed no file of that name, and one that names the file
// if it is not a listening socket, or the error of sdnotify.Files.
func Listener(name string) (net.Listener, error) {
	f, err := first(name)
	if err != nil {
		return nil, err
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listen: file %q (descriptor %d) is not a listening socket: %w", name, f.Fd(), err)
	}
	return ln, nil
}

// PacketConn returns a net.PacketConn for the first datagram socket that
// the manager passed under name, with errors as Listener's.
func PacketConn(name string) (net.PacketConn, error) {
	f, err := first(name)
	if err != nil {
		return nil, err
	}
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("listen: file %q (descriptor %d) is not a datagram socket: %w", name, f.Fd(), err)
	}
	return c, nil
}

// Listen returns the listening socket that the manager passed under name
// or, if it passed none, a new one bound as net.Listen(network, address)
// binds it. passed reports which. A daemon that stores the socket with the
// manager (see File) gets the same socket back after a restart, and no
// connection is refused meanwhile.
func Listen(name, network, address string) (ln net.Listener, passed bool, err error) {
	ln, err = Listener(name)
	if err == nil {
		return ln, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	ln, err = net.Listen(network, address)
	return ln, false, err
}

// ListenPacket is Listen for datagram sockets: the manager's, or one
// bound as net.ListenPacket(network, address) binds it.
func ListenPacket(name, network, address string) (c net.PacketConn, passed bool, err error) {
	c, err = PacketConn(name)
	if err == nil {
		return c, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	c, err = net.ListenPacket(network, address)
	return c, false, err
}

// File returns a duplicate of the socket under a listener or connection
// (a *net.TCPListener, *net.UnixListener, *net.UDPConn, ...), to store
// with the manager: n.Send(sdnotify.FDStore(name, f)). The caller closes
// it once sent.
func File(c any) (*os.File, error) {
	fc, ok := c.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("listen: a %T has no socket to store", c)
	}
	return fc.File()
}

func first(name string) (*os.File, error) {
	files, err := sdnotify.FilesNamed(name)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("listen: the manager passed no file named %q: %w", name, fs.ErrNotExist)
	}
	return files[0], nil
}
