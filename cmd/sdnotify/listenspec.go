package main

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gosdnotify/sdnotify/internal/proto"
)

// A listenSpec is one --listen=ADDR[:NAME]: a socket that run binds as a
// .socket unit binds its ListenStream=, ListenDatagram= or
// ListenSequentialPacket=, and passes to every process it starts.
type listenSpec struct {
	kind string     // tcp, udp, unix, unixgram or unixpacket
	addr netip.Addr // tcp, udp: the address; not valid for every address (a port alone)
	port int        // tcp, udp
	path string     // unix kinds: a path, or @NAME for an abstract socket
	name string     // the name in LISTEN_FDNAMES; "" for the default
	text string     // the flag's value, as given
}

// The kinds of --listen, and what they bind.
var listenKinds = map[string]string{
	"tcp":        "TCP stream (ListenStream=)",
	"udp":        "UDP datagram (ListenDatagram=)",
	"unix":       "unix stream (ListenStream=/path)",
	"unixgram":   "unix datagram (ListenDatagram=/path)",
	"unixpacket": "unix sequential packet (ListenSequentialPacket=)",
}

func (l listenSpec) inet() bool { return l.kind == "tcp" || l.kind == "udp" }

// stream reports whether the socket listens for connections (and is
// accepted from), rather than receiving datagrams.
func (l listenSpec) stream() bool {
	return l.kind == "tcp" || l.kind == "unix" || l.kind == "unixpacket"
}

// parseListen parses --listen's ADDR[:NAME]:
//
//	tcp:PORT  tcp:IPV4:PORT  tcp:[IPV6]:PORT    (udp: the same)
//	unix:PATH  unix:@ABSTRACT  unixgram:PATH  unixpacket:PATH
//
// each optionally followed by :NAME. For tcp and udp, an IPv4 address has
// dots and a port has none, so a second field that is not an address is
// the name; an IPv6 address goes in brackets. For the unix kinds, the
// text after the last ':' is the name: a path that holds a ':' needs a
// name after it (or an empty one, a trailing ':', for the default).
func parseListen(text string) (listenSpec, error) {
	kind, rest, ok := strings.Cut(text, ":")
	if _, known := listenKinds[kind]; !ok || !known {
		return listenSpec{}, fmt.Errorf("want tcp:, udp:, unix:, unixgram: or unixpacket: before the address")
	}
	l := listenSpec{kind: kind, text: text}
	var err error
	if l.inet() {
		err = l.parseInet(rest)
	} else {
		err = l.parseUnix(rest)
	}
	if err != nil {
		return listenSpec{}, err
	}
	if !proto.ValidFDName(l.name) {
		return listenSpec{}, fmt.Errorf("NAME %q is not a valid file descriptor name: at most %d bytes of printable ASCII, no ':'", l.name, proto.MaxFDNameLen)
	}
	return l, nil
}

const inetSyntax = "want PORT, IPV4:PORT or [IPV6]:PORT, then :NAME if any (host names are not looked up)"

func (l *listenSpec) parseInet(rest string) error {
	var host, port string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return errors.New("missing ']' after the IPv6 address: " + inetSyntax)
		}
		host = rest[1:end]
		after, ok := strings.CutPrefix(rest[end+1:], ":")
		if !ok {
			return errors.New("missing :PORT after ']': " + inetSyntax)
		}
		port, l.name, _ = strings.Cut(after, ":")
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return fmt.Errorf("%q is not an IPv6 address: %s", host, inetSyntax)
		}
		l.addr = a
	} else {
		f := strings.Split(rest, ":")
		switch {
		case len(f) == 1:
			port = f[0]
		case len(f) <= 3 && strings.Contains(f[0], "."):
			host, port = f[0], f[1]
			if len(f) == 3 {
				l.name = f[2]
			}
			a, err := netip.ParseAddr(host)
			if err != nil || !a.Is4() {
				return fmt.Errorf("%q is not an IPv4 address: %s", host, inetSyntax)
			}
			l.addr = a
		case len(f) == 2:
			port, l.name = f[0], f[1]
		default:
			return errors.New("too many ':': " + inetSyntax + "; an IPv6 address goes in brackets, as in tcp:[::1]:8080")
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535: %s", port, inetSyntax)
	}
	l.port = int(p)
	return nil
}

