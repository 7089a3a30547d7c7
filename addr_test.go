package sdnotify_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/gosdnotify/sdnotify"
)

func TestParseAddress(t *testing.T) {
	long := "/" + strings.Repeat("x", 106) // 107 bytes: the most that fits with its NUL
	tests := []struct {
		name, in, want string
		errno          syscall.Errno
	}{
		{name: "path", in: "/run/systemd/notify", want: "/run/systemd/notify"},
		{name: "abstract", in: "@sdnotify/test", want: "@sdnotify/test"},
		{name: "longest path", in: long, want: long},
		{name: "longest abstract", in: "@" + long[1:], want: "@" + long[1:]},
		{name: "vsock", in: "vsock:3:9999", want: "vsock:3:9999"},
		{name: "vsock host", in: "vsock:host:1", want: "vsock:2:1"},
		{name: "vsock hypervisor", in: "vsock:hypervisor:1", want: "vsock:0:1"},
		{name: "vsock local", in: "vsock:local:1", want: "vsock:1:1"},
		{name: "vsock port 0", in: "vsock:3:0", want: "vsock:3:0"},
		{name: "vsock max", in: "vsock:4294967294:4294967294", want: "vsock:4294967294:4294967294"},
		{name: "vsock-dgram", in: "vsock-dgram:3:1", want: "vsock-dgram:3:1"},
		{name: "vsock-seqpacket", in: "vsock-seqpacket:3:1", want: "vsock-seqpacket:3:1"},
		{name: "vsock-stream", in: "vsock-stream:3:1", want: "vsock-stream:3:1"},

		{name: "empty", in: "", errno: syscall.EPROTO},
		{name: "relative", in: "run/notify", errno: syscall.EPROTO},
		{name: "dot relative", in: "./notify", errno: syscall.EPROTO},
		{name: "slash alone", in: "/", errno: syscall.EINVAL},
		{name: "at alone", in: "@", errno: syscall.EINVAL},
		{name: "path too long", in: long + "x", errno: syscall.ENAMETOOLONG},
		{name: "abstract too long", in: "@" + long, errno: syscall.EINVAL},
		{name: "NUL in path", in: "/run/\x00notify", errno: syscall.EINVAL},
		{name: "unknown scheme", in: "tcp:1.2.3.4:5", errno: syscall.EPROTO},
		{name: "vsock no port", in: "vsock:3", errno: syscall.EINVAL},
		{name: "vsock empty port", in: "vsock:3:", errno: syscall.EINVAL},
		{name: "vsock any port", in: "vsock:3:4294967295", errno: syscall.EINVAL},
		{name: "vsock port overflow", in: "vsock:3:4294967296", errno: syscall.ERANGE},
		{name: "vsock negative port", in: "vsock:3:-1", errno: syscall.ERANGE},
		{name: "vsock CID overflow", in: "vsock:4294967296:1", errno: syscall.ERANGE},
		{name: "vsock signed port", in: "vsock:3:+1", errno: syscall.EINVAL},
		{name: "vsock no CID", in: "vsock::1", errno: syscall.EINVAL},
		{name: "vsock any CID", in: "vsock:any:1", errno: syscall.EINVAL},
		{name: "vsock -1 CID", in: "vsock:-1:1", errno: syscall.EINVAL},
		{name: "vsock CID 4294967295", in: "vsock:4294967295:1", errno: syscall.EINVAL},
		{name: "vsock hex CID", in: "vsock:0x3:1", errno: syscall.EINVAL},
		{name: "vsock word CID", in: "vsock:guest:1", errno: syscall.EINVAL},
		{name: "vsock extra colon", in: "vsock:3:1:2", errno: syscall.EINVAL},
		{name: "vsock leading zero", in: "vsock:03:1", errno: syscall.EINVAL},
		{name: "vsock unknown type", in: "vsock-raw:3:1", errno: syscall.EPROTO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sdnotify.ParseAddress(tt.in)
			if tt.errno == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("ParseAddress(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
				}
				again, err := sdnotify.ParseAddress(got)
				if err != nil || again != got {
					t.Fatalf("ParseAddress(%q) (formatted back) = %q, %v; want %q, nil", got, again, err, got)
				}
				return
			}
			var aerr *sdnotify.AddressError
			if !errors.As(err, &aerr) || !errors.Is(err, tt.errno) {
				t.Fatalf("ParseAddress(%q) = %q, %v; want an *AddressError wrapping %v", tt.in, got, err, tt.errno)
			}
			if aerr.Addr != tt.in || !strings.HasPrefix(err.Error(), "sdnotify: NOTIFY_SOCKET=") || aerr.Reason == "" {
				t.Errorf("error %q does not name the value %q and a reason", err, tt.in)
			}
		})
	}
}
