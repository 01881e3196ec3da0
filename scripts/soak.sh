#!/bin/sh
# make soak: random faults from the fault matrix (internal/faults) on
# gadgetd's loopback in one QEMU guest, each on full queues and followed by
# a checked stream, for DURATION (default 5m). The seed is printed; pass it
# back to replay the same sequence.
#
#   ./scripts/soak.sh [DURATION] [SEED]     DURATION: 300s, 5m, 1h
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
dur=${1:-5m}
seed=${2:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "soak: duration $dur, seed $seed (replay: ./scripts/soak.sh $dur $seed)"
mkdir -p bin
CGO_ENABLED=0 $GO build -o bin/vmtest ./cmd/vmtest
$GO test -c -o bin/faults.test ./internal/faults

# The test reads ../../configs from internal/faults, mirrored in the guest.
case $dur in
*h) secs=$((${dur%h} * 3600)) ;;
*m) secs=$((${dur%m} * 60)) ;;
*s) secs=${dur%s} ;;
*) echo "soak: DURATION $dur: want a whole number of s, m or h (5m)" >&2; exit 2 ;;
esac
cd internal/faults
exec ../../bin/vmtest run -v --timeout "$((secs + 300))s" --bin ../../bin/faults.test -- \
	../../bin/faults.test -test.run '^TestSoak$' -test.v -test.timeout 0 -soak "$dur" -soak.seed "$seed"
