# vhost-kick-leak.sh: the guest side of
# tests/e2e/scenarios/net-vhost-kick-leak.scn (busybox sh in the L2 guest).
#
# Drives the virtio-net device at 00:05.0 (vhost-net datapath) by hand
# through /dev/mem: after unbinding virtio-pci it negotiates VERSION_1,
# enables only the receive queue, assigns it no MSI-X vector (MSI-X is
# off anyway once the driver is gone), sets DRIVER_OK and kicks that queue
# LEAK_KICKS times. The pair is never ready (no transmit queue), so the
# kernel datapath must not start and nothing may be allocated per kick;
# beehive used to create two call eventfds and mevents per kick and
# overwrite the previous ones (issue 13). L1 counts bhyve's descriptors
# before and after the kicks; the disk at 00:04.0 is the handshake
# channel: L1 writes "go" and then "done" at its start.
# Then the device is reset, virtio-pci takes it back and the NIC must
# answer pings through vhost-net.

. /e2e/pcicfg.sh

NET=0000:00:05.0
KICKS=${LEAK_KICKS:-60}
# Ring memory below 640 KiB, which Linux reserves and never uses; the
# device never touches it either (the pair never starts).
RING=0x80000

die() {
	echo "LEAK-FAIL: $*"
	exit 1
}

# sector0_is WORD: the disk's first bytes are WORD (read past the cache).
sector0_is() {
	[ "$(dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null |
		head -c ${#1})" = "$1" ]
}

wait_l1() { # WORD
	local n=0
	until sector0_is "$1"; do
		n=$((n + 1))
		[ $n -lt 1200 ] || die "L1 never wrote '$1'"
		sleep 0.1
	done
}

echo "$NET" >/sys/bus/pci/drivers/virtio-pci/unbind || die "unbind"
# Memory decoding on (unbinding leaves it, but do not depend on that).
cfg_w8 "$NET" 4 $(($(cfg_r8 "$NET" 4) | 2))

ccap=$(vcap "$NET" 1) && ncap=$(vcap "$NET" 2) || die "no virtio capabilities"
base=$(sed -n "$(($(cfg_r8 "$NET" $((ccap + 4))) + 1))p" \
	"/sys/bus/pci/devices/$NET/resource" | cut -d' ' -f1)
common=$((base + $(cfg_r32 "$NET" $((ccap + 8)))))
notify=$((base + $(cfg_r32 "$NET" $((ncap + 8)))))
mult=$(cfg_r32 "$NET" $((ncap + 16)))

cw() { devmem $((common + $1)) "$2" "$3" || die "devmem write $1"; }
cr() { echo $(($(devmem $((common + $1)) "$2"))); }

# Writes device_status 0 and waits (10 s at most) until it reads back 0:
# the reset may complete asynchronously.
reset_dev() {
	cw 0x14 8 0
	n=0
	until [ "$(cr 0x14 8)" = 0 ]; do
		n=$((n + 1))
		[ $n -lt 100 ] || die "reset never completed"
		sleep 0.1
	done
}

reset_dev
cw 0x14 8 1
cw 0x14 8 3
cw 0x00 32 1
[ $(($(cr 0x04 32) & 1)) = 1 ] || die "no VIRTIO_F_VERSION_1 offered"
cw 0x08 32 1
cw 0x0c 32 1
cw 0x08 32 0
cw 0x0c 32 0
cw 0x14 8 11
[ $(($(cr 0x14 8) & 8)) = 8 ] || die "FEATURES_OK refused"
cw 0x16 16 0
qsz=$(cr 0x18 16)
avail=$((RING + 16 * qsz))
used=$(((avail + 6 + 2 * qsz + 4095) / 4096 * 4096))
cw 0x1a 16 0xffff
cw 0x20 32 $RING
cw 0x24 32 0
cw 0x28 32 $avail
cw 0x2c 32 0
cw 0x30 32 $used
cw 0x34 32 0
cw 0x1c 16 1
kick=$((notify + $(cr 0x1e 16) * mult))
cw 0x14 8 15
[ "$(cr 0x14 8)" = 15 ] || die "DRIVER_OK: status $(cr 0x14 8)"
echo "rx queue ready (size $qsz), tx queue off, no MSI-X vector"
echo LEAK-ARMED

wait_l1 go
i=0
while [ $i -lt "$KICKS" ]; do
	devmem $kick 16 0
	usleep 20000 # each kick finds the previous start done
	i=$((i + 1))
done
echo "LEAK-KICKED $i"
wait_l1 done

reset_dev
echo "$NET" >/sys/bus/pci/drivers/virtio-pci/bind || die "bind"
n=0
until i=$(ls /sys/bus/pci/devices/$NET/virtio*/net 2>/dev/null) && [ -n "$i" ]; do
	n=$((n + 1))
	[ $n -lt 300 ] || die "no NIC after bind"
	sleep 0.1
done
echo 0 >"/proc/sys/net/ipv6/conf/$i/accept_dad"
ip link set "$i" up && ip -6 addr add fe80::2/64 dev "$i"
ping6 -c 1 -w 30 "fe80::1%$i" >/dev/null
echo "ping-after: $(ping6 -c 3 -w 30 "fe80::1%$i" | grep -o '[0-9]* packets received')"
