# l1-runner.sh: runs prepared end-to-end runs inside the rig's L1 host
# (busybox sh; tests/e2e/e2e-lib.sh stages the runs and reads the results).
#
# Each run is a directory /rig/e2e/NNN/ with
#   vars.sh       E2E_NAME, E2E_VMM, E2E_TIMEOUT, E2E_DISK_MIB (optional)
#                 and "set -- VMM ARGV..."
#                 E2E_WAIT_FOR, E2E_SIGNAL and E2E_SIGNAL_AFTER (optional)
#                 E2E_BOOTS (VMM starts, default 1), E2E_UEFI (1: firmware
#                 boot from /rig/efi-disk.img, copied to $W/efi.img with
#                 overlay.cpio in its partition 2, and a per-run copy of
#                 /rig/OVMF_VARS.fd as $W/vars.fd)
#                 E2E_EFI_DISK (none: no EFI disk image, only the VARS file)
#                 E2E_SENDS (console input steps, send.1 .. send.N)
#   argv.N        "set -- VMM ARGV..." of boot N (default: vars.sh's)
#   send.N        console input step N: line 1 the octal codes of the bytes
#                 to type, line 2 the ERE whose new match it waits for
#   env.N         boot N's GRUB environment block (E2E_UEFI), written over
#                 the image's /e2e.env before boot N
#   overlay.cpio  /e2e/scenario.sh for the guest, appended to the guest's
#                 base initramfs /rig/guest-base.cpio
#   l1-before.sh, l1-during.sh, l1-after.sh (optional)
#                 L1 commands: before the VMM starts, in the background once
#                 a console line matches E2E_WAIT_FOR, after the VMM exited
# and produces one block on stdout:
#   @@E2E-BEGIN NNN
#   C|<guest console line>...
#   E|<VMM stderr line>...
#   B|N status=N signal=N timedout=0|1 total_ms=N userspace_ms=N maxrss_kb=N grub_ms=N
#                 after the console lines of boot N (every boot)
#   @@E2E-END NNN status=N signal=N timedout=0|1 total_ms=N userspace_ms=N maxrss_kb=N before=N boots=N grub_ms=N
#                 status and signal of the last boot, timedout of any,
#                 total_ms summed, userspace_ms, maxrss_kb and grub_ms
#                 (VMM start to GRUB's E2E-GRUB line, -1 without) of boot 1;
#                 boots: how many ran (a boot that timed out ends the run)
# The l1-*.sh output follows the console as "C|L1: <line>" lines.
# Console lines carry a prefix so guest output can never fake a marker.
# The VMM runs in its own session under busybox time (for its peak RSS); a
# watchdog kills the whole session after E2E_TIMEOUT seconds. Its stdin is
# /dev/null, or with send steps a FIFO ($W/in) this runner holds open.

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

# console_has ERE: whether a guest console line so far matches ERE.
console_has() {
	tr -d '\r' <"$W/console" | grep -Eq -- "$1"
}

# vmm_pid PID: the VMM, the child of busybox time (PID).
vmm_pid() {
	local c
	read -r c _ <"/proc/$1/task/$1/children" 2>/dev/null
	echo "$c"
}

# watch_console ERE PID CMD...: runs CMD once a console line matches ERE,
# polling while the VMM session PID lives.
watch_console() {
	local re=$1 pid=$2
	shift 2
	while kill -0 "$pid" 2>/dev/null; do
		if console_has "$re"; then
			"$@"
			return
		fi
		sleep 0.2
	done
}

# send_text CODES: types the bytes (octal codes) into the VMM's stdin
# (fd 3, the FIFO), one every 50 ms: firmware polls its serial port and a
# 16550's receive FIFO holds 16 bytes.
send_text() {
	local o
	for o in $1; do
		# shellcheck disable=SC2059 # the format is one octal escape
		printf "\\$o" >&3
		sleep 0.05
	done
}

# send_shown CODES: the typed bytes, printable (\r \n \t \e, octal).
send_shown() {
	local o
	for o in $1; do
		case "$o" in
		015) printf '\\r' ;;
		012) printf '\\n' ;;
		011) printf '\\t' ;;
		033) printf '\\e' ;;
		0[4-9]? | 1[0-6]? | 17[0-6])
			# shellcheck disable=SC2059 # the format is one octal escape
			printf "\\$o"
			;;
		*) printf '\\%s' "$o" ;;
		esac
	done
}

