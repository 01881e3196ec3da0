#!/bin/sh
# Prepare (or undo) the dummy_hcd virtual UDC on a Linux host that has the
# modules, for running gadgetd and hosttest natively instead of in the guest.
#
#   scripts/dummy_hcd.sh up [--ss] [--full-speed] [--num N]
#   scripts/dummy_hcd.sh status
#   scripts/dummy_hcd.sh down
#
# up loads configfs, libcomposite, usb_f_fs and dummy_hcd (high speed by
# default; --ss adds SuperSpeed, --num makes N UDCs), mounts configfs and lists
# the UDCs. down removes gadgets left in configfs, then the modules.
set -eu

die() { echo "dummy_hcd.sh: $*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (loading modules and writing configfs need it)"
}

check_modules() {
	command -v modprobe >/dev/null || die "modprobe not found (install kmod)"
	missing=""
	for m in configfs libcomposite usb_f_fs dummy_hcd; do
		if [ ! -d "/sys/module/$m" ] && ! modinfo "$m" >/dev/null 2>&1; then
			missing="$missing $m"
		fi
	done
	if [ -n "$missing" ]; then
		cat >&2 <<MSG
dummy_hcd.sh: this kernel ($(uname -r)) lacks:$missing
  dummy_hcd needs CONFIG_USB_DUMMY_HCD=m, FunctionFS CONFIG_USB_FUNCTIONFS=m and
  CONFIG_USB_CONFIGFS=m. Debian's and Ubuntu's stock kernels have them (Ubuntu:
  linux-modules-extra-\$(uname -r)); cloud and container kernels often don't.
  Without them, run everything in the QEMU guest instead: make test / make demo.
MSG
		exit 1
	fi
}

up() {
	ss=0 hs=1 num=1
	while [ $# -gt 0 ]; do
		case "$1" in
		--ss) ss=1 ;;
		--full-speed) hs=0 ;;
		--num) shift; num="${1:?--num needs a value}" ;;
		*) die "unknown option $1 (want --ss, --full-speed, --num N)" ;;
		esac
		shift
	done
	case "$num" in ''|*[!0-9]*) die "--num $num: want 1..32" ;; esac
	[ "$num" -ge 1 ] && [ "$num" -le 32 ] || die "--num $num: want 1..32"
	need_root
	check_modules
	if [ -d /sys/module/dummy_hcd ]; then
		echo "dummy_hcd already loaded; parameters only change on reload: run 'down' first to change them" >&2
	else
		modprobe dummy_hcd is_high_speed=$hs is_super_speed=$ss num=$num
	fi
	modprobe libcomposite
	modprobe usb_f_fs
	modprobe usb_f_ss_lb 2>/dev/null || true
	if ! grep -q ' /sys/kernel/config configfs' /proc/mounts; then
		mount -t configfs none /sys/kernel/config
	fi
	status
}

status() {
	echo "UDCs:"
	for u in /sys/class/udc/*; do
		[ -e "$u" ] || { echo "  (none)"; break; }
		echo "  $(basename "$u")  state=$(cat "$u/state" 2>/dev/null)"
	done
	echo "gadgets in configfs:"
	ls /sys/kernel/config/usb_gadget 2>/dev/null | sed 's/^/  /' || echo "  (configfs not mounted)"
}

down() {
	need_root
	g=/sys/kernel/config/usb_gadget
	for d in "$g"/*; do
		[ -d "$d" ] || continue
		echo "removing leftover gadget $(basename "$d")" >&2
		echo "" > "$d/UDC" 2>/dev/null || true
		for c in "$d"/configs/*; do
			[ -d "$c" ] || continue
			find "$c" -maxdepth 1 -type l -exec rm {} \;
			rmdir "$c"/strings/* 2>/dev/null || true
			rmdir "$c"
		done
		for f in "$d"/functions/*; do [ -d "$f" ] && rmdir "$f"; done
		rmdir "$d"/strings/* 2>/dev/null || true
		rmdir "$d"
	done
	grep ' functionfs ' /proc/mounts | while read -r _ dir _; do umount "$dir"; done
	for m in usb_f_ss_lb usb_f_fs dummy_hcd; do
		[ -d "/sys/module/$m" ] && rmmod "$m"
	done
	echo "dummy_hcd unloaded"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
up) up "$@" ;;
down) down ;;
status) status ;;
*) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
