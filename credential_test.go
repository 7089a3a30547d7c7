package sdnotify_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gosdnotify/sdnotify"
)

func TestCredential(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "db-password"), []byte("s3cret\n"), 0o400)
	os.WriteFile(filepath.Join(dir, "big"), make([]byte, sdnotify.MaxCredentialSize+1), 0o400)
	os.WriteFile(filepath.Join(dir, "just-fits"), make([]byte, sdnotify.MaxCredentialSize), 0o400)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)

	if b, err := sdnotify.Credential("db-password"); err != nil || string(b) != "s3cret\n" {
		t.Errorf("Credential(db-password) = %q, %v", b, err)
	}
	if b, err := sdnotify.Credential("just-fits"); err != nil || len(b) != sdnotify.MaxCredentialSize {
		t.Errorf("Credential(just-fits) = %d bytes, %v", len(b), err)
	}
	if b, err := sdnotify.Credential("big"); !errors.Is(err, syscall.EFBIG) || b != nil {
		t.Errorf("Credential(big) = %d bytes, %v; want EFBIG", len(b), err)
	}
	_, err := sdnotify.Credential("missing")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `"db-password"`) {
		t.Errorf("Credential(missing) = %v; want ErrNotExist listing what there is", err)
	}
	for _, name := range []string{"", ".", "..", "../etc/passwd", "a/b", "a\x00b"} {
		if _, err := sdnotify.Credential(name); !errors.Is(err, sdnotify.ErrInvalid) {
			t.Errorf("Credential(%q) = %v; want ErrInvalid", name, err)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "relative/dir")
	if _, err := sdnotify.Credential("db-password"); !errors.Is(err, sdnotify.ErrInvalid) {
		t.Errorf("relative CREDENTIALS_DIRECTORY: %v; want ErrInvalid", err)
	}
	os.Unsetenv("CREDENTIALS_DIRECTORY")
	if _, err := sdnotify.Credential("db-password"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "CREDENTIALS_DIRECTORY is not set") {
		t.Errorf("no CREDENTIALS_DIRECTORY: %v", err)
	}
}
