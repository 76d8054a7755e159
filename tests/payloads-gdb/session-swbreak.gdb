# Software breakpoints (Z0, int3 with KVM_GUESTDBG_USE_SW_BP).
set pagination off
set confirm off
set width 0
# Let gdb_spin() end by itself, so a missed breakpoint ends the run.
set var gdb_release = 0x5a
break *gdb_marker
continue
printf "CHECK swbreak-pc %d\n", $pc == (long)&gdb_marker
printf "CHECK swbreak-arg %d\n", $rdi == 1
info registers rip
x/4xb gdb_marker
set $target_byte = *(unsigned char *)gdb_marker
set trust-readonly-sections on
set $file_byte = *(unsigned char *)gdb_marker
set trust-readonly-sections off
printf "CHECK swbreak-mem %d\n", $target_byte == $file_byte && $target_byte != 0xcc
stepi
printf "CHECK swbreak-stepi %d\n", $pc > (long)&gdb_marker && $pc < (long)&gdb_marker + 16
continue
printf "CHECK swbreak-again %d\n", $pc == (long)&gdb_marker && $rdi == 2
delete
continue