# send_steps DIR PID: runs the console input steps send.1 .. send.N of run
# DIR while the VMM session PID lives. Step i waits for its ERE to match
# the console output ($W/raw, every byte as the VMM wrote it: partial lines
# such as a prompt count) after what step i-1 had seen, with escape
# sequences and CRs removed; then types its bytes.
send_steps() {
	local dir=$1 pid=$2 i=1 off=0 codes re n e
	e=$(printf '\033') # busybox sed has no \x1b
	while [ $i -le "$E2E_SENDS" ]; do
		{ IFS= read -r codes; IFS= read -r re; } <"$dir/send.$i"
		while :; do
			if ! kill -0 "$pid" 2>/dev/null; then
				echo "send $i: /$re/ never matched" >>"$W/l1-during.out"
				return 1
			fi
			tail -c +$((off + 1)) "$W/raw" >"$W/send.seen" 2>/dev/null
			if tr -d '\r' <"$W/send.seen" |
				sed "s/$e\[[0-9;?=]*[A-Za-z]//g; s/${e}c//g" |
				grep -Eq -- "$re"; then
				break
			fi
			sleep 0.2
		done
		n=$(wc -c <"$W/send.seen")
		off=$((off + n))
		echo "send $i: /$re/ matched, typed '$(send_shown "$codes")'" \
			>>"$W/l1-during.out"
		send_text "$codes"
		i=$((i + 1))
	done
	echo "send: all $E2E_SENDS steps typed" >>"$W/l1-during.out"
}

signal_vmm() { # signal_vmm SIG PID
	local v
	v=$(vmm_pid "$2")
	[ -n "$v" ] || return 0
	echo "signal $1 to the VMM (pid $v)" >>"$W/l1-during.out"
	kill "-$1" "$v"
}

run_during() {
	sh "$1" >>"$W/l1-during.out" 2>&1
}

# uefi_media: the EFI boot media's image, without .img: the GPT disk of
# build-efi-disk, or the ISO of build-efi-iso for efi-disk: ahci-cd (the
# same layout variables describe both).
uefi_media() {
	if [ "$E2E_EFI_DISK" = ahci-cd ]; then
		echo /rig/efi-cd
	else
		echo /rig/efi-disk
	fi
}

# uefi_prepare DIR: the run's copy of the EFI disk image with the run's
# overlay initramfs in partition 2, and its VARS file.
uefi_prepare() {
	local E2E_EFI_ENV_OFFSET E2E_EFI_OVL_OFFSET E2E_EFI_OVL_SECTORS
	cp /rig/OVMF_VARS.fd "$W/vars.fd"
	[ "$E2E_EFI_DISK" = none ] && return 0
	# shellcheck disable=SC1090 # written by build-efi-disk or build-efi-iso
	. "$(uefi_media).layout"
	cp "$(uefi_media).img" "$W/efi.img"
	if [ "$(wc -c <"$1/overlay.cpio")" -gt $((E2E_EFI_OVL_SECTORS * 512)) ]; then
		echo "overlay.cpio does not fit the EFI media's overlay slot" >&2
		return 1
	fi
	dd if="$1/overlay.cpio" of="$W/efi.img" bs=512 \
		seek=$((E2E_EFI_OVL_OFFSET / 512)) conv=notrunc 2>/dev/null
}

# uefi_set_env DIR BOOT: boot BOOT's GRUB environment block into the image.
uefi_set_env() {
	local E2E_EFI_ENV_OFFSET E2E_EFI_OVL_OFFSET E2E_EFI_OVL_SECTORS
	[ "$E2E_EFI_DISK" = none ] && return 0
	# shellcheck disable=SC1090 # written by build-efi-disk or build-efi-iso
	. "$(uefi_media).layout"
	dd if="$1/env.$2" of="$W/efi.img" bs=512 count=2 \
		seek=$((E2E_EFI_ENV_OFFSET / 512)) conv=notrunc 2>/dev/null
}

