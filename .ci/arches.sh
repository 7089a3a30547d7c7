#!/usr/bin/env bash
# Builds and vets the root module for every Linux architecture it supports,
# runs its tests on 386 natively (32-bit control-message and credential
# layouts) and on arm64 under qemu-user (Debian's qemu-user-static, run
# through binfmt_misc, which this script registers if it is not).
#
# Usage: bash .ci/arches.sh   (as root: apt-get, and binfmt_misc's register)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
unset SDNOTIFY_REAL_SYSTEMD
t0=$SECONDS

echo "-- cross-builds"
for arch in amd64 386 arm arm64 riscv64 ppc64le s390x loong64 mips64le; do
	echo "GOARCH=$arch"
	GOOS=linux GOARCH=$arch go build ./...
	GOOS=linux GOARCH=$arch go vet ./...
done
echo "-- cross-builds: $((SECONDS - t0))s"

# 386 runs here natively, without cgo (so without -race). Every package's
# tests run.
t=$SECONDS
GOARCH=386 CGO_ENABLED=0 go test -count=1 ./...
echo "-- tests on 386: $((SECONDS - t))s"

# arm64 under qemu-user. The tests start children from their own binary, so
# the kernel itself must hand arm64 binaries to qemu: `go test -exec` alone
# would not do for those children.
t=$SECONDS
if ! [ -x /usr/bin/qemu-aarch64-static ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi
binfmt=/proc/sys/fs/binfmt_misc
[ -e $binfmt/register ] || mount -t binfmt_misc binfmt_misc $binfmt
if ! [ -e $binfmt/qemu-aarch64 ]; then
	cat /usr/lib/binfmt.d/qemu-aarch64.conf >$binfmt/register
fi
grep -qx enabled $binfmt/qemu-aarch64 || echo 1 >$binfmt/qemu-aarch64
# The real check: an arm64 program runs when executed directly.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'package main\n\nimport "runtime"\n\nfunc main() { print(runtime.GOARCH) }\n' >"$probe/main.go"
(cd "$probe" && GOARCH=arm64 GOFLAGS= go build -o probe main.go)
if [ "$("$probe/probe" 2>&1)" != arm64 ]; then
	echo "arches.sh: an arm64 binary does not run through binfmt_misc and qemu-aarch64: $(cat $binfmt/qemu-aarch64)" >&2
	exit 1
fi
echo "installed and registered qemu-aarch64 ($(qemu-aarch64-static --version | head -1)): $((SECONDS - t))s"
# cmd/sdnotify and internal/conformance run here too. What qemu-user
# cannot give some of their tests, they probe for and skip on
# (cmd/sdnotify/qemu_test.go, internal/conformance/qemu_test.go):
# prctl(PR_SET_CHILD_SUBREAPER), which qemu 7.2 does not emulate; a
# set-user-ID bit, which binfmt_misc without the C flag ignores;
# /proc/PID/exe naming the program, not the emulator; a Go program that
# starts within a quarter of a test's time budget; and a forked child
# whose exec fails, which qemu 7.2 now and then deadlocks.
t=$SECONDS
GOARCH=arm64 go test -count=1 . ./sdnotifytest/... ./journal/... ./listen/... ./internal/pidfd ./internal/fdstore ./internal/spawn ./cmd/sdnotify ./internal/conformance
echo "-- tests on arm64 under qemu-user: $((SECONDS - t))s"
echo "-- arches.sh: $((SECONDS - t0))s"
