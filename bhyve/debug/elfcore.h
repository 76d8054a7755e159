/*
 * ELF core files of a guest, in the layout gdb reads for x86-64 Linux
 * processes: one PT_LOAD per guest RAM range (virtual = physical address)
 * and a PT_NOTE with NT_PRSTATUS (user_regs_struct) and NT_FPREGSET
 * (FXSAVE image) per vCPU, each vCPU appearing as a thread.
 */
#ifndef ELFCORE_H
#define ELFCORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/user.h>

struct elfcore_vcpu {
	int id;
	struct user_regs_struct regs;
	bool has_fpu;
	uint8_t fxsave[512];
};

struct elfcore_range {
	uint64_t gpa;
	uint64_t len;
	const uint8_t *data; /* len bytes of guest RAM */
};

/*
 * Writes the core to fd (a regular file, written from offset 0).  Pages
 * of zeros become holes.  Returns 0, or -1 with errno.
 */
int elfcore_write(int fd, const char *vmname, const struct elfcore_vcpu *v,
		  int nvcpu, const struct elfcore_range *r, int nrange);

#endif
