// Package sdnotify is a Go daemon's side of its life under systemd. It
// sends service notifications: the sd_notify protocol, by which a
// Type=notify service says it is ready, reloading or stopping, reports its
// status, feeds its watchdog and stores file descriptors with the manager.
// And it receives what the manager passes at start: the files of socket
// activation and of the fd store, and credentials. It is a port of
// Python's sdnotify (SystemdNotifier().notify("READY=1") becomes
// New().Notify("READY=1")), with libsystemd's whole sd_notify and
// sd_listen_fds families beside it.
//
// # The API at a glance
//
//	n := sdnotify.New() // reads NOTIFY_SOCKET; never fails, no I/O
//	defer n.Close()
//
//	n.Notify("READY=1\nSTATUS=Serving")                   // exactly as given (Python's notify)
//	n.Send(sdnotify.Ready(), sdnotify.Status("Serving")) // typed, checked assignments
//	n.SendContext(ctx, sdnotify.Stopping())              // the same, bounded by ctx
//	n.Barrier(ctx)           // wait until the manager processed what was sent
//	go n.KeepAlive(ctx, nil) // feed WatchdogSec= until ctx ends
//	n.ServeReloads(ctx, reload, nil) // Type=notify-reload: READY=1, then each reload until ctx ends
//
// The assignments, each a function that checks its arguments:
//
//	Ready()  Stopping()  Reloading()  Status(text)  Statusf(format, args...)
//	Watchdog()  WatchdogTrigger()  SetWatchdogTimeout(d)  ExtendTimeout(d)
//	Errno(err)  BusError(name)  VarlinkError(name)  ExitStatus(code)
//	MainPID(pid)  MainPIDFD(pidfd)  MainPIDFDID(id)  NotifyAccess(AccessAll)
//	FDStore(name, files...)  FDStoreRemove(name)  FDPollDisable()
//	RestartReset()  Monotonic()  Var(key, value)  Sender(pid)
//
// The rest: NewAddr(addr) sends to a given address, NewUnsetenv also
// removes the variables from the environment; Enabled, Addr, Open and
// WatchdogTimeout report and prepare. From the manager to the service:
//
//	files, err := sdnotify.Files()          // socket activation, the fd store
//	files, err := sdnotify.FilesNamed("http") // those of one name
//	b, err := sdnotify.Credential("db")       // LoadCredential=, SetCredential=
//
// Package listen turns those files into a net.Listener by name.
// Package journal logs to systemd's journal with log/slog, natively.
//
// # How it behaves
//
// New reads NOTIFY_SOCKET once and never fails. Outside systemd, where
// NOTIFY_SOCKET is unset, the Notifier is disabled: every send returns nil
// at once and sends nothing, so a daemon can notify unconditionally.
// Enabled reports which case applies.
//
// The socket is opened on the first send, or by Open for a daemon that
// chroots or drops privileges first, and kept for later sends; Close
// releases it. A send that fails because the manager went away or re-bound
// its socket (a restarted user manager, a test listener) reopens the socket
// once and tries again, as log/syslog does.
//
// NOTIFY_SOCKET may be an absolute path, an abstract socket name starting
// with '@', or a vsock address (vsock:CID:PORT, vsock-dgram:,
// vsock-seqpacket:, vsock-stream:), with libsystemd's rules. An address
// libsystemd would refuse (empty, relative, too long for sun_path,
// malformed) makes every send fail with an *AddressError that names the
// problem and the value; nothing is sent anywhere else.
//
// Each send is one datagram. Before sending, a Notifier refuses, with an
// error matching ErrInvalid, what systemd would silently drop: an empty
// notification, a NUL byte, more than MaxStateLen (4096) bytes, more than
// MaxFiles descriptors. The assignments check their values as they are
// made, so that a value can never add another assignment through a
// newline; Status repairs text rather than refusing it, so that a bad
// status never costs the READY=1 sent beside it.
//
// Errors start with "sdnotify:", name the address and where it came from
// (NOTIFY_SOCKET="..." or NewAddr("...")), explain the common errnos, and
// wrap the underlying errno or context error, so errors.Is(err,
// syscall.ECONNREFUSED) and errors.Is(err, context.DeadlineExceeded) work.
// Whether to act on a failed notification is the caller's choice; a daemon
// usually logs it and carries on, since systemd will act on the missing
// notification itself (a start timeout, a watchdog kill).
//
// A send blocks only when the manager's queue is full, which happens while
// PID 1 is busy (a long daemon-reload). It then waits in the Go runtime's
// poller, as a net.Conn would, for at most DefaultTimeout; SendContext and
// Barrier give up earlier if their context ends, and Close interrupts the
// wait. No send waits forever. KeepAlive drops a keep-alive that cannot
// be sent in time and tries again at the next one, so a busy manager
// delays it but never ends it.
//
// A Notifier is safe for concurrent use. Its zero value reads the
// environment on first use; a nil *Notifier is disabled.
//
// # Cost
//
// Once the socket is open, a send that carries no credentials is one
// write(2) or sendmsg(2), made without a lock, and it allocates nothing
// but what making its arguments does (Statusf's formatting, the list of
// files passed to FDStore). On
// a disabled Notifier a send is one atomic load. The package does not use
// package net. The benchmarks in the module's bench directory compare it
// with the raw system calls and with the other Go packages, with a manager
// that keeps up and with one that does not.
//
// # Testing
//
// Package sdnotifytest provides a fake service manager: a listener that
// receives, parses and checks notifications, for this module's tests and
// for tests of daemons that use it.
//
// # Other systems
//
// systemd runs only on Linux. Elsewhere the package builds, New returns a
// disabled Notifier whatever the environment says, and a Notifier from
// NewAddr reports errors.ErrUnsupported.
package sdnotify
