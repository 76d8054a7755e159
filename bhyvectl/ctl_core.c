/*
 * bhyvectl --write-core: an ELF core of a running guest (elfcore.h).
 *
 * The VM is paused for the whole dump so registers and memory agree; the
 * pause belongs to this connection and ends when it closes, so a bhyvectl
 * that dies half-way does not leave the guest stopped.  Memory comes from
 * the read-only memfd that get-memfd passes: the dump is written here, not
 * by bhyve, so bhyve never opens files on a client's behalf.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctl_core.h"
#include "elfcore.h"
#include "vmm_ctl.h"

#define CORE_MAX_RANGES 8

static uint64_t
reg_value(json_t *regs, const char *name, const char *field)
{
	json_t *v = json_object_get(regs, name);
	uint64_t x = 0;

	if (field != NULL)
		v = json_object_get(v, field);
	if (json_is_string(v))
		x = strtoull(json_string_value(v), NULL, 0);
	return x;
}

/* The register file in the layout of <sys/user.h>'s user_regs_struct. */
static void
core_fill_regs(json_t *regs, struct user_regs_struct *u)
{
	memset(u, 0, sizeof(*u));
	u->r15 = reg_value(regs, "r15", NULL);
	u->r14 = reg_value(regs, "r14", NULL);
	u->r13 = reg_value(regs, "r13", NULL);
	u->r12 = reg_value(regs, "r12", NULL);
	u->rbp = reg_value(regs, "rbp", NULL);
	u->rbx = reg_value(regs, "rbx", NULL);
	u->r11 = reg_value(regs, "r11", NULL);
	u->r10 = reg_value(regs, "r10", NULL);
	u->r9 = reg_value(regs, "r9", NULL);
	u->r8 = reg_value(regs, "r8", NULL);
	u->rax = reg_value(regs, "rax", NULL);
	u->rcx = reg_value(regs, "rcx", NULL);
	u->rdx = reg_value(regs, "rdx", NULL);
	u->rsi = reg_value(regs, "rsi", NULL);
	u->rdi = reg_value(regs, "rdi", NULL);
	u->orig_rax = ~0ULL; /* not in a system call */
	u->rip = reg_value(regs, "rip", NULL);
	u->cs = reg_value(regs, "cs", "sel");
	u->eflags = reg_value(regs, "rflags", NULL);
	u->rsp = reg_value(regs, "rsp", NULL);
	u->ss = reg_value(regs, "ss", "sel");
	u->fs_base = reg_value(regs, "fs", "base");
	u->gs_base = reg_value(regs, "gs", "base");
	u->ds = reg_value(regs, "ds", "sel");
	u->es = reg_value(regs, "es", "sel");
	u->fs = reg_value(regs, "fs", "sel");
	u->gs = reg_value(regs, "gs", "sel");
}

static int
hex_decode(const char *s, uint8_t *out, size_t len)
{
	if (s == NULL || strlen(s) != len * 2)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int
core_vcpu(struct vm_ctl *c, int id, struct elfcore_vcpu *v, char *err,
	  size_t errlen)
{
	json_t *resp;

	resp = vm_ctl_call(
	    c, json_pack("{s:s, s:i}", "cmd", "get-regs", "vcpu", id), NULL,
	    err, errlen);
	if (resp == NULL)
		return -1;
	v->id = id;
	core_fill_regs(json_object_get(resp, "regs"), &v->regs);
	json_decref(resp);
	resp = vm_ctl_call(
	    c, json_pack("{s:s, s:i}", "cmd", "get-fpu", "vcpu", id), NULL, err,
	    errlen);
	v->has_fpu =
	    resp != NULL &&
	    hex_decode(json_string_value(json_object_get(resp, "data")),
		       v->fxsave, sizeof(v->fxsave)) == 0;
	json_decref(resp);
	return 0;
}

struct core_mem {
	struct elfcore_range r[CORE_MAX_RANGES];
	int n;
	int fd;
};

static int
core_map_memory(struct vm_ctl *c, struct core_mem *m, char *err, size_t errlen)
{
	json_t *resp, *ranges, *rg;
	size_t i;

	resp = vm_ctl_call(c, json_pack("{s:s}", "cmd", "get-memfd"), &m->fd,
			   err, errlen);
	if (resp == NULL)
		return -1;
	if (m->fd < 0) {
		snprintf(err, errlen, "the VM sent no memory descriptor");
		json_decref(resp);
		return -1;
	}
	ranges = json_object_get(resp, "ranges");
	json_array_foreach(ranges, i, rg)
	{
		uint64_t gpa, len, off;
		void *p;

		if (m->n >= CORE_MAX_RANGES ||
		    vm_ctl_json_u64(rg, "gpa", &gpa) ||
		    vm_ctl_json_u64(rg, "len", &len) ||
		    vm_ctl_json_u64(rg, "fd_offset", &off))
			break;
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, m->fd, (off_t)off);
		if (p == MAP_FAILED) {
			snprintf(err, errlen, "cannot map guest memory: %s",
				 strerror(errno));
			json_decref(resp);
			return -1;
		}
		m->r[m->n++] = (struct elfcore_range){gpa, len, p};
	}
	json_decref(resp);
	return 0;
}

static void
core_unmap(struct core_mem *m)
{
	for (int i = 0; i < m->n; i++)
		munmap((void *)m->r[i].data, m->r[i].len);
	if (m->fd >= 0)
		close(m->fd);
}

int
ctl_write_core(struct vm_ctl *c, const char *vmname, const char *path,
	       char *err, size_t errlen)
{
	struct core_mem mem = {.fd = -1};
	char scratch[256];
	struct elfcore_vcpu *v = NULL;
	json_t *resp;
	int ncpu = 0, fd = -1, rc = -1;

	resp = vm_ctl_call(c, json_pack("{s:s}", "cmd", "pause"), NULL, err,
			   errlen);
	if (resp == NULL)
		return -1;
	json_decref(resp);
	resp = vm_ctl_call(c, json_pack("{s:s}", "cmd", "status"), NULL, err,
			   errlen);
	if (resp == NULL)
		goto out;
	ncpu = (int)json_integer_value(json_object_get(resp, "cpus"));
	json_decref(resp);
	v = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < ncpu; i++) {
		if (core_vcpu(c, i, &v[i], err, errlen) != 0)
			goto out;
	}
	if (core_map_memory(c, &mem, err, errlen) != 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path,
			 strerror(errno));
		goto out;
	}
	rc = elfcore_write(fd, vmname, v, ncpu, mem.r, mem.n);
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(errno));
	if (close(fd) != 0 && rc == 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(errno));
		rc = -1;
	}
out:
	core_unmap(&mem);
	free(v);
	/* The guest runs again even if the dump failed. */
	json_decref(vm_ctl_call(c, json_pack("{s:s}", "cmd", "resume"), NULL,
				scratch, sizeof(scratch)));
	return rc;
}
