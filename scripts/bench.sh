#!/bin/sh
# make bench: gadgetd against the kernel's SourceSink on dummy_hcd, one QEMU
# guest per kernel x kernel command line setting, one report of them all.
#
#   ./scripts/bench.sh                      bookworm (6.1) and trixie (6.12), each
#                                           with the default command line and with
#                                           init_on_alloc=0: four guests, 19
#                                           minutes on a quiet 2-core host
#                                           (measured)
#   ./scripts/bench.sh --kernels bookworm   only these kernels (comma-separated:
#                                           bullseye, bookworm, trixie, sid or a
#                                           package version)
#   ./scripts/bench.sh --settings default   only these settings (comma-separated:
#                                           default, init_on_alloc=0)
#   make bench BENCHFLAGS="--kernels bookworm --settings default"
#
# Any other arguments go to `benchguest run` in every guest (see `bin/benchguest
# run --help`; e.g. --full, --usbtest-rounds 3). The first guest also measures
# the endpoint-pair and UDC scaling (--scale).
#
# It builds bin/gadgetd, bin/benchguest (static), bin/vmtest and bin/hosttest
# (cgo, libusb), runs `benchguest run` in each guest (4 dummy UDCs, usbtest
# loaded; the kernel package's /boot/config is carried in so the guest can tell
# whether init_on_alloc is on), keeps each guest's results.json and host.json
# (its kernel, setting, the host's load average before and after, its wall
# time, the command) in out/bench/N-KERNEL-SETTING/, and regenerates
# docs/benchmarks.md and docs/benchmarks.svg from all of them.
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
OUT=out/bench
kernels=bookworm,trixie
settings=default,init_on_alloc=0

cmd="make bench"
[ $# -eq 0 ] || cmd="./scripts/bench.sh $*"
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	n=$((n - 1))
	case $a in
	--kernels | --settings)
		[ "$n" -gt 0 ] || {
			echo "bench: $a needs a value" >&2
			exit 2
		}
		v=$1
		shift
		n=$((n - 1))
		;;
	--kernels=* | --settings=*) v=${a#*=} ;;
	*)
		set -- "$@" "$a"
		continue
		;;
	esac
	case $a in
	--kernels*) kernels=$v ;;
	*) settings=$v ;;
	esac
done
for s in $(echo "$settings" | tr ',' ' '); do
	case $s in
	default | init_on_alloc=0) ;;
	*)
		echo "bench: --settings $s: want default or init_on_alloc=0" >&2
		exit 2
		;;
	esac
done

mkdir -p bin docs
echo "bench: building bin/gadgetd, bin/benchguest, bin/hosttest, bin/vmtest"
start_all=$(date +%s)
CGO_ENABLED=0 $GO build -o bin/gadgetd ./cmd/gadgetd
CGO_ENABLED=0 $GO build -o bin/benchguest ./cmd/benchguest
CGO_ENABLED=0 $GO build -o bin/vmtest ./cmd/vmtest
$GO build -o bin/hosttest ./cmd/hosttest

host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(nproc)
json() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# The guest's script: its arguments are benchguest run's.
guest=$(mktemp)
trap 'rm -f "$guest"' EXIT
cat >"$guest" <<'GUEST'
#!/bin/sh
exec benchguest run --out "$GADGETKIT_OUT" "$@"
GUEST
chmod +x "$guest"

rm -rf "$OUT"
mkdir -p "$OUT"
i=0
for k in $(echo "$kernels" | tr ',' ' '); do
	# Fetches the kernel once; prints where its files are.
	info=$(bin/vmtest kernel --kernel "$k")
	vmlinuz=$(printf '%s\n' "$info" | sed -n 's/^vmlinuz: //p')
	release=${vmlinuz##*/vmlinuz-}
	config=$(dirname "$vmlinuz")/config-$release
	files=""
	if [ -f "$config" ]; then
		files="--file $config:/boot/config-$release"
	else
		echo "bench: $k: no $config: the guest cannot read the kernel's init_on_alloc default" >&2
	fi
	for s in $(echo "$settings" | tr ',' ' '); do
		i=$((i + 1))
		dir=$OUT/$i-$k-$s
		mkdir -p "$dir"
		append=""
		[ "$s" = default ] || append=$s
		extra=""
		[ "$i" -gt 1 ] || extra=--scale
		vm="bin/vmtest run -v --kernel $k${append:+ --append $append} --timeout 20m --mem 2048 --udcs 4 --module usbtest --bin bin/benchguest --bin bin/gadgetd --bin bin/hosttest${files:+ $files} --out $dir -- (guest script) benchguest run --out \$GADGETKIT_OUT${extra:+ $extra}${*:+ $*}"
		echo "bench: guest $i: $k, $s"
		load_before=$(cut -d' ' -f1-3 /proc/loadavg)
		start=$(date +%s)
		# $files and $extra are single words or empty: left unquoted on purpose.
		# shellcheck disable=SC2086
		bin/vmtest run -v --kernel "$k" ${append:+--append "$append"} --timeout 20m --mem 2048 --udcs 4 --module usbtest \
			--bin bin/benchguest --bin bin/gadgetd --bin bin/hosttest $files \
			--out "$dir" -- "$guest" $extra "$@"
		secs=$(($(date +%s) - start))
		load_after=$(cut -d' ' -f1-3 /proc/loadavg)
		echo "bench: guest $i took ${secs}s"
		cat >"$dir/host.json" <<JSON
{
  "cpu": "$(json "$host_cpu") x $ncpu",
  "kernel": "$(json "$k")",
  "append": "$(json "$append")",
  "load_before": "$load_before",
  "load_after": "$load_after",
  "seconds": $secs,
  "command": "$(json "$vm")"
}
JSON
	done
done

cat >"$OUT/run.json" <<JSON
{
  "cpu": "$(json "$host_cpu") x $ncpu",
  "command": "$(json "$cmd")",
  "seconds": $(($(date +%s) - start_all))
}
JSON
bin/benchguest report --run "$OUT" --md docs/benchmarks.md --svg docs/benchmarks.svg
echo "bench: $i guest(s) in $(($(date +%s) - start_all))s; wrote $OUT/*/results.json, docs/benchmarks.md, docs/benchmarks.svg"
