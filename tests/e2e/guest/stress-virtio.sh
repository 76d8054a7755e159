# stress-virtio.sh: the guest side of tests/e2e/scenarios/stress-virtio.scn
# (busybox sh in the L2 guest, run from /e2e).
#
# Every virtio device is reset STRESS_ROUNDS times while load runs on all
# of them, then each must still work. The devices (PCI slots fixed by the
# scenario's args-beehive):
#   00:04.0 virtio-blk (vda)        dd writes and reads, O_DIRECT
#   00:05.0 virtio-net, vhost-net   ping -A and TCP to fe80::1 (L1 tap0)
#   00:06.0 virtio-net, userspace   ping -A and TCP to fe80::3 (L1 tap1)
#   00:07.0 virtio-rnd              reads of /dev/hwrng (rate-limited, so
#                                   requests wait in the device)
#   00:09.0 virtio-console          lines written to the named port, read
#                                   by unixcat in L1
#   00:08.0 virtio-blk (vdb)        sacrificed once, below
# Each round resets each device one of three ways, rotating:
#   virtio  unbind and bind its virtio driver (/sys/bus/virtio/drivers):
#           the driver quiesces, writes status 0, probes again
#   pci     unbind and bind virtio-pci: also MSI-X torn down and set up
#   cfgwin  status 0 written through the PCI_CFG window behind the driver's
#           back, with its requests in flight, then pci (not for vda,
#           whose driver cannot give up requests the device dropped)
# In round 1, vdb gets the cfgwin reset while four O_DIRECT readers keep
# its (single-worker) backend busy: the reset runs under the PCI config
# lock with requests submitted, the path of the deadlock fixed by e0b2b73.
# Whether beehive still held any (its reset then waits for them: status
# reads non-zero at first) is printed; with one vCPU they are often still
# in the ring. vdb's readers stay blocked (the device dropped their
# requests); the device must finish the reset (status reads 0).
# After the loop: a checksum of data written to vda is read back (and
# compared with disk.img by L1), both NICs answer pings, /dev/hwrng yields
# non-zero bytes from virtio_rng, a line reaches L1 through the console
# port, and dmesg has no line that says a device broke (DMESG-BAD lines).
# Output is kept short: every console byte costs about 1 ms in the rig.

. /e2e/pcicfg.sh

ROUNDS=${STRESS_ROUNDS:-2}
BLK=0000:00:04.0
NETV=0000:00:05.0
NETU=0000:00:06.0
RNG=0000:00:07.0
BLK2=0000:00:08.0
CON=0000:00:09.0
PORT=org.beehive.stress
fails=0

fail() {
	echo "STRESS-FAIL: $*"
	[ $fails = 0 ] && dmesg | tail -n 12 | sed 's/^/STRESS-DMESG: /'
	fails=$((fails + 1))
}

# The stuck readers of vdb must not trip the hung-task detector.
echo 0 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
# Only what happens from here on is judged (boot has a benign warning).
dmesg -c >/dev/null

now() { cut -d' ' -f1 /proc/uptime; }

# vdev BDF: the virtio device's sysfs directory while virtio-pci drives it.
vdev() {
	local d
	for d in /sys/bus/pci/devices/"$1"/virtio[0-9]*; do
		[ -d "$d" ] && echo "$d" && return 0
	done
	return 1
}

# child BDF CLASS: the name of the virtio device's block or net child.
child() {
	local d c
	d=$(vdev "$1") || return 1
	for c in "$d/$2"/*; do
		[ -e "$c" ] && basename "$c" && return 0
	done
	return 1
}

conport() {
	local p
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = "$PORT" ] &&
			basename "$p" && return 0
	done
	return 1
}

# upto TENTHS CMD...: retries CMD every 0.1 s, at most TENTHS times.
upto() {
	local n=$1
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

net_up() { # BDF ADDR
	local i
	i=$(child "$1" net) || return 1
	echo 0 >"/proc/sys/net/ipv6/conf/$i/accept_dad"
	ip link set "$i" up && ip -6 addr add "$2/64" dev "$i" 2>/dev/null
	return 0
}

rng_ready() {
	case "$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)" in
	virtio_rng.*) return 0 ;;
	esac
	return 1
}

# ready BDF: the device is driven again (and set up, for the NICs).
ready() {
	case "$1" in
	"$BLK") upto 300 blknode "$BLK" /tmp/vda ;;
	"$NETV") upto 300 child "$NETV" net && net_up "$NETV" fe80::2 ;;
	"$NETU") upto 300 child "$NETU" net && net_up "$NETU" fe80::4 ;;
	"$RNG") upto 300 rng_ready ;;
	"$CON") upto 300 conport ;;
	esac
}

driver_of() {
	case "$1" in
	"$BLK" | "$BLK2") echo virtio_blk ;;
	"$NETV" | "$NETU") echo virtio_net ;;
	"$RNG") echo virtio_rng ;;
	"$CON") echo virtio_console ;;
	esac
}

reset_virtio() { # BDF
	local v drv
	v=$(vdev "$1") || return 1
	v=${v##*/}
	drv=/sys/bus/virtio/drivers/$(driver_of "$1")
	echo "$v" >"$drv/unbind" || return 1
	sleep 0.1
	echo "$v" >"$drv/bind"
}

