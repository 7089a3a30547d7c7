//go:build !linux

package realsystemd

import (
	"errors"
	"testing"
	"time"
)

// Manager is a private systemd manager. Not available on this platform.
type Manager struct{}

var errNotLinux = errors.New("realsystemd: only available on linux")

// Start skips the test: a real systemd manager needs Linux.
func Start(t testing.TB, version string) *Manager {
	t.Helper()
	t.Skip("realsystemd: real systemd managers need linux")
	return nil
}

func (m *Manager) Version() string                                     { return "" }
func (m *Manager) Major() int                                          { return 0 }
func (m *Manager) Dir() string                                         { return "" }
func (m *Manager) Pid() int                                            { return 0 }
func (m *Manager) WriteUnit(name, content string)                      {}
func (m *Manager) Systemctl(args ...string) (string, error)            { return "", errNotLinux }
func (m *Manager) Run(args ...string) (string, error)                  { return "", errNotLinux }
func (m *Manager) StartUnit(name string) error                         { return errNotLinux }
func (m *Manager) Show(name string, props ...string) map[string]string { return nil }
func (m *Manager) WaitProp(t testing.TB, name, prop, want string, timeout time.Duration) map[string]string {
	return nil
}
func (m *Manager) WaitProps(t testing.TB, name string, want map[string]string, timeout time.Duration) map[string]string {
	return nil
}
func (m *Manager) WaitLog(t testing.TB, substr string, timeout time.Duration) string { return "" }
func (m *Manager) Log() string                                                       { return "" }
func (m *Manager) LogTail(n int) string                                              { return "" }
func (m *Manager) Stop() error                                                       { return nil }
