# bhyvectl and the VM registry against running VMs (needs /dev/kvm; the
# runner, run-ctl-tests, brings it here through the nested rig).  POSIX sh
# (busybox ash in the rig).  One PASS:/FAIL: line per check.
#
#   sh ctl-checks.sh BHYVE BHYVECTL PAYLOAD MARKER NMICOUNT START END
#
# PAYLOAD is ctl-spin.elf; MARKER, NMICOUNT, START and END are the
# addresses of ctl_marker, ctl_nmi_count, ctl_spin_start and ctl_spin_end.
# The ELF core is printed gzip+base64 between CORE-BEGIN and CORE-END for
# the runner to check with gdb on the host.

BHYVE=$1
BHYVECTL=$2
PAYLOAD=$3
MARKER=$4
NMICOUNT=$5
START=$6
END=$7
RD=${TMPDIR:-/tmp}/ctl-rundir.$$
OUT=${TMPDIR:-/tmp}/ctl-out.$$
mkdir -p "$OUT"
fails=0

t0=$(date +%s)
pass() { echo "PASS: ctl: $1"; }
fail() {
	echo "FAIL: ctl: $1"
	fails=$((fails + 1))
}
# check NAME COMMAND...: PASS when the command succeeds.
check() {
	_name=$1
	shift
	if "$@"; then pass "$_name"; else fail "$_name"; fi
}
ctl() { "$BHYVECTL" --rundir="$RD" "$@"; }

# start_vm NAME: starts bhyve in the background (in this shell, so that
# wait works), its pid in $vm_pid.
start_vm() {
	"$BHYVE" -c 1 -m 32M -o rundir="$RD" -o boot.kernel="$PAYLOAD" "$1" \
		>"$OUT/$1.log" 2>&1 &
	vm_pid=$!
}

# Waits until the guest has published its marker ("!beehive").
# (Helpers use their own variable names: sh has no local variables.)
wait_ready() {
	_w=0
	while [ $_w -lt 150 ]; do
		if timeout 10 "$BHYVECTL" --rundir="$RD" --vm="$1" \
			--read-mem="$MARKER",8 2>/dev/null |
			grep -q '|!beehive|'; then
			return 0
		fi
		sleep 0.2
		_w=$((_w + 1))
	done
	return 1
}

# out_has PATTERN ARGS...: bhyvectl ARGS succeeds and prints PATTERN.
out_has() {
	_pat=$1
	shift
	ctl "$@" 2>&1 | grep -q -- "$_pat"
}
# fails_with PATTERN ARGS...: bhyvectl ARGS exits 1 saying PATTERN.
fails_with() {
	_pat=$1
	shift
	_msg=$(ctl "$@" 2>&1)
	[ $? -eq 1 ] && echo "$_msg" | grep -q -- "$_pat"
}

reg() { # reg NAME: the value bhyvectl prints for --get-NAME on vm1
	ctl --vm=vm1 --get-"$1" | awk '{print $2}'
}

# ---- one VM, every operation ----
start_vm vm1
pid=$vm_pid
if ! wait_ready vm1; then
	fail "vm1 did not start"
	sed 's/^/# /' "$OUT/vm1.log"
	timeout 10 "$BHYVECTL" --rundir="$RD" --list 2>&1 | sed 's/^/# /'
	timeout 10 "$BHYVECTL" --rundir="$RD" --vm=vm1 --get-rip 2>&1 |
		sed 's/^/# /'
	kill -9 "$pid" 2>/dev/null
	exit 1
fi
pass "vm1 started and registered"
echo "# vm1 ready after $(($(date +%s) - t0)) s"

rip=$(reg rip)
check "--get-rip inside the guest's idle loop ($rip)" \
	test $((rip)) -ge $((START)) -a $((rip)) -le $((END))
check "--get-rax shows the value the guest loaded" \
	test "$(reg rax)" = 0xbee1bee2bee3bee4
ctl --vm=vm1 --set-rbx=0x42
check "--set-rbx then --get-rbx" test "$(reg rbx)" = 0x0000000000000042
cr0=$(reg cr0)
check "--get-cr0 has PG and PE" test $((cr0 & 0x80000001)) -eq $((0x80000001))
efer=$(reg efer)
check "--get-efer has LMA" test $((efer & 0x400)) -ne 0
check "--get-cs is the kernel code selector" test "$(reg cs)" = 0x0008
access=$(ctl --vm=vm1 --get-desc-cs | awk '{print $NF}')
check "--get-desc-cs: a long-mode code segment ($access)" \
	test $((access & 0x2000)) -ne 0
check "--get-gdtr" out_has '^gdtr\[0\]' --vm=vm1 --get-gdtr
check "--get-all prints every register" \
	test "$(ctl --vm=vm1 --get-all | wc -l)" -ge 40
check "--get-stats lists KVM counters" out_has exits --vm=vm1 --get-stats
check "--get-lowmem is 32 MiB" out_has 0x0000000002000000 --vm=vm1 --get-lowmem
check "--get-memmap" out_has 'len 0x2000000' --vm=vm1 --get-memmap
check "--get-active-cpus" out_has 'active cpus:.*0' --vm=vm1 --get-active-cpus
gpa=$(printf '0x%016x' $((MARKER)))
check "--gla2gpa through the guest's page tables (identity map)" \
	out_has "gpa $gpa (4-level" --vm=vm1 --gla2gpa="$MARKER"
