/*
 * libvmmapi: bhyve's VM API shape, implemented on Linux KVM.
 *
 * A VM is a KVM VM fd plus guest memory held in a memfd segment, split
 * around the PCI hole the way bhyve lays it out: RAM from 0 up to the
 * low-memory limit (3 GiB by default), the rest above 4 GiB.  Every access
 * to guest memory by the VMM goes through vm_map_gpa(), which refuses any
 * range that is not entirely RAM.
 */
#ifndef VMMAPI_H
#define VMMAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_MAXCPU	    1024
#define VM_LOWMEM_LIMIT_DEF (3ULL << 30) /* bhyve's default: 3 GiB */
#define VM_HIGHMEM_BASE	    (4ULL << 30)
/*
 * KVM's own pages in the guest-physical space (the real-mode identity map
 * and TSS of Intel hosts), below the local APIC as QEMU places them; the
 * guest has no RAM there (the PCI hole).
 */
#define VM_KVM_PRIVATE_BASE 0xfeffc000ULL
#define VM_KVM_PRIVATE_SIZE 0x4000ULL

struct vmctx;
struct vcpu;

enum vm_reg_name {
	VM_REG_GUEST_RAX,
	VM_REG_GUEST_RBX,
	VM_REG_GUEST_RCX,
	VM_REG_GUEST_RDX,
	VM_REG_GUEST_RSI,
	VM_REG_GUEST_RDI,
	VM_REG_GUEST_RBP,
	VM_REG_GUEST_R8,
	VM_REG_GUEST_R9,
	VM_REG_GUEST_R10,
	VM_REG_GUEST_R11,
	VM_REG_GUEST_R12,
	VM_REG_GUEST_R13,
	VM_REG_GUEST_R14,
	VM_REG_GUEST_R15,
	VM_REG_GUEST_CR0,
	VM_REG_GUEST_CR3,
	VM_REG_GUEST_CR4,
	VM_REG_GUEST_DR7,
	VM_REG_GUEST_RSP,
	VM_REG_GUEST_RIP,
	VM_REG_GUEST_RFLAGS,
	VM_REG_GUEST_ES,
	VM_REG_GUEST_CS,
	VM_REG_GUEST_SS,
	VM_REG_GUEST_DS,
	VM_REG_GUEST_FS,
	VM_REG_GUEST_GS,
	VM_REG_GUEST_LDTR,
	VM_REG_GUEST_TR,
	VM_REG_GUEST_IDTR,
	VM_REG_GUEST_GDTR,
	VM_REG_GUEST_EFER,
	VM_REG_GUEST_CR2,
	VM_REG_GUEST_CR8,
	VM_REG_GUEST_DR0,
	VM_REG_GUEST_DR1,
	VM_REG_GUEST_DR2,
	VM_REG_GUEST_DR3,
	VM_REG_GUEST_DR6,
	VM_REG_LAST
};

/* Segment access rights in the VMX layout bhyve uses. */
#define SEG_ACCESS_TYPE(a)  ((a)&0xf)
#define SEG_ACCESS_S	    (1u << 4)
#define SEG_ACCESS_DPL(a)   (((a) >> 5) & 3)
#define SEG_ACCESS_P	    (1u << 7)
#define SEG_ACCESS_AVL	    (1u << 12)
#define SEG_ACCESS_L	    (1u << 13)
#define SEG_ACCESS_DB	    (1u << 14)
#define SEG_ACCESS_G	    (1u << 15)
#define SEG_ACCESS_UNUSABLE (1u << 16)

enum vm_exitcode {
	VM_EXITCODE_INOUT,     /* port I/O, possibly a string of items */
	VM_EXITCODE_MMIO,      /* access to an address that is not RAM */
	VM_EXITCODE_HLT,       /* every vCPU halted with interrupts off */
	VM_EXITCODE_SHUTDOWN,  /* triple fault */
	VM_EXITCODE_SUSPENDED, /* reset/poweroff requested via KVM */
	VM_EXITCODE_RDMSR,     /* MSR KVM does not know */
	VM_EXITCODE_WRMSR,
	VM_EXITCODE_DEBUG, /* guest debug: breakpoint or single-step */
	VM_EXITCODE_INTERNAL_ERROR,
	VM_EXITCODE_FAIL_ENTRY,
	VM_EXITCODE_INTERRUPTED, /* KVM_RUN returned EINTR (a kick) */
	VM_EXITCODE_UNKNOWN,
	VM_EXITCODE_MAX
};

