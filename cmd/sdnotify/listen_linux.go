package main

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A boundSocket is a --listen socket, bound (and listening, for a stream
// socket). run keeps it open from start to end, across restarts, as a
// .socket unit keeps its sockets: connections wait in its backlog while
// no process accepts them.
type boundSocket struct {
	spec listenSpec
	name string   // its name in LISTEN_FDNAMES
	f    *os.File // blocking: os.File makes no poller of it, Fd has no side effect
	addr string   // the bound address, in --listen's syntax (with the port picked for port 0)

	made     bool // a socket file that run made, removed at exit
	dev, ino uint64
}

// bindListeners binds the --listen sockets, in order, and reports each.
func (s *supervisor) bindListeners() error {
	def := defaultSocketName(s.o.argv[0])
	for i, spec := range s.o.listens {
		b, err := bindSocket(spec)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("--listen=%s: %w", spec.text, err)
		}
		b.name = spec.name
		if b.name == "" {
			b.name = def
		}
		s.listeners = append(s.listeners, b)
		fd := 3 + i
		s.em.emit(&event{
			Event:   "listen",
			Name:    b.name,
			Address: b.addr,
			Message: fmt.Sprintf("%s: %s, passed as fd %d named %q", b.addr, listenKinds[spec.kind], fd, b.name),
		})
	}
	return nil
}

// closeListeners closes the --listen sockets, and removes the socket files
// run made, as a .socket unit with RemoveOnStop=yes does.
func (s *supervisor) closeListeners() {
	for _, b := range s.listeners {
		b.f.Close()
		if b.made {
			var st unix.Stat_t
			// Only if it is still the file bound: not one made since.
			if unix.Lstat(b.spec.path, &st) == nil && uint64(st.Dev) == b.dev && st.Ino == b.ino {
				os.Remove(b.spec.path)
			}
		}
	}
	s.listeners = nil
}

// bindSocket makes the socket of spec as systemd's socket_address_listen
// does: close-on-exec, SO_REUSEADDR, the parent directories of a path,
// an old socket file at the path replaced, mode 0666, a backlog as large
// as the kernel allows (net.core.somaxconn).
func bindSocket(spec listenSpec) (*boundSocket, error) {
	typ := unix.SOCK_STREAM
	switch spec.kind {
	case "udp", "unixgram":
		typ = unix.SOCK_DGRAM
	case "unixpacket":
		typ = unix.SOCK_SEQPACKET
	}
	family, sa, err := sockaddr(spec)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil && family == unix.AF_INET6 && !spec.addr.IsValid() && errors.Is(err, unix.EAFNOSUPPORT) {
		// A port alone, without IPv6: every IPv4 address, as systemd
		// falls back.
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: spec.port}
		fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, os.NewSyscallError("setsockopt SO_REUSEADDR", err)
	}
	b := &boundSocket{spec: spec}
	if err := bindTo(fd, sa, spec); err != nil {
		return nil, err
	}
	if spec.path != "" && spec.path[0] != '@' {
		var st unix.Stat_t
		if err := unix.Lstat(spec.path, &st); err == nil {
			b.made, b.dev, b.ino = true, uint64(st.Dev), st.Ino
		}
		os.Chmod(spec.path, 0o666) // systemd's SocketMode= default
	}
	if spec.stream() {
		if err := unix.Listen(fd, math.MaxInt32); err != nil {
			return nil, os.NewSyscallError("listen", err)
		}
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	b.addr = showSockaddr(spec, local)
	b.f = os.NewFile(uintptr(fd), b.addr)
	ok = true
	return b, nil
}

// bindTo binds fd; a socket file in the way at a unix path is removed and
// the bind tried again, as systemd does (a file of another type is not).
func bindTo(fd int, sa unix.Sockaddr, spec listenSpec) error {
	path := ""
	if spec.path != "" && spec.path[0] != '@' {
		path = spec.path
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
	}
	err := unix.Bind(fd, sa)
	if errors.Is(err, unix.EADDRINUSE) && path != "" {
		var st unix.Stat_t
		if unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			if rerr := os.Remove(path); rerr == nil {
				err = unix.Bind(fd, sa)
			}
		} else if unix.Lstat(path, &st) == nil {
			return fmt.Errorf("bind: %s exists and is not a socket", path)
		}
	}
	if err != nil {
		return os.NewSyscallError("bind", err)
	}
	return nil
}

// sockaddr returns the address to bind spec to: for a port alone, the
// IPv6 wildcard, which takes IPv4 too unless net.ipv6.bindv6only is set
// (systemd's BindIPv6Only=default).
func sockaddr(spec listenSpec) (int, unix.Sockaddr, error) {
	if !spec.inet() {
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: spec.path}, nil
	}
	a := spec.addr
	switch {
	case !a.IsValid():
		return unix.AF_INET6, &unix.SockaddrInet6{Port: spec.port}, nil
	case a.Is4():
		return unix.AF_INET, &unix.SockaddrInet4{Port: spec.port, Addr: a.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: spec.port, Addr: a.As16()}
	if z := a.Zone(); z != "" {
		id, err := zoneIndex(z)
		if err != nil {
			return 0, nil, err
		}
		sa.ZoneId = id
	}
	return unix.AF_INET6, sa, nil
}

// zoneIndex returns the index of the network interface an IPv6 zone
// names: a number, or an interface's name (from /sys: run does not use
// package net).
func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	b, err := os.ReadFile(filepath.Join("/sys/class/net", filepath.Base(zone), "ifindex"))
	if err != nil {
		return 0, fmt.Errorf("no network interface %q for the IPv6 zone", zone)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("no network interface %q for the IPv6 zone", zone)
	}
	return uint32(n), nil
}

// showSockaddr shows a bound address in --listen's syntax.
func showSockaddr(spec listenSpec, sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return spec.kind + ":" + netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr)
		if spec.addr.Zone() != "" {
			ip = ip.WithZone(spec.addr.Zone())
		}
		return spec.kind + ":" + netip.AddrPortFrom(ip, uint16(a.Port)).String()
	}
	return spec.kind + ":" + spec.path
}

// resetListeners makes the --listen sockets blocking again before a
// process starts, as systemd does (NonBlocking=no) each time it passes
// them: the previous process may have made them non-blocking (Go's
// net.FileListener does), and the flag belongs to the socket, not to the
// process.
func (s *supervisor) resetListeners() {
	for _, b := range s.listeners {
		if fd := rawFd(b.f); fd >= 0 {
			unix.SetNonblock(fd, false)
		}
	}
}
