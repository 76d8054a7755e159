#!/bin/sh
# Runs the gdb sessions against bhyve on /dev/kvm.  Plain POSIX sh: it
# runs inside the nested rig's L1 (busybox) as well.
#
#   gdb-session.sh BHYVE GDB PAYLOAD_ELF32 PAYLOAD_ELF64 SESSION_DIR
#
# Each session starts bhyve -G w127.0.0.1:PORT on gdb-target.c and runs
# gdb -batch with SESSION_DIR/session-<name>.gdb; its "CHECK name 1"
# lines and the logs become PASS:/FAIL: lines.  GDB_IN_RIG=1 says this is
# the nested rig, whose L1 KVM never sees int3 or debug-register
# breakpoints of its guest (QEMU TCG's nested SVM raises them in L2
# directly): breakpoint sessions then report SKIP when the guest took the
# breakpoint itself.  Exits non-zero if anything failed.
BHYVE=$1 GDB=$2 ELF=$3 ELF64=$4 DIR=$5
PORT=${GDB_TEST_PORT:-12345}
WORK=${TMPDIR:-/tmp}/gdb-session.$$
mkdir -p "$WORK"
fails=0

pass() { echo "PASS: gdb: $1"; }
fail() { echo "FAIL: gdb: $1"; fails=$((fails + 1)); }

# Loopback is down in a fresh L1.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

# wait_gone PID TENTHS: waits up to TENTHS/10 s for PID to exit.
wait_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt "$2" ]; do
		i=$((i + 1))
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# session NAME INTERRUPT(0/1): runs one bhyve + gdb pair; leaves
# $WORK/NAME.gdb.log, $WORK/NAME.bhyve.log and $WORK/NAME.status.
session() {
	name=$1 log=$WORK/$1
	"$BHYVE" -c 2 -m 64M -l testdev -o boot.kernel="$ELF" \
		-G "w127.0.0.1:$PORT" "gdb-$name" >"$log.bhyve.log" 2>&1 &
	bpid=$!
	i=0
	until grep -q "waiting for a debugger" "$log.bhyve.log"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $bpid 2>/dev/null; then
			fail "$name: bhyve did not wait for the debugger"
			cat "$log.bhyve.log"
			kill -9 $bpid 2>/dev/null
			return
		fi
		sleep 0.1
	done
	"$GDB" -nx -batch -ex "target remote 127.0.0.1:$PORT" \
		-x "$DIR/session-$name.gdb" "$ELF64" >"$log.gdb.log" 2>&1 &
	gpid=$!
	if [ "$2" = 1 ]; then
		i=0
		until grep -q "^READY-FOR-INTERRUPT" "$log.gdb.log"; do
			i=$((i + 1))
			[ $i -gt 600 ] || ! kill -0 $gpid 2>/dev/null && break
			sleep 0.1
		done
		sleep 1 # let the guest reach its spin loop
		kill -INT $gpid 2>/dev/null
	fi
	wait_gone $gpid 1200 || { fail "$name: gdb hung"; kill -9 $gpid; }
	wait $gpid
	# A sanitizer build under TCG takes a while to exit (leak check).
	wait_gone $bpid 600 || { fail "$name: bhyve still running"; kill -9 $bpid; }
	wait $bpid
	echo $? >"$log.status"
}

# judge NAME CHECK...: one PASS/FAIL per CHECK line expected.
judge() {
	name=$1
	shift
	for c in "$@"; do
		if grep -q "^CHECK $c 1\$" "$WORK/$name.gdb.log"; then
			pass "$name: $c"
		else
			fail "$name: $c: $(grep "^CHECK $c " "$WORK/$name.gdb.log" || echo 'no result')"
		fi
	done
}

# expect NAME WHAT REGEX FILE-SUFFIX
expect() {
	if grep -q -E "$3" "$WORK/$1.$4"; then
		pass "$1: $2"
	else
		fail "$1: $2: no /$3/ in $4"
	fi
}

finish() {
	name=$1
	st=$(cat "$WORK/$name.status" 2>/dev/null)
	expect "$name" "exit reported to gdb" 'exited with code 01' gdb.log
	expect "$name" "guest passed its checks" '^testdev: pass' bhyve.log
	if [ "$st" = 1 ]; then pass "$name: bhyve exit status 1"; else fail "$name: bhyve exit status $st, want 1"; fi
}

dump() {
	echo "--- $1: gdb"
	cat "$WORK/$1.gdb.log"
	echo "--- $1: bhyve"
	cat "$WORK/$1.bhyve.log"
}

# Breakpoints the rig's L1 cannot see: the guest took the #BP itself, or
# ran to its end without stopping.
rig_missed() {
	[ "${GDB_IN_RIG:-0}" = 1 ] || return 1
	grep -q "unexpected #BP" "$WORK/$1.bhyve.log" && return 0
	! grep -q "^CHECK" "$WORK/$1.gdb.log"
}

f0=$fails
session core 1
pass "core: bhyve waits for the debugger (-G w)"
judge core wait-at-entry ap-thread mem-read-nopaging stepi stepi-2 \
	interrupt-in-spin rbx xmm0 st0 cr0 efer cs fs_base mem-read-paging \
	data-read stepi-spin reg-write mem-write
expect core "vCPUs as threads" 'Thread 2 \(vCPU 1\)' gdb.log
expect core "Ctrl-C stops the guest" 'received signal SIGINT' gdb.log
finish core
[ $fails -ne $f0 ] && dump core

for s in swbreak hwbreak; do
	f0=$fails
	if [ $s = hwbreak ] && [ "${GDB_IN_RIG:-0}" = 1 ]; then
		# The guest would spin on: the DR7 breakpoint never reaches L1.
		echo "SKIP: gdb: hwbreak: the rig's nested SVM (QEMU TCG) does" \
			"not deliver L2 debug-register breakpoints to L1 KVM;" \
			"needs hardware KVM"
		continue
	fi
	session $s 0
	if rig_missed $s; then
		echo "SKIP: gdb: $s: the rig's nested SVM (QEMU TCG) does not" \
			"deliver L2 int3/DR7 breakpoints to L1 KVM; needs" \
			"hardware KVM"
		continue
	fi
	if [ $s = swbreak ]; then
		judge swbreak swbreak-pc swbreak-arg swbreak-mem swbreak-stepi \
			swbreak-again
		expect swbreak "breakpoint reported" \
			'^Breakpoint 1, (0x[0-9a-f]+ in )?gdb_marker' gdb.log
	else
		judge hwbreak hbreak-pc watch-value
		expect hwbreak "hardware watchpoint used" \
			'^Hardware watchpoint [0-9]+: gdb_watched' gdb.log
		expect hwbreak "watchpoint new value" '^New value = 4660' gdb.log
	fi
	finish $s
	[ $fails -ne $f0 ] && dump $s
done

rm -rf "$WORK"
[ $fails -eq 0 ]
