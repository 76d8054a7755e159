# Hardware breakpoints and watchpoints (Z1, Z2: debug registers with
# KVM_GUESTDBG_USE_HW_BP).
set pagination off
set confirm off
set width 0
set var gdb_release = 0x5a
hbreak *gdb_marker
continue
printf "CHECK hbreak-pc %d\n", $pc == (long)&gdb_marker && $rdi == 1
delete
watch gdb_watched
continue
printf "CHECK watch-value %d\n", gdb_watched == 0x1234
delete
continue
