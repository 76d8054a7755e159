# e2e-lib.sh: host side of the end-to-end runs (sourced by tests/e2e/run-e2e
# and bench/boot-time, bash). Parses scenario files, stages runs for
# l1-runner.sh, boots one L1 with tests/rig/rig-run and reads the results.
#
# Scenario files (tests/e2e/scenarios/*.scn) are "key: value" lines; '#'
# starts a comment line. Keys (repeatable ones marked *):
#   name          scenario name (default: the file name without .scn)
#   vmms          the VMMs it applies to (default: "beehive qemu")
#   cpus          guest vCPUs (default 1)
#   mem           guest memory, e.g. 256M, 1G (default 256M)
#   l1-smp        L1 vCPUs it needs (default: cpus)
#   l1-mem        L1 memory it needs (default 2G; QEMU's TCG allocates
#                 L1 memory lazily, so a large L1 costs only what is touched)
#   cmdline       guest kernel command line
#                 (default: console=ttyS0 panic=-1 quiet; every console
#                 byte costs ~1 ms in the rig, so keep the guest quiet)
#   timeout       seconds before the VMM is killed (default 60)
#   repeat        boots of the scenario per VMM, each one run judged on its
#                 own (default 1); $E2E_REPEAT overrides it for scenarios
#                 that set it (stress scenarios such as smp-boot-loop)
#   guest*        a shell command line the guest runs (in order)
#   guest-status  exit status of the guest commands, if they finish (default 0)
#   expect*       ERE that some guest console line must match
#   reject*       ERE that no guest console line may match
#   status        expected VMM exit status (default 0)
#   status-VMM    expected exit status under VMM (beehive, qemu)
#   args-VMM      extra VMM arguments (split at blanks)
#   disk          size of a zero-filled scratch disk image the runner creates
#                 in L1 before each run, /tmp/e2e-run/disk.img (sparse; name
#                 it in args-VMM)
#   l1-before*    shell line run in L1 (in /tmp/e2e-run) before the VMM
#                 starts; a non-zero status fails the run
#   l1-during*    shell line run in L1 in the background once a console line
#                 matches wait-for; waited for (10 s at most) after the VMM
#                 exits
#   wait-for      ERE for l1-during (default ^E2E-BEGIN$)
#   l1-after*     shell line run in L1 after the VMM exited
#   signal        "TERM after ERE" or "KILL after ERE" (also INT, HUP): L1
#                 sends the signal to the VMM once a console line matches
#   expect-stderr*, expect-stderr-VMM*
#                 ERE some line of the VMM's stderr must match
#   guest-file*   a host file copied into the guest's /e2e (the guest
#                 commands' working directory) under its own name, e.g. a
#                 static tool such as bench/tools/randio; a relative path
#                 not found from the current directory is taken from the
#                 repository root
#   iso           a host file or directory (a relative path not found from
#                 the current directory is taken from the repository root)
#                 made into an ISO 9660 image (Rock Ridge and Joliet, by
#                 xorriso) when the run is staged, copied before each run
#                 to /tmp/e2e-run/cd.iso in L1 (name it in args-VMM); a
#                 file lands at the image's root under its own name
#   env*          NAME=DEFAULT: a variable the guest commands and the l1-*
#                 lines see, exported at the top of each; a user overrides
#                 the default by setting NAME in run-e2e's environment
#                 (values: letters, digits, . _ : -)
#   firmware      "uefi": boot Debian's OVMF (OVMF_CODE_4M.fd, a per-run
#                 copy of OVMF_VARS_4M.fd) from the GPT disk image of
#                 tests/e2e/build-efi-disk on virtio-blk (slot 4 under
#                 beehive) instead of a direct kernel boot; GRUB on its ESP
#                 boots the same kernel and initramfs with the cmdline
#   boots         VMM starts per run (default 1), one after the other with
#                 the same files (VARS, disks); the guest sees $E2E_BOOT
#                 (e2e.boot=N on the kernel command line when boots > 1 or
#                 with firmware: uefi)
#   efi-disk      (firmware: uefi only) "none": no EFI disk, the firmware
#                 finds nothing to boot (its shell, its menus); "ahci-hd":
#                 the GPT disk above on an AHCI port (beehive ahci-hd,
#                 QEMU ahci + ide-hd); "ahci-cd": the ISO image of
#                 tests/e2e/build-efi-iso on an ATAPI CD (beehive
#                 ahci-cd, QEMU ahci + ide-cd), booted through its El
#                 Torito entry as an installer is; the default is the GPT
#                 disk on virtio-blk
#   guest-kernel  "cloud" (default): Debian's cloud kernel, the one L1 runs;
#                 "generic": Debian's generic kernel of the same ABI
#                 (tests/e2e/build-guest --generic), whose guest also loads
#                 ahci, sd_mod, sr_mod, isofs, ext4 and e1000, drivers the
#                 cloud kernel lacks (direct kernel boot only)
#   send*         "ERE => TEXT": console input. The VMM's stdin (COM1) is
#                 then a FIFO the runner holds open (else /dev/null); in
#                 each boot the steps run in order, each waiting for a NEW
#                 match of its ERE (console output after what the previous
#                 step had seen, escape sequences and CRs removed, partial
#                 lines such as a prompt included), then typing TEXT one
#                 byte every 50 ms (escapes: \r \n \t \e \\). L1 logs
#                 "L1: send N: /ERE/ matched, typed 'TEXT'" per step, "L1: send: all N
#                 steps typed" (run-e2e fails a run without it), or
#                 "L1: send N: /ERE/ never matched"
#   expect-bootN*, reject-bootN*
#                 as expect / reject, for boot N's console only
#   status-bootN, status-bootN-VMM
#                 expected VMM exit status of boot N (falling back to
#                 status-VMM, then status)
# The output of the l1-* lines is added to the console as "L1: <line>"
# lines (before, then during, then after), so expect/reject can match it.
# status and status-VMM also accept "killed": the VMM died of SIGKILL.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$E2E_DIR/../rig/rig-lib.sh"
E2E_VMMS="beehive qemu"
# UEFI firmware (Debian's ovmf) for "firmware: uefi", copied into L1 as
# /rig/<name>; the L2 VMMs get a per-run copy of the VARS file.
E2E_OVMF_CODE=${E2E_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
E2E_OVMF_VARS=${E2E_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
# Set by e2e_stage when a staged run boots UEFI: e2e_rig_args adds the
# firmware, and the disk image unless every such run has efi-disk: none.
E2E_NEED_UEFI=
E2E_NEED_EFI_DISK=
E2E_NEED_EFI_ISO=
E2E_NEED_GENERIC=
# Firmware the L2 QEMU loads for a direct kernel boot on the pc machine.
E2E_QEMU_FILES="/usr/share/seabios/bios-256k.bin
	/usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/linuxboot.bin
	/usr/share/qemu/kvmvapic.bin /usr/share/qemu/pvh.bin
	/usr/share/qemu/multiboot_dma.bin"

declare -A SCN
declare -a SCN_GUEST SCN_EXPECT SCN_REJECT SCN_L1_BEFORE SCN_L1_DURING
declare -a SCN_L1_AFTER SCN_GUEST_FILES SCN_ENV SCN_SEND
E2E_ENV_VALUE='[A-Za-z0-9._:-]*'

# e2e_parse FILE: fills SCN, SCN_GUEST, SCN_EXPECT, SCN_REJECT; bad files are
# a usage error (exit 4) naming file and line.
e2e_parse() {
	local file=$1 line key val n=0
	[ -r "$file" ] || rig_usage_error "cannot read scenario $file"
	SCN=([name]=$(basename "$file" .scn) [vmms]=$E2E_VMMS [cpus]=1
		[mem]=256M [cmdline]="console=ttyS0 panic=-1 quiet" [timeout]=60
		[status]=0 [guest-status]=0 [file]=$file
		[wait-for]='^E2E-BEGIN$' [boots]=1 [firmware]='' [efi-disk]='' [guest-kernel]=cloud)
	SCN_GUEST=() SCN_EXPECT=() SCN_REJECT=()
	SCN_L1_BEFORE=() SCN_L1_DURING=() SCN_L1_AFTER=() SCN_GUEST_FILES=() SCN_ENV=()
	SCN_SEND=()
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		case "$line" in '' | '#'*) continue ;; esac
		[[ "$line" =~ ^([a-z0-9-]+):[[:space:]]*(.*)$ ]] ||
			rig_usage_error "$file:$n: expected 'key: value'"
		key=${BASH_REMATCH[1]}
		val=${BASH_REMATCH[2]}
		case "$key" in
		guest) SCN_GUEST+=("$val") ;;
		expect) SCN_EXPECT+=("$val") ;;
		reject) SCN_REJECT+=("$val") ;;
		l1-before) SCN_L1_BEFORE+=("$val") ;;
		l1-during) SCN_L1_DURING+=("$val") ;;
		l1-after) SCN_L1_AFTER+=("$val") ;;
		guest-file)
			case "$val" in
			/*) ;;
			*) [ -f "$val" ] || val=$E2E_DIR/../../$val ;;
			esac
			[ -f "$val" ] && [ -r "$val" ] ||
				rig_usage_error "$file:$n: guest-file $val is not a readable file"
			SCN_GUEST_FILES+=("$val")
			;;
		iso)
			case "$val" in
			/*) ;;
			*) [ -e "$val" ] || val=$E2E_DIR/../../$val ;;
			esac
			[ -r "$val" ] || rig_usage_error "$file:$n: iso $val is not readable"
			SCN[$key]=$val
			;;
		env)
			[[ "$val" =~ ^([A-Z_][A-Z0-9_]*)=($E2E_ENV_VALUE)$ ]] ||
				rig_usage_error "$file:$n: env must be NAME=DEFAULT"
			SCN_ENV+=("$val")
			;;
		expect-stderr | expect-stderr-beehive | expect-stderr-qemu)
			SCN[$key]+="$val"$'\n'
			;;
		expect-boot[1-9]* | reject-boot[1-9]*)
			[[ "$key" =~ ^(expect|reject)-boot[1-9][0-9]*$ ]] ||
				rig_usage_error "$file:$n: unknown key '$key'"
			SCN[$key]+="$val"$'\n'
			;;
		status-boot[1-9]*)
			[[ "$key" =~ ^status-boot[1-9][0-9]*(-beehive|-qemu)?$ ]] ||
				rig_usage_error "$file:$n: unknown key '$key'"
			[[ "$val" =~ ^([0-9]+|killed)$ ]] ||
				rig_usage_error "$file:$n: $key must be a number or 'killed'"
			SCN[$key]=$val
			;;
		firmware)
			[ "$val" = uefi ] ||
				rig_usage_error "$file:$n: firmware must be 'uefi'"
			SCN[$key]=$val
			;;
		guest-kernel)
			case "$val" in cloud | generic) ;; *)
				rig_usage_error "$file:$n: guest-kernel must be cloud or generic"
				;;
			esac
			SCN[$key]=$val
			;;
		efi-disk)
			[[ "$val" =~ ^(none|ahci-hd|ahci-cd)$ ]] ||
				rig_usage_error "$file:$n: efi-disk must be none, ahci-hd or ahci-cd"
			SCN[$key]=$val
			;;
		send)
			[[ "$val" =~ ^(.+)\ =\>\ (.+)$ ]] ||
				rig_usage_error "$file:$n: send must be 'ERE => TEXT'"
			e2e_send_codes "${val#* => }" >/dev/null ||
				rig_usage_error "$file:$n: send: bad escape in TEXT (\\r \\n \\t \\e \\\\)"
			SCN_SEND+=("$val")
			;;
		name | vmms | cmdline | l1-smp | description | wait-for) SCN[$key]=$val ;;
		signal)
			[[ "$val" =~ ^(TERM|KILL|INT|HUP)\ after\ (.+)$ ]] ||
				rig_usage_error "$file:$n: signal must be 'TERM|KILL|INT|HUP after REGEX'"
			SCN[signal]=$val
			;;
		status | status-beehive | status-qemu)
			[[ "$val" =~ ^([0-9]+|killed)$ ]] ||
				rig_usage_error "$file:$n: $key must be a number or 'killed'"
			SCN[$key]=$val
			;;
		cpus | timeout | guest-status)
			[[ "$val" =~ ^[0-9]+$ ]] ||
				rig_usage_error "$file:$n: $key must be a number"
			SCN[$key]=$val
			;;
		repeat | boots)
			[[ "$val" =~ ^[1-9][0-9]*$ ]] ||
				rig_usage_error "$file:$n: $key must be a positive number"
			SCN[$key]=$val
			;;
		mem | l1-mem | disk)
			[[ "$val" =~ ^[1-9][0-9]*[MG]$ ]] ||
				rig_usage_error "$file:$n: $key must look like 256M or 1G"
			SCN[$key]=$val
			;;
		args-beehive | args-qemu) SCN[$key]=$val ;;
		*) rig_usage_error "$file:$n: unknown key '$key'" ;;
		esac
	done <"$file"
	[[ "${SCN[name]}" =~ ^[A-Za-z0-9._-]+$ ]] ||
		rig_usage_error "$file: bad name '${SCN[name]}'"
	[ -n "${SCN[l1-smp]:-}" ] || SCN[l1-smp]=${SCN[cpus]}
	[[ "${SCN[l1-smp]}" =~ ^[1-9][0-9]*$ ]] ||
		rig_usage_error "$file: l1-smp must be a number"
	[ -n "${SCN[l1-mem]:-}" ] || SCN[l1-mem]=2G
	if [ -n "${SCN[repeat]:-}" ] && [ -n "${E2E_REPEAT:-}" ]; then
		[[ "$E2E_REPEAT" =~ ^[1-9][0-9]*$ ]] ||
			rig_usage_error "E2E_REPEAT must be a positive integer"
		SCN[repeat]=$E2E_REPEAT
	fi
	[ -n "${SCN[repeat]:-}" ] || SCN[repeat]=1
	[ -z "${SCN[efi-disk]}" ] || [ "${SCN[firmware]}" = uefi ] ||
		rig_usage_error "$file: efi-disk needs firmware: uefi"
	[ "${SCN[guest-kernel]}" = cloud ] || [ "${SCN[firmware]}" != uefi ] ||
		rig_usage_error "$file: guest-kernel: generic needs a direct kernel boot (no firmware: uefi)"
	for key in "${!SCN[@]}"; do
		[[ "$key" =~ ^(expect|reject|status)-boot([0-9]+) ]] || continue
		[ "${BASH_REMATCH[2]}" -le "${SCN[boots]}" ] ||
			rig_usage_error "$file: $key, but the scenario has boots: ${SCN[boots]}"
	done
	# Rig times stretch with host load; E2E_TIMEOUT_SCALE=N gives slow or
	# busy machines N times the time limits.
	[[ "${E2E_TIMEOUT_SCALE:-1}" =~ ^[1-9][0-9]*$ ]] ||
		rig_usage_error "E2E_TIMEOUT_SCALE must be a positive integer"
	SCN[timeout]=$((SCN[timeout] * ${E2E_TIMEOUT_SCALE:-1}))
	return 0
}

# e2e_send_codes TEXT: the bytes of a send step's TEXT, escapes resolved
# (\r \n \t \e \\), as octal numbers separated by blanks; fails on any
# other escape.
e2e_send_codes() {
	local t=$1 c out=
	while [ -n "$t" ]; do
		c=${t:0:1}
		t=${t:1}
		if [ "$c" = "\\" ]; then
			c=${t:0:1}
			t=${t:1}
			case "$c" in
			r) out+=" 015" ;;
			n) out+=" 012" ;;
			t) out+=" 011" ;;
			e) out+=" 033" ;;
			"\\") out+=" 134" ;;
			*) return 1 ;;
			esac
		else
			out+=$(printf ' %03o' "'$c")
		fi
	done
	echo "${out# }"
}

# e2e_mib SIZE: 256M or 2G in MiB.
e2e_mib() {
	case "$1" in
	*G) echo $((${1%G} * 1024)) ;;
	*M) echo "${1%M}" ;;
	esac
}

# e2e_applies VMM: whether the parsed scenario runs under VMM.
e2e_applies() {
	case " ${SCN[vmms]} " in *" $1 "*) return 0 ;; esac
	return 1
}

# e2e_expected_status VMM [BOOT]: the exit status wanted of VMM (at BOOT).
e2e_expected_status() {
	local b=${2:-1}
	echo "${SCN[status-boot$b-$1]:-${SCN[status-boot$b]:-${SCN[status-$1]:-${SCN[status]}}}}"
}

# e2e_boot_cmdline BOOT: the guest kernel command line of boot BOOT.
e2e_boot_cmdline() {
	if [ "${SCN[boots]}" -gt 1 ] || [ "${SCN[firmware]}" = uefi ]; then
		echo "${SCN[cmdline]} e2e.boot=$1"
	else
		echo "${SCN[cmdline]}"
	fi
}

# e2e_argv VMM [BOOT]: the VMM command line (paths as seen in L1) into
# E2E_ARGV.
e2e_argv() {
	local extra=${SCN[args-$1]:-} cmdline
	local initrd=/tmp/e2e-run/initrd.cpio run=/tmp/e2e-run
	local code=/rig/${E2E_OVMF_CODE##*/} kernel=/rig/vmlinuz
	[ "${SCN[guest-kernel]}" = generic ] && kernel=/rig/vmlinuz-generic
	cmdline=$(e2e_boot_cmdline "${2:-1}")
	case "$1${SCN[firmware]:+-${SCN[firmware]}}" in
	qemu-uefi)
		# shellcheck disable=SC2054 # QEMU's -drive options use commas
		E2E_ARGV=(qemu-system-x86_64 -accel kvm -cpu host
			-smp "${SCN[cpus]}" -m "${SCN[mem]}" -nodefaults
			-no-user-config -display none -serial stdio -no-reboot
			-drive "if=pflash,format=raw,readonly=on,file=$code"
			-drive "if=pflash,format=raw,file=$run/vars.fd")
		case "${SCN[efi-disk]}" in
		none) ;;
		ahci-hd)
			E2E_ARGV+=(-drive "if=none,id=efidisk,format=raw,file=$run/efi.img"
				-device ahci,id=ahci0 -device "ide-hd,drive=efidisk,bus=ahci0.0")
			;;
		ahci-cd)
			E2E_ARGV+=(-drive "if=none,id=efidisk,format=raw,media=cdrom,readonly=on,file=$run/efi.img"
				-device ahci,id=ahci0 -device "ide-cd,drive=efidisk,bus=ahci0.0")
			;;
		*)
			E2E_ARGV+=(-drive "if=none,id=efidisk,format=raw,file=$run/efi.img"
				-device "virtio-blk-pci,drive=efidisk")
			;;
		esac
		;;
	beehive-uefi)
		E2E_ARGV=(/rig/bhyve -c "${SCN[cpus]}" -m "${SCN[mem]}"
			-l "bootrom,$code,$run/vars.fd")
		case "${SCN[efi-disk]}" in
		none) ;;
		ahci-hd | ahci-cd) E2E_ARGV+=(-s "4,${SCN[efi-disk]},$run/efi.img") ;;
		*) E2E_ARGV+=(-s "4,virtio-blk,$run/efi.img") ;;
		esac
		E2E_ARGV+=(-l "com1,stdio")
		;;
	qemu)
		E2E_ARGV=(qemu-system-x86_64 -accel kvm -cpu host
			-smp "${SCN[cpus]}" -m "${SCN[mem]}" -nodefaults
			-no-user-config -display none -serial stdio -no-reboot
			-kernel "$kernel" -initrd "$initrd"
			-append "$cmdline")
		;;
	beehive)
		E2E_ARGV=(/rig/bhyve -c "${SCN[cpus]}" -m "${SCN[mem]}"
			-l com1,stdio -o "boot.kernel=$kernel"
			-o "boot.initrd=$initrd" -o "boot.cmdline=$cmdline")
		;;
	*) rig_usage_error "unknown VMM $1 (beehive or qemu)" ;;
	esac
	# shellcheck disable=SC2206
	[ -n "$extra" ] && E2E_ARGV+=($extra)
	[ "$1" = beehive ] && E2E_ARGV+=("e2e-${SCN[name]}")
	return 0
}

