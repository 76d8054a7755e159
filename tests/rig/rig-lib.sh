# rig-lib.sh: helpers shared by the nested rig's scripts (sourced, bash).
#
# The rig boots Debian's cloud kernel under QEMU TCG (-cpu max emulates AMD
# SVM with nested paging), so the kernel inside ("L1") gets a real /dev/kvm.
# Initramfs images are built from files on this host only: static busybox,
# kernel modules from /lib/modules, and programs with the libraries ldd lists.

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_CACHE=${RIG_CACHE:-build/rig}

rig_die() {
	echo "${RIG_PROG:-rig}: $*" >&2
	exit 125
}

rig_usage_error() {
	echo "${RIG_PROG:-rig}: $*" >&2
	exit 4
}

# The kernel both L1 and L2 boot: $RIG_KERNEL, else the newest Debian cloud
# kernel in /boot.
rig_kernel() {
	local k
	if [ -n "${RIG_KERNEL:-}" ]; then
		[ -r "$RIG_KERNEL" ] || rig_die "RIG_KERNEL=$RIG_KERNEL is not readable"
		echo "$RIG_KERNEL"
		return
	fi
	k=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1)
	[ -n "$k" ] || rig_die "no /boot/vmlinuz-*-cloud-amd64 (install linux-image-cloud-amd64)"
	[ -r "$k" ] || rig_die "$k is not readable"
	echo "$k"
}

# rig_generic_kernel: Debian's generic kernel of the same ABI as the cloud
# kernel rig_kernel picks (linux-image-<abi>-amd64: AHCI, libata, e1000 and
# the other drivers the cloud kernel lacks, as modules), unpacked once into
# $RIG_CACHE/generic/<kver>/ (apt-get download + dpkg-deb -x, nothing is
# installed; depmod writes the modules.dep the package leaves to its
# postinst), and prints the path of its vmlinuz there. $RIG_GENERIC_KERNEL
# names a vmlinuz whose modules are in ../lib/modules/<kver> instead.
rig_generic_kernel() {
	local cloud kver dir deb
	if [ -n "${RIG_GENERIC_KERNEL:-}" ]; then
		[ -r "$RIG_GENERIC_KERNEL" ] ||
			rig_die "RIG_GENERIC_KERNEL=$RIG_GENERIC_KERNEL is not readable"
		echo "$RIG_GENERIC_KERNEL"
		return
	fi
	cloud=$(rig_kver "$(rig_kernel)")
	kver=${cloud%-cloud-amd64}-amd64
	dir=$RIG_CACHE/generic/$kver
	if [ ! -s "$dir/root/lib/modules/$kver/modules.dep" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		(cd "$dir" && apt-get download "linux-image-$kver" >&2) ||
			rig_die "apt-get download linux-image-$kver failed"
		deb=$(ls "$dir"/linux-image-"$kver"_*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || rig_die "no linux-image-$kver package in $dir"
		dpkg-deb -x "$deb" "$dir/root" || rig_die "dpkg-deb -x $deb failed"
		rm -f "$deb"
		depmod -b "$dir/root" "$kver" || rig_die "depmod for $kver failed"
	fi
	echo "$dir/root/boot/vmlinuz-$kver"
}

rig_kver() {
	local k
	k=$(basename "$1")
	echo "${k#vmlinuz-}"
}

rig_busybox() {
	local b
	for b in /bin/busybox /usr/bin/busybox; do
		if [ -x "$b" ] && file -L "$b" | grep -q 'statically linked'; then
			echo "$b"
			return
		fi
	done
	rig_die "no static busybox (install busybox-static)"
}

# rig_stage_busybox STAGE: busybox at /bin/busybox plus one symlink per applet.
rig_stage_busybox() {
	local stage=$1 bb a
	bb=$(rig_busybox)
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,root}
	chmod 1777 "$stage/tmp"
	cp "$bb" "$stage/bin/busybox"
	"$bb" --list-full | while read -r a; do
		[ "$a" = bin/busybox ] && continue
		mkdir -p "$stage/$(dirname "$a")"
		ln -sf /bin/busybox "$stage/$a"
	done
}

# rig_module_path MODDIR NAME: path (relative to MODDIR) of module NAME, from
# modules.dep; '-' and '_' are interchangeable in module names.
rig_module_path() {
	local moddir=$1 name=${2//-/_}
	awk -F: -v want="$name" '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n)
		gsub(/-/, "_", n)
		if (n == want) { print $1; exit }
	}' "$moddir/modules.dep"
}

# rig_module_deps MODDIR RELPATH: the modules RELPATH depends on.
rig_module_deps() {
	awk -F: -v want="$2" '$1 == want { print $2; exit }' "$1/modules.dep" |
		tr ' ' '\n' | sed '/^$/d'
}

# rig_stage_modules STAGE MODDIR NAME...: copies the modules and their
# dependencies, decompressed (the kernel's loader may lack xz/zstd support and
# busybox insmod reads plain ELF), to STAGE/lib/modules/<kver>/ with a
# modules.dep covering them so busybox modprobe works.
rig_stage_modules() {
	local stage=$1 moddir=$2 kver name rel dst
	shift 2
	kver=$(basename "$moddir")
	local -a todo=() done=()
	for name in "$@"; do
		rel=$(rig_module_path "$moddir" "$name")
		[ -n "$rel" ] || rig_die "module $name not found in $moddir/modules.dep"
		todo+=("$rel")
	done
	while [ ${#todo[@]} -gt 0 ]; do
		rel=${todo[0]}
		todo=("${todo[@]:1}")
		case " ${done[*]} " in *" $rel "*) continue ;; esac
		done+=("$rel")
		while read -r dst; do todo+=("$dst"); done < <(rig_module_deps "$moddir" "$rel")
	done
	mkdir -p "$stage/lib/modules/$kver"
	: >"$stage/lib/modules/$kver/modules.dep"
	for rel in "${done[@]}"; do
		dst="$stage/lib/modules/$kver/$(rig_ko_name "$rel")"
		mkdir -p "$(dirname "$dst")"
		case "$rel" in
		*.ko.xz) xz -dc "$moddir/$rel" >"$dst" ;;
		*.ko.zst) zstd -qdc "$moddir/$rel" >"$dst" ;;
		*.ko.gz) gzip -dc "$moddir/$rel" >"$dst" ;;
		*.ko) cp "$moddir/$rel" "$dst" ;;
		*) rig_die "unexpected module file $rel" ;;
		esac || rig_die "cannot unpack $moddir/$rel"
		printf '%s:%s\n' "$(rig_ko_name "$rel")" \
			"$(rig_module_deps "$moddir" "$rel" | while read -r d; do
				printf ' %s' "$(rig_ko_name "$d")"
			done)" >>"$stage/lib/modules/$kver/modules.dep"
	done
}

