/*
 * Helpers several unit tests share: reading firmware tables back, guest
 * memory access, per-test configuration, port and MMIO dispatch, finding
 * a platform device, and posting chains to a split virtqueue as a driver
 * would.  Header-only (static inline) because the Makefile builds every
 * tests/unit/test_*.c as its own program.
 *
 * The table helpers are written independently of bhyve/platform's own
 * checksum code on purpose, so a test checks the device rather than
 * agreeing with it.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "inout.h"
#include "linker_set.h"
#include "mem.h"
#include "pci_emul.h"
#include "platform_dev.h"
#include "virtio.h"
#include "virtqueue.h"
#include "vmmapi.h"

/* ---- firmware tables ---- */

/* The n-byte little-endian value at p. */
static inline uint64_t
test_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The 8-bit sum of n bytes: zero for a valid ACPI/SMBIOS/MP structure. */
static inline uint8_t
test_sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n-- > 0)
		s = (uint8_t)(s + *p++);
	return s;
}

/* ---- guest memory: a test cannot go on past a bad address ---- */

static inline void
test_gput(struct vmctx *ctx, uint64_t gpa, const void *p, size_t n)
{
	if (vm_copyout(ctx, p, gpa, n) != 0) {
		fprintf(stderr, "gput %#llx\n", (unsigned long long)gpa);
		exit(1);
	}
}

static inline void
test_gget(struct vmctx *ctx, uint64_t gpa, void *p, size_t n)
{
	if (vm_copyin(ctx, gpa, p, n) != 0) {
		fprintf(stderr, "gget %#llx\n", (unsigned long long)gpa);
		exit(1);
	}
}

/* ---- configuration ---- */

/* Sets "k=v,flag,..." options (a bare flag means "true") under n. */
static inline void
test_config_opts(struct config_node *n, const char *opts)
{
	char buf[256], *cur = buf, *tok, *eq;

	snprintf(buf, sizeof(buf), "%s", opts);
	while ((tok = strsep(&cur, ",")) != NULL) {
		if (tok[0] == '\0')
			continue;
		eq = strchr(tok, '=');
		if (eq != NULL)
			*eq++ = '\0';
		set_config_value_node(n, tok, eq ? eq : "true");
	}
}

/* ---- port and MMIO dispatch, as a vCPU exit would reach it ---- */

static inline uint64_t
test_mmio_read(uint64_t gpa, int bytes)
{
	uint64_t v = 0;

	mem_emulate(NULL, false, gpa, bytes, &v);
	return v;
}

static inline void
test_mmio_write(uint64_t gpa, int bytes, uint64_t v)
{
	mem_emulate(NULL, true, gpa, bytes, &v);
}

static inline uint32_t
test_io_read(int port, int bytes)
{
	uint32_t v = 0;

	inout_emulate(NULL, true, (uint16_t)port, bytes, &v);
	return v;
}

static inline void
test_io_write(int port, int bytes, uint32_t v)
{
	inout_emulate(NULL, false, (uint16_t)port, bytes, &v);
}

/* PCI configuration mechanism #1 (0xcf8/0xcfc), any width. */
static inline uint32_t
test_conf1_addr(int bus, int slot, int func, int off)
{
	return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)slot << 11 |
	       (uint32_t)func << 8 | (uint32_t)(off & 0xfc);
}

static inline uint32_t
test_cfg_read(int bus, int slot, int func, int off, int bytes)
{
	test_io_write(0xcf8, 4, test_conf1_addr(bus, slot, func, off));
	return test_io_read(0xcfc + (off & 3), bytes);
}

static inline void
test_cfg_write(int bus, int slot, int func, int off, int bytes, uint32_t v)
{
	test_io_write(0xcf8, 4, test_conf1_addr(bus, slot, func, off));
	test_io_write(0xcfc + (off & 3), bytes, v);
}

/* ---- platform devices ---- */

SET_DECLARE(platform_devs, struct platform_dev);

/* The registered platform device called name, or NULL. */
static inline const struct platform_dev *
test_platform_dev(const char *name)
{
	struct platform_dev *const *pdp;

	SET_FOREACH(pdp, platform_devs)
	{
		if (strcmp((*pdp)->pd_name, name) == 0)
			return *pdp;
	}
	return NULL;
}

/* ---- PCI ---- */

static inline int
test_no_msi(struct vmctx *c, uint64_t addr, uint64_t data)
{
	return 0;
}

static inline int
test_no_intx(struct vmctx *c, int irq, bool level)
{
	return 0;
}

/*
 * A fresh config tree, port and MMIO dispatch and PCI state with only a
 * hostbridge at 0:0.0 configured; interrupts are dropped.
 */
static inline void
test_pci_world_reset(void)
{
	static const struct pci_intr_ops quiet = {test_no_msi, test_no_intx};

	pci_emul_fini();
	fini_config();
	init_config();
	init_inout();
	init_mem();
	pci_emul_set_intr_ops(&quiet);
	set_config_value("pci.0.0.0.device", "hostbridge");
}

/* ---- a split virtqueue, driver side (virtio 1.2, 2.7) ---- */

struct test_vring {
	uint64_t desc, avail, used; /* ring GPAs */
	uint16_t avail_idx, used_seen, next_desc;
};

struct test_seg {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

/*
 * Writes a chain of n segments into the descriptor table of a ring of
 * qsize entries and makes it available (2.7.13); returns its head.
 */
static inline uint16_t
test_vring_post(struct vmctx *ctx, struct test_vring *r, int qsize,
		const struct test_seg *s, int n)
{
	uint16_t head = r->next_desc, idx, slot;
	struct vring_desc desc;
	int i;

	for (i = 0; i < n; i++) {
		idx = (uint16_t)((head + i) % qsize);
		desc.addr = s[i].gpa;
		desc.len = s[i].len;
		desc.flags = (uint16_t)((s[i].write ? VRING_DESC_F_WRITE : 0) |
					(i + 1 < n ? VRING_DESC_F_NEXT : 0));
		desc.next = (uint16_t)((idx + 1) % qsize);
		test_gput(ctx, r->desc + 16ULL * idx, &desc, sizeof(desc));
	}
	r->next_desc = (uint16_t)((head + n) % qsize);
	slot = (uint16_t)(r->avail_idx % qsize);
	test_gput(ctx, r->avail + 4 + 2ULL * slot, &head, 2);
	r->avail_idx++;
	test_gput(ctx, r->avail + 2, &r->avail_idx, 2);
	return head;
}

#endif
