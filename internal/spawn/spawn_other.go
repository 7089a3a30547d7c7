//go:build !linux

package spawn

import "errors"

func execve(string, []string, []string) error { return errors.ErrUnsupported }
