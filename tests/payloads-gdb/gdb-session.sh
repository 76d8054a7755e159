#!/bin/sh
# Runs one gdb session against bhyve on /dev/kvm (busybox sh compatible:
# this runs inside the nested rig's L1 too).
#
#   gdb-session.sh BHYVE GDB PAYLOAD_ELF32 PAYLOAD_ELF64 SESSION.gdb
#
# Prints PASS:/FAIL: lines; exits non-zero if anything failed.
BHYVE=$1 GDB=$2 ELF=$3 ELF64=$4 SESSION=$5
PORT=${GDB_TEST_PORT:-12345}
WORK=${TMPDIR:-/tmp}/gdb-session.$$
mkdir -p "$WORK"
fails=0

pass() { echo "PASS: gdb: $1"; }
fail() { echo "FAIL: gdb: $1"; fails=$((fails + 1)); }

# Loopback is down in a fresh L1.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

"$BHYVE" -c 2 -m 64M -l testdev -o boot.kernel="$ELF" \
	-G "w127.0.0.1:$PORT" gdbtest >"$WORK/bhyve.log" 2>&1 &
bpid=$!
i=0
until grep -q "waiting for a debugger" "$WORK/bhyve.log"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $bpid 2>/dev/null; then
		fail "bhyve did not wait for the debugger"
		cat "$WORK/bhyve.log"
		exit 1
	fi
	sleep 0.1
done
pass "bhyve waits for the debugger (-G w)"

"$GDB" -nx -batch -ex "target remote 127.0.0.1:$PORT" -x "$SESSION" \
	"$ELF64" >"$WORK/gdb.log" 2>&1 &
gpid=$!
# Ctrl-C once gdb has resumed the guest in its spin loop.
i=0
until grep -q "^READY-FOR-INTERRUPT" "$WORK/gdb.log"; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 $gpid 2>/dev/null; then
		break
	fi
	sleep 0.1
done
sleep 1
kill -INT $gpid 2>/dev/null
# gdb should finish quickly; bound it regardless.
i=0
while kill -0 $gpid 2>/dev/null && [ $i -lt 600 ]; do
	i=$((i + 1))
	sleep 0.1
done
kill -0 $gpid 2>/dev/null && { fail "gdb hung"; kill -9 $gpid; }
wait $gpid
i=0
while kill -0 $bpid 2>/dev/null && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
kill -0 $bpid 2>/dev/null && { fail "bhyve still running"; kill -9 $bpid; }
wait $bpid
bst=$?

for name in wait-at-entry swbreak-pc swbreak-arg mem-read swbreak-again \
	stepi stepi-3 watch-value hbreak-pc interrupt-in-spin rbx xmm0 st0 \
	cr0 efer cs fs_base reg-write mem-write; do
	if grep -q "^CHECK $name 1\$" "$WORK/gdb.log"; then
		pass "$name"
	else
		fail "$name: $(grep "^CHECK $name " "$WORK/gdb.log" || echo 'no result')"
	fi
done
expect() {
	if grep -q -E "$2" "$3"; then pass "$1"; else fail "$1: no /$2/"; fi
}
expect "two vCPUs as threads" 'Thread 2 ' "$WORK/gdb.log"
expect "breakpoint reported" '^Breakpoint 1, (0x[0-9a-f]+ in )?gdb_marker' "$WORK/gdb.log"
expect "hardware watchpoint used" '^Hardware watchpoint [0-9]+: gdb_watched' "$WORK/gdb.log"
expect "watchpoint new value" '^New value = 4660' "$WORK/gdb.log"
expect "hardware breakpoint reported" 'Hardware assisted breakpoint [0-9]+, (0x[0-9a-f]+ in )?gdb_spin' "$WORK/gdb.log"
expect "Ctrl-C stops the guest" 'received signal SIGINT' "$WORK/gdb.log"
expect "exit reported to gdb" 'exited with code 01' "$WORK/gdb.log"
expect "guest finished its checks" '^testdev: pass' "$WORK/bhyve.log"
if [ "$bst" = 1 ]; then pass "bhyve exit status 1"; else fail "bhyve exit status $bst, want 1"; fi

if [ $fails -ne 0 ]; then
	echo "--- gdb.log"
	cat "$WORK/gdb.log"
	echo "--- bhyve.log"
	cat "$WORK/bhyve.log"
fi
rm -rf "$WORK"
[ $fails -eq 0 ]
