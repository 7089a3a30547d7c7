#!/usr/bin/env bash
# Install the real sd_notify senders that internal/conformance compares the
# library with, from Debian's own packages:
#   - systemd-notify (already part of systemd; not installed here),
#   - libsystemd's C API (libsystemd-dev, pkg-config; a C compiler must be
#     present already, as it is wherever cgo works),
#   - Python's sdnotify (python3-sdnotify) and systemd.daemon
#     (python3-systemd), for the system python at /usr/bin/python3.
#
# libsystemd-dev is pinned to exactly the installed libsystemd0 version:
# an unpinned install would pull a newer libsystemd0 and, with it, upgrade
# systemd itself.
#
# Idempotent: does nothing (not even apt-get update) when everything is
# installed at the right version. Needs root. Fails loudly if an install
# fails.
#
# Usage: bash .ci/install-peers.sh
set -euo pipefail

log() { echo "install-peers.sh: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

command -v dpkg-query >/dev/null || die "dpkg-query not found (not a Debian system?)"

libver=$(dpkg-query -W -f='${Version}' libsystemd0 2>/dev/null) || true
[[ -n "$libver" ]] || die "libsystemd0 is not installed; cannot pin libsystemd-dev to it"

want=(python3-sdnotify python3-systemd pkg-config "libsystemd-dev=$libver")

# installed PKG [VERSION]: PKG is installed (at VERSION, if given).
installed() {
	local status version
	status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
	[[ "$status" == installed ]] || return 1
	if [[ -n "${2:-}" ]]; then
		version=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || return 1
		[[ "$version" == "$2" ]] || return 1
	fi
}

missing=()
for spec in "${want[@]}"; do
	pkg=${spec%%=*}
	ver=""
	[[ "$spec" == *=* ]] && ver=${spec#*=}
	installed "$pkg" "$ver" || missing+=("$spec")
done

if ((${#missing[@]} == 0)); then
	log "peers already installed (libsystemd $libver)"
	exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root to install: ${missing[*]}"
command -v apt-get >/dev/null || die "apt-get not found"

export DEBIAN_FRONTEND=noninteractive
log "installing: ${missing[*]}"
apt-get update -qq || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
	die "apt-get install ${missing[*]} failed"

# Check: everything is there, and libsystemd0 was not moved.
now=$(dpkg-query -W -f='${Version}' libsystemd0)
[[ "$now" == "$libver" ]] || die "libsystemd0 changed from $libver to $now"
for spec in "${want[@]}"; do
	pkg=${spec%%=*}
	ver=""
	[[ "$spec" == *=* ]] && ver=${spec#*=}
	installed "$pkg" "$ver" || die "$spec is still not installed"
done
/usr/bin/python3 -c 'import sdnotify, systemd.daemon' || die "system python cannot import sdnotify and systemd.daemon"
pkg-config --exists libsystemd || die "pkg-config does not know libsystemd"
log "installed peers (libsystemd $libver)"
