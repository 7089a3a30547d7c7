package proto

import "golang.org/x/sys/unix"

// MonotonicUsec returns CLOCK_MONOTONIC in microseconds: the clock of
// MONOTONIC_USEC=, which the manager compares with the time it sent a
// Type=notify-reload service its reload signal.
func MonotonicUsec() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// CLOCK_MONOTONIC cannot fail on Linux; should it, 0 is a value the
		// manager refuses rather than a wrong time it would accept.
		return 0
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}
