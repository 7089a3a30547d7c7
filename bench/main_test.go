//go:build linux

package bench

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(receiverEnv); path != "" {
		runReceiver(path)
		return
	}
	// Whatever started us must not leak its notification socket in.
	os.Unsetenv("NOTIFY_SOCKET")
	code := m.Run()
	stopReceivers()
	os.Exit(code)
}
