package journal

import "golang.org/x/sys/unix"

// WithoutMemfd makes the Conns of this process act as if the kernel had
// no memfd_create, until the returned function is called.
func WithoutMemfd() (restore func()) {
	memfdCreate = func(string, int) (int, error) { return -1, unix.ENOSYS }
	return func() { memfdCreate = unix.MemfdCreate }
}
