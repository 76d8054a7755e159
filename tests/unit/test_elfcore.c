/*
 * ELF cores of a guest: the file parses back (header, PT_NOTE with one
 * NT_PRSTATUS per vCPU in user_regs_struct layout, PT_LOAD at the guest
 * physical address), zero pages are holes, and gdb (when installed) opens
 * it and shows the registers of each vCPU thread and guest memory.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfcore.h"
#include "test.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)

static char core_path[] = "/tmp/beehive-core-XXXXXX";

static int
write_test_core(struct vmctx *ctx)
{
	struct elfcore_vcpu v[2];
	struct vm_memseg_info seg;
	struct elfcore_range r;
	int fd, rc;

	memset(v, 0, sizeof(v));
	for (int i = 0; i < 2; i++) {
		v[i].id = i;
		v[i].regs.rip = 0x100040 + (unsigned)i * 2;
		v[i].regs.rsp = 0x7000 - (unsigned)i * 0x100;
		v[i].regs.rax = 0x1111111111111111ULL * (unsigned)(i + 1);
		v[i].regs.cs = 0x08;
		v[i].regs.eflags = 0x2;
		v[i].has_fpu = i == 0;
		v[i].fxsave[0] = 0x7f; /* FCW low byte */
	}
	vm_get_memmap(ctx, &seg, 1);
	r = (struct elfcore_range){seg.gpa, seg.len, vm_map_gpa(ctx, 0, 1)};
	fd = mkstemp(core_path);
	if (fd < 0)
		return -1;
	rc = elfcore_write(fd, "core-test", v, 2, &r, 1);
	close(fd);
	return rc;
}

static uint8_t *
slurp(size_t *len)
{
	FILE *f = fopen(core_path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
check_notes(const uint8_t *p, size_t len)
{
	size_t off = 0;
	int prstatus = 0, fpregs = 0, psinfo = 0;
	bool regs_ok = true;

	while (off + sizeof(Elf64_Nhdr) <= len) {
		const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(p + off);
		const uint8_t *desc =
		    p + off + sizeof(*nh) + ((nh->n_namesz + 3) & ~3u);

		if (nh->n_type == NT_PRSTATUS &&
		    nh->n_descsz == sizeof(struct elf_prstatus)) {
			struct elf_prstatus st;
			struct user_regs_struct u;

			memcpy(&st, desc, sizeof(st));
			memcpy(&u, &st.pr_reg, sizeof(u));
			regs_ok = regs_ok && st.pr_pid == prstatus + 1 &&
				  u.rip == 0x100040ULL + (unsigned)prstatus * 2;
			prstatus++;
		}
		fpregs += nh->n_type == NT_FPREGSET && nh->n_descsz == 512 &&
			  desc[0] == 0x7f;
		psinfo += nh->n_type == NT_PRPSINFO;
		off += sizeof(*nh) + ((nh->n_namesz + 3) & ~3u) +
		       ((nh->n_descsz + 3) & ~3u);
	}
	CHECK(prstatus == 2, "core: one NT_PRSTATUS per vCPU");
	CHECK(regs_ok, "core: thread ids and rip in user_regs_struct");
	CHECK(fpregs == 1, "core: NT_FPREGSET where the FPU state is known");
	CHECK(psinfo == 1, "core: NT_PRPSINFO");
}

static void
check_file(void)
{
	size_t len = 0;
	uint8_t *buf = slurp(&len);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
	const Elf64_Phdr *ph;
	struct stat st;

	CHECK(buf != NULL && len > 16 * MiB, "core: file written");
	if (buf == NULL || len < sizeof(*eh))
		return;
	CHECK(memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
		  eh->e_ident[EI_CLASS] == ELFCLASS64 &&
		  eh->e_type == ET_CORE && eh->e_machine == EM_X86_64,
	      "core: ELF64 x86-64 core header");
	CHECK(eh->e_phnum == 2, "core: PT_NOTE + one PT_LOAD");
	ph = (const Elf64_Phdr *)(buf + eh->e_phoff);
	CHECK(ph[0].p_type == PT_NOTE && ph[0].p_offset + ph[0].p_filesz <= len,
	      "core: PT_NOTE first, inside the file");
	check_notes(buf + ph[0].p_offset, ph[0].p_filesz);
	CHECK(ph[1].p_type == PT_LOAD && ph[1].p_paddr == 0 &&
		  ph[1].p_filesz == 16 * MiB && ph[1].p_offset % 4096 == 0 &&
		  ph[1].p_offset + ph[1].p_filesz == len,
	      "core: PT_LOAD covers RAM, page aligned");
	CHECK(memcmp(buf + ph[1].p_offset + 0x2000, "beehive core test", 17) ==
		  0,
	      "core: memory contents at their offset");
	CHECK(memcmp(buf + ph[1].p_offset + 0xfff000, "last page", 9) == 0,
	      "core: last page present");
	CHECK(stat(core_path, &st) == 0 &&
		  (uint64_t)st.st_blocks * 512 < 4 * MiB,
	      "core: zero pages are holes");
	free(buf);
}

static void
check_gdb(void)
{
	char cmd[512], out[8192];
	size_t n;
	FILE *p;

	if (access("/usr/bin/gdb", X_OK) != 0) {
		printf("# gdb not installed: core checked by parsing only\n");
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "gdb -batch -nx -c %s -ex 'info threads' -ex 'p/x $rip' "
		 "-ex 'x/s 0x2000' -ex 'thread 2' -ex 'p/x $rax' 2>&1",
		 core_path);
	p = popen(cmd, "r");
	n = p != NULL ? fread(out, 1, sizeof(out) - 1, p) : 0;
	out[n] = '\0';
	if (p != NULL)
		pclose(p);
	CHECK(strstr(out, "= 0x100040") != NULL, "gdb: vCPU 0 rip");
	CHECK(strstr(out, "\"beehive core test\"") != NULL,
	      "gdb: reads guest memory");
	CHECK(strstr(out, "= 0x2222222222222222") != NULL,
	      "gdb: thread 2 is vCPU 1");
	if (test_failures != 0)
		printf("# gdb said:\n%s\n", out);
}

int
main(void)
{
	struct vmctx *ctx = vm_create_detached("core-test");

	if (ctx == NULL || vm_setup_memory(ctx, 16 * MiB) != 0) {
		printf("FAIL: core: detached context\n");
		return 1;
	}
	vm_copyout(ctx, "beehive core test", 0x2000, 18);
	vm_copyout(ctx, "last page", 0xfff000, 9);
	CHECK(write_test_core(ctx) == 0, "core: elfcore_write succeeds");
	check_file();
	check_gdb();
	CHECK(elfcore_write(-1, "x", NULL, 0, NULL, 0) == -1,
	      "core: bad descriptor reported");
	unlink(core_path);
	vm_destroy(ctx);
	return test_done();
}