enum vm_suspend_how {
	VM_SUSPEND_NONE,
	VM_SUSPEND_RESET,
	VM_SUSPEND_POWEROFF,
	VM_SUSPEND_HALT,
	VM_SUSPEND_TRIPLEFAULT,
	VM_SUSPEND_LAST
};

struct vm_exit {
	enum vm_exitcode exitcode;
	uint64_t rip; /* set for internal-error, fail-entry and unknown exits */
	union {
		struct {
			uint16_t port;
			uint8_t bytes; /* 1, 2 or 4 */
			bool in;
			bool string; /* ins/outs: count items in data */
			uint32_t count;
			uint8_t *data; /* count * bytes, inside the run area */
		} inout;
		struct {
			uint64_t gpa;
			uint8_t bytes;
			bool write;
			uint8_t *data; /* bytes long, inside the run area */
		} mmio;
		struct {
			uint32_t msr;
			uint32_t reason;
			uint64_t value;		  /* wrmsr: value written */
			uint8_t *error;		  /* set to 1 to inject #GP */
			unsigned long long *data; /* rdmsr: value to return */
		} msr;
		struct {
			enum vm_suspend_how how;
		} suspended;
		struct {
			uint32_t suberror;
			uint32_t ndata;
			uint64_t data[16];
		} internal;
		struct {
			uint32_t exception;
			uint64_t pc;
			uint64_t dr6;
			uint64_t dr7;
		} debug;
		struct {
			uint64_t reason;
		} fail_entry;
		struct {
			uint32_t kvm_reason;
		} unknown;
	} u;
};

/* Memory flags for vm_set_memflags(). */
#define VM_MEM_F_WIRED	   0x01 /* lock guest memory resident (-S) */
#define VM_MEM_F_HUGEPAGES 0x02 /* back guest memory with hugetlbfs */
#define VM_MEM_F_INCORE	   0x04 /* include guest memory in core dumps */

struct vm_memseg_info {
	uint64_t gpa;
	uint64_t len;
	uint64_t fd_offset; /* offset of this range in the memfd */
};

struct vmctx *vm_create(const char *name);
/*
 * A context with guest memory (memfd) but no KVM VM: for unit tests,
 * fuzzers and offline tools.  vCPU calls on it fail with ENODEV.
 */
struct vmctx *vm_create_detached(const char *name);
/*
 * Attaches to a VM another bhyve process runs, through the VM registry's
 * control socket (docs/control.md): a read-only view of its guest memory
 * (vm_map_gpa, vm_copyin, vm_get_memmap work; vCPU calls fail, ENODEV).
 * The run directory is vm_ctl_rundir(NULL, ...) (vmm_ctl.h):
 * $BEEHIVE_RUNDIR, else the registry's default.
 */
struct vmctx *vm_open(const char *name);
struct vmctx *vm_open_rundir(const char *rundir, const char *name);
void vm_destroy(struct vmctx *ctx);
const char *vm_get_name(struct vmctx *ctx);
int vm_get_kvm_fd(struct vmctx *ctx);
int vm_get_vm_fd(struct vmctx *ctx);

void vm_set_memflags(struct vmctx *ctx, int flags);
/*
 * Whether CPUID offers x2APIC mode (leaf 1 ECX bit 21); KVM's local APIC
 * emulates it and it is offered by default.  false gives bhyve's xAPIC-only
 * guest (-a, x86.x2apic=false).  Call before the first vm_vcpu_open.
 */
void vm_set_x2apic_offered(struct vmctx *ctx, bool offered);
int vm_get_memflags(struct vmctx *ctx);
void vm_set_lowmem_limit(struct vmctx *ctx, uint64_t limit);
uint64_t vm_get_lowmem_limit(struct vmctx *ctx);
int vm_setup_memory(struct vmctx *ctx, size_t len);

/*
 * Guest NUMA domains' host memory (bhyve's vm_setup_memory_domains()):
 * domain i holds the next size bytes of guest RAM in memfd order (low
 * memory, then high memory).  A domain whose mode is not MPOL_DEFAULT is
 * bound with mbind(2) (mode MPOL_BIND, MPOL_PREFERRED or MPOL_INTERLEAVE
 * of <linux/mempolicy.h>, nodes a mask of host nodes 0..VM_HOST_NODES-1)
 * before any of its pages exists, so every page follows the policy.
 * The sizes must add up to len.  -1 with errno (EINVAL for bad domains;
 * mbind's errno, e.g. ENOSYS without kernel NUMA support).
 */
