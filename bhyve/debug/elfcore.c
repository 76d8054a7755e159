/*
 * ELF core writer (System V ABI gABI chapter 4 "Program Header", and the
 * Linux core note types of include/uapi/linux/elf.h that gdb parses).
 *
 * File layout: ELF header, program headers (PT_NOTE first, then one
 * PT_LOAD per RAM range), the notes, then each range page-aligned.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "elfcore.h"

#define CORE_PAGE     4096ULL
#define CORE_NOTENAME "CORE"

static size_t
note_size(size_t desc)
{
	/* Elf64_Nhdr, "CORE\0" padded to 8, desc padded to 4. */
	return sizeof(Elf64_Nhdr) + 8 + ((desc + 3) & ~(size_t)3);
}

static uint8_t *
note_put(uint8_t *p, uint32_t type, const void *desc, size_t len)
{
	Elf64_Nhdr nh = {.n_namesz = sizeof(CORE_NOTENAME),
			 .n_descsz = (Elf64_Word)len,
			 .n_type = type};

	memcpy(p, &nh, sizeof(nh));
	p += sizeof(nh);
	memset(p, 0, 8);
	memcpy(p, CORE_NOTENAME, sizeof(CORE_NOTENAME));
	p += 8;
	memset(p, 0, (len + 3) & ~(size_t)3);
	memcpy(p, desc, len);
	return p + ((len + 3) & ~(size_t)3);
}

static size_t
notes_size(const struct elfcore_vcpu *v, int nvcpu)
{
	size_t n = note_size(sizeof(struct elf_prpsinfo));

	for (int i = 0; i < nvcpu; i++) {
		n += note_size(sizeof(struct elf_prstatus));
		if (v[i].has_fpu)
			n += note_size(sizeof(v[i].fxsave));
	}
	return n;
}

static void
notes_fill(uint8_t *p, const char *vmname, const struct elfcore_vcpu *v,
	   int nvcpu)
{
	struct elf_prpsinfo ps;

	memset(&ps, 0, sizeof(ps));
	ps.pr_sname = 'R';
	ps.pr_pid = 1;
	strncpy(ps.pr_fname, "beehive", sizeof(ps.pr_fname) - 1);
	strncpy(ps.pr_psargs, vmname, sizeof(ps.pr_psargs) - 1);
	p = note_put(p, NT_PRPSINFO, &ps, sizeof(ps));
	for (int i = 0; i < nvcpu; i++) {
		struct elf_prstatus st;

		memset(&st, 0, sizeof(st));
		/* gdb names threads by pid: vCPU N is thread N+1. */
		st.pr_pid = v[i].id + 1;
		st.pr_ppid = 1;
		st.pr_fpvalid = v[i].has_fpu;
		memcpy(&st.pr_reg, &v[i].regs, sizeof(st.pr_reg));
		p = note_put(p, NT_PRSTATUS, &st, sizeof(st));
		if (v[i].has_fpu)
			p = note_put(p, NT_FPREGSET, v[i].fxsave,
				     sizeof(v[i].fxsave));
	}
}

static int
write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static bool
page_is_zero(const uint8_t *p, size_t len)
{
	static const uint8_t zero[CORE_PAGE];

	return memcmp(p, zero, len) == 0;
}

/* Guest RAM is mostly untouched: zero pages become holes. */
static int
write_range(int fd, const struct elfcore_range *r, uint64_t off)
{
	for (uint64_t done = 0; done < r->len; done += CORE_PAGE) {
		size_t n = r->len - done < CORE_PAGE ? (size_t)(r->len - done)
						     : CORE_PAGE;

		if (page_is_zero(r->data + done, n))
			continue;
		if (write_all(fd, r->data + done, n, off + done) != 0)
			return -1;
	}
	return 0;
}

static void
ehdr_fill(Elf64_Ehdr *eh, int nphdr)
{
	memset(eh, 0, sizeof(*eh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh->e_type = ET_CORE;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (Elf64_Half)nphdr;
}

int
elfcore_write(int fd, const char *vmname, const struct elfcore_vcpu *v,
	      int nvcpu, const struct elfcore_range *r, int nrange)
{
	int nphdr = 1 + nrange;
	size_t hdrlen, nlen = notes_size(v, nvcpu);
	uint64_t off;
	uint8_t *hdr;
	Elf64_Phdr *ph;
	int rc = -1;

	if (nvcpu < 0 || nrange < 0 || nphdr >= PN_XNUM) {
		errno = EINVAL;
		return -1;
	}
	hdrlen = sizeof(Elf64_Ehdr) + (size_t)nphdr * sizeof(Elf64_Phdr);
	hdr = calloc(1, hdrlen + nlen);
	if (hdr == NULL)
		return -1;
	ehdr_fill((Elf64_Ehdr *)hdr, nphdr);
	ph = (Elf64_Phdr *)(hdr + sizeof(Elf64_Ehdr));
	ph[0] = (Elf64_Phdr){.p_type = PT_NOTE,
			     .p_offset = hdrlen,
			     .p_filesz = nlen,
			     .p_align = 4};
	notes_fill(hdr + hdrlen, vmname, v, nvcpu);
	off = (hdrlen + nlen + CORE_PAGE - 1) & ~(CORE_PAGE - 1);
	for (int i = 0; i < nrange; i++) {
		ph[1 + i] = (Elf64_Phdr){.p_type = PT_LOAD,
					 .p_flags = PF_R | PF_W | PF_X,
					 .p_offset = off,
					 .p_vaddr = r[i].gpa,
					 .p_paddr = r[i].gpa,
					 .p_filesz = r[i].len,
					 .p_memsz = r[i].len,
					 .p_align = CORE_PAGE};
		off += (r[i].len + CORE_PAGE - 1) & ~(CORE_PAGE - 1);
	}
	if (ftruncate(fd, 0) != 0 || write_all(fd, hdr, hdrlen + nlen, 0) != 0)
		goto out;
	for (int i = 0; i < nrange; i++) {
		if (write_range(fd, &r[i], ph[1 + i].p_offset) != 0)
			goto out;
	}
	/* Trailing holes need the size set explicitly. */
	rc = ftruncate(fd, (off_t)off);
out:
	free(hdr);
	return rc;
}
