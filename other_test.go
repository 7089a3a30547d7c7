//go:build !linux

package sdnotify_test

import (
	"errors"
	"testing"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/sdnotifytest"
)

// Elsewhere than Linux, New ignores NOTIFY_SOCKET and NewAddr reports
// errors.ErrUnsupported, as the package doc says.
func TestOtherSystems(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	n := sdnotify.New()
	if n.Enabled() {
		t.Error("New().Enabled() = true; want false on this system")
	}
	if err := n.Send(sdnotify.Ready()); err != nil {
		t.Errorf("New().Send(Ready()) = %v; want nil", err)
	}
	if err := sdnotify.NewAddr("/run/systemd/notify").Send(sdnotify.Ready()); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("NewAddr(...).Send(Ready()) = %v; want errors.ErrUnsupported", err)
	}
	if _, err := sdnotifytest.Listen(""); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("sdnotifytest.Listen = %v; want errors.ErrUnsupported", err)
	}
}
