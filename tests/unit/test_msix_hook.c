/*
 * MSI-X table and mask changes reach the device model (pe_msix_update),
 * and the virtio core keeps each vector's KVM MSI route and irqfd in
 * step with them, so that a kernel datapath (vhost) signalling the
 * vector's eventfd delivers exactly as PCI 3.0, 6.8.2 says: the current
 * message while the vector is live; nothing while it (or the function)
 * is masked or MSI-X is off, but a pending bit delivered on unmask.
 *
 * A detached VM context has no KVM, so the KVM calls go through a fake
 * vi_kvm_ops that records routes and irqfd assignments; the "kernel" is
 * simulated by writing the eventfd and looking at what the fake says is
 * attached.  Messages pci_emul sends are captured by pci_intr_ops.
 */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "mevent.h"
#include "pci_emul.h"
#include "test.h"
#include "test_util.h"
#include "virtio.h"
#include "virtio_irqfd.h"
#include "vmmapi.h"

#define MEMSIZE (16u << 20)
#define SLOT	4

static struct vmctx *ctx;

/* ---- Messages pci_emul sends (also from the mevent thread) ---- */

static int msi_count;
static uint64_t msi_addr, msi_data;

static int
cap_msi(struct vmctx *c, uint64_t addr, uint64_t data)
{
	__atomic_store_n(&msi_addr, addr, __ATOMIC_RELAXED);
	__atomic_store_n(&msi_data, data, __ATOMIC_RELAXED);
	__atomic_add_fetch(&msi_count, 1, __ATOMIC_RELEASE);
	return 0;
}

static int
cap_intx(struct vmctx *c, int irq, bool assert)
{
	return 0;
}

static const struct pci_intr_ops cap_ops = {cap_msi, cap_intx};

static int
msis(void)
{
	return __atomic_load_n(&msi_count, __ATOMIC_ACQUIRE);
}

/* ---- Fake KVM: MSI routes and irqfds ---- */

#define FAKE_GSI_BASE 24
#define FAKE_NGSI     8

static struct fake_route {
	bool used;
	uint64_t addr;
	uint32_t data;
	int irqfd; /* the eventfd assigned to it, or -1 */
} routes[FAKE_NGSI];
static int n_update, n_assign, n_deassign, n_free;
static bool fail_next_update;
/* One letter per call: a(lloc) u(pdate) A(ssign) D(eassign) f(ree). */
static char oplog[64];

static void
op(char c)
{
	size_t n = strlen(oplog);

	if (n + 1 < sizeof(oplog))
		oplog[n] = c;
}

static struct fake_route *
fake_route(int gsi)
{
	if (gsi < FAKE_GSI_BASE || gsi >= FAKE_GSI_BASE + FAKE_NGSI ||
	    !routes[gsi - FAKE_GSI_BASE].used)
		return NULL;
	return &routes[gsi - FAKE_GSI_BASE];
}

static int
fake_alloc(struct vmctx *c, uint64_t addr, uint32_t data)
{
	op('a');
	for (int i = 0; i < FAKE_NGSI; i++) {
		if (!routes[i].used) {
			routes[i] = (struct fake_route){true, addr, data, -1};
			return FAKE_GSI_BASE + i;
		}
	}
	return -1;
}

static int
fake_update(struct vmctx *c, int gsi, uint64_t addr, uint32_t data)
{
	struct fake_route *r = fake_route(gsi);

	op('u');
	if (r == NULL || fail_next_update) {
		fail_next_update = false;
		return -1;
	}
	n_update++;
	r->addr = addr;
	r->data = data;
	return 0;
}

static int
fake_free(struct vmctx *c, int gsi)
{
	struct fake_route *r = fake_route(gsi);

	op('f');
	if (r == NULL)
		return -1;
	n_free++;
	r->used = false;
	return 0;
}

static int
fake_irqfd(struct vmctx *c, int fd, uint32_t gsi, bool deassign)
{
	struct fake_route *r = fake_route((int)gsi);

	op(deassign ? 'D' : 'A');
	if (r == NULL)
		return -1;
	if (deassign) {
		if (r->irqfd != fd)
			return -1;
		n_deassign++;
		r->irqfd = -1;
		return 0;
	}
	if (r->irqfd >= 0)
		return -1; /* KVM refuses a second assignment (EBUSY) */
	n_assign++;
	r->irqfd = fd;
	return 0;
}

