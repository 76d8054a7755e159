/*
 * libvmmapi: the paths that bypass the VMM process.  ioeventfds turn guest
 * doorbell writes into eventfd signals, irqfds turn eventfd signals into
 * guest interrupts, and MSI routes give irqfds an MSI target.  KVM takes
 * the routing table only as a whole, so the library owns it: the fixed PC
 * wiring set at VM creation plus the MSI routes devices allocate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm_impl.h"

static int
routes_commit(struct vmctx *ctx)
{
	struct kvm_irq_routing *r;
	int rc;

	r = calloc(1,
		   sizeof(*r) + (size_t)ctx->nroutes * sizeof(r->entries[0]));
	if (r == NULL)
		return -1;
	r->nr = (uint32_t)ctx->nroutes;
	memcpy(r->entries, ctx->routes,
	       (size_t)ctx->nroutes * sizeof(r->entries[0]));
	rc = ioctl(ctx->vmfd, KVM_SET_GSI_ROUTING, r);
	free(r);
	return rc;
}

static void
route_irqchip(struct vmctx *ctx, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	struct kvm_irq_routing_entry *e = &ctx->routes[ctx->nroutes++];

	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/*
 * The PC's wiring: ISA lines 0-15 drive both 8259s and the IOAPIC, with
 * ISA IRQ 0 on IOAPIC pin 2 (the MADT carries the matching override);
 * GSIs 16-23 are IOAPIC-only.
 */
int
vmm_routes_init(struct vmctx *ctx)
{
	ctx->routes = calloc(VMM_MAX_ROUTES, sizeof(*ctx->routes));
	ctx->msi_gsi_used = calloc(VMM_MSI_GSI_COUNT, 1);
	if (ctx->routes == NULL || ctx->msi_gsi_used == NULL)
		return -1;
	ctx->nroutes = 0;
	for (uint32_t gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue; /* the cascade: no device drives it */
		route_irqchip(ctx, gsi,
			      gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
				      : KVM_IRQCHIP_PIC_SLAVE,
			      gsi % 8);
	}
	for (uint32_t gsi = 0; gsi < 24; gsi++) {
		if (gsi != 2)
			route_irqchip(ctx, gsi, KVM_IRQCHIP_IOAPIC,
				      gsi == 0 ? 2 : gsi);
	}
	return routes_commit(ctx);
}

void
vmm_routes_fini(struct vmctx *ctx)
{
	free(ctx->routes);
	free(ctx->msi_gsi_used);
	ctx->routes = NULL;
	ctx->msi_gsi_used = NULL;
}

static void
msi_entry_set(struct kvm_irq_routing_entry *e, int gsi, uint64_t addr,
	      uint32_t data)
{
	memset(e, 0, sizeof(*e));
	e->gsi = (uint32_t)gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
}

static struct kvm_irq_routing_entry *
msi_entry_find(struct vmctx *ctx, int gsi)
{
	for (int i = 0; i < ctx->nroutes; i++) {
		if (ctx->routes[i].gsi == (uint32_t)gsi &&
		    ctx->routes[i].type == KVM_IRQ_ROUTING_MSI)
			return &ctx->routes[i];
	}
	return NULL;
}

int
vm_msi_route_alloc(struct vmctx *ctx, uint64_t addr, uint32_t data)
{
	int gsi = -1;

	if (ctx->vmfd < 0) {
		errno = ENODEV;
		return -1;
	}
	pthread_mutex_lock(&ctx->lock);
	for (int i = 0; i < VMM_MSI_GSI_COUNT && gsi < 0; i++) {
		if (!ctx->msi_gsi_used[i])
			gsi = VMM_MSI_GSI_BASE + i;
	}
	if (gsi < 0 || ctx->nroutes >= VMM_MAX_ROUTES) {
		pthread_mutex_unlock(&ctx->lock);
		errno = ENOSPC;
		return -1;
	}
	msi_entry_set(&ctx->routes[ctx->nroutes++], gsi, addr, data);
	if (routes_commit(ctx) != 0) {
		ctx->nroutes--;
		pthread_mutex_unlock(&ctx->lock);
		return -1;
	}
	ctx->msi_gsi_used[gsi - VMM_MSI_GSI_BASE] = 1;
	pthread_mutex_unlock(&ctx->lock);
	return gsi;
}

int
vm_msi_route_update(struct vmctx *ctx, int gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing_entry *e, saved;
	int rc;

	pthread_mutex_lock(&ctx->lock);
	e = msi_entry_find(ctx, gsi);
	if (e == NULL) {
		pthread_mutex_unlock(&ctx->lock);
		errno = ENOENT;
		return -1;
	}
	saved = *e;
	msi_entry_set(e, gsi, addr, data);
	rc = routes_commit(ctx);
	if (rc != 0)
		*e = saved;
	pthread_mutex_unlock(&ctx->lock);
	return rc;
}

int
vm_msi_route_free(struct vmctx *ctx, int gsi)
{
	struct kvm_irq_routing_entry *e;
	int rc;

	pthread_mutex_lock(&ctx->lock);
	e = msi_entry_find(ctx, gsi);
	if (e == NULL) {
		pthread_mutex_unlock(&ctx->lock);
		errno = ENOENT;
		return -1;
	}
	*e = ctx->routes[--ctx->nroutes];
	ctx->msi_gsi_used[gsi - VMM_MSI_GSI_BASE] = 0;
	rc = routes_commit(ctx);
	pthread_mutex_unlock(&ctx->lock);
	return rc;
}

int
vm_ioeventfd(struct vmctx *ctx, int fd, uint64_t addr, int len, bool pio,
	     bool datamatch, uint64_t data, bool deassign)
{
	struct kvm_ioeventfd io = {
	    .datamatch = data,
	    .addr = addr,
	    .len = (uint32_t)len,
	    .fd = fd,
	};

	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8) {
		errno = EINVAL;
		return -1;
	}
	io.flags |= pio ? KVM_IOEVENTFD_FLAG_PIO : 0;
	io.flags |= datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0;
	io.flags |= deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0;
	return vmm_vm_ioctl(ctx, KVM_IOEVENTFD, &io);
}

int
vm_irqfd(struct vmctx *ctx, int fd, uint32_t gsi, bool deassign)
{
	struct kvm_irqfd irqfd = {
	    .fd = (uint32_t)fd,
	    .gsi = gsi,
	    .flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0,
	};

	return vmm_vm_ioctl(ctx, KVM_IRQFD, &irqfd);
}
