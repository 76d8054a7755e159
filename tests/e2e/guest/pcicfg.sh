# pcicfg.sh: PCI configuration space and virtio register access for the L2
# guest's busybox sh, sourced by e2e guest scripts (scenario key guest-file).
# Config space goes through /sys/bus/pci/devices/BDF/config (the kernel
# turns an aligned 4-byte write into one dword access, a 1-byte write into
# one byte access). Virtio registers go through the VIRTIO_PCI_CAP_PCI_CFG
# window (virtio 1.x 4.1.4.9), which reaches them without a driver and
# without /dev/mem, or through devmem on the modern BAR.

# cfg_r8 BDF OFF, cfg_r32 BDF OFF: a config space byte / dword (decimal).
cfg_r8() {
	od -An -tu1 -j "$2" -N1 "/sys/bus/pci/devices/$1/config" | tr -d ' '
}
cfg_r32() {
	od -An -tu4 -j "$2" -N4 "/sys/bus/pci/devices/$1/config" | tr -d ' '
}

# le_bytes VALUE N: printf escapes for VALUE's low N bytes, little-endian.
le_bytes() {
	local v=$1 n=$2 s=
	while [ "$n" -gt 0 ]; do
		s="$s\\$(printf %03o $((v & 255)))"
		v=$((v >> 8))
		n=$((n - 1))
	done
	echo "$s"
}

# cfg_w8 BDF OFF VALUE, cfg_w32 BDF OFF VALUE (OFF 4-byte aligned).
cfg_w8() {
	# shellcheck disable=SC2059
	printf "$(le_bytes "$3" 1)" | dd of="/sys/bus/pci/devices/$1/config" \
		bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}
cfg_w32() {
	# shellcheck disable=SC2059
	printf "$(le_bytes "$3" 4)" | dd of="/sys/bus/pci/devices/$1/config" \
		bs=4 seek=$(($2 / 4)) count=1 conv=notrunc 2>/dev/null
}

# vcap BDF TYPE: offset of the virtio vendor capability of cfg_type TYPE
# (1 common, 2 notify, 3 ISR, 4 device, 5 PCI_CFG window), or fails.
vcap() {
	local p n=0
	p=$(cfg_r8 "$1" 52)
	while [ "$p" -ne 0 ] && [ $n -lt 48 ]; do
		if [ "$(cfg_r8 "$1" "$p")" = 9 ] &&
			[ "$(cfg_r8 "$1" $((p + 3)))" = "$2" ]; then
			echo "$p"
			return 0
		fi
		p=$(cfg_r8 "$1" $((p + 1)))
		n=$((n + 1))
	done
	return 1
}

# vwin_setup BDF OFF LEN: points the PCI_CFG window at common-config
# register OFF with access length LEN; sets VWIN_DATA (config offset of
# the window's data bytes).
vwin_setup() {
	local cc win bar coff
	cc=$(vcap "$1" 1) && win=$(vcap "$1" 5) || return 1
	bar=$(cfg_r8 "$1" $((cc + 4)))
	coff=$(cfg_r32 "$1" $((cc + 8)))
	cfg_w8 "$1" $((win + 4)) "$bar"
	cfg_w32 "$1" $((win + 8)) $((coff + $2))
	cfg_w32 "$1" $((win + 12)) "$3"
	VWIN_DATA=$((win + 16))
}

# vstatus_set BDF VALUE, vstatus_get BDF: the device_status register
# (common config offset 0x14) through the window; 0 resets the device.
vstatus_set() {
	vwin_setup "$1" 20 1 && cfg_w8 "$1" "$VWIN_DATA" "$2"
}
vstatus_get() {
	vwin_setup "$1" 20 1 && cfg_r8 "$1" "$VWIN_DATA"
}
