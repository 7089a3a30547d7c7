// Package bench holds the benchmarks of github.com/gosdnotify/sdnotify
// against the raw system calls it is built on and against the other Go
// implementations of sd_notify (coreos/go-systemd's daemon.SdNotify and
// mdlayher/sdnotify), and of its journal handler against the other Go
// journal clients (github.com/systemd/slog-journal, coreos/go-systemd's
// journal.Send) and slog's text handler. It is a module of its own so that
// the library's go.mod keeps its single dependency.
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
// ones of the same group; in the Journal groups, the journal/ ones with
// every benchmark that is neither raw/ nor the library's.
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
// # The journal
//
// BenchmarkJournal logs one record, a message and five attributes (three
// strings, two ints), with slog.Logger.Info through the library's native
// handler, slog-journal's handler, go-systemd's journal.Send (the fields in
// a map made for each call) and slog.NewTextHandler writing to a file, to
// the receiver that keeps up. The floor, raw/write, writes the bytes that
// the library's handler sends for that record, encoded once, to a
// connected socket with the send buffer the library asks for (8 MiB);
// raw/sendmsg does the same with sendmsg(2), raw/sendto with an
// unconnected socket that names the path in each send, as libsystemd and
// both peers do. journal/Handler.Handle (a Record made once) and
// journal/Conn.Send (an Entry encoded once) peel off slog.Logger's work
// and then the encoding. TestJournalPayload checks that the handler sends
// the floor's very bytes and that the peers send the same fields
// (slog-journal adds CODE_* to every record and SYSLOG_TIMESTAMP; its
// README's ReplaceAttr upper-cases the keys, without which journald drops
// them); every Journal benchmark fails unless the receiver took one
// datagram per operation.
//
// Both peers send to /run/systemd/journal/socket and cannot be pointed
// elsewhere (slog-journal: a constant; go-systemd: a variable only the
// linker's -X sets). So each Journal benchmark's goroutine locks its OS
// thread, gives the thread a private mount namespace (unshare(2),
// CLONE_NEWNS, which needs CAP_SYS_ADMIN), mounts a tmpfs on /run there and
// binds the receiver's socket at /run/systemd/journal/socket; every Journal
// benchmark sends there, ours included. Nothing outside that thread sees
// the mounts, and the thread ends with the goroutine. Without the
// privilege (or with BENCH_JOURNAL_NS=0) the peers are skipped and the
// rest send to the receiver's own path.
//
// BenchmarkJournalStalled is journald not reading: a socket that nobody
// reads, its queue full. The library's Conn, with SetTimeout(10ms), gives
// up after the timeout with an error wrapping os.ErrDeadlineExceeded, and
// its handler writes the record to standard error (a file here) instead;
// the floor is write(2) with SO_SNDTIMEO. The kernel counts the timeout in
// scheduler ticks, so both take somewhat more than 10ms. slog-journal and
// go-systemd offer no timeout and wait until journald reads again, which
// a benchmark cannot time: TestJournalStalled shows it.
//
// # Sizes
//
// The programs under size/ are daemons that send READY=1, each with one
// implementation, and their baselines without it: empty (nothing) for the
// minimal ones, httpempty (a net/http server) for httpsdnotify, which
// shows what the library adds to a program that links package net anyway.
// slogtext, journal and slogjournal log one record with log/slog through
// slog.NewTextHandler (the baseline), the library's journal.NewHandler and
// slog-journal's handler. TestBinarySize builds them as run.sh does and
// fails if the library adds more than sizeGuard (600 KiB) to the minimal
// daemon; TestNoNet fails if package net is among what the library links
// (go list -deps of size/sdnotify and size/journal).
//
// run.sh runs the benchmarks, prints the table of medians (see
// cmd/benchtable), the binary sizes and says which of the library's
// targets are met.
package bench