run_one() {
	local dir=$1 id boot st sig to us rss bst
	local a_st a_sig a_to a_ms a_us a_rss a_fw fw nboots
	id=$(basename "$dir")
	E2E_NAME=$id E2E_VMM=unknown E2E_TIMEOUT=60 E2E_DISK_MIB=
	E2E_WAIT_FOR='^E2E-BEGIN$' E2E_SIGNAL= E2E_SIGNAL_AFTER=
	E2E_BOOTS=1 E2E_UEFI= E2E_EFI_DISK= E2E_SENDS=0
	E2E_GUEST_BASE=/rig/guest-base.cpio
	set --
	. "$dir/vars.sh"
	rm -rf "$W"
	mkdir -p "$W"
	cat "$E2E_GUEST_BASE" "$dir/overlay.cpio" >"$W/initrd.cpio"
	if [ -r "$dir/cd.iso" ]; then cp "$dir/cd.iso" "$W/cd.iso"; fi
	if [ -n "$E2E_DISK_MIB" ]; then
		truncate -s $((E2E_DISK_MIB * 1048576)) "$W/disk.img"
	fi
	: >"$W/l1-before.out"
	: >"$W/l1-during.out"
	: >"$W/l1-after.out"
	: >"$W/console.all"
	: >"$W/stderr.all"
	bst=0
	if [ -n "$E2E_UEFI" ]; then
		uefi_prepare "$dir" >>"$W/l1-before.out" 2>&1 || bst=$?
	fi
	if [ $bst = 0 ] && [ -r "$dir/l1-before.sh" ]; then
		(cd "$W" && sh "$dir/l1-before.sh") >>"$W/l1-before.out" 2>&1
		bst=$?
	fi
	nboots=0
	a_ms=0
	boot=1
	while [ $boot -le "$E2E_BOOTS" ]; do
		# shellcheck disable=SC1090
		[ -r "$dir/argv.$boot" ] && . "$dir/argv.$boot"
		[ -n "$E2E_UEFI" ] && uefi_set_env "$dir" $boot
		boot_one "$dir" "$@"
		nboots=$boot
		# Console lines carry C| here already, so none can pass for B|.
		awk '{ print "C|" $0 }' "$W/console" >>"$W/console.all"
		echo "B|$boot status=$st signal=$sig timedout=$to total_ms=$BOOT_MS" \
			"userspace_ms=$us maxrss_kb=${rss:--1} grub_ms=$fw" >>"$W/console.all"
		cat "$W/stderr" >>"$W/stderr.all"
		a_st=$st a_sig=$sig
		[ $boot = 1 ] && a_us=$us a_rss=$rss a_fw=$fw
		[ "$to" = 1 ] && a_to=1
		a_ms=$((a_ms + BOOT_MS))
		[ "$to" = 1 ] && break
		boot=$((boot + 1))
	done
	# l1-after sees every boot's guest console in $W/console.
	sed -n 's/^C|//p' "$W/console.all" >"$W/console"
	mv -f "$W/stderr.all" "$W/stderr"
	if [ -r "$dir/l1-after.sh" ]; then
		(cd "$W" && sh "$dir/l1-after.sh") >"$W/l1-after.out" 2>&1
	fi

	echo "@@E2E-BEGIN $id"
	cat "$W/console.all"
	cat "$W/l1-before.out" "$W/l1-during.out" "$W/l1-after.out" |
		awk '{ print "C|L1: " $0 }'
	awk '{ print "E|" $0 }' "$W/stderr"
	echo "@@E2E-END $id status=$a_st signal=$a_sig timedout=${a_to:-0}" \
		"total_ms=$a_ms userspace_ms=$a_us maxrss_kb=${a_rss:--1}" \
		"before=$bst boots=$nboots grub_ms=$a_fw"
}

# console_stamp: copies the VMM's output (stdin) line by line, flushing
# each (L1-side watchers poll the console file while the VMM runs), and
# time-stamps the guest's first userspace line into $W/userspace and, with
# firmware: uefi, GRUB's first line into $W/grub (the firmware's share).
console_stamp() {
	awk -v ts="$W/userspace" -v gts="$W/grub" '{
		print
		fflush()
		if (!seen && /E2E-USERSPACE/) {
			getline u < "/proc/uptime"; close("/proc/uptime")
			split(u, a, " "); print a[1] > ts; close(ts); seen = 1
		}
		if (!gseen && /E2E-GRUB/) {
			getline u < "/proc/uptime"; close("/proc/uptime")
			split(u, a, " "); print a[1] > gts; close(gts); gseen = 1
		}
	}'
}

