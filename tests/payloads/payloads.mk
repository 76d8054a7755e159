# Guest payloads (tests/payloads/): freestanding multiboot v1 kernels built
# with the host gcc, independent of SAN and $(BUILD).  Each <name>.c or
# <name>.S becomes $(BUILD_PAYLOADS)/<name>.elf (ELF32 container, as
# multiboot loaders want, around 64-bit code); its <name>.test spec is
# copied beside it so the directory is all run-payload-tests needs.

BUILD_PAYLOADS	:= build/payloads
PAYLOAD_SRCDIR	:= tests/payloads
PAYLOAD_CC	:= gcc
PAYLOAD_OBJCOPY	:= objcopy
PAYLOAD_CFLAGS	:= -m64 -std=gnu11 -ffreestanding -fno-pic -fno-pie \
		   -fno-stack-protector -fcf-protection=none -mno-red-zone \
		   -mgeneral-regs-only -fno-asynchronous-unwind-tables \
		   -nostdlib -O2 -g -Wall -Wextra -Werror \
		   -I$(PAYLOAD_SRCDIR)/lib -MMD -MP
PAYLOAD_LDFLAGS	:= -m64 -nostdlib -static -no-pie \
		   -Wl,-T,$(PAYLOAD_SRCDIR)/lib/link.ld \
		   -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack \
		   -Wl,--no-warn-rwx-segments -Wl,--build-id=none