static const struct vi_kvm_ops fake_ops = {fake_alloc, fake_update, fake_free,
					   fake_irqfd};

/* The route whose irqfd is fd, or NULL (nothing attached). */
static struct fake_route *
attached_to(int fd)
{
	for (int i = 0; i < FAKE_NGSI; i++)
		if (routes[i].used && routes[i].irqfd == fd)
			return &routes[i];
	return NULL;
}

/* ---- Recording pe_msix_update around the model's own hook ---- */

static struct pci_devemu wrapped;
static void (*model_hook)(struct pci_devinst *, int);
static int hook_calls, hook_vector;

/* pi_cfg_lock is recursive: only another thread can tell it is held. */
static void *
try_cfg_lock(void *arg)
{
	struct pci_devinst *pi = arg;

	if (pthread_mutex_trylock(&pi->pi_cfg_lock) != 0)
		return NULL;
	pthread_mutex_unlock(&pi->pi_cfg_lock);
	return pi;
}

static void
rec_hook(struct pci_devinst *pi, int vector)
{
	pthread_t t;
	void *got = NULL;

	hook_calls++;
	hook_vector = vector;
	/* pci_emul promises: none of its locks is held here. */
	if (pthread_create(&t, NULL, try_cfg_lock, pi) == 0)
		pthread_join(t, &got);
	CHECK(got == pi, "hook called without pi_cfg_lock held");
	if (model_hook != NULL)
		model_hook(pi, vector);
}

/* ---- Bus access ---- */

static int msix_cap;
static uint64_t msix_table, msix_pba;

static void
find_msix(void)
{
	uint32_t pba;
	int bar;

	for (int off = (int)test_cfg_read(0, SLOT, 0, PCIR_CAP_PTR, 1);
	     off != 0; off = (int)test_cfg_read(0, SLOT, 0, off + 1, 1))
		if (test_cfg_read(0, SLOT, 0, off, 1) == PCIY_MSIX)
			msix_cap = off;
	bar = (int)(test_cfg_read(0, SLOT, 0, msix_cap + 4, 4) &
		    PCIM_MSIX_BIR_MASK);
	msix_table = (test_cfg_read(0, SLOT, 0, PCIR_BAR(bar), 4) & ~0xfULL) +
		     (test_cfg_read(0, SLOT, 0, msix_cap + 4, 4) & ~7u);
	pba = test_cfg_read(0, SLOT, 0, msix_cap + 8, 4);
	msix_pba =
	    (test_cfg_read(0, SLOT, 0, PCIR_BAR(pba & PCIM_MSIX_BIR_MASK), 4) &
	     ~0xfULL) +
	    (pba & ~7u);
}

static uint64_t
entry(int v, int field)
{
	return msix_table + 16 * (uint64_t)v + (uint64_t)field;
}

static void
msix_ctrl(uint16_t v)
{
	test_cfg_write(0, SLOT, 0, msix_cap + 2, 2, v);
}

static void
vec_mask(int v, bool masked)
{
	test_mmio_write(entry(v, 12), 4, masked ? 1 : 0);
}

static bool
pba_pending(int v)
{
	return (test_mmio_read(msix_pba, 8) >> v) & 1;
}

/* Waits (up to 2 s) for the mevent thread to have made cond true. */
static bool
wait_for(bool (*cond)(int), int arg)
{
	for (int i = 0; i < 2000; i++) {
		if (cond(arg))
			return true;
		usleep(1000);
	}
	return cond(arg);
}

static void
signal_fd(int fd)
{
	uint64_t one = 1;

	CHECK(write(fd, &one, sizeof(one)) == sizeof(one), "eventfd signalled");
}

/* ---- Tests ---- */

