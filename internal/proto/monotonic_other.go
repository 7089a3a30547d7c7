//go:build !linux

package proto

// MonotonicUsec returns 0: there is no service manager to compare it with
// off Linux.
func MonotonicUsec() uint64 { return 0 }
