# l1-runner.sh: runs prepared end-to-end runs inside the rig's L1 host
# (busybox sh; tests/e2e/e2e-lib.sh stages the runs and reads the results).
#
# Each run is a directory /rig/e2e/NNN/ with
#   vars.sh       E2E_NAME, E2E_VMM, E2E_TIMEOUT, E2E_DISK_MIB (optional)
#                 and "set -- VMM ARGV..."
#   overlay.cpio  /e2e/scenario.sh for the guest, appended to the guest's
#                 base initramfs /rig/guest-base.cpio
# and produces one block on stdout:
#   @@E2E-BEGIN NNN
#   C|<guest console line>...
#   E|<VMM stderr line>...
#   @@E2E-END NNN status=N signal=N timedout=0|1 total_ms=N userspace_ms=N maxrss_kb=N
# Console lines carry a prefix so guest output can never fake a marker.
# The VMM runs in its own session under busybox time (for its peak RSS); a
# watchdog kills the whole session after E2E_TIMEOUT seconds.

W=/tmp/e2e-run

uptime_ms() {
	local u
	read -r u _ </proc/uptime
	echo $((${u%.*} * 1000 + (1${u#*.} - 100) * 10))
}

maxrss_kb() {
	sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' \
		"$1" 2>/dev/null
}

# Some busybox versions (1.35 in Debian 12) print ru_maxrss, already in KiB,
# as if it counted pages. Calibrate with a process of known size: dd with a
# 64 MiB buffer it fills from /dev/zero. (VmHWM of a small process cannot
# serve: the kernel syncs its RSS counters only every 64 page faults.)
rss_calibrate() {
	local t
	RSS_DIV=1
	time -v -o /tmp/e2e-cal.time dd if=/dev/zero of=/dev/null bs=64M \
		count=1 2>/dev/null || return 0
	t=$(maxrss_kb /tmp/e2e-cal.time)
	[ -n "$t" ] || return 0
	RSS_DIV=$(((t + 32768) / 65536))
	[ "$RSS_DIV" -ge 1 ] || RSS_DIV=1
}

run_one() {
	local dir=$1 id t0 t1 vpid wpid apid st sig to us rss
	id=$(basename "$dir")
	E2E_NAME=$id E2E_VMM=unknown E2E_TIMEOUT=60 E2E_DISK_MIB=
	set --
	. "$dir/vars.sh"
	rm -rf "$W"
	mkdir -p "$W"
	cat /rig/guest-base.cpio "$dir/overlay.cpio" >"$W/initrd.cpio"
	if [ -n "$E2E_DISK_MIB" ]; then
		truncate -s $((E2E_DISK_MIB * 1048576)) "$W/disk.img"
	fi
	mkfifo "$W/fifo"
	# Time-stamps the guest's first userspace line as the VMM prints it.
	awk -v ts="$W/userspace" '{
		print
		if (!seen && /E2E-USERSPACE/) {
			getline u < "/proc/uptime"; close("/proc/uptime")
			split(u, a, " "); print a[1] > ts; close(ts); seen = 1
		}
	}' <"$W/fifo" >"$W/console" &
	apid=$!
	t0=$(uptime_ms)
	setsid time -v -o "$W/time" "$@" </dev/null >"$W/fifo" 2>"$W/stderr" &
	vpid=$!
	(
		sleep "$E2E_TIMEOUT"
		echo 1 >"$W/timedout"
		kill -TERM -"$vpid"
		sleep 3
		kill -KILL -"$vpid"
	) 2>/dev/null &
	wpid=$!
	wait "$vpid"
	st=$?
	t1=$(uptime_ms)
	kill "$wpid" 2>/dev/null
	wait "$apid"

	sig=0
	grep -q 'Command terminated by signal' "$W/time" 2>/dev/null &&
		sig=$(sed -n 's/.*terminated by signal \([0-9]*\).*/\1/p' "$W/time")
	[ "$sig" = 0 ] || st=-1
	to=0
	[ -e "$W/timedout" ] && to=1
	us=-1
	if [ -s "$W/userspace" ]; then
		local u
		u=$(cat "$W/userspace")
		us=$((${u%.*} * 1000 + (1${u#*.} - 100) * 10 - t0))
	fi
	rss=$(maxrss_kb "$W/time")
	[ -n "$rss" ] && rss=$((rss / RSS_DIV))
	echo "@@E2E-BEGIN $id"
	awk '{ print "C|" $0 }' "$W/console"
	awk '{ print "E|" $0 }' "$W/stderr"
	echo "@@E2E-END $id status=$st signal=$sig timedout=$to" \
		"total_ms=$((t1 - t0)) userspace_ms=$us maxrss_kb=${rss:--1}"
}

if [ ! -c /dev/kvm ]; then
	echo "@@E2E-FATAL no /dev/kvm in L1"
	exit 2
fi
rss_calibrate
echo "@@E2E-L1 cpus=$(nproc) uptime_ms=$(uptime_ms) rss_div=$RSS_DIV"
for d in /rig/e2e/*/; do
	[ -r "$d/vars.sh" ] && run_one "${d%/}"
done
echo "@@E2E-DONE"
