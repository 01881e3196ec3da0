#!/bin/sh
# Runs the io_cancel conformance suite on each of Debian's kernels in a fresh
# guest and regenerates docs/kernels.md from the reports (kept in
# docs/conformance/). Usage: scripts/conformance.sh [suite...]
# (default: bullseye bookworm trixie sid, which replaces every report; named
# suites replace only their own). A suite that fails still leaves its
# report, and the script exits non-zero after regenerating the table.
set -u
cd "$(dirname "$0")/.."
suites=${*:-bullseye bookworm trixie sid}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 go build -o bin/vmtest ./cmd/vmtest || exit 1
rc=0
for k in $suites; do
	echo "== $k"
	GADGETKIT_VM_KERNEL=$k GADGETKIT_REQUIRE_GUEST=1 GADGETKIT_VM_OUT="$out" \
		go test -race -count=1 -exec "$PWD/bin/vmtest exec" ./internal/conformance || rc=1
done
mkdir -p docs/conformance
[ $# -eq 0 ] && rm -f docs/conformance/*.json
cp "$out"/conformance/*.json docs/conformance/ || exit 1
go run ./cmd/kernelsdoc -in docs/conformance -out docs/kernels.md || exit 1
exit $rc
