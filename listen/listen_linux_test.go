package listen_test

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/spawn"
	"github.com/gosdnotify/sdnotify/listen"
)

func TestMain(m *testing.M) {
	spawn.Init() // Command's trampoline
	if os.Getenv("LISTEN_TEST_CHILD") != "" {
		child()
		return
	}
	os.Exit(m.Run())
}

// child is the process started with the manager's files: it answers one
// connection on "http" and one datagram on "dns", and reports the rest.
func child() {
	report := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	ln, passed, err := listen.Listen("http", "tcp", "127.0.0.1:0")
	report("http passed=%v err=%v", passed, err)
	if err == nil {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hello from the child\n"))
			c.Close()
		}
	}
	pc, err := listen.PacketConn("dns")
	report("dns err=%v", err)
	if err == nil {
		b := make([]byte, 64)
		n, addr, err := pc.ReadFrom(b)
		if err == nil {
			pc.WriteTo(append([]byte("echo "), b[:n]...), addr)
		}
	}
	_, err = listen.Listener("missing")
	report("missing notexist=%v", errors.Is(err, fs.ErrNotExist))
	_, err = listen.Listener("dns")
	report("dns as listener: %v", err)
	_, passed, err = listen.Listen("other", "tcp", "127.0.0.1:0")
	report("other passed=%v err=%v", passed, err)
}

func TestPassedSockets(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tf, err := listen.File(tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	uf, err := listen.File(udp)
	if err != nil {
		t.Fatal(err)
	}
	defer uf.Close()
	if _, err := listen.File(42); err == nil {
		t.Error("File(42): no error")
	}

	cmd, err := spawn.Command(os.Args[0], nil, []spawn.File{{Name: "http", File: tf}, {Name: "dns", File: uf}})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, "LISTEN_TEST_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("child said nothing; want %q", want)
		}
		if got := lines.Text(); !strings.HasPrefix(got, want) {
			t.Fatalf("child said %q; want %q", got, want)
		}
	}
	expect("http passed=true err=<nil>")
	c, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	greeting, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if greeting != "hello from the child\n" {
		t.Errorf("the child's listener answered %q", greeting)
	}
	expect("dns err=<nil>")
	uc, err := net.Dial("udp", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(10 * time.Second))
	uc.Write([]byte("ping"))
	b := make([]byte, 64)
	n, _ := uc.Read(b)
	if string(b[:n]) != "echo ping" {
		t.Errorf("the child's datagram socket answered %q", b[:n])
	}
	expect("missing notexist=true")
	expect(`dns as listener: listen: file "dns" (descriptor 4) is not a listening socket`)
	expect("other passed=false err=<nil>")
}