reset_pci() { # BDF
	echo "$1" >/sys/bus/pci/drivers/virtio-pci/unbind || return 1
	sleep 0.1
	echo "$1" >/sys/bus/pci/drivers/virtio-pci/bind
}

reset_cfgwin() { # BDF
	vstatus_set "$1" 0 || return 1
	sleep 0.2
	reset_pci "$1"
}

# blknode BDF NODE: makes NODE the disk's device node. dd of=/dev/vda
# while the disk is gone would create a regular file there, which then
# hides the node devtmpfs makes when the disk is back.
blknode() {
	local d mm
	d=$(child "$1" block) && mm=$(cat "/sys/block/$d/dev" 2>/dev/null) || return 1
	rm -f "$2"
	mknod "$2" b "${mm%:*}" "${mm#*:}"
}

# ---- load, until /tmp/stop exists ----
dd if=/dev/urandom of=/tmp/pat bs=64k count=4 2>/dev/null
load_blk() {
	local i=0
	while [ ! -e /tmp/stop ]; do
		blknode "$BLK" /tmp/vda-load || { sleep 0.1; continue; }
		dd if=/tmp/pat of=/tmp/vda-load bs=64k seek=$((i % 64 * 4)) \
			oflag=direct 2>/dev/null
		dd if=/tmp/vda-load of=/dev/null bs=64k skip=$((i % 64 * 4)) \
			count=4 iflag=direct 2>/dev/null
		i=$((i + 1))
	done
}
load_net() { # BDF PEER PORT
	local i
	while [ ! -e /tmp/stop ]; do
		i=$(child "$1" net) || { sleep 0.1; continue; }
		ping6 -A -q -s 1200 -c 100 -w 3 "$2%$i" >/dev/null 2>&1
		dd if=/tmp/pat bs=64k count=4 2>/dev/null |
			timeout 5 nc -w 2 "$2%$i" "$3" >/dev/null 2>&1
	done
}
load_rng() {
	while [ ! -e /tmp/stop ]; do
		dd if=/dev/hwrng of=/dev/null bs=64 count=8 2>/dev/null ||
			sleep 0.1
	done
}
# The port stays open while it exists: an open or close would send a
# control message, which the driver busy-waits on (with a device reset
# behind its back, forever). A write to an unplugged port fails.
load_con() {
	local p n=0
	while [ ! -e /tmp/stop ]; do
		p=$(conport) || { sleep 0.1; continue; }
		exec 3>"/dev/$p" || { sleep 0.1; continue; }
		while [ ! -e /tmp/stop ] && echo "con-load $n" >&3; do
			n=$((n + 1))
			[ $((n % 10)) = 0 ] && sleep 0.1
		done 2>/dev/null
		exec 3>&-
	done
}

for b in "$BLK" "$NETV" "$NETU" "$RNG" "$CON"; do
	ready "$b" || fail "$b not ready at start"
done
rm -f /tmp/stop
load_blk &
loads=$!
load_net "$NETV" fe80::1 5001 &
loads="$loads $!"
load_net "$NETU" fe80::3 5002 &
loads="$loads $!"
load_rng &
loads="$loads $!"
load_con &
loads="$loads $!"
echo "STRESS-LOAD rounds=$ROUNDS"

vdb_busy() { # DISK: requests in flight (as the guest counts them)
	local rd wr
	read -r rd wr <"/sys/block/$1/inflight"
	[ $((rd + wr)) -ge 4 ]
}