check "--gla2gpa of an unmapped address fails" \
	fails_with 'not mapped' --vm=vm1 --gla2gpa=0x0000400000000000

check "--inject-nmi" ctl --vm=vm1 --inject-nmi
n=0
while [ $n -lt 50 ] && ! out_has ' 01 00 00 00 00 00 00 00 ' --vm=vm1 \
	--read-mem="$NMICOUNT",8; do
	sleep 0.1
	n=$((n + 1))
done
check "the guest's NMI handler ran once" test $n -lt 50

# ---- errors: one clear line, exit 1 ----
check "bad register name: exit 1, clear message" \
	fails_with "unknown register 'foo'" --vm=vm1 --get-foo
check "no such VM: exit 1, clear message" \
	fails_with "no VM named 'nosuchvm'" --vm=nosuchvm --get-rip
check "address outside RAM: exit 1, clear message" \
	fails_with 'not inside guest RAM' --vm=vm1 --read-mem=0x7ffffff0,16

# ---- core dump ----
if ctl --vm=vm1 --write-core="$OUT/core" >/dev/null &&
	[ "$(head -c 4 "$OUT/core" | od -An -c | tr -d ' ')" = '177ELF' ]; then
	pass "--write-core wrote an ELF file"
	echo "CORE-BEGIN"
	gzip -c "$OUT/core" | base64
	echo "CORE-END"
else
	fail "--write-core"
fi
rip2=$(reg rip)
check "the guest runs on after the dump (rip $rip2 in the loop)" \
	test $((rip2)) -ge $((START)) -a $((rip2)) -le $((END))

# ---- registry ----
check "--list shows vm1 with its pid" out_has "^vm1  *$pid " --list
"$BHYVE" -c 1 -m 32M -o rundir="$RD" -o boot.kernel="$PAYLOAD" vm1 \
	>"$OUT/dup.log" 2>&1
st=$?
check "a second bhyve named vm1 exits 4" test $st -eq 4
check "... saying who owns the name" \
	grep -q "a VM named 'vm1' is already running (pid $pid)" "$OUT/dup.log"

check "--force-poweroff" ctl --vm=vm1 --force-poweroff
wait "$pid"
st=$?
check "bhyve exits 1 after --force-poweroff ($st)" test $st = 1
check "vm1's entry is gone" test ! -e "$RD/vm1"

# ---- twenty at once ----
pids=""
i=1
while [ $i -le 20 ]; do
	start_vm "m$i"
	pids="$pids $vm_pid"
	i=$((i + 1))
done
n=0
while [ $n -lt 600 ]; do
	count=$(ctl --list | tail -n +2 | wc -l)
	[ "$count" -eq 20 ] && break
	sleep 0.2
	n=$((n + 1))
done
check "20 VMs started at once are all registered ($count listed)" \
	test "$count" -eq 20
echo "# 20 registered after $(($(date +%s) - t0)) s"
# One deadline for all twenty: each round asks every guest not yet seen.
ready=0
waiting=" $(seq -s ' ' 1 20) "
deadline=$(($(date +%s) + 180))
while [ $ready -lt 20 ] && [ "$(date +%s)" -lt $deadline ]; do
	for i in $waiting; do
		if timeout 10 "$BHYVECTL" --rundir="$RD" --vm="m$i" \
			--read-mem="$MARKER",8 2>/dev/null |
			grep -q '|!beehive|'; then
			ready=$((ready + 1))
			waiting=$(echo "$waiting" | sed "s/ $i / /")
		fi
	done
	sleep 0.5
done
check "all 20 guests are running ($ready)" test $ready -eq 20
n=0
for i in $waiting; do
	[ $n -lt 3 ] || break
	n=$((n + 1))
	echo "# m$i not ready: $(timeout 10 "$BHYVECTL" --rundir="$RD" \
		--vm="m$i" --get-rip 2>&1)"
	sed 's/^/#   /' "$OUT/m$i.log"
done
[ $ready -eq 20 ] || ps | sed 's/^/#   /' | grep -e bhyve -e PID
echo "# 20 running after $(($(date +%s) - t0)) s"
ctl --vm=m1 --force-reset >/dev/null
ctl --vm=m2 --destroy >/dev/null
i=1
for p in $pids; do
	if [ $i -ge 3 ] && [ $i -le 10 ]; then
		ctl --vm="m$i" --force-poweroff >/dev/null
	elif [ $i -gt 10 ]; then
		kill -TERM "$p"
	fi
	i=$((i + 1))
done
statuses=""
for p in $pids; do
	wait "$p"
	statuses="$statuses $?"
done
set -- $statuses
check "--force-reset: bhyve exits 0" test "$1" = 0
check "--destroy: bhyve exits 4" test "$2" = 4
shift 2
ok=1
for s in "$@"; do [ "$s" = 1 ] || ok=0; done
check "poweroff and SIGTERM: the other 18 exit 1 ($*)" test $ok = 1
check "all 20 entries gone after they exit" \
	test -z "$(ls -A "$RD" 2>/dev/null)"

rm -rf "$OUT" "$RD"
[ $fails -eq 0 ]
