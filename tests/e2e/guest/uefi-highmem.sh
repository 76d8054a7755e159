# Guest side of tests/e2e/scenarios/uefi-highmem.scn (busybox sh, in /e2e):
# a Linux guest booted by OVMF and GRUB with more than 4 GiB of memory. The
# firmware must hand over the RAM above 4 GiB (its memory map, from the
# VMM's layout), and the 64-bit PCI window it picks must not collide with it.
[ -d /sys/firmware/efi ] && echo "efi: booted by UEFI"
dmesg | grep -E 'ACPI (Error|BIOS Error|Exception)' | sed 's/^/acpi-problem: /'
for t in DSDT FACP APIC; do
	[ -r /sys/firmware/acpi/tables/$t ] && echo "table-ok $t"
done
echo "online: $(cat /sys/devices/system/cpu/online)"
m=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
echo "memtotal-mib $m"
# 4608M guest: more than 4 GiB left after the firmware's and the kernel's share.
[ "$m" -gt 4096 ] && [ "$m" -le 4608 ] && echo "mem-ok"
# /proc/iomem's System RAM ranges; one starting at or above 4 GiB (more
# than 8 hex digits) is RAM the firmware placed above the 32-bit hole.
grep 'System RAM' /proc/iomem | sed 's/^ */iomem: /'
grep 'System RAM' /proc/iomem | awk -F- '{
	s = $1; gsub(/ /, "", s); sub(/^0+/, "", s)
	if (length(s) > 8) { print "highmem-ram: " $0; n++ }
} END { if (n) print "highmem-ok" }'
for d in /sys/bus/pci/devices/*; do
	echo "pci: ${d##*/} $(cat "$d/vendor"):$(cat "$d/device") class $(cat "$d/class")"
done
