// Package conformance holds tests, and nothing else, that compare what this
// module sends with what the real sd_notify senders send for the same
// notification: systemd-notify, libsystemd's C API (sd_notify and
// friends), Python's sdnotify and systemd.daemon.notify from
// python-systemd. Each sender runs as a child process of the test and
// sends to an sdnotifytest.Listener; the tests compare the datagrams byte
// for byte, the files passed with them, the credentials the kernel
// attached, and what each sender returned or how it exited. Where a
// sender differs from this module on purpose, the tests name the
// difference and its reason, and assert it.
//
// The command-line sender, sdnotify send, is compared the same way with
// systemd-notify 252, 254 and 262 (262's own binary, from the Debian sid
// root of internal/realsystemd) in cmd/sdnotify: send_test.go,
// send262_test.go and sendfork_test.go.
//
// Peers that are not installed are skipped; .ci/install-peers.sh installs
// them from Debian's packages.
package conformance
