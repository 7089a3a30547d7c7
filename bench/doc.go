// Package bench holds the benchmarks of github.com/gosdnotify/sdnotify
// against the raw system calls it is built on and against the other Go
// implementations of sd_notify (coreos/go-systemd's daemon.SdNotify and
// mdlayher/sdnotify). It is a module of its own so that the library's
// go.mod keeps its single dependency.
//
// # Running
//
//	./run.sh                  # 10 rounds, the table of medians, sizes, targets
//	./run.sh -count 3 -bench Notify
//	go test -run '^$' -bench . -benchtime 1x ./...   # CI: does it still run?
//
// Benchmark names are GROUP/IMPL/VARIANT. In each group the first raw/
// benchmark is the floor (plain golang.org/x/sys calls), and cmd/benchtable
// compares the sdnotify/ ones with it and with the coreos/ and mdlayher/
// ones of the same group.
//
// # Two regimes
//
// A unix datagram socket queues at most net.unix.max_dgram_qlen datagrams
// (the kernel's default is 10; systemd raises it to 512 at boot); a sender
// that finds the queue full has to wait for the receiver to take one. The
// benchmarks send to two receivers, one for each regime:
//
//   - The receiver keeps up (BenchmarkNotify, and Status, FDStore,
//     Parallel and Cold): max_dgram_qlen 512, drained as fast as it
//     fills. A send nearly always finds room and is one system call; the
//     library's fast path. A sender's SO_SNDBUF (a few hundred small
//     datagrams) bounds how far ahead of the receiver it can get, and the
//     raw benchmarks' stalls/op say how often it got that far.
//   - A busy receiver (BenchmarkNotifyBusy), as PID 1 in a long
//     daemon-reload: max_dgram_qlen 10, and the receiver takes one
//     datagram at a time, then spins until 5µs (BENCH_BUSY_PACE) have
//     passed since it took it, so it is slower than the senders that keep
//     a socket (coreos/go-systemd, which makes one per send, is slower
//     still). The queue is full nearly always and the senders wait for room
//     again and again (one woken by room often finds room for a few
//     datagrams by the time it runs, so raw/connected's stalls/op is below
//     1): the library's slow path, which parks the goroutine in the
//     runtime's poller. It measures how fast each way of waiting refills the queue
//     and, in cpu-ns/op, what the waiting costs.
//
// Both Notify groups send READY=1 with the same five senders: a blocking
// socket and a plain write(2), which sleeps in the kernel until there is
// room (raw/connected-blocking, the floor of both); a non-blocking socket
// that waits in poll(2) (raw/connected, with stalls/op: how many sends
// found the queue full); the library's Notify; mdlayher/sdnotify's Notify;
// coreos/go-systemd's SdNotify. The other raw benchmarks use non-blocking
// sockets and poll(2), as raw/connected does.
//
// # The receivers
//
// Each receiver is a datagram socket bound to a path in a temporary
// directory, drained by a child process (the test binary run again) on a
// thread of its own, which discards what it reads, closing any file
// descriptors passed with it. The one that keeps up reads with
// recvmmsg(2), 64 datagrams at a time; the busy one, one at a time. Being
// separate processes, they take no P from the benchmarks' Go scheduler,
// so b.RunParallel runs as many senders as GOMAXPROCS says. Each is
// started by the first benchmark that needs it and blocks, idle, while the
// other groups run.
//
// max_dgram_qlen is a sysctl of the network namespace, read when a socket
// is made. So each receiver runs in a network namespace of its own
// (CLONE_NEWNET, which needs root), where it sets the queue length for its
// socket alone: the machine's own setting is never touched, and a socket
// bound to a path is reachable from every namespace. Without the privilege
// a receiver runs in ours with the queue length it finds, and says so: the
// first lines of the output name each receiver's regime, namespace, queue
// length and way of reading.
//
// Knobs, for experiments (environment variables):
//
//	BENCH_RECEIVER_NETNS=0   stay in our network namespace (the machine's queue length)
//	BENCH_RECEIVER_SPIN=2ms  the receiver that keeps up polls without blocking until
//	                         idle this long (default 0: block in recvmmsg; spinning
//	                         slowed the senders here)
//	BENCH_RECEIVER_CPU=N     pin each receiving thread to CPU N
//	BENCH_BUSY_PACE=5us      the busy receiver's time per datagram
//
// # Figures
//
// Besides go test's ns/op, B/op and allocs/op, every benchmark reports
//
//   - mallocs/op: the exact mean number of allocations (go test truncates
//     allocs/op to an integer: 0.9 allocations per send prints as 0);
//   - cpu-ns/op: the CPU time, user and system, of the whole test process
//     per operation (getrusage). Unlike ns/op it does not grow while other
//     processes take the CPU, and it includes the garbage collector's
//     work; the receiver, a process of its own, is not in it. In the
//     parallel benchmarks it adds up the CPU time of all the senders; in
//     NotifyBusy it includes what waiting costs the Go runtime's threads
//     (looking for work, sleeping in and waking from epoll_wait or a
//     blocking system call).
//
// The raw benchmarks that wait in poll(2) report stalls/op: how many sends
// found the queue full. The NotifyBusy ones report rcv-waits/op: how many
// times the busy receiver found its queue empty and had to wait for the
// sender. Near 0, the receiver set the pace throughout and the sender
// refilled the queue in time; the higher, the more the sender's waiting
// for room made the receiver wait in turn.
//
// # Sizes
//
// The programs under size/ are daemons that send READY=1, each with one
// implementation, and their baselines without it: empty (nothing) for the
// minimal ones, httpempty (a net/http server) for httpsdnotify, which
// shows what the library adds to a program that links package net anyway.
// TestBinarySize builds them as run.sh does and fails if the library adds
// more than 350 KB to the minimal daemon; TestNoNet fails if package net
// is among what the library links (go list -deps).
//
// run.sh runs the benchmarks, prints the table of medians (see
// cmd/benchtable), the binary sizes and says which of the library's
// targets are met.
package bench