# rig_ko_name RELPATH: the module's path once decompressed.
rig_ko_name() {
	echo "$1" | sed -E 's/\.ko\.(xz|zst|gz)$/.ko/'
}

rig_is_elf() {
	[ -f "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]
}

# rig_stage_libs STAGE ELF: copies the shared libraries ldd lists for ELF and
# its dynamic loader to the same paths under STAGE.
rig_stage_libs() {
	local stage=$1 elf=$2 out lib
	out=$(ldd "$elf" 2>&1) || {
		case "$out" in
		*"not a dynamic executable"* | *"statically linked"*) return 0 ;;
		esac
		rig_die "ldd $elf failed: $out"
	}
	if grep -q 'not found' <<<"$out"; then
		rig_die "ldd $elf: $(grep 'not found' <<<"$out" | head -n 3 | tr '\n' ' ')"
	fi
	for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"); do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib" || rig_die "cannot copy $lib"
	done
	rig_stage_dlopened "$stage" "$elf"
}

# Libraries programs open with dlopen (ldd cannot see them): beehive loads
# libslirp only for a slirp NIC and libvncserver only for fbuf
# (bhyve/core/dynlib.h).
RIG_DLOPEN_SONAMES="libslirp.so.0 libvncserver.so.1"

# rig_stage_dlopened STAGE ELF: stages each library of RIG_DLOPEN_SONAMES
# whose name ELF contains, with its own libraries.
rig_stage_dlopened() {
	local stage=$1 elf=$2 so lib
	for so in $RIG_DLOPEN_SONAMES; do
		grep -qaF "$so" "$elf" || continue
		# awk reads to the end: an early exit would SIGPIPE ldconfig,
		# which pipefail turns into this script's death (status 141).
		lib=$(ldconfig -p | awk -v so="$so" '$1 == so && $NF ~ /^\// && !f { print $NF; f = 1 }')
		[ -n "$lib" ] || rig_die "$elf opens $so, which is not installed"
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib" || rig_die "cannot copy $lib"
		rig_stage_libs "$stage" "$lib"
	done
}