#define VM_MAXMEMDOM	   8
#define VM_HOST_NODES	   1024
#define VM_HOST_NODE_WORDS (VM_HOST_NODES / (8 * sizeof(unsigned long)))
struct vm_mem_domain {
	uint64_t size;
	int mode;
	unsigned long nodes[VM_HOST_NODE_WORDS];
};
int vm_setup_memory_domains(struct vmctx *ctx, size_t len,
			    const struct vm_mem_domain *doms, int ndoms);
/*
 * The host nodes this process may allocate from (get_mempolicy(2),
 * MPOL_F_MEMS_ALLOWED) into mask[VM_HOST_NODE_WORDS].  -1 with errno
 * ENOSYS where the kernel has no NUMA support.
 */
int vm_host_nodes_allowed(unsigned long *mask);
void *vm_map_gpa(struct vmctx *ctx, uint64_t gpa, size_t len);
uint64_t vm_get_lowmem_size(struct vmctx *ctx);
uint64_t vm_get_highmem_size(struct vmctx *ctx);
int vm_get_memfd(struct vmctx *ctx);
/* Fills up to max ranges of RAM; returns the number of ranges. */
int vm_get_memmap(struct vmctx *ctx, struct vm_memseg_info *segs, int max);
/* Copies between guest RAM and host buffers; -1/EFAULT if not all RAM. */
int vm_copyin(struct vmctx *ctx, uint64_t gpa, void *dst, size_t len);
int vm_copyout(struct vmctx *ctx, const void *src, uint64_t gpa, size_t len);
/*
 * Zeroes guest RAM without touching the pages that can be dropped: whole
 * pages go back to the kernel (a hole in the memfd reads as zero and costs
 * nothing until written), the partial pages at the ends are cleared.
 * -1/EFAULT if not all RAM.
 */
int vm_zero_gpa(struct vmctx *ctx, uint64_t gpa, size_t len);

/*
 * Device memory (bhyve's vm_create_devmem/vm_mmap_memseg shape): guest
 * memory that is not RAM, such as a boot ROM or a flash device's array.
 * The caller owns the host memory (page aligned, a whole number of pages)
 * and keeps it mapped while the segment exists.  vm_create_devmem()
 * registers it and returns a segment id (>= 0); vm_mmap_devmem() makes it
 * visible at gpa (a KVM memory slot of its own; VM_DEVMEM_READONLY makes
 * it KVM_MEM_READONLY, so guest writes exit as MMIO) and
 * vm_munmap_devmem() removes it again (then every access exits as MMIO),
 * as often as needed while the VM runs.  gpa must be page aligned and the
 * range must not overlap RAM or another mapped segment.  On a detached
 * context the calls only keep the bookkeeping.  -1 with errno: EINVAL,
 * EEXIST (overlap), ENOSPC (VM_DEVMEM_MAX segments), ENOTSUP (KVM without
 * read-only slots), or KVM's.
 */
#define VM_DEVMEM_MAX	   8
#define VM_DEVMEM_READONLY 0x1
int vm_create_devmem(struct vmctx *ctx, const char *name, void *host,
		     size_t len, int flags);
int vm_mmap_devmem(struct vmctx *ctx, int segid, uint64_t gpa);
int vm_munmap_devmem(struct vmctx *ctx, int segid);
/* Whether segid is mapped now; its address in *gpa if so. */
bool vm_devmem_mapped(struct vmctx *ctx, int segid, uint64_t *gpa);

/* CPU topology for the CPUID policy; call before the first vm_vcpu_open. */
int vm_set_topology(struct vmctx *ctx, uint16_t sockets, uint16_t cores,
		    uint16_t threads, uint16_t maxcpus);
void vm_get_topology(struct vmctx *ctx, uint16_t *sockets, uint16_t *cores,
		     uint16_t *threads, uint16_t *maxcpus);
/* Which exits the VM delivers: strict MSR handling via userspace exits. */
int vm_set_msr_exits(struct vmctx *ctx, bool enable);

struct vcpu *vm_vcpu_open(struct vmctx *ctx, int vcpuid);
void vm_vcpu_close(struct vcpu *vcpu);
int vcpu_id(struct vcpu *vcpu);
struct vmctx *vcpu_ctx(struct vcpu *vcpu);
int vm_run(struct vcpu *vcpu, struct vm_exit *vmexit);
/* Makes a vCPU leave vm_run() soon with VM_EXITCODE_INTERRUPTED. */
void vm_vcpu_kick(struct vcpu *vcpu);
/* For the vCPU thread itself: arm/disarm KVM's immediate_exit flag. */
void vm_vcpu_set_immediate_exit(struct vcpu *vcpu, bool on);

