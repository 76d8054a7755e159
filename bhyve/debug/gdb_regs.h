/*
 * The x86-64 register set beehive's gdb stub offers: the order of the
 * 'g' packet, the target description XML that tells gdb that order, and
 * the conversion between gdb's register images and the vCPU state the
 * stub reads through libvmmapi.
 *
 * GDB manual, "Target Descriptions" and "Standard Target Features"
 * (i386 features): org.gnu.gdb.i386.core, .sse and .segments use gdb's
 * register names, so gdb's amd64 support recognises them; the control
 * registers travel in a feature of beehive's own.
 */
#ifndef GDB_REGS_H
#define GDB_REGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmmapi.h"

enum gdb_regno {
	GDB_REG_RAX,
	GDB_REG_RBX,
	GDB_REG_RCX,
	GDB_REG_RDX,
	GDB_REG_RSI,
	GDB_REG_RDI,
	GDB_REG_RBP,
	GDB_REG_RSP,
	GDB_REG_R8,
	GDB_REG_R15 = GDB_REG_R8 + 7,
	GDB_REG_RIP,
	GDB_REG_EFLAGS,
	GDB_REG_CS,
	GDB_REG_SS,
	GDB_REG_DS,
	GDB_REG_ES,
	GDB_REG_FS,
	GDB_REG_GS,
	GDB_REG_ST0,
	GDB_REG_ST7 = GDB_REG_ST0 + 7,
	GDB_REG_FCTRL,
	GDB_REG_FSTAT,
	GDB_REG_FTAG,
	GDB_REG_FISEG,
	GDB_REG_FIOFF,
	GDB_REG_FOSEG,
	GDB_REG_FOOFF,
	GDB_REG_FOP,
	GDB_REG_XMM0,
	GDB_REG_XMM15 = GDB_REG_XMM0 + 15,
	GDB_REG_MXCSR,
	GDB_REG_FS_BASE,
	GDB_REG_GS_BASE,
	GDB_REG_CR0,
	GDB_REG_CR2,
	GDB_REG_CR3,
	GDB_REG_CR4,
	GDB_REG_CR8,
	GDB_REG_EFER,
	GDB_NREGS
};

/* Bytes of all registers in 'g' order (600 for this register set). */
#define GDB_REGFILE_SIZE 600

/* Registers as gdb sees them: little-endian images in 'g' order. */
struct gdb_regfile {
	uint8_t data[GDB_REGFILE_SIZE];
	bool valid[GDB_NREGS]; /* read: available; write: to be written */
};

/* The vCPU state behind those registers, as libvmmapi returns it. */
struct gdb_cpu_regs {
	uint64_t gpr[16]; /* in gdb's order: rax rbx rcx rdx rsi rdi rbp rsp
			     r8 .. r15 */
	uint64_t rip, rflags;
	uint64_t seg[6]; /* selectors: cs ss ds es fs gs */
	uint64_t fs_base, gs_base;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	uint8_t fx[VM_FXSAVE_LEN]; /* FXSAVE image, vmmapi.h layout */
	bool fx_valid;
};

const char *gdb_reg_name(int regno);
/* Size in bytes, and offset of the register in the 'g' image; -1 if
 * regno is out of range. */
int gdb_reg_size(int regno);
int gdb_reg_offset(int regno);
/* The register number gdb's target description gives a name, or -1. */
int gdb_reg_lookup(const char *name);

/*
 * The target description (target.xml) for this register set; the string
 * is built once and lives as long as the process.
 */
const char *gdb_target_xml(void);

/* vCPU state -> gdb images (all registers, FPU ones only if fx_valid). */
void gdb_regs_to_file(const struct gdb_cpu_regs *r, struct gdb_regfile *rf);
/*
 * gdb images -> vCPU state for the registers marked valid in rf.  Returns
 * whether any x87/SSE register was among them (the FXSAVE image then
 * needs writing back).
 */
bool gdb_regs_from_file(struct gdb_cpu_regs *r, const struct gdb_regfile *rf);

/*
 * The x87 tag word: FXSAVE stores one "not empty" bit per register, gdb
 * and FSAVE show two bits per register (valid, zero, special, empty),
 * derived from the register's contents (SDM Vol. 1, 8.1.7 and 10.5.1.1).
 */
uint16_t gdb_fx_full_ftag(const uint8_t fx[VM_FXSAVE_LEN]);
uint8_t gdb_fx_abridged_ftag(uint16_t full);

#endif
