package realsystemd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	// EnvRootsDir names the directory .ci/systemd-roots.sh built the
	// Debian roots of systemd 257 and 262 in (one subdirectory each).
	EnvRootsDir = "SDNOTIFY_SYSTEMD_ROOTS"
	// DefaultRootsDir is where .ci/systemd-roots.sh builds them by default.
	DefaultRootsDir = "/var/cache/sdnotify-systemd-roots"
)

// rootSuites are the versions booted from a whole root, and the Debian
// suite each root comes from (for messages).
var rootSuites = map[string]string{"257": "trixie", "262": "sid"}

// sysroot returns the root directory that version boots from, or "" for
// the versions that run on the host's filesystem (252, host, 254).
func sysroot(version string) string {
	if _, ok := rootSuites[version]; !ok {
		return ""
	}
	dir := os.Getenv(EnvRootsDir)
	if dir == "" {
		dir = DefaultRootsDir
	}
	return filepath.Join(dir, version)
}

// rootPreflight is preflight for the versions booted from a root; the
// error is the skip reason.
func rootPreflight(version string) error {
	suite, ok := rootSuites[version]
	if !ok {
		return fmt.Errorf("unknown systemd version %q (want 252, host, 254, 257 or 262)", version)
	}
	dir := sysroot(version)
	if !fileExists(filepath.Join(dir, "usr/lib/systemd/systemd")) || !fileExists(filepath.Join(dir, "usr/bin/systemctl")) {
		return fmt.Errorf("no Debian %s root with systemd %s in %s (run `bash .ci/systemd-roots.sh [DIR]`, and set %s if DIR is not the default)",
			suite, version, dir, EnvRootsDir)
	}
	if strings.ContainsAny(dir, ":,= \t\n\\") {
		return fmt.Errorf("root dir %q contains a character overlayfs options cannot take", dir)
	}
	if b, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(b), "\toverlay\n") {
		return errors.New("the kernel has no overlayfs (needed to boot a root without writing to it)")
	}
	return nil
}

// initArgs returns the command that runs as PID 1 of the new namespaces:
// initScript for the versions that run on the host's filesystem,
// rootInitScript for those booted from a root.
func (m *Manager) initArgs(pts string, overlays []string) []string {
	if m.sysroot == "" {
		return append([]string{"/bin/sh", "-c", initScript, "sdnotify-rs-init", pts, m.unitDir, m.root}, overlays...)
	}
	return append([]string{"/bin/sh", "-c", rootInitScript, "sdnotify-rs-root-init", pts, m.unitDir, m.root, m.sysroot},
		hostBinds()...)
}

// hostBinds lists the host directories that appear, read-only, at the same
// paths inside a root: /tmp and the temp dir (where tests put daemons they
// build) and the module's source tree (testdata).
func hostBinds() []string {
	cands := []string{"/tmp", os.TempDir()}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; d != "/" && d != "."; d = filepath.Dir(d) {
			if fileExists(filepath.Join(d, "go.mod")) && !fileExists(filepath.Join(filepath.Dir(d), "go.mod")) {
				cands = append(cands, d)
				break
			}
		}
	}
	var binds []string
	for _, c := range cands {
		c = filepath.Clean(c)
		if !filepath.IsAbs(c) || c == "/" || !dirExists(c) {
			continue
		}
		covered := false
		for _, b := range binds {
			if c == b || strings.HasPrefix(c, b+"/") {
				covered = true
			}
		}
		if !covered {
			binds = append(binds, c)
		}
	}
	return binds
}

// rootInitScript runs as PID 1 of the new namespaces (on the host's
// filesystem, in the private mount namespace), builds the manager's root
// and execs its systemd. Args: pty slave, unit dir, temp root, the root to
// boot, then the host dirs to bind read-only at the same paths.
//
// The root is the lower layer of an overlay whose upper layer is a tmpfs,
// so every manager starts from the same files and nothing is ever written
// to the cache. Inside: fresh /proc (its sys read-only but for net, where
// the manager raises the notify queue), read-only /sys with a cgroup2
// mount rooted at the manager's cgroup, the host's /dev with the pty over
// /dev/console, a tmpfs /run (shared, as in initScript, for credentials),
// the host dirs, and the temp root read-write.
const rootInitScript = `
set -e
pts=$1 units=$2 root=$3 sysroot=$4
shift 4
new=$root/.sysroot rw=$root/.rw
mkdir -p "$new" "$rw"
mount -t tmpfs -o mode=0755 sdnotify-rs-rw "$rw"
mkdir "$rw/upper" "$rw/work"
mount -t overlay -o "lowerdir=$sysroot,upperdir=$rw/upper,workdir=$rw/work" sdnotify-rs-root "$new"
mount -t proc -o nosuid,nodev,noexec proc "$new/proc"
mount --bind "$new/proc/sys" "$new/proc/sys"
mount --bind "$new/proc/sys/net" "$new/proc/sys/net"
mount -o remount,bind,ro "$new/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$new/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$new/sys/fs/cgroup"
mount --rbind /dev "$new/dev"
mount --bind "$pts" "$new/dev/console"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$new/run"
mount --make-shared "$new/run"
mkdir -p "$new/run/systemd/system.conf.d"
printf '%s\n' '[Manager]' LogLevel=debug LogTarget=console LogColor=no LogLocation=no \
	ShowStatus=no DefaultStandardOutput=tty DefaultStandardError=tty \
	> "$new/run/systemd/system.conf.d/sdnotify-rs.conf"
for d in "$@"; do
	mkdir -p "$new$d"
	mount --bind "$d" "$new$d"
	mount -o remount,bind,ro "$new$d"
done
mkdir -p "$new$root"
mount --bind "$root" "$new$root"
mkdir "$new/.sdnotify-rs-old"
cd "$new"
pivot_root . .sdnotify-rs-old
cd /
umount -l /.sdnotify-rs-old
rmdir /.sdnotify-rs-old
exec env -i container=other TERM=dumb \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	SYSTEMD_UNIT_PATH="$units" SYSTEMD_GENERATOR_PATH= SYSTEMD_ENVIRONMENT_GENERATOR_PATH= \
	/lib/systemd/systemd --system --unit=default.target \
	--log-target=console --log-level=debug --log-color=no --log-location=no --show-status=no
`

// RootDir returns the directory of the Debian root that .ci/systemd-roots.sh
// built for version ("257" or "262"), or an error saying why it is not
// there: for tests that run a program of that systemd on the host, through
// the root's own dynamic loader.
func RootDir(version string) (string, error) {
	if err := rootPreflight(version); err != nil {
		return "", err
	}
	return sysroot(version), nil
}
