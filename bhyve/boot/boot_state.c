/*
 * The initial CPU state a kernel's entry point expects, as data (struct
 * boot_cpu_state), and boot_apply(), which programs a vCPU with it.  The
 * loaders fill the state; only bhyve's main() touches a vCPU.
 */
#include "boot_state.h"
#include "vmmapi.h"

_Static_assert(VM_REG_LAST <= 64, "register masks are 64 bits");

void
boot_state_set_reg(struct boot_cpu_state *st, int reg, uint64_t val)
{
	if (reg < 0 || reg >= VM_REG_LAST)
		return;
	st->regs[reg] = val;
	st->regs_set |= 1ULL << reg;
}

void
boot_state_set_seg(struct boot_cpu_state *st, int reg, uint16_t sel,
		   uint64_t base, uint32_t limit, uint32_t access)
{
	if (reg < 0 || reg >= VM_REG_LAST)
		return;
	st->segs[reg] = (struct boot_seg){base, limit, access};
	st->segs_set |= 1ULL << reg;
	if (reg != VM_REG_GUEST_GDTR && reg != VM_REG_GUEST_IDTR)
		boot_state_set_reg(st, reg, sel);
}

int
boot_state_has_reg(const struct boot_cpu_state *st, int reg)
{
	return reg >= 0 && reg < VM_REG_LAST && (st->regs_set >> reg & 1);
}

int
boot_state_has_seg(const struct boot_cpu_state *st, int reg)
{
	return reg >= 0 && reg < VM_REG_LAST && (st->segs_set >> reg & 1);
}

static void
boot_state_segments(struct boot_cpu_state *st, uint32_t cs_access)
{
	static const int data[] = {VM_REG_GUEST_DS, VM_REG_GUEST_ES,
				   VM_REG_GUEST_FS, VM_REG_GUEST_GS,
				   VM_REG_GUEST_SS};
	size_t i;

	boot_state_set_seg(st, VM_REG_GUEST_CS, BOOT_SEL_CS, 0, 0xffffffff,
			   cs_access);
	for (i = 0; i < sizeof(data) / sizeof(data[0]); i++)
		boot_state_set_seg(st, data[i], BOOT_SEL_DS, 0, 0xffffffff,
				   BOOT_ACCESS_DATA);
	/* VMX needs a usable busy TSS in TR even if the guest never uses it. */
	boot_state_set_seg(st, VM_REG_GUEST_TR, 0, 0, 0x67, BOOT_ACCESS_TSS32);
	boot_state_set_seg(st, VM_REG_GUEST_LDTR, 0, 0, 0xffff,
			   BOOT_ACCESS_LDT | SEG_ACCESS_UNUSABLE);
	boot_state_set_seg(st, VM_REG_GUEST_GDTR, 0, BOOT_GDT_ADDR, 4 * 8 - 1,
			   0);
	boot_state_set_seg(st, VM_REG_GUEST_IDTR, 0, 0, 0, 0);
	boot_state_set_reg(st, VM_REG_GUEST_RFLAGS, 0x2);
	boot_state_set_reg(st, VM_REG_GUEST_DR7, 0x400);
	boot_state_set_reg(st, VM_REG_GUEST_RSP, BOOT_STACK_TOP);
}

void
boot_state_flat32(struct boot_cpu_state *st, uint64_t entry)
{
	boot_state_segments(st, BOOT_ACCESS_CODE32);
	/* PE and ET; paging off (multiboot 3.2, PVH "start of day"). */
	boot_state_set_reg(st, VM_REG_GUEST_CR0, 0x11);
	boot_state_set_reg(st, VM_REG_GUEST_CR3, 0);
	boot_state_set_reg(st, VM_REG_GUEST_CR4, 0);
	boot_state_set_reg(st, VM_REG_GUEST_EFER, 0);
	boot_state_set_reg(st, VM_REG_GUEST_RIP, entry);
	st->entry = entry;
}

void
boot_state_long64(struct boot_cpu_state *st, uint64_t entry)
{
	boot_state_segments(st, BOOT_ACCESS_CODE64);
	/* PG, ET, PE; PAE; LME and LMA: long mode already active. */
	boot_state_set_reg(st, VM_REG_GUEST_CR0, 0x80000011);
	boot_state_set_reg(st, VM_REG_GUEST_CR3, BOOT_PML4_ADDR);
	boot_state_set_reg(st, VM_REG_GUEST_CR4, 0x20);
	boot_state_set_reg(st, VM_REG_GUEST_EFER, 0x500);
	boot_state_set_reg(st, VM_REG_GUEST_RIP, entry);
	st->entry = entry;
}

