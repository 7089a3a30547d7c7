package sdnotify

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// MaxCredentialSize is the most Credential reads: systemd holds all of a
// service's credentials to 1 MiB.
const MaxCredentialSize = 1 << 20

// Credential returns the contents of the service's credential name, which
// the unit sets with LoadCredential=, LoadCredentialEncrypted= or
// SetCredential= (systemd 247): the file of that name in the directory
// $CREDENTIALS_DIRECTORY.
//
// A name must be a file name: not empty, not "." or "..", without '/' or
// NUL; any other is refused with an error matching ErrInvalid. Unless
// $CREDENTIALS_DIRECTORY is set to an absolute path (the unit has
// credentials), Credential returns an error matching fs.ErrNotExist that
// says so, as it does, listing the names there are, for a credential the
// unit does not have. A credential larger than MaxCredentialSize is an
// error too, and none of it is returned.
func Credential(name string) ([]byte, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, invalid("credential name " + quote(name) + ": want a file name (not empty, \".\" or \"..\", no '/' or NUL)")
	}
	dir, ok := os.LookupEnv("CREDENTIALS_DIRECTORY")
	switch {
	case !ok || dir == "":
		return nil, wrap("sdnotify: credential "+quote(name)+": CREDENTIALS_DIRECTORY is not set: the unit has no LoadCredential= or SetCredential=", fs.ErrNotExist)
	case !filepath.IsAbs(dir):
		return nil, invalid("credential " + quote(name) + ": CREDENTIALS_DIRECTORY=" + quote(dir) + " is not an absolute path")
	}
	f, err := os.Open(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &wrapError{msg: "sdnotify: credential " + quote(name), err: err, hint: "the unit has " + credentialNames(dir)}
	}
	if err != nil {
		return nil, wrap("sdnotify: credential "+quote(name), err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxCredentialSize+1))
	switch {
	case err != nil:
		return nil, wrap("sdnotify: credential "+quote(name), err)
	case len(b) > MaxCredentialSize:
		return nil, wrap("sdnotify: credential "+quote(name)+": larger than "+itoa(MaxCredentialSize)+" bytes", syscall.EFBIG)
	}
	return b, nil
}

// credentialNames lists the credentials in dir, for an error message.
func credentialNames(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "no readable credentials directory (" + err.Error() + ")"
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, quote(e.Name()))
	}
	if len(names) == 0 {
		return "no credentials"
	}
	slices.Sort(names)
	return "only " + strings.Join(names, ", ")
}