# rig_stage_path STAGE HOSTPATH L1PATH: copies a file or directory, plus the
# libraries of every dynamically linked ELF file in it.
rig_stage_path() {
	local stage=$1 src=$2 dst=$3 f
	[ -e "$src" ] || rig_usage_error "no such file: $src"
	case "$dst" in /*) ;; *) rig_usage_error "L1 path must be absolute: $dst" ;; esac
	mkdir -p "$stage$(dirname "$dst")"
	if [ -d "$src" ]; then
		cp -RL "$src" "$stage$dst" || rig_die "cannot copy $src"
		while IFS= read -r -d '' f; do
			if [ -x "$f" ] && rig_is_elf "$f"; then
				rig_stage_libs "$stage" "$f"
			fi
		done < <(find "$stage$dst" -type f -print0)
	else
		cp -L "$src" "$stage$dst" || rig_die "cannot copy $src"
		if rig_is_elf "$src"; then
			rig_stage_libs "$stage" "$src"
		fi
	fi
}

# rig_mkcpio STAGE OUT: a newc archive of STAGE owned by root; written to a
# temporary name first so a concurrent reader never sees half an archive.
rig_mkcpio() {
	local stage=$1 out=$2
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$out.tmp.$$" ||
		rig_die "cpio failed for $out"
	mv -f "$out.tmp.$$" "$out"
}

# rig_sq STRING: STRING single-quoted for any POSIX shell.
rig_sq() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# rig_clean FILE: console text without CRs and terminal escapes (SeaBIOS
# clears the screen, OVMF sets modes: ESC[=3h).
rig_clean() {
	tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;?=]*[A-Za-z]//g; s/\x1bc//g'
}

# rig_build_bqlshim: builds tests/rig/bqlshim.c (the LD_PRELOAD library that
# lets the L0 QEMU survive UEFI firmware in L2, docs/rig.md "UEFI firmware in
# L2") into $RIG_CACHE/bqlshim.so when missing or older than its source, and
# prints its path.
rig_build_bqlshim() {
	local src=$RIG_DIR/bqlshim.c out=$RIG_CACHE/bqlshim.so
	if [ ! -s "$out" ] || [ "$src" -nt "$out" ]; then
		mkdir -p "$RIG_CACHE"
		${CC:-gcc} -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC \
			-o "$out.tmp.$$" "$src" -ldl >&2 || rig_die "cannot build $src"
		mv -f "$out.tmp.$$" "$out"
	fi
	# LD_PRELOAD wants a path the loader finds from any directory.
	(cd "$(dirname "$out")" && echo "$PWD/$(basename "$out")")
}

# rig_now_ms: a monotonic-enough wall clock in milliseconds.
rig_now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# rig_thread_states PID: " name state wchan," per thread of PID, for
# reports on a stuck process.
rig_thread_states() {
	local t
	for t in /proc/"$1"/task/*; do
		printf ' %s %s %s,' "$(cat "$t/comm" 2>/dev/null)" \
			"$(awk '{ print $3 }' "$t/stat" 2>/dev/null)" \
			"$(cat "$t/wchan" 2>/dev/null)"
	done
}

# rig_watch_stall TPID SECONDS MARK FILE...: watches the L0 QEMU that
# timeout(1) process TPID runs. The rig's QEMU 7.2 (TCG) has been seen to
# freeze for good: every thread asleep, no timer armed, 0% CPU. An idle but
# live L1 still costs its QEMU some CPU every few seconds (timer ticks,
# about 2 clock ticks per 5 s were measured for `sleep 60` in L1), so when
# neither QEMU's CPU time (utime+stime, in clock ticks) grows by 3 ticks nor
# any of FILE... grows for SECONDS, QEMU is stuck: waiting out the whole
# --timeout (over an hour for make check's e2e L1) would only hide it. Then
# it writes MARK and ends QEMU (TERM, CONT for a stopped one, KILL after 5 s).
# Runs until TPID exits.
rig_watch_stall() {
	local tpid=$1 limit=$2 mark=$3 qemu= cpu size ref_cpu=-1 ref_size=-1 still=0
	shift 3
	while kill -0 "$tpid" 2>/dev/null; do
		sleep 5
		[ -n "$qemu" ] ||
			qemu=$(awk '{ print $1 }' "/proc/$tpid/task/$tpid/children" 2>/dev/null)
		[ -n "$qemu" ] || continue
		cpu=$(awk '{ print $14 + $15 }' "/proc/$qemu/stat" 2>/dev/null) || return 0
		[ -n "$cpu" ] || return 0
		size=$(cat "$@" 2>/dev/null | wc -c)
		if [ "$ref_cpu" -lt 0 ] || [ "$cpu" -ge $((ref_cpu + 3)) ] ||
			[ "$size" != "$ref_size" ]; then
			ref_cpu=$cpu
			ref_size=$size
			still=0
			continue
		fi
		still=$((still + 5))
		[ "$still" -ge "$limit" ] || continue
		{
			echo "QEMU pid $qemu: CPU time $cpu ticks, output $size bytes, unchanged for ${still}s;" \
				"threads (name state wait channel):$(rig_thread_states "$qemu")"
		} >"$mark"
		kill -TERM "$qemu" 2>/dev/null
		kill -CONT "$qemu" 2>/dev/null
		sleep 5
		kill -KILL "$qemu" 2>/dev/null
		return 0
	done
}