/* pci_emul: which writes call the hook, and with which vector. */
static void
test_hook_calls(void)
{
	hook_calls = 0;
	test_mmio_write(entry(1, 0), 8, 0xfee00000);
	CHECK(hook_calls == 1 && hook_vector == 1,
	      "address write: hook for vector 1");
	test_mmio_write(entry(1, 0), 8, 0xfee00000);
	CHECK(hook_calls == 1, "identical rewrite: no hook");
	test_mmio_write(entry(1, 8), 4, 0x4041);
	CHECK(hook_calls == 2 && hook_vector == 1, "data write: hook");
	test_mmio_write(entry(0, 8), 4, 0x4040);
	CHECK(hook_calls == 3 && hook_vector == 0, "vector 0 data: hook(0)");
	test_mmio_write(entry(1, 12), 4, 0xffffffff); /* still masked */
	CHECK(hook_calls == 3,
	      "vector control: reserved bits changed only: no hook");
	vec_mask(1, false);
	CHECK(hook_calls == 4 && hook_vector == 1, "unmask: hook");
	vec_mask(0, false);
	(void)test_mmio_read(entry(1, 0), 8);
	(void)test_mmio_read(msix_pba, 8);
	CHECK(hook_calls == 5, "reads (table, PBA) do not call the hook");
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE);
	CHECK(hook_calls == 6 && hook_vector == -1,
	      "MSI-X enable: hook for all vectors (-1)");
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE | PCIM_MSIXCTRL_FUNCTION_MASK);
	CHECK(hook_calls == 7 && hook_vector == -1, "function mask: hook(-1)");
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE);
	CHECK(hook_calls == 8 && hook_vector == -1, "function unmask: hook");
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE);
	test_cfg_write(0, SLOT, 0, PCIR_COMMAND, 2,
		       test_cfg_read(0, SLOT, 0, PCIR_COMMAND, 2));
	CHECK(hook_calls == 8, "unrelated config writes: no hook");
}

static bool
pending_cond(int v)
{
	return pba_pending(v);
}

/* The virtio core: routes and irqfds follow the table. */
static void
test_routes(struct virtio_softc *vs)
{
	struct fake_route *r;
	int fd, m;

	vs->vs_fastpath = true; /* as with KVM, through fake_ops */
	fd = vi_msix_irqfd(vs, 1);
	r = attached_to(fd);
	CHECK(fd >= 0 && r != NULL && r->addr == 0xfee00000 &&
		  r->data == 0x4041,
	      "vhost's fd: irqfd on a route carrying the entry's message");

	/* Affinity change while live: the route follows the table. */
	memset(oplog, 0, sizeof(oplog));
	test_mmio_write(entry(1, 0), 8, 0xfee01000);
	test_mmio_write(entry(1, 8), 4, 0x4051);
	r = attached_to(fd);
	CHECK(r != NULL && r->addr == 0xfee01000 && r->data == 0x4051,
	      "address/data rewrite updates the KVM route");
	CHECK(strcmp(oplog, "uu") == 0, "only route updates, irqfd kept");

	/* Linux's way: mask, rewrite, unmask. */
	memset(oplog, 0, sizeof(oplog));
	vec_mask(1, true);
	CHECK(attached_to(fd) == NULL && strcmp(oplog, "D") == 0,
	      "masked vector: irqfd detached");
	test_mmio_write(entry(1, 0), 8, 0xfee02000);
	test_mmio_write(entry(1, 8), 4, 0x4061);
	CHECK(strcmp(oplog, "D") == 0, "no route update while masked");
	m = msis();
	signal_fd(fd); /* the kernel signals while masked */
	vec_mask(1, false);
	r = attached_to(fd);
	CHECK(r != NULL && r->addr == 0xfee02000 && r->data == 0x4061 &&
		  strcmp(oplog, "DuA") == 0,
	      "unmask: route updated, then irqfd re-attached");
	CHECK(msis() == m + 1 && msi_addr == 0xfee02000 && msi_data == 0x4061,
	      "signal while masked delivered once on unmask, new message");
	CHECK(!pba_pending(1), "PBA clear after delivery");

	/* The route update fails: KVM must not keep the old message. */
	fail_next_update = true;
	test_mmio_write(entry(1, 8), 4, 0x4071);
	CHECK(attached_to(fd) == NULL, "failed route update: irqfd detached");
	m = msis();
	test_mmio_write(entry(1, 8), 4, 0x4072);
	CHECK(attached_to(fd) != NULL &&
		  fake_route(FAKE_GSI_BASE)->data == 0x4072,
	      "next write retries: route updated and attached");
	CHECK(msis() == m, "no message from an empty eventfd");

	/* Function mask and MSI-X disable detach every bound vector. */
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE | PCIM_MSIXCTRL_FUNCTION_MASK);
	CHECK(attached_to(fd) == NULL, "function mask detaches");
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE);
	CHECK(attached_to(fd) != NULL, "function unmask re-attaches");
	msix_ctrl(0);
	CHECK(attached_to(fd) == NULL, "MSI-X disable detaches");
	m = msis();
	signal_fd(fd);
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE);
	CHECK(attached_to(fd) != NULL && msis() == m + 1,
	      "MSI-X enable re-attaches and sends what came meanwhile");
	CHECK(n_assign == n_deassign + 1, "assignments balanced");
}

