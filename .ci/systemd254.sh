#!/usr/bin/env bash
# Fetch systemd 254 from Debian bookworm-backports and unpack it into a cache
# directory, WITHOUT installing it: the real-systemd test harness
# (internal/realsystemd) overlays the unpacked files inside a private mount
# namespace only.
#
# Usage: bash .ci/systemd254.sh [CACHE_DIR]   (default /var/cache/sdnotify-systemd254)
#
# - Uses a private sources file, private lists/cache/state directories and a
#   private apt config (-c) that clears the system's update hooks. It never
#   runs `apt-get install`, and never writes to /etc/apt, the system's apt
#   lists or /var/cache/apt.
# - Idempotent: if CACHE_DIR already holds an unpacked systemd 254 it does
#   nothing.
# - Prints CACHE_DIR on the last line of stdout.
# Needs root (apt-get update) and network access to the Debian mirror only.
set -euo pipefail

CACHE_DIR="${1:-/var/cache/sdnotify-systemd254}"
EXPECT_VERSION="254.26-1~bpo12+1" # what was seen when this script was written
PKGS=(systemd libsystemd-shared libsystemd0)

log() { echo "systemd254.sh: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# is_unpacked DIR: DIR holds an unpacked systemd binary that reports 254.
is_unpacked() {
	local d="$1" bin="" lib
	for bin in "$d/usr/lib/systemd/systemd" "$d/lib/systemd/systemd"; do
		[[ -x "$bin" ]] && break
		bin=""
	done
	[[ -n "$bin" ]] || return 1
	lib=$(find "$d" -name 'libsystemd-shared-254*.so' -print -quit 2>/dev/null)
	[[ -n "$lib" ]] || return 1
	LD_LIBRARY_PATH="$(dirname "$lib")" "$bin" --version 2>/dev/null | head -n1 | grep -q '^systemd 254 '
}

if is_unpacked "$CACHE_DIR"; then
	log "systemd 254 already unpacked in $CACHE_DIR"
	echo "$CACHE_DIR"
	exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get update needs it)"
command -v apt-get >/dev/null || die "apt-get not found (not a Debian system?)"
command -v dpkg >/dev/null || die "dpkg not found"

if [[ -e "$CACHE_DIR" ]] && [[ -n "$(ls -A "$CACHE_DIR" 2>/dev/null)" ]] && [[ ! -e "$CACHE_DIR/.sdnotify-systemd254" ]]; then
	die "$CACHE_DIR exists, is not empty and was not made by this script; refusing to touch it"
fi

# --- Find the system's Debian main archive URI and keyring -----------------
URI=""
KEYRING=""
if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
	# deb822: take the stanza whose Suites list has plain "bookworm".
	read -r URI KEYRING < <(awk '
		function flush() {
			if (suites ~ /(^| )bookworm( |$)/ && uri != "" && !done) { print uri, key; done = 1 }
			uri = ""; key = ""; suites = ""
		}
		/^[ \t]*$/ { flush(); next }
		/^[ \t]*#/ { next }
		tolower($1) == "uris:" { uri = $2 }
		tolower($1) == "suites:" { $1 = ""; suites = $0 " " }
		tolower($1) == "signed-by:" { key = $2 }
		END { flush() }
	' /etc/apt/sources.list.d/debian.sources) || true
fi
if [[ -z "$URI" ]]; then
	# one-line format: deb [signed-by=...] URI bookworm main
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -r "$f" ]] || continue
		line=$(grep -E '^[[:space:]]*deb[[:space:]].*[[:space:]]bookworm([[:space:]]|$)' "$f" | head -n1) || true
		[[ -n "$line" ]] || continue
		KEYRING=$(sed -n 's/.*signed-by=\([^] ]*\).*/\1/p' <<<"$line")
		URI=$(sed -e 's/\[[^]]*\]//' <<<"$line" | awk '{print $2}')
		break
	done
