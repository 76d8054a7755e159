# Core gdb session (no breakpoints): attach before the first
# instruction, threads, single-step, Ctrl-C, registers of every feature,
# memory through the page tables, register and memory writes, exit.
# "CHECK name N" lines are judged by gdb-session.sh: N must be 1.
set pagination off
set confirm off
set width 0

printf "CHECK wait-at-entry %d\n", $pc == (long)&_start
info threads
thread 2
printf "CHECK ap-thread %d\n", $pc == 0xfff0
thread 1

# Paging is off at the entry: virtual = physical.
set $target_byte = *(unsigned char *)gdb_marker
set trust-readonly-sections on
set $file_byte = *(unsigned char *)gdb_marker
set trust-readonly-sections off
printf "CHECK mem-read-nopaging %d\n", $target_byte == $file_byte

# _start begins with cli; cld (one byte each).
stepi
printf "CHECK stepi %d\n", $pc == (long)&_start + 1
stepi
printf "CHECK stepi-2 %d\n", $pc == (long)&_start + 2

# Ctrl-C: gdb-session.sh sends gdb SIGINT once it sees this line.
echo READY-FOR-INTERRUPT\n
continue
printf "CHECK interrupt-in-spin %d\n", $pc >= (long)&gdb_spin && $pc < (long)&gdb_spin + 32
printf "CHECK rbx %d\n", $rbx == 0xfeedfacecafebeef
printf "CHECK xmm0 %d\n", $xmm0.v2_int64[0] == 0x1122334455667788
printf "CHECK st0 %d\n", $st0 == 1
printf "CHECK cr0 %d\n", ($cr0 & 0x80000001) == 0x80000001
printf "CHECK efer %d\n", ($efer & 0x500) == 0x500
printf "CHECK cs %d\n", $cs == 8
printf "CHECK fs_base %d\n", $fs_base == 0
info registers rip eflags cs cr0 cr3 cr4 efer fs_base mxcsr
x/4xb gdb_marker

# Long mode, 4-level paging with 2 MiB pages now.
set $target_byte = *(unsigned char *)gdb_marker
set trust-readonly-sections on
set $file_byte = *(unsigned char *)gdb_marker
set trust-readonly-sections off
printf "CHECK mem-read-paging %d\n", $target_byte == $file_byte
printf "CHECK data-read %d\n", gdb_counter == 6 && gdb_watched == 0x1234

set $before = $pc
stepi
printf "CHECK stepi-spin %d\n", $pc >= (long)&gdb_spin && $pc < (long)&gdb_spin + 32

set $saved_r12 = $r12
set $r12 = 0x5555aaaa5555aaaa
printf "CHECK reg-write %d\n", $r12 == 0x5555aaaa5555aaaa
set $r12 = $saved_r12

set var gdb_release = 0x5a
printf "CHECK mem-write %d\n", gdb_release == 0x5a
continue
