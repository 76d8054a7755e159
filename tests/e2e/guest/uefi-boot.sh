# Guest side of tests/e2e/scenarios/uefi-boot.scn (busybox sh, in /e2e):
# a Linux guest booted by OVMF and GRUB from a GPT disk on virtio-blk.
# Boot 1 checks what the firmware handed over (ACPI, CPUs, memory, PCI BARs
# as the firmware placed them, EFI runtime variables), writes an EFI
# variable and reboots; boot 2 (same VARS file) reads the variable back.
EV=/sys/firmware/efi/efivars
# A private vendor GUID for the test variable.
VAR=E2eBootTest-6d3f7a52-1c4b-4e8e-9a57-0be3e2e5f00d
# var_text: the variable as "attribute bytes data", e.g. "07 00 00 00 e2e-boot-1".
var_text() {
	echo "$(od -An -tx1 -N4 $EV/$VAR | tr -s ' ' | sed 's/^ //; s/ $//') $(tail -c +5 $EV/$VAR)"
}
echo "e2e-boot $E2E_BOOT"
[ -d /sys/firmware/efi ] && echo "efi: booted by UEFI"
modprobe efivarfs 2>/dev/null
mount -t efivarfs efivarfs $EV && echo "efivarfs: mounted"

if [ "$E2E_BOOT" = 1 ]; then
	dmesg | grep -E 'ACPI (Error|BIOS Error|Exception)' | sed 's/^/acpi-problem: /'
	for t in DSDT FACP APIC; do
		[ -r /sys/firmware/acpi/tables/$t ] && echo "table-ok $t"
	done
	# Whose tables: the DSDT's OEM id (header bytes 10-15) and SMBIOS
	# type 1 as Linux read them (from fw_cfg through the firmware).
	echo "dsdt-oem: $(dd if=/sys/firmware/acpi/tables/DSDT bs=1 skip=10 count=6 2>/dev/null | tr -d '\000 ')"
	echo "dmi: $(cat /sys/class/dmi/id/sys_vendor 2>/dev/null) / $(cat /sys/class/dmi/id/product_name 2>/dev/null)"
	echo "online: $(cat /sys/devices/system/cpu/online)"
	# 512M guest: the firmware keeps some for itself (runtime services,
	# ACPI NVS), the kernel its image and reservations.
	m=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
	echo "memtotal-mib $m"
	[ "$m" -ge 380 ] && [ "$m" -le 512 ] && echo "mem-ok"
	for d in /sys/bus/pci/devices/*; do
		v=$(cat "$d/vendor") i=$(cat "$d/device")
		echo "pci: ${d##*/} $v:$i class $(cat "$d/class")"
		case "$v:$i" in
		0x1af4:0x1001 | 0x1af4:0x1042)
			echo "virtio-blk: ${d##*/}"
			# resource: "start end flags" per BAR; an assigned BAR
			# has a non-zero start, and decoding must be on.
			n=0
			while read -r s e f; do
				[ "$s" = 0x0000000000000000 ] && continue
				echo "virtio-blk-bar $s-$e flags $f"
				n=$((n + 1))
			done <"$d/resource"
			[ "$n" -ge 1 ] && echo "virtio-blk-bars-ok $n"
			;;
		esac
	done
	[ -b /dev/vda ] || [ -e /sys/block/vda ] && echo "vda: $(cat /sys/block/vda/size) sectors"
	ls /sys/block/vda | grep -E '^vda[0-9]$' | tr '\n' ' ' | sed 's/^/vda-parts: /'
	echo
	# efivarfs: 4 bytes of attributes (NV|BS|RT = 7) then the data, in one write.
	printf '\007\000\000\000e2e-boot-1' >/tmp/var.bin
	dd if=/tmp/var.bin of=$EV/$VAR bs=1k 2>/dev/null && echo "efivar-written"
	echo "efivar-now: $(var_text)"
	sync
	echo "rebooting"
	reboot -f
	sleep 30
fi
if [ -e $EV/$VAR ]; then
	echo "e2e-var: $(var_text)"
else
	echo "e2e-var: missing"
	exit 1
fi
