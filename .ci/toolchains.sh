#!/usr/bin/env bash
# Builds, vets and tests the root module with two Go toolchains besides the
# default one (which .ci/run uses for everything else): the oldest that
# go.mod allows (the newest patch release of its go line) and the newest
# release. The toolchains come from the Go module proxy (GOTOOLCHAIN=goX.Y.Z
# downloads one into GOMODCACHE, where it stays cached for the next run).
#
# Usage: bash .ci/toolchains.sh
#   GO_OLDEST=go1.24.13 GO_NEWEST=go1.27.4 override the pinned toolchains.
#
# The real-systemd suite (SDNOTIFY_REAL_SYSTEMD) runs once, on the default
# toolchain, in .ci/run: here it skips. Allocation counts are checked on the
# newest toolchain only: Go 1.24 and 1.25 cannot keep the rawConn of
# (*os.File).SyscallConn on the stack, so an FDStore send allocates 4 times
# there instead of once (what TestAllocations allows).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
unset SDNOTIFY_REAL_SYSTEMD

# Pinned so that a new Go release cannot turn CI red by itself; the note
# below says when a newer one is out.
GO_OLDEST=${GO_OLDEST:-go1.24.13}
GO_NEWEST=${GO_NEWEST:-go1.27.4}

# The oldest toolchain must be of the go line that go.mod asks for, so that
# raising or lowering the go directive cannot leave this script behind.
godirective=$(awk '$1 == "go" { print $2; exit }' go.mod)
goline=$(echo "$godirective" | cut -d. -f1,2)
case "$GO_OLDEST" in
go"$goline".*) ;;
*)
	echo "toolchains.sh: go.mod says go $godirective, but the oldest toolchain tested is $GO_OLDEST: set GO_OLDEST to the newest go$goline.x" >&2
	exit 1
	;;
esac

# A note (never a failure) when the proxy has newer releases than the pins.
platform=$(GOTOOLCHAIN=local go env GOHOSTOS)-$(GOTOOLCHAIN=local go env GOHOSTARCH)
if versions=$(GOTOOLCHAIN=local go list -m -versions golang.org/toolchain 2>/dev/null); then
	releases=$(echo "$versions" | tr ' ' '\n' | sed -n "s/^v0\.0\.1-\(go[0-9]*\.[0-9]*\.[0-9]*\)\.$platform\$/\1/p" | sort -V)
	latest_line=$(echo "$releases" | grep "^go$goline\." | tail -1)
	latest=$(echo "$releases" | tail -1)
	[ "$latest_line" = "$GO_OLDEST" ] || echo "note: the proxy lists $latest_line; GO_OLDEST is $GO_OLDEST"
	[ "$latest" = "$GO_NEWEST" ] || echo "note: the proxy lists $latest; GO_NEWEST is $GO_NEWEST"
fi

for tc in "$GO_OLDEST" "$GO_NEWEST"; do
	t0=$SECONDS
	export GOTOOLCHAIN=$tc
	echo "-- $tc: $(go version)" # downloads it the first time
	go version | grep -q " $tc " || { echo "toolchains.sh: GOTOOLCHAIN=$tc ran $(go version)" >&2; exit 1; }
	go build ./...
	go vet ./...
	go test -race -count=1 ./...
	if [ "$tc" = "$GO_NEWEST" ]; then
		go test -count=1 -run '^TestAllocations$' . ./journal
	fi
	echo "-- $tc: $((SECONDS - t0))s"
done