int vm_get_register(struct vcpu *vcpu, int reg, uint64_t *val);
int vm_set_register(struct vcpu *vcpu, int reg, uint64_t val);
int vm_get_register_set(struct vcpu *vcpu, unsigned int count,
			const int *regnums, uint64_t *regvals);
int vm_set_register_set(struct vcpu *vcpu, unsigned int count,
			const int *regnums, uint64_t *regvals);
int vm_get_desc(struct vcpu *vcpu, int reg, uint64_t *base, uint32_t *limit,
		uint32_t *access);
int vm_set_desc(struct vcpu *vcpu, int reg, uint64_t base, uint32_t limit,
		uint32_t access);
int vm_get_msr(struct vcpu *vcpu, uint32_t msr, uint64_t *val);
int vm_set_msr(struct vcpu *vcpu, uint32_t msr, uint64_t val);
/*
 * FPU/SSE state in the FXSAVE layout (Intel SDM Vol. 1, 10.5.1, 64-bit
 * form): VM_FXSAVE_LEN bytes with these field offsets.
 */
#define VM_FXSAVE_LEN 512
#define VM_FX_FCW     0
#define VM_FX_FSW     2
#define VM_FX_FTW     4
#define VM_FX_FOP     6
#define VM_FX_FIP     8
#define VM_FX_FDP     16
#define VM_FX_MXCSR   24
#define VM_FX_ST0     32
#define VM_FX_XMM0    160
int vm_get_fpu(struct vcpu *vcpu, void *fxsave, size_t len);
int vm_set_fpu(struct vcpu *vcpu, const void *fxsave, size_t len);
/* KVM multiprocessor state: runnable, halted, waiting for SIPI ... */
int vm_get_run_state(struct vcpu *vcpu, uint32_t *mp_state);
int vm_set_run_state(struct vcpu *vcpu, uint32_t mp_state);
/* Resets a vCPU to its power-on state (bhyve's vcpu_reset). */
int vcpu_reset(struct vcpu *vcpu);

int vm_inject_exception(struct vcpu *vcpu, int vector, int errcode_valid,
			uint32_t errcode, int restart_instruction);
int vm_inject_nmi(struct vcpu *vcpu);
int vm_lapic_msi(struct vmctx *ctx, uint64_t addr, uint64_t msg);
int vm_ioapic_assert_irq(struct vmctx *ctx, int irq);
int vm_ioapic_deassert_irq(struct vmctx *ctx, int irq);
int vm_ioapic_pulse_irq(struct vmctx *ctx, int irq);
int vm_ioapic_pincount(struct vmctx *ctx, int *pincount);
int vm_isa_assert_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq);
int vm_isa_deassert_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq);
int vm_isa_pulse_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq);

/*
 * Fast paths that bypass the VMM process (virtio, viona-class networking).
 *
 * vm_ioeventfd: a guest write to [addr, addr+len) (MMIO, or port I/O when
 * pio is true) signals fd instead of exiting; with datamatch only writes
 * of that value do.  vm_irqfd: writing fd raises interrupt route gsi.
 * MSI routes are GSIs whose target is an MSI message; the library keeps
 * KVM's routing table (the PC's ISA/IOAPIC lines plus these) in one place.
 */
int vm_ioeventfd(struct vmctx *ctx, int fd, uint64_t addr, int len, bool pio,
		 bool datamatch, uint64_t data, bool deassign);
int vm_irqfd(struct vmctx *ctx, int fd, uint32_t gsi, bool deassign);
/* Allocates a GSI routed to an MSI message; -1 if the table is full. */
int vm_msi_route_alloc(struct vmctx *ctx, uint64_t addr, uint32_t data);
int vm_msi_route_update(struct vmctx *ctx, int gsi, uint64_t addr,
			uint32_t data);
int vm_msi_route_free(struct vmctx *ctx, int gsi);

/*
 * Statistics: KVM's binary per-vCPU stats (name/value pairs).  Returns the
 * number of entries written, or -1.  Names point into library storage.
 */
struct vm_stat {
	const char *name;
	uint64_t value;
};
int vm_get_stats(struct vcpu *vcpu, struct vm_stat *stats, int max);
/* One named per-vCPU statistic; -1 if KVM does not provide it. */
int vm_get_stat(struct vcpu *vcpu, const char *name, uint64_t *value);

/* Guest debugging (KVM_SET_GUEST_DEBUG): single-step and hw breakpoints. */
int vm_set_guest_debug(struct vcpu *vcpu, uint32_t control,
		       const uint64_t dr[8]);

const char *vm_exitcode_name(enum vm_exitcode code);

#endif /* VMMAPI_H */