# e2e_env_lines: the scenario's env variables as "export NAME='value'"
# lines, each value taken from this environment when set there.
e2e_env_lines() {
	local kv name val
	for kv in ${SCN_ENV[@]+"${SCN_ENV[@]}"}; do
		name=${kv%%=*}
		val=${!name-${kv#*=}}
		[[ "$val" =~ ^$E2E_ENV_VALUE$ ]] ||
			rig_usage_error "$name='$val': allowed are letters, digits, . _ : -"
		printf "export %s='%s'\n" "$name" "$val"
	done
}

# e2e_write_lines FILE LINE...: writes the L1 script FILE when there are
# lines, after the scenario's env variables.
e2e_write_lines() {
	local f=$1
	shift
	[ $# -gt 0 ] || return 0
	{
		e2e_env_lines
		printf '%s\n' "$@"
	} >"$f"
}

# e2e_stage STAGE ID VMM: stages one run of the parsed scenario: vars.sh,
# argv.N (the VMM command of boot N), env.N (boot N's GRUB environment
# block, firmware: uefi), send.N (step N of the console input: the octal
# codes of its bytes, then its ERE), overlay.cpio and the l1-*.sh scripts.
e2e_stage() {
	local dir=$1/$2 vmm=$3 a cmd b
	mkdir -p "$dir/overlay/e2e"
	b=0
	for a in ${SCN_SEND[@]+"${SCN_SEND[@]}"}; do
		b=$((b + 1))
		{
			e2e_send_codes "${a#* => }"
			printf '%s\n' "${a%% => *}"
		} >"$dir/send.$b"
	done
	for ((b = 1; b <= SCN[boots]; b++)); do
		e2e_argv "$vmm" "$b"
		{
			printf 'set --'
			for a in "${E2E_ARGV[@]}"; do printf ' %s' "$(rig_sq "$a")"; done
			printf '\n'
		} >"$dir/argv.$b"
		if [ "${SCN[firmware]}" = uefi ]; then
			E2E_NEED_UEFI=1
			case "${SCN[efi-disk]}" in
			none) ;;
			ahci-cd) E2E_NEED_EFI_ISO=1 ;;
			*) E2E_NEED_EFI_DISK=1 ;;
			esac
			if ! grub-editenv "$dir/env.$b" create ||
				! grub-editenv "$dir/env.$b" set "e2e_boot=$b" \
					"e2e_cmdline=$(e2e_boot_cmdline "$b")"; then
				rig_die "grub-editenv failed (install grub-common)"
			fi
		fi
	done
	e2e_argv "$vmm" 1
	{
		echo "E2E_NAME=$(rig_sq "${SCN[name]}")"
		echo "E2E_VMM=$vmm"
		echo "E2E_TIMEOUT=${SCN[timeout]}"
		if [ -n "${SCN[disk]:-}" ]; then
			echo "E2E_DISK_MIB=$(e2e_mib "${SCN[disk]}")"
		fi
		echo "E2E_WAIT_FOR=$(rig_sq "${SCN[wait-for]}")"
		echo "E2E_BOOTS=${SCN[boots]}"
		if [ "${SCN[guest-kernel]}" = generic ]; then
			E2E_NEED_GENERIC=1
			echo "E2E_GUEST_BASE=/rig/guest-base-generic.cpio"
		fi
		[ "${SCN[firmware]}" != uefi ] || echo "E2E_UEFI=1"
		[ -z "${SCN[efi-disk]}" ] || echo "E2E_EFI_DISK=${SCN[efi-disk]}"
		echo "E2E_SENDS=${#SCN_SEND[@]}"
		if [ -n "${SCN[signal]:-}" ]; then
			echo "E2E_SIGNAL=${SCN[signal]%% *}"
			echo "E2E_SIGNAL_AFTER=$(rig_sq "${SCN[signal]#* after }")"
		fi
		printf 'set --'
		for a in "${E2E_ARGV[@]}"; do printf ' %s' "$(rig_sq "$a")"; done
		printf '\n'
	} >"$dir/vars.sh"
	{
		e2e_env_lines
		for cmd in ${SCN_GUEST[@]+"${SCN_GUEST[@]}"}; do
			printf '%s\n' "$cmd"
		done
	} >"$dir/overlay/e2e/scenario.sh"
	for a in ${SCN_GUEST_FILES[@]+"${SCN_GUEST_FILES[@]}"}; do
		cp "$a" "$dir/overlay/e2e/"
	done
	if [ -n "${SCN[iso]:-}" ]; then
		command -v xorriso >/dev/null || rig_die "xorriso not found (install xorriso)"
		xorriso -as mkisofs -quiet -r -J -V E2ECD -o "$dir/cd.iso" \
			"${SCN[iso]}" >"$dir/xorriso.log" 2>&1 || {
			cat "$dir/xorriso.log" >&2
			rig_die "xorriso failed on ${SCN[iso]}"
		}
		rm -f "$dir/xorriso.log"
	fi
	e2e_write_lines "$dir/l1-before.sh" ${SCN_L1_BEFORE[@]+"${SCN_L1_BEFORE[@]}"}
	e2e_write_lines "$dir/l1-during.sh" ${SCN_L1_DURING[@]+"${SCN_L1_DURING[@]}"}
	e2e_write_lines "$dir/l1-after.sh" ${SCN_L1_AFTER[@]+"${SCN_L1_AFTER[@]}"}
	rig_mkcpio "$dir/overlay" "$dir/overlay.cpio"
	rm -rf "$dir/overlay"
}

# e2e_build_unixcat: builds (when missing or older than its source) the static
# Unix-socket client tests/rig/unixcat.c into $RIG_CACHE and prints its path;
# L1's busybox nc has no -U, and scenarios talk to beehive's sockets with it.
e2e_build_unixcat() {
	local src=$E2E_DIR/../rig/unixcat.c out=$RIG_CACHE/unixcat
	if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
		mkdir -p "$RIG_CACHE"
		# shellcheck disable=SC2086
		${CC:-gcc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
			-Wstrict-prototypes -Wmissing-prototypes -O2 -static \
			-o "$out.tmp.$$" "$src" >&2 || rig_die "cannot build $src"
		mv -f "$out.tmp.$$" "$out"
	fi
	echo "$out"
}

# e2e_rig_args VMM...: rig-run --add options for the kernel, guest image,
# runner, L1 tools (/rig/unixcat) and each VMM's binary (with libraries and
# firmware) into E2E_ADDS, plus each HOST:L1 pair of $E2E_XADD (spaces
# between pairs): tools for investigating a run, such as perf or
# bench/tools/kstack, that scenarios can then call in l1-during lines.
e2e_rig_args() {
	local vmm f uc
	uc=$(e2e_build_unixcat) || exit 125
	E2E_ADDS=(--add "$(rig_kernel):/rig/vmlinuz"
		--add "$("$E2E_DIR/build-guest"):/rig/guest-base.cpio"
		--add "$uc:/rig/unixcat")
	for vmm in "$@"; do
		case "$vmm" in
		qemu)
			f=$(command -v qemu-system-x86_64) ||
				rig_die "qemu-system-x86_64 not found"
			E2E_ADDS+=(--add "$f:/usr/bin/qemu-system-x86_64")
			for f in $E2E_QEMU_FILES; do
				[ -e "$f" ] && E2E_ADDS+=(--add "$f:$f")
			done
			;;
		beehive)
			[ -x "$E2E_BHYVE" ] ||
				rig_usage_error "no beehive binary at $E2E_BHYVE (build it, or set BEEHIVE=path)"
			E2E_ADDS+=(--add "$E2E_BHYVE:/rig/bhyve")
			# bhyvectl from the same build, for scenarios that
			# inspect a running guest (smp-boot-loop on a hang).
			f=$(dirname "$E2E_BHYVE")/bhyvectl
			[ -x "$f" ] && E2E_ADDS+=(--add "$f:/rig/bhyvectl")
			;;
		esac
	done
	if [ -n "$E2E_NEED_UEFI" ]; then
		for f in "$E2E_OVMF_CODE" "$E2E_OVMF_VARS"; do
			[ -r "$f" ] || rig_die "no $f (install ovmf)"
		done
		E2E_ADDS+=(--add "$E2E_OVMF_CODE:/rig/${E2E_OVMF_CODE##*/}"
			--add "$E2E_OVMF_VARS:/rig/OVMF_VARS.fd")
	fi
	if [ -n "$E2E_NEED_EFI_DISK" ]; then
		f=$("$E2E_DIR/build-efi-disk") || exit 125
		E2E_ADDS+=(--add "$f:/rig/efi-disk.img" --add "$f.layout:/rig/efi-disk.layout")
	fi
	if [ -n "${E2E_NEED_EFI_ISO:-}" ]; then
		f=$("$E2E_DIR/build-efi-iso") || exit 125
		E2E_ADDS+=(--add "$f:/rig/efi-cd.img" --add "$f.layout:/rig/efi-cd.layout")
	fi
	if [ -n "$E2E_NEED_GENERIC" ]; then
		f=$(rig_generic_kernel) || exit 125
		E2E_ADDS+=(--add "$f:/rig/vmlinuz-generic"
			--add "$("$E2E_DIR/build-guest" --generic):/rig/guest-base-generic.cpio")
	fi
	for f in ${E2E_XADD:-}; do E2E_ADDS+=(--add "$f"); done
}

