//go:build linux

package realsystemd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify/internal/loadclient"

	"golang.org/x/sys/unix"
)

// zdRestarts is how many times each zero-downtime case restarts the server.
const zdRestarts = 10

// TestZeroDowntime runs examples/zerodowntime under a real manager, in the
// manager's private network namespace (loopback only), and restarts it ten
// times with `systemctl restart` while a client, dialling from the test
// process into that namespace, makes HTTP requests back to back, each on a
// new connection:
//
//   - fdstore: Type=notify, FileDescriptorStoreMax=1; the first process
//     binds 127.0.0.1:8080 and stores the socket (FDSTORE=1, FDNAME=http),
//     the next ones get it back in LISTEN_FDS. No request may fail.
//   - bind: the same with -bind: every process binds its own socket and
//     stores none. Requests made between one process closing its socket
//     and the next binding one are refused, and this case wants at least
//     one failure, so that the test can tell. That is a timing matter, not
//     a guarantee, but a reliable one: each restart leaves the port unbound
//     for the whole stop and start of a Go process, while the client
//     retries a refused connect at once: in 4 runs of 10 restarts each on
//     252 and 254, 493 to 2040 requests were refused, never none.
//   - socket: a .socket unit (ListenStream=127.0.0.1:8082,
//     FileDescriptorName=http) holds the socket; the service is restarted.
//     No request may fail.
//
// In every case at least two server pids must have answered.
func TestZeroDowntime(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			m := startManager(t, v)
			dir := bins(t)
			dial := netnsDialer(t, m)
			exe := filepath.Join(dir, "zerodowntime")
			cases := []struct {
				name, addr, service, socket string
				wantFailures                bool
			}{
				{name: "fdstore", addr: "127.0.0.1:8080", service: "FileDescriptorStoreMax=1\nExecStart=" + exe + " -addr 127.0.0.1:8080"},
				{name: "bind", addr: "127.0.0.1:8081", service: "ExecStart=" + exe + " -bind -addr 127.0.0.1:8081", wantFailures: true},
				{name: "socket", addr: "127.0.0.1:8082", service: "ExecStart=" + exe + " -addr 127.0.0.1:8082",
					socket: "ListenStream=127.0.0.1:8082\nFileDescriptorName=http\n"},
			}
			for _, tc := range cases {
				unit := "zd-" + tc.name
				// StartLimitIntervalSec=0: ten restarts in a few seconds are
				// more than the default start limit (5 in 10 s) allows.
				m.WriteUnit(unit+".service", "[Unit]\nDefaultDependencies=no\nStartLimitIntervalSec=0\n\n[Service]\nType=notify\nTimeoutStartSec=20\nTimeoutStopSec=20\n"+tc.service+"\n")
				if tc.socket != "" {
					m.WriteUnit(unit+".socket", "[Unit]\nDefaultDependencies=no\n\n[Socket]\n"+tc.socket)
				}
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					unit := "zd-" + tc.name
					if tc.socket != "" {
						if err := m.StartUnit(unit + ".socket"); err != nil {
							t.Fatal(err)
						}
						m.WaitProps(t, unit+".socket", map[string]string{"ActiveState": "active", "SubState": "listening"}, 15*time.Second)
					}
					if err := m.StartUnit(unit + ".service"); err != nil {
						t.Fatal(err)
					}
					p := m.WaitProps(t, unit+".service", map[string]string{"ActiveState": "active", "SubState": "running"}, 15*time.Second)
					t.Logf("started: %s MainPID=%s", showLine(p), p["MainPID"])

					c, restarts := restartUnderLoad(t, m, unit+".service", "http://"+tc.addr+"/", dial)
					t.Logf("systemd %d, %s: %d restarts, %d requests, %d failed, answered by %d pids %v",
						m.Major(), tc.name, restarts, c.Requests, c.Failures, len(c.PIDs), c.PIDList())
					for _, e := range c.Errors {
						t.Logf("failed: %v", e)
					}
					if restarts != zdRestarts {
						t.Errorf("%d of %d restarts done", restarts, zdRestarts)
					}
					switch {
					case tc.wantFailures && c.Failures == 0:
						t.Errorf("no request failed: the test cannot tell a server that refuses connections")
					case !tc.wantFailures && c.Failures > 0:
						t.Errorf("%d of %d requests failed", c.Failures, c.Requests)
					}
					if len(c.PIDs) < 2 {
						t.Errorf("requests were answered by %d pid(s); the restarts did not happen", len(c.PIDs))
					}
					if c.Requests-c.Failures < zdRestarts {
						t.Errorf("only %d requests answered", c.Requests-c.Failures)
					}
					if tc.name == "fdstore" {
						if p := m.Show(unit+".service", "NFileDescriptorStore"); p["NFileDescriptorStore"] != "1" {
							t.Errorf("NFileDescriptorStore = %q after the restarts, want 1", p["NFileDescriptorStore"])
						}
					}
					if out, err := m.Systemctl("stop", unit+".service"); err != nil {
						t.Errorf("systemctl stop: %v: %s", err, out)
					}
				})
			}
		})
	}
}

