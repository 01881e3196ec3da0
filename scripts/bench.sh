#!/bin/sh
# make bench: gadgetd against the kernel's SourceSink and Loopback on
# dummy_hcd, in one QEMU guest, with the same host driver (hosttest bench).
#
#   ./scripts/bench.sh           quick grid: 4 request sizes x 3 depths
#                                (7-8 minutes on a 2-core host at load 5)
#   ./scripts/bench.sh --full    6 request sizes x 4 depths (about twice that)
#
# Any other arguments go to `benchguest run` (see `bin/benchguest run --help`).
# It builds bin/gadgetd, bin/benchguest (static) and bin/hosttest (cgo,
# libusb), runs `benchguest run` in one guest (4 dummy UDCs, usbtest loaded),
# gets results.json back in out/bench/, records the host's CPU and load
# average in out/bench/host.json, and regenerates docs/benchmarks.md and
# docs/benchmarks.svg from them.
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
OUT=out/bench
mkdir -p bin "$OUT" docs
echo "bench: building bin/gadgetd, bin/benchguest, bin/hosttest, bin/vmtest"
CGO_ENABLED=0 $GO build -o bin/gadgetd ./cmd/gadgetd
CGO_ENABLED=0 $GO build -o bin/benchguest ./cmd/benchguest
CGO_ENABLED=0 $GO build -o bin/vmtest ./cmd/vmtest
$GO build -o bin/hosttest ./cmd/hosttest

cmd="make bench"
[ $# -eq 0 ] || cmd="./scripts/bench.sh $*"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(nproc)

# The guest's script: its arguments are benchguest run's.
guest=$(mktemp)
trap 'rm -f "$guest"' EXIT
cat >"$guest" <<'GUEST'
#!/bin/sh
exec benchguest run --out "$GADGETKIT_OUT" "$@"
GUEST
chmod +x "$guest"

rm -f "$OUT/results.json"
start=$(date +%s)
bin/vmtest run -v --timeout 40m --mem 2048 --udcs 4 --module usbtest \
	--bin bin/benchguest --bin bin/gadgetd --bin bin/hosttest \
	--out "$OUT" -- "$guest" "$@"
echo "bench: the guest run took $(($(date +%s) - start))s"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
json() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
cat >"$OUT/host.json" <<JSON
{
  "cpu": "$(json "$host_cpu") x $ncpu",
  "load_before": "$load_before",
  "load_after": "$load_after",
  "command": "$(json "$cmd")"
}
JSON
bin/benchguest report --results "$OUT/results.json" --host "$OUT/host.json" \
	--md docs/benchmarks.md --svg docs/benchmarks.svg
echo "bench: wrote $OUT/results.json, docs/benchmarks.md, docs/benchmarks.svg"