void
boot_state_reset(struct boot_cpu_state *st)
{
	static const int data[] = {VM_REG_GUEST_DS, VM_REG_GUEST_ES,
				   VM_REG_GUEST_FS, VM_REG_GUEST_GS,
				   VM_REG_GUEST_SS};
	size_t i;

	/* Control registers first (boot_apply's order): CD, NW, ET. */
	boot_state_set_reg(st, VM_REG_GUEST_CR0, 0x60000010);
	boot_state_set_reg(st, VM_REG_GUEST_CR3, 0);
	boot_state_set_reg(st, VM_REG_GUEST_CR4, 0);
	boot_state_set_reg(st, VM_REG_GUEST_EFER, 0);
	boot_state_set_seg(st, VM_REG_GUEST_CS, 0xf000, 0xffff0000, 0xffff,
			   SEG_ACCESS_P | SEG_ACCESS_S | 0xb);
	for (i = 0; i < sizeof(data) / sizeof(data[0]); i++)
		boot_state_set_seg(st, data[i], 0, 0, 0xffff,
				   SEG_ACCESS_P | SEG_ACCESS_S | 0x3);
	boot_state_set_seg(st, VM_REG_GUEST_TR, 0, 0, 0xffff,
			   SEG_ACCESS_P | 0xb);
	boot_state_set_seg(st, VM_REG_GUEST_LDTR, 0, 0, 0xffff,
			   SEG_ACCESS_P | 0x2);
	boot_state_set_seg(st, VM_REG_GUEST_GDTR, 0, 0, 0xffff, 0);
	boot_state_set_seg(st, VM_REG_GUEST_IDTR, 0, 0, 0xffff, 0);
	boot_state_set_reg(st, VM_REG_GUEST_RFLAGS, 0x2);
	boot_state_set_reg(st, VM_REG_GUEST_RIP, 0xfff0);
	boot_state_set_reg(st, VM_REG_GUEST_RSP, 0);
	boot_state_set_reg(st, VM_REG_GUEST_DR7, 0x400);
	st->kind = BOOT_KIND_NONE;
	st->entry = 0xfffffff0;
}

const char *
boot_kind_name(enum boot_kind kind)
{
	switch (kind) {
	case BOOT_KIND_LINUX64:
		return "Linux bzImage (64-bit entry)";
	case BOOT_KIND_LINUX32:
		return "Linux bzImage (32-bit entry)";
	case BOOT_KIND_PVH:
		return "PVH ELF kernel";
	case BOOT_KIND_MULTIBOOT:
		return "multiboot kernel";
	default:
		return "none";
	}
}

/*
 * Control registers go in one vm_set_register_set() call: KVM accepts
 * CR0.PG, EFER.LMA and CS.L only together, so they are set as a group
 * (libvmmapi turns one set into one KVM_SET_SREGS), then the segments,
 * then everything else.
 */
int
boot_apply(struct vcpu *vcpu, const struct boot_cpu_state *st)
{
	static const int ctl[] = {VM_REG_GUEST_CR4, VM_REG_GUEST_CR3,
				  VM_REG_GUEST_EFER, VM_REG_GUEST_CR0};
	int regnums[VM_REG_LAST];
	uint64_t regvals[VM_REG_LAST];
	uint64_t done = 0;
	unsigned int n = 0;
	size_t i;
	int r;

	for (i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
		if (!boot_state_has_reg(st, ctl[i]))
			continue;
		regnums[n] = ctl[i];
		regvals[n++] = st->regs[ctl[i]];
		done |= 1ULL << ctl[i];
	}
	if (n != 0 && vm_set_register_set(vcpu, n, regnums, regvals) != 0)
		return -1;
	for (r = 0; r < VM_REG_LAST; r++) {
		if (!boot_state_has_seg(st, r))
			continue;
		if (vm_set_desc(vcpu, r, st->segs[r].base, st->segs[r].limit,
				st->segs[r].access) != 0)
			return -1;
	}
	n = 0;
	for (r = 0; r < VM_REG_LAST; r++) {
		if (!boot_state_has_reg(st, r) || (done >> r & 1))
			continue;
		regnums[n] = r;
		regvals[n++] = st->regs[r];
	}
	if (n != 0 && vm_set_register_set(vcpu, n, regnums, regvals) != 0)
		return -1;
	return 0;
}
