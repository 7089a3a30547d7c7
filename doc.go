// Package sdnotify sends service notifications to systemd: the sd_notify
// protocol, by which a Type=notify service says it is ready, reloading or
// stopping, reports its status, feeds its watchdog and stores file
// descriptors with the manager. It is a port of Python's sdnotify
// (SystemdNotifier().notify("READY=1") becomes New().Notify("READY=1")),
// with libsystemd's whole sd_notify family beside it.
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
// MaxFiles descriptors. The typed assignments (Ready, Status, ExtendTimeout,
// FDName, Var, ...) check their values as they are made, so that a value
// can never add another assignment through a newline; Status repairs text
// rather than refusing it, so that a bad status never costs the READY=1
// sent beside it.
//
// Errors start with "sdnotify:" and wrap the underlying errno or context
// error, so errors.Is(err, syscall.ECONNREFUSED) and errors.Is(err,
// context.DeadlineExceeded) work. Whether to act on a failed notification
// is the caller's choice; a daemon usually logs it and carries on, since
// systemd will act on the missing notification itself (a start timeout, a
// watchdog kill).
//
// A send blocks only when the manager's queue is full, which happens while
// PID 1 is busy (a long daemon-reload). The Context variants wait as long
// as their context allows; the others wait at most DefaultTimeout. No send
// waits forever.
//
// A Notifier is safe for concurrent use. Its zero value reads the
// environment on first use; a nil *Notifier is disabled.
//
// # Cost
//
// Once the socket is open, Notify with a constant state is one write(2)
// and allocates nothing; it takes only a read lock, which Close alone
// takes for writing, so that concurrent senders do not wait for each
// other. On a disabled Notifier it is one atomic load. The
// package uses neither package net nor fmt (but for Statusf) nor
// reflection: a daemon that sends READY=1 with it is under 300 KB larger
// than an empty program. The benchmarks in the module's bench directory
// compare it with the raw system calls and with the other Go packages.
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