fi
URI="${URI:-http://deb.debian.org/debian}"
if [[ -z "$KEYRING" || ! -r "$KEYRING" ]]; then
	KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
fi
[[ -r "$KEYRING" ]] || die "keyring $KEYRING not found"
log "using $URI bookworm-backports, signed by $KEYRING"

# --- Private apt environment -------------------------------------------------
WORK=$(mktemp -d /tmp/sdnotify-apt.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/state" \
	"$WORK/sources.list.d" "$WORK/preferences.d" "$WORK/debs" "$WORK/root"
: >"$WORK/state/status"
cat >"$WORK/sources.list" <<EOF
deb [signed-by=$KEYRING] $URI bookworm-backports main
EOF
# Read after the system's apt.conf.d (so proxies etc. still apply), clears the
# hooks that would touch system state (/var/cache/apt, appstream, PackageKit).
cat >"$WORK/apt.conf" <<EOF
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear APT::Update::Pre-Invoke;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::Languages "none";
Dir::State "$WORK/state";
Dir::State::Lists "$WORK/lists";
Dir::State::status "$WORK/state/status";
Dir::State::extended_states "$WORK/state/extended_states";
Dir::Cache "$WORK/cache";
Dir::Cache::archives "$WORK/cache/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Dir::Etc::SourceList "$WORK/sources.list";
Dir::Etc::SourceParts "$WORK/sources.list.d";
Dir::Etc::Preferences "$WORK/preferences";
Dir::Etc::PreferencesParts "$WORK/preferences.d";
APT::Sandbox::User "root";
EOF
APT=(-c "$WORK/apt.conf")

log "apt-get update (private lists in $WORK)"
apt-get "${APT[@]}" -q update >&2 || die "apt-get update of bookworm-backports failed"

# --- Pick the backports version ---------------------------------------------
VERSION=$(apt-cache "${APT[@]}" policy systemd | awk '$1 == "Candidate:" {print $2}')
if [[ -z "$VERSION" || "$VERSION" == "(none)" ]]; then
	VERSION=$(apt-cache "${APT[@]}" madison systemd | awk -F'|' '/bookworm-backports/ {gsub(/ /, "", $2); print $2; exit}')
fi
[[ -n "$VERSION" && "$VERSION" != "(none)" ]] || die "no systemd candidate in bookworm-backports"
case "$VERSION" in
254.*) ;;
*) die "bookworm-backports offers systemd $VERSION, not 254 (expected $EXPECT_VERSION)" ;;
esac
if [[ "$VERSION" != "$EXPECT_VERSION" ]]; then
	log "note: backports has systemd $VERSION (expected $EXPECT_VERSION); using $VERSION"
fi

# --- Download and unpack -----------------------------------------------------
specs=()
for p in "${PKGS[@]}"; do specs+=("$p=$VERSION"); done
log "apt-get download ${specs[*]}"
(cd "$WORK/debs" && apt-get "${APT[@]}" -q download "${specs[@]}" >&2) || die "apt-get download failed"

for deb in "$WORK"/debs/*.deb; do
	log "dpkg -x $(basename "$deb")"
	dpkg -x "$deb" "$WORK/root"
done
echo "$VERSION" >"$WORK/root/.sdnotify-systemd254"
is_unpacked "$WORK/root" || die "unpacked files do not contain a working systemd 254"

# Move into place: unpack beside the target, then rename (atomic on one fs).
parent=$(dirname "$CACHE_DIR")
mkdir -p "$parent"
staging=$(mktemp -d "$parent/.sdnotify-systemd254.XXXXXX")
cp -a "$WORK/root/." "$staging/"
chmod 755 "$staging"
if [[ -e "$CACHE_DIR" ]]; then
	rm -rf "$CACHE_DIR" # empty, or ours (checked above)
fi
mv "$staging" "$CACHE_DIR"
log "systemd $VERSION unpacked into $CACHE_DIR"
echo "$CACHE_DIR"