# ---- vdb: a reset through the PCI_CFG window with requests in flight ----
sacrifice_vdb() {
	local d i st
	d=$(child "$BLK2" block) || { fail "vdb missing"; return; }
	# Large O_DIRECT reads: each is split into many requests, which the
	# single worker serves one by one while the vCPU runs this shell.
	for i in 1 2 3 4; do
		while :; do
			dd if="/dev/$d" of=/dev/null bs=16M iflag=direct 2>/dev/null
		done &
	done
	vwin_setup "$BLK2" 20 1 || { fail "vdb: no PCI_CFG window"; return; }
	upto 300 vdb_busy "$d" || fail "vdb: no requests in flight"
	cfg_w8 "$BLK2" "$VWIN_DATA" 0
	echo "vdb-inflight-before-reset $(tr -s ' ' <"/sys/block/$d/inflight")"
	# Status keeps its old value while the reset waits for requests.
	st=$(cfg_r8 "$BLK2" "$VWIN_DATA")
	[ "$st" = 0 ] && echo "vdb-reset: immediate" || echo "vdb-reset: waited for requests (status $st)"
	upto 100 test "$(vstatus_get "$BLK2")" = 0 ||
		fail "vdb: reset did not complete (status $(vstatus_get "$BLK2"))"
	echo "vdb-reset-status $(vstatus_get "$BLK2")"
}

# ---- the rounds ----
t0=$(cut -d. -f1 /proc/uptime)
r=1
while [ $r -le "$ROUNDS" ]; do
	[ $r = 1 ] && sacrifice_vdb
	k=0
	line="round $r:"
	for b in "$BLK" "$NETV" "$NETU" "$RNG" "$CON"; do
		m=$(((r + k) % 3))
		[ "$b" = "$BLK" ] && [ $m = 2 ] && m=1
		case $m in
		0) how=virtio ;;
		1) how=pci ;;
		2) how=cfgwin ;;
		esac
		s0=$(now)
		"reset_$how" "$b" || fail "round $r: reset_$how $b failed"
		s1=$(now)
		ready "$b" || fail "round $r: $b ($how) not back"
		line="$line ${b#0000:00:}=$how($(echo "$s0 $s1 $(now)" |
			awk '{ printf "%.1f+%.1fs", $2 - $1, $3 - $2 }'))"
		k=$((k + 1))
	done
	echo "$line"
	r=$((r + 1))
done
echo "STRESS-ROUNDS-DONE in $(($(cut -d. -f1 /proc/uptime) - t0)) s"

touch /tmp/stop
# shellcheck disable=SC2086
wait $loads

# ---- every device must still work ----
blknode "$BLK" /tmp/vda || fail "vda: gone"
dd if=/dev/urandom of=/tmp/fin bs=64k count=16 2>/dev/null
want=$(md5sum </tmp/fin | cut -d' ' -f1)
echo "blk-final-md5 $want"
dd if=/tmp/fin of=/tmp/vda bs=1M seek=32 oflag=direct conv=fsync 2>/dev/null ||
	fail "vda: final write failed"
got=$(dd if=/tmp/vda bs=1M skip=32 count=1 iflag=direct 2>/dev/null |
	md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] && echo blk-readback-ok || fail "vda: read back $got"

for n in "$NETV fe80::1 vhost" "$NETU fe80::3 user"; do
	set -- $n
	i=$(child "$1" net)
	ping6 -c 1 -w 20 "$2%$i" >/dev/null 2>&1
	echo "ping-$3: $(ping6 -c 3 -w 20 "$2%$i" | grep -o '[0-9]* packets received')"
done

rng_ready && echo "rng-current-ok" || fail "rng: current is $(cat /sys/class/misc/hw_random/rng_current)"
dd if=/dev/hwrng of=/tmp/r bs=64 count=1 2>/dev/null
od -An -tx1 /tmp/r | tr -d ' \n' | grep -q '[1-9a-f]' && echo rng-bytes-ok ||
	fail "rng: no data"

p=$(conport) || fail "console: no port"
timeout 30 sh -c "echo 'console-final $want' >/dev/$p" &&
	echo console-final-written || fail "console: final write"

[ "${STRESS_VERBOSE:-0}" = 1 ] && dmesg | sed 's/^/STRESS-DMESG: /'
# Lines that mean a driver saw its device break or time out.
dmesg | grep -iE 'virtio.*(error|fail|broken|timeout|reset)|I/O error|blk_update_request|NETDEV WATCHDOG|transmit queue.*timed out|hwrng.*fail|WARNING:|BUG:|Oops|call trace' |
	head -n 20 | sed 's/^/DMESG-BAD: /'
[ $fails = 0 ]
