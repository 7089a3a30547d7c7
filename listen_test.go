package sdnotify_test

import (
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/gosdnotify/sdnotify"
)

// TestListenRules is sd_listen_fds_with_names's rules, case by case, with
// the result libsystemd gives for each ("-" is an unset variable).
func TestListenRules(t *testing.T) {
	const self, ownID = 1234, 777
	tests := []struct {
		name                    string
		pid, pidfdid, fds, fdns string
		ownID                   uint64
		n                       int
		names                   []string
		errno                   syscall.Errno
	}{
		{"nothing set", "-", "-", "-", "-", ownID, 0, nil, 0},
		{"no LISTEN_PID", "-", "-", "2", "a:b", ownID, 0, nil, 0},
		{"another process", "999", "-", "2", "a:b", ownID, 0, nil, 0},
		{"ours", "1234", "-", "2", "a:b", ownID, 2, []string{"a", "b"}, 0},
		{"no names", "1234", "-", "3", "-", ownID, 3, []string{"unknown", "unknown", "unknown"}, 0},
		{"empty names kept", "1234", "-", "3", "a::", ownID, 3, []string{"a", "", ""}, 0},
		{"shared names", "1234", "-", "2", "http:http", ownID, 2, []string{"http", "http"}, 0},
		{"too few names", "1234", "-", "2", "a", ownID, 0, nil, syscall.EINVAL},
		{"too many names", "1234", "-", "1", "a:b", ownID, 0, nil, syscall.EINVAL},
		{"empty names for two", "1234", "-", "2", "", ownID, 0, nil, syscall.EINVAL},
		{"no LISTEN_FDS", "1234", "-", "-", "a", ownID, 0, nil, 0},
		{"zero files", "1234", "-", "0", "-", ownID, 0, nil, syscall.EINVAL},
		{"negative files", "1234", "-", "-1", "-", ownID, 0, nil, syscall.EINVAL},
		{"files not a number", "1234", "-", "two", "-", ownID, 0, nil, syscall.EINVAL},
		{"files overflow", "1234", "-", "99999999999999999999", "-", ownID, 0, nil, syscall.EINVAL},
		{"files past the last descriptor", "1234", "-", "2147483645", "-", ownID, 0, nil, syscall.EINVAL},
		{"pid not a number", "abc", "-", "1", "-", ownID, 0, nil, syscall.EINVAL},
		{"pid empty", "", "-", "1", "-", ownID, 0, nil, syscall.EINVAL},
		{"pid zero", "0", "-", "1", "-", ownID, 0, nil, syscall.ERANGE},
		{"pid too large", "4294967296", "-", "1", "-", ownID, 0, nil, syscall.ERANGE},
		{"pidfd ID matches", "1234", "777", "1", "x", ownID, 1, []string{"x"}, 0},
		{"pidfd ID of an earlier process", "1234", "778", "1", "x", ownID, 0, nil, 0},
		{"pidfd ID unknown to the kernel", "1234", "778", "1", "x", 0, 1, []string{"x"}, 0},
		{"pidfd ID not a number", "1234", "x", "1", "x", ownID, 0, nil, syscall.EINVAL},
		{"pidfd ID of another pid", "999", "x", "1", "x", ownID, 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, names, err := sdnotify.ParseListen(tt.pid, tt.pidfdid, tt.fds, tt.fdns, self, tt.ownID)
			if tt.errno != 0 {
				if !errors.Is(err, tt.errno) || n != 0 {
					t.Fatalf("got %d files, %v; want none and %v", n, err, tt.errno)
				}
				return
			}
			if err != nil || n != tt.n || !slices.Equal(names, tt.names) {
				t.Fatalf("got %d files %q, %v; want %d %q", n, names, err, tt.n, tt.names)
			}
		})
	}
}