static pthread_t loop_thread;

static void *
loop_main(void *arg)
{
	mevent_dispatch();
	return NULL;
}

/* With the event loop running: signals while masked become pending. */
static void
test_masked_pending(struct virtio_softc *vs)
{
	int fd = vi_msix_irqfd(vs, 1), m;

	vec_mask(1, true);
	m = msis();
	signal_fd(fd);
	CHECK(wait_for(pending_cond, 1), "signal while masked: PBA bit set");
	CHECK(msis() == m, "masked: nothing delivered");
	vec_mask(1, false);
	CHECK(msis() == m + 1 && !pba_pending(1) && attached_to(fd) != NULL,
	      "unmask: pending delivered, PBA clear, irqfd back");

	/* Function mask, same rule. */
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE | PCIM_MSIXCTRL_FUNCTION_MASK);
	m = msis();
	signal_fd(fd);
	CHECK(wait_for(pending_cond, 1) && msis() == m,
	      "function masked: pending, not delivered");
	msix_ctrl(PCIM_MSIXCTRL_MSIX_ENABLE);
	CHECK(msis() == m + 1 && !pba_pending(1), "function unmask: delivered");

	/* A second vector gets its own route; both follow their entries. */
	CHECK(vi_msix_irqfd(vs, 0) >= 0 && vi_msix_irqfd(vs, 0) != fd,
	      "vector 0 bound to its own eventfd");
	CHECK(vi_msix_irqfd(vs, 2) == -1 && vi_msix_irqfd(vs, -1) == -1,
	      "vectors outside the table refused");
}

int
main(void)
{
	struct pci_devinst *pi;
	struct virtio_softc *vs;

	ctx = vm_create_detached("msixhook");
	if (ctx == NULL || vm_setup_memory(ctx, MEMSIZE) != 0) {
		printf("FAIL: guest memory\n");
		return 1;
	}
	pci_emul_set_intr_ops(&cap_ops);
	vi_set_kvm_ops(&fake_ops);
	init_config();
	init_inout();
	init_mem();
	set_config_value("pci.0.0.0.device", "hostbridge");
	set_config_value("pci.0.4.0.device", "virtio-rnd");
	if (init_pci(ctx) != 0) {
		printf("FAIL: init_pci\n");
		return 1;
	}
	pi = pci_emul_find_dev(0, SLOT, 0);
	vs = pi != NULL ? pi->pi_arg : NULL;
	CHECK(vs != NULL && vs->vs_nvec == 2 &&
		  pi->pi_d->pe_msix_update == vi_pci_msix_update,
	      "virtio-rnd: 2 MSI-X vectors, core hook installed");
	if (vs == NULL)
		return test_done();
	wrapped = *pi->pi_d;
	model_hook = wrapped.pe_msix_update;
	wrapped.pe_msix_update = rec_hook;
	pi->pi_d = &wrapped;
	find_msix();

	test_hook_calls();
	test_routes(vs);
	if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0) {
		printf("FAIL: event loop thread\n");
		return 1;
	}
	test_masked_pending(vs);
	mevent_exit(0);
	pthread_join(loop_thread, NULL);

	pci_emul_fini();
	CHECK(n_free == 2 && attached_to(-1) == NULL && n_assign == n_deassign,
	      "fini: irqfds detached, routes freed");
	mevent_fini();
	fini_config();
	vm_destroy(ctx);
	vi_set_kvm_ops(NULL);
	return test_done();
}