PAYLOAD_LIB_SRCS := $(wildcard $(PAYLOAD_SRCDIR)/lib/*.c $(PAYLOAD_SRCDIR)/lib/*.S)
PAYLOAD_LIB_OBJS := $(patsubst $(PAYLOAD_SRCDIR)/%,$(BUILD_PAYLOADS)/obj/%.o,$(PAYLOAD_LIB_SRCS))
PAYLOAD_SRCS	 := $(wildcard $(PAYLOAD_SRCDIR)/*.c $(PAYLOAD_SRCDIR)/*.S)
PAYLOAD_NAMES	 := $(basename $(notdir $(PAYLOAD_SRCS)))
PAYLOAD_ELFS	 := $(PAYLOAD_NAMES:%=$(BUILD_PAYLOADS)/%.elf)
PAYLOAD_SPECS	 := $(PAYLOAD_NAMES:%=$(BUILD_PAYLOADS)/%.test)

# Boot ROM payloads (rom/): 32-bit code that starts at the reset vector,
# linked as a flat 64 KiB image ending at 4 GiB (rom/rom.ld), each with a
# VARS template (rom/vars.S) and its spec (<name>.test, keys rom: vars:).
ROM_NAMES	:= bootrom-flash
ROM_CFLAGS	:= -m32 -march=i686 -std=gnu11 -ffreestanding -fno-pic -fno-pie \
		   -fno-stack-protector -fcf-protection=none \
		   -mgeneral-regs-only -fno-asynchronous-unwind-tables \
		   -nostdlib -O2 -Wall -Wextra -Werror -I$(PAYLOAD_SRCDIR)/lib -MMD -MP
ROM_FILES	:= $(ROM_NAMES:%=$(BUILD_PAYLOADS)/%.rom) \
		   $(ROM_NAMES:%=$(BUILD_PAYLOADS)/%.vars) \
		   $(ROM_NAMES:%=$(BUILD_PAYLOADS)/%.test)

# Specs that boot another payload (key kernel:), e.g. under other options.
ALIAS_SPECS	:= $(BUILD_PAYLOADS)/demo-seccomp.test

payloads: $(PAYLOAD_ELFS) $(PAYLOAD_SPECS) $(ROM_FILES) $(ALIAS_SPECS)

$(BUILD_PAYLOADS)/rom/%.o: $(PAYLOAD_SRCDIR)/rom/%.c $(PAYLOAD_SRCDIR)/payloads.mk
	@mkdir -p $(dir $@)
	$(PAYLOAD_CC) $(ROM_CFLAGS) -c $< -o $@

$(BUILD_PAYLOADS)/rom/%.o: $(PAYLOAD_SRCDIR)/rom/%.S $(PAYLOAD_SRCDIR)/payloads.mk
	@mkdir -p $(dir $@)
	$(PAYLOAD_CC) $(ROM_CFLAGS) -c $< -o $@

$(BUILD_PAYLOADS)/%.rom: $(BUILD_PAYLOADS)/rom/start16.o $(BUILD_PAYLOADS)/rom/%.o $(PAYLOAD_SRCDIR)/rom/rom.ld
	ld -m elf_i386 -T $(PAYLOAD_SRCDIR)/rom/rom.ld -o $@.tmp \
	    $(BUILD_PAYLOADS)/rom/start16.o $(BUILD_PAYLOADS)/rom/$*.o
	mv -f $@.tmp $@

$(BUILD_PAYLOADS)/%.vars: $(BUILD_PAYLOADS)/rom/vars.o
	$(PAYLOAD_OBJCOPY) -O binary -j .data $< $@.tmp
	mv -f $@.tmp $@

$(BUILD_PAYLOADS)/obj/%.c.o: $(PAYLOAD_SRCDIR)/%.c $(PAYLOAD_SRCDIR)/payloads.mk
	@mkdir -p $(dir $@)
	$(PAYLOAD_CC) $(PAYLOAD_CFLAGS) -c $< -o $@

$(BUILD_PAYLOADS)/obj/%.S.o: $(PAYLOAD_SRCDIR)/%.S $(PAYLOAD_SRCDIR)/payloads.mk
	@mkdir -p $(dir $@)
	$(PAYLOAD_CC) $(PAYLOAD_CFLAGS) -c $< -o $@

# Outputs are written under a temporary name and renamed, so a reader (or
# an interrupted build) never sees half a file.
# Linked as ELF64 at 1 MiB, then rewrapped as ELF32: multiboot v1 loaders
# (QEMU's -kernel among them) refuse 64-bit ELF files.
$(BUILD_PAYLOADS)/obj/%.elf64: $(BUILD_PAYLOADS)/obj/%.c.o $(PAYLOAD_LIB_OBJS) $(PAYLOAD_SRCDIR)/lib/link.ld
	$(PAYLOAD_CC) $(PAYLOAD_LDFLAGS) -o $@.tmp $< $(PAYLOAD_LIB_OBJS)
	mv -f $@.tmp $@

$(BUILD_PAYLOADS)/obj/%.elf64: $(BUILD_PAYLOADS)/obj/%.S.o $(PAYLOAD_LIB_OBJS) $(PAYLOAD_SRCDIR)/lib/link.ld
	$(PAYLOAD_CC) $(PAYLOAD_LDFLAGS) -o $@.tmp $< $(PAYLOAD_LIB_OBJS)
	mv -f $@.tmp $@

$(BUILD_PAYLOADS)/%.elf: $(BUILD_PAYLOADS)/obj/%.elf64
	$(PAYLOAD_OBJCOPY) -O elf32-i386 $< $@.tmp
	mv -f $@.tmp $@

$(BUILD_PAYLOADS)/%.test: $(PAYLOAD_SRCDIR)/%.test
	@mkdir -p $(dir $@)
	cp $< $@.tmp
	mv -f $@.tmp $@

.PRECIOUS: $(BUILD_PAYLOADS)/obj/%.elf64 $(BUILD_PAYLOADS)/obj/%.c.o \
	   $(BUILD_PAYLOADS)/obj/%.S.o $(BUILD_PAYLOADS)/rom/%.o

-include $(wildcard $(BUILD_PAYLOADS)/obj/*.d $(BUILD_PAYLOADS)/obj/lib/*.d \
		    $(BUILD_PAYLOADS)/rom/*.d)
