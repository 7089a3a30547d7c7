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
// # The receiver
//
// Every benchmark sends to the same receiver: a datagram socket bound to a
// path in a temporary directory, drained by a child process (the test
// binary run again) that reads with recvmmsg(2), 64 datagrams at a time, on
// a thread of its own, and discards what it reads, closing any file
// descriptors passed with it. Being a separate process, it takes no P from
// the benchmarks' Go scheduler, so b.RunParallel runs as many senders as
// GOMAXPROCS says.
//
// A unix datagram socket queues at most net.unix.max_dgram_qlen datagrams
// (10 by default); a sender that finds the queue full has to wait for the
// receiver to wake up, which measures the scheduler rather than the sender
// (and sends the library down its slower wait-in-the-poller path). So the
// receiver runs in a network namespace of its own (CLONE_NEWNET, which
// needs root), where it raises max_dgram_qlen to 65536 for its socket
// alone: the sysctl is per network namespace, the machine's own setting is
// never touched, and a socket bound to a path is reachable from every
// namespace. Without the privilege it runs in ours with the queue length it
// finds, and says so: the first line of the output names the namespace and
// the queue length. A sender's SO_SNDBUF (a few hundred small datagrams)
// still bounds how far ahead of the receiver it can get.
//
// The raw benchmarks use non-blocking sockets, as the library does, and
// count the sends that found the queue full anyway (stalls/op); they wait
// in poll(2) and send again.
//
// Knobs, for experiments (environment variables):
//
//	BENCH_RECEIVER_NETNS=0   stay in our network namespace (default queue length)
//	BENCH_RECEIVER_SPIN=2ms  poll without blocking until idle this long (default 0:
//	                         block in recvmmsg; spinning slowed the senders here)
//	BENCH_RECEIVER_CPU=N     pin the receiving thread to CPU N
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
//     parallel benchmarks it adds up the CPU time of all the senders.
//
// run.sh runs the benchmarks, prints the table of medians (see
// cmd/benchtable) and the binary sizes of the programs under size/, and
// says which of the library's targets are met.
package bench
