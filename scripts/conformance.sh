#!/bin/sh
# Runs the io_cancel conformance suite on each of Debian's kernels in a fresh
# guest and regenerates docs/kernels.md from the reports (kept in
# docs/conformance/).
#   scripts/conformance.sh [suite...]   run it (default: bullseye bookworm
#                                       trixie sid); a named suite replaces
#                                       only its own report
#   scripts/conformance.sh --from DIR   run nothing: take the reports a
#                                       `vmtest matrix --out DIR` run left
# A suite that fails still leaves its report, and the script exits non-zero
# after regenerating the table.
set -u
cd "$(dirname "$0")/.."
rc=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "${1:-}" = "--from" ]; then
	mkdir -p "$out/conformance"
	found=$(find "$2" -path '*/out/conformance/*.json' 2>/dev/null)
	[ -n "$found" ] || { echo "conformance: no reports under $2" >&2; exit 1; }
	for f in $found; do cp "$f" "$out/conformance/"; done
else
	suites=${*:-bullseye bookworm trixie sid}
	CGO_ENABLED=0 go build -o bin/vmtest ./cmd/vmtest || exit 1
	for k in $suites; do
		echo "== $k"
		GADGETKIT_VM_KERNEL=$k GADGETKIT_REQUIRE_GUEST=1 GADGETKIT_VM_OUT="$out" \
			go test -race -count=1 -exec "$PWD/bin/vmtest exec" ./internal/conformance || rc=1
	done
fi
mkdir -p docs/conformance
# A run over all four kernels replaces every report (a kernel that moved to a
# new release must not keep its old column).
n=$(ls "$out"/conformance/*.json 2>/dev/null | wc -l)
[ "$n" -ge 4 ] && rm -f docs/conformance/*.json
cp "$out"/conformance/*.json docs/conformance/ || exit 1
go run ./cmd/kernelsdoc -in docs/conformance -out docs/kernels.md || exit 1
exit $rc
