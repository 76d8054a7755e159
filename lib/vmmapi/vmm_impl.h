/* Internal state shared by the libvmmapi source files. */
#ifndef VMM_IMPL_H
#define VMM_IMPL_H

#include <pthread.h>
#include <linux/kvm.h>
#include "vmmapi.h"

/* Where KVM's own hypervisor leaves go, so bhyve's can sit at 0x40000000. */
#define VMM_KVM_CPUID_BASE 0x40000100u
/* GSIs 0-23 are the PC's ISA/IOAPIC lines; MSI routes take the rest. */
#define VMM_MSI_GSI_BASE  24
#define VMM_MSI_GSI_COUNT 1000
#define VMM_MAX_ROUTES	  (48 + VMM_MSI_GSI_COUNT)

/* KVM slots: 0 low RAM, 1 high RAM, then the device segments. */
#define VMM_DEVMEM_SLOT0 2

struct vmm_devmem {
	char *name;
	void *host;
	uint64_t len;
	uint64_t gpa;
	int flags;
	bool used;
	bool mapped;
};

struct vmctx {
	char *name;
	int kvmfd;
	int vmfd; /* -1 for a detached context */
	int run_size;
	int memflags;
	int memfd;
	uint8_t *membase; /* the whole memfd, mapped once */
	uint64_t lowmem_limit;
	uint64_t lowmem;
	uint64_t highmem;
	uint16_t sockets, cores, threads, maxcpus;
	bool no_x2apic; /* hide x2APIC from CPUID (bhyve's -a) */
	struct kvm_cpuid2 *supported_cpuid;
	/* KVM's interrupt routing table: fixed PC lines, then MSI routes. */
	struct kvm_irq_routing_entry *routes;
	int nroutes;
	uint8_t *msi_gsi_used; /* indexed by gsi - VMM_MSI_GSI_BASE */
	pthread_mutex_t lock;
	struct vcpu *vcpus[VM_MAXCPU];
	struct vmm_devmem devmem[VM_DEVMEM_MAX];
};

struct vm_stat_desc {
	char *name;
	uint32_t flags;
	uint32_t size;
	uint32_t offset;
};

struct vcpu {
	struct vmctx *ctx;
	int id;	    /* bhyve's vCPU number */
	int apicid; /* KVM's vcpu id, which is the initial APIC id */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_known;
	int stats_fd;
	bool stats_tried; /* only vm_vcpu_open may issue the ioctl */
	int nstats;
	struct vm_stat_desc *stats;
	uint64_t stats_data_offset;
};

int vmm_cpuid_apply(struct vcpu *vcpu);
uint32_t vmm_apicid_for(const struct vmctx *ctx, int vcpuid);
int vmm_vm_ioctl(struct vmctx *ctx, unsigned long req, void *arg);
void vmm_stats_close(struct vcpu *vcpu);
int vmm_routes_init(struct vmctx *ctx);
void vmm_routes_fini(struct vmctx *ctx);
int vmm_stats_open(struct vcpu *vcpu);
void vmm_devmem_fini(struct vmctx *ctx);

#endif
