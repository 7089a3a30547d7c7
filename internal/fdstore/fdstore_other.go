//go:build !linux

package fdstore

import "os"

// sameFile reports whether a and b are the same file; without kcmp, the
// same inode will do.
func sameFile(a, b *os.File) (bool, error) {
	sa, err := a.Stat()
	if err != nil {
		return false, err
	}
	sb, err := b.Stat()
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

// hungUp reports false: hang-ups are watched on Linux only.
func hungUp(*os.File) bool { return false }
