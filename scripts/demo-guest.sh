#!/bin/sh
# The demo proper, run by scripts/demo.sh in the QEMU guest (busybox sh) or
# natively: start gadgetd on the gadget file, wait for the device, check it
# with hosttest (descriptors, loopback of every boundary size, throughput),
# print a short summary, stop gadgetd with SIGTERM and check that it left
# nothing in configfs and nothing mounted. Exit status 1 if anything failed.
#
# Environment: GADGETD_CONFIG (default /etc/gadgetd.yaml); gadgetd and
# hosttest must be on PATH.
set -u

CONFIG=${GADGETD_CONFIG:-/etc/gadgetd.yaml}
WORK=$(mktemp -d)
LOG=$WORK/gadgetd.log
SOCK=$WORK/status.sock
PID=

say() { echo "demo: $*"; }

fail() {
	say "FAIL: $*"
	if [ -s "$LOG" ]; then
		say "gadgetd's log:"
		tail -n 20 "$LOG" | sed 's/^/    /'
	fi
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID"
	exit 1
}

# The gadget's name (gadget.name) and serial number, read from the file.
GADGET=$(sed -n 's/^  name: *\([A-Za-z0-9_-]*\).*/\1/p' "$CONFIG" | head -n 1)
SERIAL=$(sed -n 's/^ *serial: *"\{0,1\}\([^"#]*\)"\{0,1\}.*/\1/p' "$CONFIG" | head -n 1 | tr -d ' ')
[ -n "$GADGET" ] && [ -n "$SERIAL" ] || fail "cannot read gadget.name and serial from $CONFIG"

gadgetd validate -c "$CONFIG" >/dev/null || fail "gadgetd validate -c $CONFIG"

# A file with a mistake: one line naming FILE:LINE and the field, exit 1,
# and nothing made in configfs.
sed 's/^\( *\)type: bulk *#.*/\1type: bulk\n\1max_packet: {high: 513}/' "$CONFIG" >"$WORK/bad.yaml"
if gadgetd run -c "$WORK/bad.yaml" 2>"$WORK/bad.err"; then
	fail "gadgetd run accepted bulk max_packet 513 at high speed"
fi
[ "$(wc -l <"$WORK/bad.err")" = 1 ] && grep -q "bad.yaml:[0-9]*: .*max_packet.high: 513" "$WORK/bad.err" ||
	fail "unexpected error for a bad file: $(cat "$WORK/bad.err")"
[ ! -e "/sys/kernel/config/usb_gadget/$GADGET" ] || fail "a bad file left $GADGET in configfs"
say "bad file  ok: $(cat "$WORK/bad.err")"

gadgetd run -c "$CONFIG" --status-socket "$SOCK" 2>"$LOG" &
PID=$!
say "gadgetd (pid $PID) serving $GADGET from $CONFIG"

SEL="--serial $SERIAL"
hosttest verify -c "$CONFIG" $SEL --timeout 30s >"$WORK/verify" 2>&1 ||
	{ cat "$WORK/verify"; fail "hosttest verify: the host does not see what $CONFIG describes"; }
say "verify    ok: the host sees the descriptors and strings $CONFIG describes"

hosttest loopback $SEL --buflen 16384 --timeout 5m >"$WORK/loopback" 2>&1 ||
	{ cat "$WORK/loopback"; fail "hosttest loopback"; }
say "loopback  ok: every byte came back in order:"
sed 's/^/    /' "$WORK/loopback"

hosttest bench $SEL --dir both --duration 3s --progress=false >"$WORK/bench" 2>&1 ||
	{ cat "$WORK/bench"; fail "hosttest bench"; }
say "bench     ok (both directions at once through the loopback):"
sed 's/^/    /' "$WORK/bench"

gadgetd status --socket "$SOCK" >"$WORK/status" 2>&1 || { cat "$WORK/status"; fail "gadgetd status"; }
say "gadgetd's own counters:"
sed 's/^/    /' "$WORK/status"
gadgetd udc >"$WORK/udc" 2>&1 && grep -q "$GADGET" "$WORK/udc" || { cat "$WORK/udc"; fail "gadgetd udc does not show $GADGET bound"; }
say "UDCs:"
sed 's/^/    /' "$WORK/udc"

kill -TERM "$PID"
START=$(date +%s)
wait "$PID"
RC=$?
PID=
TOOK=$(($(date +%s) - START))
[ "$RC" = 0 ] || fail "gadgetd exited $RC after SIGTERM"
[ "$TOOK" -le 2 ] || fail "gadgetd took ${TOOK}s to exit after SIGTERM"
[ ! -e "/sys/kernel/config/usb_gadget/$GADGET" ] || fail "configfs still holds $GADGET"
! grep -q ' functionfs ' /proc/mounts || fail "functionfs still mounted: $(grep ' functionfs ' /proc/mounts)"
say "SIGTERM   ok: gadgetd exited 0 within 2 s; configfs holds no $GADGET, functionfs unmounted"
rm -rf "$WORK"
say "PASS"
