//go:build race

package sdnotify_test

// raceEnabled: the race detector's instrumentation moves the buffers
// handed to system calls to the heap, so allocations are not counted.
const raceEnabled = true
