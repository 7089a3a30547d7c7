// Package realsystemd runs daemons as units of a real systemd manager, for
// tests that want to see what the manager itself concluded from the
// notifications it received (ActiveState, Result, StatusText, ...).
//
// Each [Manager] is a private systemd (the host's, "252", the
// bookworm-backports build, "254", or Debian trixie's "257" and sid's "262",
// booted from roots of their own) running as PID 1 of new pid, mount, uts,
// ipc, net and cgroup namespaces. The host does not need systemd as its init.
// [Versions] lists them all; the tests run on each.
//
// # Requirements and gating
//
// The suite is opt-in: [Start] skips the test unless SDNOTIFY_REAL_SYSTEMD=1.
// It also skips, with the reason, when not on Linux, not root, unshare or
// nsenter are missing, no cgroup2 hierarchy is mounted at
// /sys/fs/cgroup/unified (or /sys/fs/cgroup), the host's systemd is not the
// requested version, or (for "254") the backports build is not unpacked.
// Unpack it with `bash .ci/systemd254.sh [DIR]`; the harness looks in
// $SDNOTIFY_SYSTEMD254_DIR, else /var/cache/sdnotify-systemd254. For "257"
// and "262" it needs the roots that `bash .ci/systemd-roots.sh [DIR]` builds
// (mmdebstrap, Debian's packages), in $SDNOTIFY_SYSTEMD_ROOTS/{257,262},
// else /var/cache/sdnotify-systemd-roots/{257,262}, and overlayfs.
//
// # API
//
//	var Versions []string                              // "252", "254", "257", "262"
//	func Start(t testing.TB, version string) *Manager // one of Versions, or "host"
//	func (m *Manager) Version() string                 // first line of `systemctl --version` inside
//	func (m *Manager) Major() int                      // 252, 254, 257, 262
//	func (m *Manager) Dir() string                     // host dir for executables/files, writable inside too
//	func (m *Manager) WriteUnit(name, content string)  // write into the unit dir, then daemon-reload
//	func (m *Manager) Systemctl(args ...string) (string, error)
//	func (m *Manager) Run(args ...string) (string, error) // any command, inside all namespaces
//	func (m *Manager) StartUnit(name string) error     // systemctl start --no-block
//	func (m *Manager) Show(name string, props ...string) map[string]string
//	func (m *Manager) WaitProp(t testing.TB, name, prop, want string, timeout time.Duration) map[string]string
//	func (m *Manager) WaitProps(t testing.TB, name string, want map[string]string, timeout time.Duration) map[string]string
//	func (m *Manager) WaitLog(t testing.TB, substr string, timeout time.Duration) string
//	func (m *Manager) Log() string                     // the manager's debug console log so far
//	func (m *Manager) LogTail(n int) string
//	func (m *Manager) Pid() int                        // host pid of the namespace's PID 1
//	func (m *Manager) Stop() error                     // idempotent; also run by t.Cleanup
//	func (m *Manager) StartJournald(t testing.TB)      // a private journald (tmpfs over /var/log/journal)
//	func (m *Manager) Journal(args ...string) ([]JournalEntry, error) // journalctl -o export, decoded
//	func ParseExport(b []byte) ([]JournalEntry, error)
//
// WriteUnit, Show and the Wait* helpers fail the test with t.Fatalf, so call
// them from the test's goroutine. StartUnit does not block (start
// --no-block): poll the outcome with WaitProp/WaitProps, which on timeout
// fail the test with the last `systemctl show` output and the tail of the
// manager's log. Give units DefaultDependencies=no (stub targets exist, so
// units with default dependencies work too, but nothing is gained).
//
// # What the namespaces look like
//
// Inside (252 and 254; 257 and 262 below), the host filesystem is visible
// but read-only, except:
//   - /run: a private tmpfs (the manager's private socket, /run/systemd/notify),
//     a shared mount within the namespaces so that credentials
//     (LoadCredential=, SetCredential=), which the manager mounts in a
//     child's mount namespace, reach /run/credentials/<unit>;
//   - Dir() and the unit directory (both under one short /tmp/sdnrs-* dir that
//     is bind-mounted read-write): put unit executables, scripts and test
//     sockets there. Executables under /run would be invisible to the host.
//
// /proc/sys and /sys are read-only, /sys/fs/cgroup is a fresh cgroup2 mount
// whose root is the manager's own cgroup, and /dev/console is a pty whose
// other end feeds [Manager.Log]. The network namespace only has lo (up once
// the manager runs); a test reaches it from the host by creating its
// sockets on a thread that joined /proc/<Pid()>/ns/net (see netnsDialer in
// files_test.go). Units that need a writable /tmp, /var or /etc
// (PrivateTmp=, StateDirectory=, ...) do not work; RuntimeDirectory= does (it is under /run).
//
// The manager runs with --log-target=console --log-level=debug, so the log
// has lines such as "Got notification message from PID N (READY=1, ...)".
// There is no journal: units' stdout and stderr default to the console
// (DefaultStandardOutput=tty), so daemon output shows up in the log too.
// These settings are in /run/systemd/system.conf.d/sdnotify-rs.conf inside,
// because daemon-reload resets options given on the manager's command line.
// SYSTEMD_UNIT_PATH points at the harness's unit directory only (with stub
// targets), and generator paths are empty, so no host unit is ever loaded.
//
// For "254", read-only overlay mounts inside the private mount namespace put
// the unpacked files in front of /usr/lib/systemd (from lib/systemd and
// usr/lib/systemd of the packages), /usr/bin (from bin and usr/bin) and
// /usr/lib/x86_64-linux-gnu/systemd (libsystemd-shared-254.so,
// libsystemd-core-254.so, found through the binaries' RUNPATH). /lib is a
// symlink to usr/lib on Debian 12, so /lib/systemd/systemd, systemctl and
// systemd-notify inside are all 254. The host's files are never touched.
//
// # 257 and 262: a root of their own
//
// Their binaries need a newer glibc than Debian 12's, so "257" and "262"
// boot from whole Debian roots. Inside the private mount namespace, the
// root is the read-only lower layer of an overlay whose upper layer is a
// tmpfs (so / is writable inside, every manager starts from the same files,
// and nothing is ever written to the cache), with fresh /proc and /sys, the
// cgroup2 mount and /run as above, the host's /dev (with the pty over
// /dev/console), and, read-only at the same paths, the host's /tmp, the temp
// dir and the module's source tree; the temp root is read-write. The init
// script pivot_roots into it and execs its /lib/systemd/systemd. Programs a
// unit runs must therefore be static (CGO_ENABLED=0) or come from the root.
// From 257 the log says "Got notification message from PID N: READY=1, ..."
// (no parentheses).
//
// # Cleanup
//
// Each manager gets its own cgroup, /sys/fs/cgroup/unified/sdnotify-rs-<pid>-<n>,
// and temp dir, /tmp/sdnrs-<pid>-<n>-*. A small shell supervisor, in its own
// session, joins the cgroup, starts `setpriv --pdeathsig KILL -- unshare
// --kill-child ...` there, moves itself back out, and then blocks reading a
// pipe from the test process. When the pipe closes — Stop, t.Cleanup, or the
// test binary dying for any reason (^C, SIGTERM, SIGKILL, a test timeout) —
// it SIGKILLs the namespace's PID 1 (which takes the whole pid namespace
// with it), lets unshare reap it, kills anything left in the cgroup
// (cgroup.kill), removes the cgroup directories bottom-up and deletes the
// temp dir. Stop waits for it and double-checks. If the supervisor itself is
// killed, the pdeathsig/--kill-child chain still kills the manager. Start
// also sweeps sdnotify-rs-* cgroups and sdnrs-* temp dirs whose owning
// process is gone. The nsenter helpers run in their own process group, so a
// ^C does not orphan a systemctl inside the namespace.
//
// Several managers can run one after another or in parallel in one test
// binary.
package realsystemd
