#!/usr/bin/env bash
# Build the whole Debian roots that the real-systemd test harness
# (internal/realsystemd) boots systemd 257 and 262 from: their binaries need
# a newer glibc than Debian 12's, so the harness pivots into a root of their
# own inside a private mount namespace (read-only, under a tmpfs overlay).
#
#   CACHE_DIR/257   Debian trixie (stable), minbase + systemd
#   CACHE_DIR/262   Debian sid, minbase + systemd
#
# Usage: bash .ci/systemd-roots.sh [CACHE_DIR]
#   (default: $SDNOTIFY_SYSTEMD_ROOTS, else /var/cache/sdnotify-systemd-roots)
#
# - Built with mmdebstrap from Debian's packages (installed with apt-get if
#   missing). Nothing is installed into the host besides mmdebstrap.
# - Idempotent and fast when cached: a root whose systemctl reports the
#   wanted version is kept as it is (a chroot + `systemctl --version` each).
#   A missing or wrong root is built beside the target and renamed into
#   place, so an interrupted run never leaves a half-built root behind.
# - sid moves on: when it offers another systemd than 262, building fails
#   with a message saying so (a cached 262 root keeps working).
# - Prints CACHE_DIR on the last line of stdout.
# Needs root and network access to the Debian mirror only.
set -euo pipefail

CACHE_DIR="${1:-${SDNOTIFY_SYSTEMD_ROOTS:-/var/cache/sdnotify-systemd-roots}}"
# version:suite pairs. The harness's list of versions is in
# internal/realsystemd/versions.go.
ROOTS=(257:trixie 262:sid)
MARK=.sdnotify-systemd-root

log() { echo "systemd-roots.sh: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# root_version DIR: the major version DIR's systemctl reports, or nothing.
root_version() {
	[[ -x "$1/usr/bin/systemctl" && -x "$1/usr/lib/systemd/systemd" ]] || return 0
	chroot "$1" /usr/bin/systemctl --version 2>/dev/null | sed -n '1s/^systemd \([0-9][0-9]*\) .*/\1/p'
}

todo=()
for spec in "${ROOTS[@]}"; do
	v=${spec%%:*}
	if [[ -e "$CACHE_DIR/$v/$MARK" && "$(root_version "$CACHE_DIR/$v")" == "$v" ]]; then
		log "systemd $v: cached in $CACHE_DIR/$v ($(cat "$CACHE_DIR/$v/$MARK"))"
	else
		todo+=("$spec")
	fi
done
if [[ ${#todo[@]} -eq 0 ]]; then
	echo "$CACHE_DIR"
	exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (mmdebstrap's root mode, chroot)"
command -v apt-get >/dev/null || die "apt-get not found (not a Debian system?)"
if ! command -v mmdebstrap >/dev/null; then
	log "apt-get install mmdebstrap"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >&2; then
		apt-get update -q >&2 || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >&2 || die "cannot install mmdebstrap"
	fi
fi

# The system's Debian mirror (a CI machine may have a closer one), else
# deb.debian.org.
MIRROR=""
if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
	MIRROR=$(awk 'tolower($1) == "uris:" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
fi
if [[ -z "$MIRROR" && -r /etc/apt/sources.list ]]; then
	MIRROR=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i !~ /security/) { print $i; exit } }' /etc/apt/sources.list)
fi
MIRROR=${MIRROR:-http://deb.debian.org/debian}

mkdir -p "$CACHE_DIR"
chmod 755 "$CACHE_DIR"
# Leftovers of an interrupted run.
rm -rf "$CACHE_DIR"/.build-*

# build VERSION SUITE: build the root into a staging dir, check it, rename it
# into place.
build() {
	local v=$1 suite=$2 stage="$CACHE_DIR/.build-$1" got
	local logf="$CACHE_DIR/.build-$1.log"
	log "systemd $v: mmdebstrap $suite from $MIRROR"
	# Check-Valid-Until: the mirror's sid Release file can be past its
	# Valid-Until date. Documentation is left out: it is not needed.
	if ! mmdebstrap --variant=minbase --include=systemd \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		"$suite" "$stage" "$MIRROR" >"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		die "systemd $v: mmdebstrap $suite failed (log above)"
	fi
	got=$(root_version "$stage")
	if [[ "$got" != "$v" ]]; then
		die "systemd $v: Debian $suite now has systemd ${got:-(none)}, not $v; update ROOTS here and the versions in internal/realsystemd"
	fi
	chroot "$stage" /usr/bin/systemctl --version | head -n1 >"$stage/$MARK"
	chmod 755 "$stage"
	rm -rf "$CACHE_DIR/$v"
	mv "$stage" "$CACHE_DIR/$v"
	rm -f "$logf"
	log "systemd $v: built in $CACHE_DIR/$v ($(cat "$CACHE_DIR/$v/$MARK"))"
}

# Both at once: most of the time goes to downloading and unpacking.
pids=()
for spec in "${todo[@]}"; do
	build "${spec%%:*}" "${spec#*:}" &
	pids+=($!)
done
fail=0
for p in "${pids[@]}"; do
	wait "$p" || fail=1
done
[[ $fail -eq 0 ]] || die "building a root failed"
echo "$CACHE_DIR"
