//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/pidfd"
)

func TestParseListen(t *testing.T) {
	t.Parallel()
	cwd, _ := os.Getwd()
	for _, tc := range []struct {
		in   string
		want string // kind addr port path name, or "error: SUBSTRING"
	}{
		{"tcp:8080", "tcp invalid IP 8080  "},
		{"tcp:8080:web", "tcp invalid IP 8080  web"},
		{"tcp:8080:", "tcp invalid IP 8080  "},
		{"tcp:127.0.0.1:0", "tcp 127.0.0.1 0  "},
		{"tcp:127.0.0.1:80:web", "tcp 127.0.0.1 80  web"},
		{"udp:0.0.0.0:53:dns", "udp 0.0.0.0 53  dns"},
		{"tcp:[::1]:8080", "tcp ::1 8080  "},
		{"tcp:[::1]:8080:v6", "tcp ::1 8080  v6"},
		{"udp:[fe80::1%2]:53", "udp fe80::1%2 53  "},
		{"tcp:[::ffff:1.2.3.4]:1:mapped", "tcp ::ffff:1.2.3.4 1  mapped"},
		{"tcp:8080:with space", "tcp invalid IP 8080  with space"},
		{"unix:/run/a.sock", "unix invalid IP 0 /run/a.sock "},
		{"unix:/run/a.sock:admin", "unix invalid IP 0 /run/a.sock admin"},
		{"unix:/run/a:b.sock:", "unix invalid IP 0 /run/a:b.sock "},
		{"unix:/run/a:b.sock:x", "unix invalid IP 0 /run/a:b.sock x"},
		{"unix:@abstract", "unix invalid IP 0 @abstract "},
		{"unixgram:@abstract:g", "unixgram invalid IP 0 @abstract g"},
		{"unixpacket:rel.sock", "unixpacket invalid IP 0 " + filepath.Join(cwd, "rel.sock") + " "},

		{"", "error: want tcp:, udp:"},
		{"8080", "error: want tcp:, udp:"},
		{"sctp:80", "error: want tcp:, udp:"},
		{"tcp:", "error: port \"\" is not a number"},
		{"tcp:localhost:80", "error: host names are not looked up"},
		{"tcp:1.2.3:80", "error: is not an IPv4 address"},
		{"tcp:70000", "error: port \"70000\""},
		{"tcp:-1", "error: port \"-1\""},
		{"tcp:::1:80", "error: an IPv6 address goes in brackets"},
		{"tcp:[::1:80", "error: missing ']'"},
		{"tcp:[::1]", "error: missing :PORT"},
		{"tcp:[127.0.0.1]:80", "error: is not an IPv6 address"},
		{"tcp:[::1]:80:a:b", "error: not a valid file descriptor name"},
		{"tcp:80:naïve", "error: not a valid file descriptor name"},
		{"tcp:80:" + strings.Repeat("n", 256), "error: not a valid file descriptor name"},
		{"unix:", "error: missing PATH"},
		{"unix::name", "error: missing PATH"},
		{"unix:@", "error: missing PATH"},
		{"unix:/" + strings.Repeat("p", 107), "error: a unix socket's path has at most 107"},
		{"unix:@" + strings.Repeat("p", 108), "error: abstract socket name of 108 bytes"},
	} {
		l, err := parseListen(tc.in)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
			if !strings.HasPrefix(tc.want, "error: ") || !strings.Contains(got, strings.TrimPrefix(tc.want, "error: ")) {
				t.Errorf("parseListen(%q): %v; want %s", tc.in, err, tc.want)
			}
			continue
		}
		got = fmt.Sprintf("%s %v %d %s %s", l.kind, l.addr, l.port, l.path, l.name)
		if got != tc.want {
			t.Errorf("parseListen(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDefaultSocketName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"./mydaemon":             "mydaemon.socket",
		"/usr/bin/nginx":         "nginx.socket",
		"daemon.sh":              "daemon.sh.socket",
		"/x/a:b":                 "a_b.socket",
		"/x/caf\u00e9":           "caf__.socket",
		strings.Repeat("n", 300): strings.Repeat("n", 248) + ".socket",
	} {
		if got := defaultSocketName(in); got != want {
			t.Errorf("defaultSocketName(%q) = %q, want %q", in, got, want)
		}
	}
}

// ipv6Loopback reports whether ::1 can be bound here.
func ipv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// listenAddrs waits for the listen events of n sockets and returns their
// addresses by name, without the kind.
func listenAddrs(s *session, n int) map[string]string {
	s.t.Helper()
	s.waitEvent("start", "", nil)
	addrs := map[string]string{}
	for _, ev := range s.all() {
		if ev.Event == "listen" {
			_, a, _ := strings.Cut(ev.Address, ":")
			addrs[ev.Name] = a
		}
	}
	if len(addrs) != n {
		s.t.Fatalf("listen events for %v, want %d sockets", addrs, n)
	}
	return addrs
}

// ask sends line to a stream socket and returns the whole answer.
func ask(network, addr, line string) (string, error) {
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// askDatagram sends data to a datagram socket from c and returns the answer.
func askDatagram(c net.PacketConn, to net.Addr, data string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.WriteTo([]byte(data), to); err != nil {
		return "", err
	}
	buf := make([]byte, 1024)
	n, _, err := c.ReadFrom(buf)
	return string(buf[:n]), err
}

// TestRunListen binds a socket of each kind, and checks that the daemon
// gets them from fd 3, in order, named, with LISTEN_PID its own PID, and
// can serve on each.
func TestRunListen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stream, gram := filepath.Join(dir, "s.sock"), filepath.Join(dir, "sub", "g.sock")
	abstract := fmt.Sprintf("@sdnotify-test-%d-pkt", os.Getpid())
	listens := []string{
		"--listen=tcp:127.0.0.1:0:web",
		"--listen=udp:127.0.0.1:0:dns",
		"--listen=unix:" + stream, // named after the daemon: daemon.socket
		"--listen=unixgram:" + gram + ":gram",
		"--listen=unixpacket:" + abstract + ":pkt",
	}
	steps := []string{"files", "ready", "serve:web:1", "echo:dns:1", "serve:daemon.socket:1", "echo:gram:1", "serve:pkt:1"}
	names := "web:dns:daemon.socket:gram:pkt"
	v6 := ipv6Loopback()
	if v6 {
		listens = append(listens, "--listen=tcp:[::1]:0:v6", "--listen=udp:[::1]:0:u6")
		steps = append(steps, "serve:v6:1", "echo:u6:1")
		names += ":v6:u6"
	} else {
		t.Log("no IPv6 loopback here: IPv6 not tested")
	}
	s := startRun(t, args(listens, daemon(append(steps, "exit:0")...))...)
	addrs := listenAddrs(s, strings.Count(names, ":")+1)

	start := s.waitEvent("start", "", nil)
	if len(start.Files) != len(addrs) || start.FDs != len(addrs) {
		t.Fatalf("start event files: %+v", start.Files)
	}
	for i, f := range start.Files {
		if f.FD != 3+i || f.Name != strings.Split(names, ":")[i] || f.From != "listen" || f.Address == "" {
			t.Errorf("start event file %d: %+v", i, f)
		}
	}
	if !strings.Contains(start.Message, "LISTEN_PID="+strconv.Itoa(start.PID)) || !strings.Contains(start.Message, "LISTEN_FDNAMES="+names) {
		t.Errorf("start event does not show LISTEN_PID and LISTEN_FDNAMES: %s", start.Message)
	}
	wantID := "unset"
	if pidfd.ID(os.Getpid()) != 0 {
		wantID = "ok"
	}
	want := fmt.Sprintf("files pid=ok pidfdid=%s n=%d names=%s", wantID, len(addrs), names)
	s.waitEvent("notify", want, nil)

	check := func(what, got string, err error, sent string) {
		t.Helper()
		if err != nil || got != fmt.Sprintf("pid=%d gen=0 %s", start.PID, sent) {
			t.Errorf("%s: answer %q, %v", what, got, err)
		}
	}
	got, err := ask("tcp", addrs["web"], "over tcp")
	check("tcp", got, err, "over tcp\n")

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	to, _ := net.ResolveUDPAddr("udp", addrs["dns"])
	got, err = askDatagram(udp, to, "over udp")
	check("udp", got, err, "over udp")

	got, err = ask("unix", stream, "over unix")
	check("unix", got, err, "over unix\n")

	ug, err := net.ListenPacket("unixgram", filepath.Join(dir, "client.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ug.Close()
	got, err = askDatagram(ug, &net.UnixAddr{Name: gram, Net: "unixgram"}, "over unixgram")
	check("unixgram", got, err, "over unixgram")

	got, err = ask("unixpacket", abstract, "over unixpacket")
	check("unixpacket", got, err, "over unixpacket\n")

	if v6 {
		got, err = ask("tcp", addrs["v6"], "over tcp6")
		check("tcp6", got, err, "over tcp6\n")
		udp6, err := net.ListenPacket("udp", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		defer udp6.Close()
		to, _ := net.ResolveUDPAddr("udp", addrs["u6"])
		got, err = askDatagram(udp6, to, "over udp6")
		check("udp6", got, err, "over udp6")
	}
	s.expectExit(0, "success")
	for _, p := range []string{stream, gram} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("socket file %s left after the run", p)
		}
	}
}

// TestRunListenWatchdog: with --watchdog too, COMMAND goes through both
// trampolines, and gets both WATCHDOG_PID and LISTEN_PID as its own.
func TestRunListenWatchdog(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags("--watchdog=5s", "--listen=tcp:127.0.0.1:0"), daemon("checkwd", "files", "ready", "exit:0"))...)
	s.waitEvent("notify", `STATUS="wd=5s pid=true"`, nil)
	s.waitEvent("notify", "files pid=ok", nil)
	s.waitEvent("notify", "names=daemon.socket", nil)
	s.expectExit(0, "success")
}