func (l *listenSpec) parseUnix(rest string) error {
	l.path = rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		l.path, l.name = rest[:i], rest[i+1:]
	}
	switch {
	case l.path == "" || l.path == "@":
		return errors.New("missing PATH (or @NAME for an abstract socket)")
	case l.path[0] == '@':
		if len(l.path) > 108 {
			return fmt.Errorf("abstract socket name of %d bytes: at most 107 after the '@'", len(l.path)-1)
		}
		return nil
	}
	abs, err := filepath.Abs(l.path)
	if err != nil {
		return err
	}
	if len(abs) > 107 {
		return fmt.Errorf("path %s is %d bytes long: a unix socket's path has at most 107", abs, len(abs))
	}
	l.path = abs
	return nil
}

// checkListens rejects two --listen of the same address, which would
// fail to bind (or, for a unix path, replace the other's socket file).
func checkListens(ls []listenSpec) error {
	seen := map[string]string{}
	for _, l := range ls {
		var key string
		switch {
		case l.inet() && l.port != 0:
			key = fmt.Sprintf("%s %v %d", l.kind, l.addr, l.port)
		case !l.inet():
			key = "unix " + l.path // one file, one socket, whatever its type
		}
		if key == "" {
			continue
		}
		if other, ok := seen[key]; ok {
			return fmt.Errorf("--listen=%s and --listen=%s bind the same address", other, l.text)
		}
		seen[key] = l.text
	}
	return nil
}

// defaultSocketName is the name of the --listen sockets given without
// one: COMMAND's base name with ".socket", as systemd names the sockets of
// foo.socket (FileDescriptorName='s default) that it passes to
// foo.service. Bytes that a name cannot hold become '_'.
func defaultSocketName(argv0 string) string {
	const suffix = ".socket"
	b := []byte(filepath.Base(argv0))
	for i, c := range b {
		if c < ' ' || c >= 0x7f || c == ':' {
			b[i] = '_'
		}
	}
	if len(b) > proto.MaxFDNameLen-len(suffix) {
		b = b[:proto.MaxFDNameLen-len(suffix)]
	}
	return string(b) + suffix
}

// listenValue is the flag.Value of --listen, which may be repeated.
type listenValue struct{ l *[]listenSpec }

func (v listenValue) String() string {
	if v.l == nil {
		return ""
	}
	var s []string
	for _, l := range *v.l {
		s = append(s, l.text)
	}
	return strings.Join(s, " ")
}

func (v listenValue) Set(s string) error {
	l, err := parseListen(s)
	if err != nil {
		return err
	}
	*v.l = append(*v.l, l)
	return nil
}

// restartPolicies are systemd's Restart= values, and the Result= values
// of the main process's end after which each starts it again (see
// service_shall_restart in systemd's src/core/service.c).
var restartPolicies = map[string]func(result string) bool{
	"no":          func(string) bool { return false },
	"always":      func(string) bool { return true },
	"on-success":  func(r string) bool { return r == "success" },
	"on-failure":  func(r string) bool { return r != "success" },
	"on-abnormal": func(r string) bool { return r != "success" && r != "exit-code" },
	"on-watchdog": func(r string) bool { return r == "watchdog" },
	"on-abort":    func(r string) bool { return r == "signal" || r == "core-dump" },
}

// restartValue is the flag.Value of --restart.
type restartValue struct{ s *string }

func (v restartValue) String() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}

func (v restartValue) Set(s string) error {
	if _, ok := restartPolicies[s]; !ok {
		return errors.New("want no, on-failure, always, on-success, on-abnormal, on-abort or on-watchdog")
	}
	*v.s = s
	return nil
}

// restartDelayValue is the flag.Value of --restart-sec: a duration, where 0
// restarts at once and "infinity" makes no sense.
type restartDelayValue struct{ d *time.Duration }

func (v restartDelayValue) String() string { return durationValue(v).String() }

func (v restartDelayValue) Set(s string) error {
	if s == "infinity" {
		return errors.New("want a duration such as 100ms or 2s (0: restart at once)")
	}
	return durationValue(v).Set(s)
}