# boot_one DIR VMM ARGV...: one start of the VMM; sets st, sig, to, us, rss,
# BOOT_MS; leaves the boot's console and stderr in $W/console, $W/stderr.
boot_one() {
	local dir=$1 t0 t1 vpid wpid apid dpid spid ipid n u in=/dev/null
	shift
	rm -f "$W/fifo" "$W/userspace" "$W/grub" "$W/timedout" "$W/time" \
		"$W/in" "$W/raw"
	mkfifo "$W/fifo"
	if [ "$E2E_SENDS" -gt 0 ]; then
		# Console input: the VMM reads a FIFO that fd 3 holds open (so
		# it never sees end-of-file); send_steps matches the raw output,
		# which tee passes on at once, partial lines included.
		mkfifo "$W/in"
		exec 3<>"$W/in"
		in=$W/in
		tee "$W/raw" <"$W/fifo" | console_stamp >"$W/console" &
	else
		console_stamp <"$W/fifo" >"$W/console" &
	fi
	apid=$!
	t0=$(uptime_ms)
	setsid time -v -o "$W/time" "$@" <"$in" >"$W/fifo" 2>"$W/stderr" 3>&- &
	vpid=$!
	(
		sleep "$E2E_TIMEOUT"
		echo 1 >"$W/timedout"
		kill -TERM -"$vpid"
		sleep 3
		kill -KILL -"$vpid"
	) 2>/dev/null 3>&- &
	wpid=$!
	dpid=
	spid=
	if [ -r "$dir/l1-during.sh" ]; then
		(cd "$W" && watch_console "$E2E_WAIT_FOR" "$vpid" \
			run_during "$dir/l1-during.sh") &
		dpid=$!
	fi
	if [ -n "$E2E_SIGNAL" ]; then
		watch_console "$E2E_SIGNAL_AFTER" "$vpid" \
			signal_vmm "$E2E_SIGNAL" "$vpid" &
		spid=$!
	fi
	ipid=
	if [ "$E2E_SENDS" -gt 0 ]; then
		send_steps "$dir" "$vpid" &
		ipid=$!
	fi
	wait "$vpid"
	st=$?
	t1=$(uptime_ms)
	kill "$wpid" 2>/dev/null
	wait "$apid"
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	if [ -n "$ipid" ]; then
		# Give a step that was typing as the VMM exited a moment (its
		# own check then logs what never matched), then stop it.
		n=0
		while kill -0 "$ipid" 2>/dev/null && [ $n -lt 10 ]; do
			sleep 0.2
			n=$((n + 1))
		done
		kill "$ipid" 2>/dev/null
		wait "$ipid" 2>/dev/null
		exec 3>&-
	fi
	if [ -n "$dpid" ]; then
		# The L1 commands get 10 s to finish after the VMM exited.
		n=0
		while kill -0 "$dpid" 2>/dev/null && [ $n -lt 50 ]; do
			sleep 0.2
			n=$((n + 1))
		done
		if kill -0 "$dpid" 2>/dev/null; then
			echo "l1-during still running 10 s after the VMM exited: killed" \
				>>"$W/l1-during.out"
			pkill_tree "$dpid"
		fi
	fi
	sig=0
	grep -q 'Command terminated by signal' "$W/time" 2>/dev/null &&
		sig=$(sed -n 's/.*terminated by signal \([0-9]*\).*/\1/p' "$W/time")
	[ "$sig" = 0 ] || st=-1
	to=0
	[ -e "$W/timedout" ] && to=1
	us=-1
	if [ -s "$W/userspace" ]; then
		u=$(cat "$W/userspace")
		us=$((${u%.*} * 1000 + (1${u#*.} - 100) * 10 - t0))
	fi
	fw=-1
	if [ -s "$W/grub" ]; then
		u=$(cat "$W/grub")
		fw=$((${u%.*} * 1000 + (1${u#*.} - 100) * 10 - t0))
	fi
	rss=$(maxrss_kb "$W/time")
	[ -n "$rss" ] && rss=$((rss / RSS_DIV))
	BOOT_MS=$((t1 - t0))
}

# pkill_tree PID: kills PID and its descendants (children first).
pkill_tree() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		pkill_tree "$c"
	done
	kill -KILL "$1" 2>/dev/null
}

# E2E_L1_LIB=1: only the functions (tests/e2e/check-e2e-keys runs pieces of
# the runner on the host under busybox sh).
[ -z "${E2E_L1_LIB:-}" ] || return 0

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
