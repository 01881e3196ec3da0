#!/bin/sh
# Installs what the tests and the demo need on a Debian/Ubuntu machine:
# QEMU (the guest), libusb + pkg-config (the gousb host peer), busybox-static
# (a shell for guest scenarios), cpio, xz-utils and zstd (6.12+ kernels ship
# compressed modules), then the Go modules and the Debian
# kernel package the guest boots. Safe to run again: it only installs what is
# missing.
set -eu

pkgs="qemu-system-x86 libusb-1.0-0-dev pkg-config busybox-static cpio xz-utils zstd"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

# The guest kernel is resolved through apt-cache, which needs package lists.
if [ -n "$missing" ] || ! apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-'; then
	echo "deps: apt-get update" >&2
	$SUDO apt-get update -qq
fi
if [ -n "$missing" ]; then
	echo "deps: installing$missing" >&2
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

go mod download
(cd examples/checksum && go mod download)