// TestRunListenPortAlone: a port alone binds every address, which takes
// IPv4 loopback connections too.
func TestRunListenPortAlone(t *testing.T) {
	t.Parallel()
	s := startRun(t, args(flags("--listen=tcp:0:any"), daemon("ready", "serve:any:1", "exit:0"))...)
	addr := listenAddrs(s, 1)["any"]
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsUnspecified() {
		t.Fatalf("tcp:0 bound %q, want every address", addr)
	}
	got, err := ask("tcp", "127.0.0.1:"+strconv.Itoa(int(ap.Port())), "hi")
	if err != nil || !strings.HasSuffix(got, " hi\n") {
		t.Errorf("answer %q, %v", got, err)
	}
	s.expectExit(0, "success")
}

// TestRunListenErrors: a bad --listen is a usage error (2); one that
// cannot be bound fails the run (1) before COMMAND starts. A socket file
// left at a path is replaced, as systemd replaces it.
func TestRunListenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, nil, 0o644)
	for _, tc := range []struct {
		flags  []string
		code   int
		stderr string
	}{
		{[]string{"--listen=8080"}, 2, "invalid value \"8080\" for flag --listen: want tcp:, udp:"},
		{[]string{"--listen=tcp:localhost:80"}, 2, "host names are not looked up"},
		{[]string{"--listen=tcp:::1:80"}, 2, "IPv6 address goes in brackets"},
		{[]string{"--listen=unix:" + dir + "/d.sock", "--listen=unixgram:" + dir + "/d.sock:g"}, 2, "bind the same address"},
		{[]string{"--listen=tcp:127.0.0.1:8080:a", "--listen=tcp:127.0.0.1:8080:b"}, 2, "bind the same address"},
		{[]string{"--restart=sometimes"}, 2, "want no, on-failure, always"},
		{[]string{"--restart-sec=infinity"}, 2, "0: restart at once"},
		{[]string{"--start-limit-burst=-1"}, 2, "want 0 or more"},
		{[]string{"--listen=tcp:" + busy.Addr().String()}, 1, "address already in use"},
		{[]string{"--listen=unix:" + regular}, 1, "exists and is not a socket"},
	} {
		code, _, stderr := runTool(t, toolEnv(), args(append([]string{"run"}, tc.flags...), daemon("ready", "exit:0"))...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.flags, code, stderr, tc.code, tc.stderr)
		}
	}

	// A socket left by a run that did not clean up: replaced.
	stale := filepath.Join(dir, "stale.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	s := startRun(t, args(flags("--listen=unix:"+stale+":st"), daemon("ready", "serve:st:1", "exit:0"))...)
	s.waitEvent("ready", "", nil)
	if got, err := ask("unix", stale, "again"); err != nil || !strings.HasSuffix(got, " again\n") {
		t.Errorf("answer %q, %v", got, err)
	}
	s.expectExit(0, "success")
}