// restartUnderLoad restarts unit zdRestarts times with systemctl restart
// while a client requests url back to back, and returns what it saw and
// how many restarts were done.
func restartUnderLoad(t *testing.T, m *Manager, unit, url string, dial func(context.Context, string, string) (net.Conn, error)) (loadclient.Counts, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := loadclient.New(url, dial)
	// One request first: the server must answer before the restarts.
	if _, err := cl.Get(ctx); err != nil {
		t.Fatalf("first request: %v", err)
	}
	cl.Start(ctx)
	defer cl.Stop()
	restarts := 0
	for range zdRestarts {
		time.Sleep(50 * time.Millisecond) // let this one serve a while
		if out, err := m.Systemctl("restart", unit); err != nil {
			t.Errorf("systemctl restart %s: %v: %s", unit, err, out)
			break
		}
		restarts++
	}
	time.Sleep(50 * time.Millisecond)
	return cl.Stop(), restarts
}

// netnsDialer returns a dial function whose sockets are created in the
// manager's network namespace: one goroutine, locked to an OS thread that
// joined that namespace, makes them. The thread is never unlocked, so the
// runtime discards it when the goroutine ends (at cleanup); no other
// goroutine ever runs on it. Connections then work from any goroutine.
func netnsDialer(t *testing.T, m *Manager) func(context.Context, string, string) (net.Conn, error) {
	t.Helper()
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", m.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		c   net.Conn
		err error
	}
	type request struct {
		ctx           context.Context
		network, addr string
		res           chan result
	}
	reqs := make(chan request)
	quit := make(chan struct{})
	joined := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // for good: see above
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			joined <- fmt.Errorf("setns into the manager's network namespace: %w", err)
			return
		}
		joined <- nil
		for {
			select {
			case <-quit:
				return
			case r := <-reqs:
				var d net.Dialer
				c, err := d.DialContext(r.ctx, r.network, r.addr)
				r.res <- result{c, err}
			}
		}
	}()
	err = <-joined
	ns.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(quit) })
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		r := request{ctx: ctx, network: network, addr: addr, res: make(chan result, 1)}
		select {
		case reqs <- r:
		case <-quit:
			return nil, errors.New("netns dialer closed")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case res := <-r.res:
			return res.c, res.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TestCredentials runs testdaemon -mode credentials in a unit with
// LoadCredential= (from a file) and SetCredential=, and checks what
// sdnotify.Credential read under the real manager: both values, and for a
// credential the unit does not have, an error matching fs.ErrNotExist that
// names the two it has.
func TestCredentials(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			m := startManager(t, v)
			dir := bins(t)
			secret := filepath.Join(m.Dir(), "secret.txt")
			if err := os.WriteFile(secret, []byte("from a file\nline two"), 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(m.Dir(), "creds.out")
			t.Cleanup(func() { // before the manager's cleanup removes Dir()
				if t.Failed() {
					b, _ := os.ReadFile(out)
					t.Logf("%s:\n%s", out, b)
				}
			})
			m.WriteUnit("creds.service", "[Unit]\nDefaultDependencies=no\n\n[Service]\nType=notify\n"+
				"LoadCredential=loaded:"+secret+"\n"+
				"SetCredential=set:value set in the unit\n"+
				"ExecStart="+dir+"/testdaemon -mode credentials -creds loaded,set,missing -out "+out+"\n")
			if err := m.StartUnit("creds.service"); err != nil {
				t.Fatal(err)
			}
			p := m.WaitProps(t, "creds.service", map[string]string{"ActiveState": "active", "StatusText": "read 2 of 3 credentials"}, 15*time.Second)
			t.Logf("%s", showLine(p))
			fileHas(t, out, `credential loaded="from a file\nline two"`)
			fileHas(t, out, `credential set="value set in the unit"`)
			fileHas(t, out, `credential missing error (not-exist=true): `)
			fileHas(t, out, `(the unit has only "loaded", "set")`)
			b, _ := os.ReadFile(out)
			t.Logf("daemon saw:\n%s", b)
			if !strings.Contains(string(b), "CREDENTIALS_DIRECTORY=/") {
				t.Errorf("no absolute CREDENTIALS_DIRECTORY in %q", b)
			}
		})
	}
}
