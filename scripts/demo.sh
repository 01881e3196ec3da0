#!/bin/sh
# The README's main job: gadgetd serves configs/loopback.yaml on a dummy_hcd
# UDC and hosttest, the libusb host peer, checks it end to end.
#
#   ./scripts/demo.sh        (make demo)
#
# It builds bin/gadgetd (static, CGO_ENABLED=0) and bin/hosttest (cgo,
# libusb). As root on a host whose kernel has dummy_hcd, it runs them
# natively; anywhere else it boots Debian's kernel in a QEMU guest with
# bin/vmtest and runs them there. scripts/demo-guest.sh does the work and
# prints the summary. Exit status: 0 when every step passed.
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
mkdir -p bin
echo "demo: building bin/gadgetd and bin/hosttest"
CGO_ENABLED=0 $GO build -o bin/gadgetd ./cmd/gadgetd
$GO build -o bin/hosttest ./cmd/hosttest

have_udc() { ls -d /sys/class/udc/dummy_udc.* >/dev/null 2>&1; }

if [ "$(id -u)" = 0 ] && { have_udc || { ./scripts/dummy_hcd.sh up >/dev/null 2>&1 && have_udc; }; }; then
	echo "demo: dummy_hcd is here: running natively"
	PATH="$PWD/bin:$PATH" GADGETD_CONFIG="$PWD/configs/loopback.yaml" exec ./scripts/demo-guest.sh
fi

echo "demo: no dummy_hcd on this host (or not root): running in a QEMU guest"
[ -x bin/vmtest ] || CGO_ENABLED=0 $GO build -o bin/vmtest ./cmd/vmtest
exec bin/vmtest run --bin bin/gadgetd --bin bin/hosttest \
	--file configs/loopback.yaml:/etc/gadgetd.yaml -- scripts/demo-guest.sh