# e2e_run_rig STAGE RESULTS SMP TIMEOUT VMM...: boots L1 once (with
# $E2E_L1_MEM of memory, default 2G), runs every staged run, and splits the
# output into RESULTS/ID.{console,stderr,end}, with RESULTS/ID.boots (one
# "N status=... " line per VMM start) and RESULTS/ID.bootN.console (the
# console of start N alone).
# Calls e2e_on_result ID (defined by the caller) as each run finishes.
# Returns rig-run's exit status (0 when L1 ran the runner to its end).
e2e_run_rig() {
	local stage=$1 results=$2 smp=$3 timeout=$4 line id= rc boot=1
	shift 4
	e2e_rig_args "$@"
	mkdir -p "$results"
	: >"$results/rig.stderr"
	# The pipe is read as L1 produces it so results appear as runs finish.
	while IFS= read -r line; do
		case "$line" in
		"@@E2E-BEGIN "*)
			id=${line#@@E2E-BEGIN }
			: >"$results/$id.console"
			: >"$results/$id.stderr"
			: >"$results/$id.boots"
			boot=1
			: >"$results/$id.boot$boot.console"
			;;
		B\|*)
			[ -n "$id" ] || continue
			printf '%s\n' "${line#B|}" >>"$results/$id.boots"
			boot=$((boot + 1))
			: >"$results/$id.boot$boot.console"
			;;
		"@@E2E-END "*)
			[ -n "$id" ] && echo "${line#@@E2E-END }" >"$results/$id.end" &&
				e2e_on_result "$id"
			id=
			;;
		"@@E2E-FATAL "*) echo "${line#@@E2E-FATAL }" >>"$results/rig.stderr" ;;
		"@@E2E-DONE") : >"$results/done" ;;
		C\|*)
			[ -n "$id" ] || continue
			printf '%s\n' "${line#C|}" >>"$results/$id.console"
			printf '%s\n' "${line#C|}" >>"$results/$id.boot$boot.console"
			;;
		E\|*) [ -n "$id" ] && printf '%s\n' "${line#E|}" >>"$results/$id.stderr" ;;
		esac
	done < <("$E2E_DIR/../rig/rig-run" --smp "$smp" --mem "${E2E_L1_MEM:-2G}" \
		--timeout "$timeout" "${E2E_ADDS[@]}" --add "$stage:/rig/e2e" \
		"$E2E_DIR/l1-runner.sh" 2>>"$results/rig.stderr"
	echo "rig-run exit $?" >>"$results/rig.stderr")
	wait $! 2>/dev/null
	rc=$(sed -n 's/^rig-run exit //p' "$results/rig.stderr" | tail -n 1)
	return "${rc:-125}"
}

# e2e_field ID KEY: a field of the run's @@E2E-END line.
e2e_field() {
	sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$E2E_RESULTS/$1.end"
}

# e2e_boot_field ID BOOT KEY: a field of the run's VMM start BOOT (empty when
# that boot did not run).
e2e_boot_field() {
	sed -n "s/^$2 .*\\b$3=\\([^ ]*\\).*/\\1/p" "$E2E_RESULTS/$1.boots"
}

e2e_clean() {
	rig_clean "$1"
}
