/*
 * CFI flash for the boot ROM's variable store (pflash.h), and the
 * platform device that maps the boot ROM and its store into the guest.
 * Command semantics follow the Intel/Sharp command set (JEDEC JESD68, CFI;
 * Intel StrataFlash datasheets) as far as OVMF uses them.
 */
#include "pflash.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootrom.h"
#include "config_vm.h"
#include "mem.h"
#include "platform_dev.h"
#include "vmmapi.h"

enum pflash_mode {
	PFLASH_READ_ARRAY,
	PFLASH_READ_STATUS,
	PFLASH_READ_ID,
	PFLASH_READ_CFI,
	PFLASH_PROGRAM,	    /* the next write is the data */
	PFLASH_ERASE_SETUP, /* the next write must be 0xd0 */
};

struct pflash {
	struct vmctx *ctx;
	uint64_t gpa;
	uint8_t *array;
	size_t len;
	int fd;
	int segid;
	bool registered;
	bool io_error_reported;
	bool unsynced; /* written since the last fdatasync */
	enum pflash_mode mode;
	uint8_t status;
	pthread_mutex_t lock;
	struct mem_range mr;
};

/* Identifier codes (read identifier mode, offsets 0 and 1). */
#define PFLASH_MANUFACTURER 0x89 /* Intel */
#define PFLASH_DEVICE	    0x18

/* The CFI query answer at byte offset off, for a byte-wide device. */
static uint8_t
pflash_cfi_byte(const struct pflash *fl, uint64_t off)
{
	uint32_t blocks = (uint32_t)(fl->len / PFLASH_BLOCK) - 1;
	unsigned int log2size = 0;

	while (log2size < 63 && (1ULL << log2size) < fl->len)
		log2size++;
	switch (off) {
	case 0x10:
		return 'Q';
	case 0x11:
		return 'R';
	case 0x12:
		return 'Y';
	case 0x13:
		return 0x01; /* primary command set: Intel/Sharp extended */
	case 0x1b:
		return 0x45; /* Vcc min 4.5 V */
	case 0x1c:
		return 0x55; /* Vcc max 5.5 V */
	case 0x1f:
		return 0x07; /* typical byte program: 2^7 us */
	case 0x21:
		return 0x0a; /* typical block erase: 2^10 ms */
	case 0x23:
		return 0x04; /* max program: 2^4 times typical */
	case 0x25:
		return 0x04; /* max erase: 2^4 times typical */
	case 0x27:
		return (uint8_t)log2size; /* device size 2^n bytes */
	case 0x2c:
		return 0x01; /* one erase block region */
	case 0x2d:
		return (uint8_t)blocks; /* blocks - 1, 16 bits */
	case 0x2e:
		return (uint8_t)(blocks >> 8);
	case 0x2f:
		return (uint8_t)(PFLASH_BLOCK / 256); /* block size / 256 */
	case 0x30:
		return (uint8_t)(PFLASH_BLOCK / 256 >> 8);
	default:
		return 0;
	}
}

static void
pflash_io_error(struct pflash *fl, const char *what)
{
	if (!fl->io_error_reported)
		fprintf(stderr,
			"bhyve: bootvars: %s the variable store failed: %s\n",
			what, strerror(errno ? errno : EIO));
	fl->io_error_reported = true;
}

/*
 * Writes [off, off + n) of the array through to the VARS file at once;
 * the fdatasync follows when the sequence ends (read-array mode again,
 * which is how OVMF ends every write and erase), so that a variable
 * written byte by byte costs one sync, not one per byte.
 */
static bool
pflash_persist(struct pflash *fl, uint64_t off, size_t n)
{
	size_t done = 0;

	if (fl->fd < 0)
		return true;
	while (done < n) {
		ssize_t w = pwrite(fl->fd, fl->array + off + done, n - done,
				   (off_t)(off + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			pflash_io_error(fl, "writing");
			return false;
		}
		done += (size_t)w;
	}
	fl->unsynced = true;
	return true;
}

static void
pflash_sync(struct pflash *fl)
{
	if (!fl->unsynced)
		return;
	fl->unsynced = false;
	if (fdatasync(fl->fd) != 0)
		pflash_io_error(fl, "syncing");
}

/* Maps or removes the read-only slot to match the mode.  Lock held. */
static void
pflash_set_mode(struct pflash *fl, enum pflash_mode mode)
{
	bool was = fl->mode == PFLASH_READ_ARRAY;
	bool want = mode == PFLASH_READ_ARRAY;

	fl->mode = mode;
	if (want)
		pflash_sync(fl);
	if (was == want || fl->segid < 0)
		return;
	/*
	 * On failure the slot stays as it was: reads that still exit are
	 * answered from the mode, and a slot that stays mapped only means
	 * the guest reads the array where it asked for status.
	 */
	if (want)
		(void)vm_mmap_devmem(fl->ctx, fl->segid, fl->gpa);
	else
		(void)vm_munmap_devmem(fl->ctx, fl->segid);
}

static void
pflash_program(struct pflash *fl, uint64_t off, int size, uint64_t val)
{
	size_t n = (size_t)size;

	if (off >= fl->len || n > fl->len - off) {
		fl->status |= PFLASH_SR_PROGRAM_ERR;
		return;
	}
	for (size_t i = 0; i < n; i++)
		fl->array[off + i] = (uint8_t)(val >> (8 * i));
	if (!pflash_persist(fl, off, n))
		fl->status |= PFLASH_SR_PROGRAM_ERR;
}

static void
pflash_erase(struct pflash *fl, uint64_t off)
{
	uint64_t base = off / PFLASH_BLOCK * PFLASH_BLOCK;

	if (off >= fl->len) {
		fl->status |= PFLASH_SR_ERASE_ERR;
		return;
	}
	memset(fl->array + base, 0xff, PFLASH_BLOCK);
	if (!pflash_persist(fl, base, PFLASH_BLOCK))
		fl->status |= PFLASH_SR_ERASE_ERR;
}

static void
pflash_command(struct pflash *fl, uint8_t cmd)
{
	switch (cmd) {
	case 0x10:
	case 0x40:
		pflash_set_mode(fl, PFLASH_PROGRAM);
		break;
	case 0x20:
		pflash_set_mode(fl, PFLASH_ERASE_SETUP);
		break;
	case 0x50:
		/* Clear status; the device reads the array again. */
		fl->status = 0;
		pflash_set_mode(fl, PFLASH_READ_ARRAY);
		break;
	case 0x70:
		pflash_set_mode(fl, PFLASH_READ_STATUS);
		break;
	case 0x90:
		pflash_set_mode(fl, PFLASH_READ_ID);
		break;
	case 0x98:
		pflash_set_mode(fl, PFLASH_READ_CFI);
		break;
	default:
		/* 0xff, 0xf0 (read array), and anything unknown. */
		pflash_set_mode(fl, PFLASH_READ_ARRAY);
		break;
	}
}

static uint8_t
pflash_read_byte(struct pflash *fl, uint64_t off)
{
	switch (fl->mode) {
	case PFLASH_READ_ARRAY:
		return off < fl->len ? fl->array[off] : 0xff;
	case PFLASH_READ_ID:
		if (off % 2 == 0)
			return (off & 0xff) == 0 ? PFLASH_MANUFACTURER : 0;
		return (off & 0xff) == 1 ? PFLASH_DEVICE : 0;
	case PFLASH_READ_CFI:
		return pflash_cfi_byte(fl, off);
	default:
		/* Status; in a pending command too, as the chips answer. */
		return fl->status;
	}
}

int
pflash_access(struct pflash *fl, bool write, uint64_t off, int size,
	      uint64_t *val)
{
	if (size < 1 || size > 8)
		size = 1;
	pthread_mutex_lock(&fl->lock);
	if (!write) {
		uint64_t v = 0;

		for (int i = 0; i < size; i++) {
			uint64_t o = off + (uint64_t)i;

			v |= (uint64_t)pflash_read_byte(fl, o < off ? off : o)
			     << (8 * i);
		}
		*val = v;
	} else if (fl->mode == PFLASH_PROGRAM) {
		pflash_program(fl, off, size, *val);
		fl->status |= PFLASH_SR_READY;
		pflash_set_mode(fl, PFLASH_READ_STATUS);
	} else if (fl->mode == PFLASH_ERASE_SETUP) {
		if ((uint8_t)*val == 0xd0)
			pflash_erase(fl, off);
		else /* command sequence error */
			fl->status |=
			    PFLASH_SR_ERASE_ERR | PFLASH_SR_PROGRAM_ERR;
		fl->status |= PFLASH_SR_READY;
		pflash_set_mode(fl, PFLASH_READ_STATUS);
	} else {
		pflash_command(fl, (uint8_t)*val);
	}
	pthread_mutex_unlock(&fl->lock);
	return 0;
}

bool
pflash_read_array(struct pflash *fl)
{
	bool r;

	pthread_mutex_lock(&fl->lock);
	r = fl->mode == PFLASH_READ_ARRAY;
	pthread_mutex_unlock(&fl->lock);
	return r;
}

static int
pflash_mem(struct vcpu *vcpu, int dir, uint64_t addr, int size, uint64_t *val,
	   void *arg1, long arg2)
{
	struct pflash *fl = arg1;

	if (addr < fl->gpa)
		return dir == MEM_F_READ ? (*val = ~0ULL, 0) : 0;
	return pflash_access(fl, dir == MEM_F_WRITE, addr - fl->gpa, size, val);
}

struct pflash *
pflash_create(struct vmctx *ctx, uint64_t gpa, uint8_t *array, size_t len,
	      int fd)
{
	struct pflash *fl;

	if (len == 0 || len % PFLASH_BLOCK != 0) {
		fprintf(stderr, "bhyve: bootvars: bad flash size %zu\n", len);
		return NULL;
	}
	fl = calloc(1, sizeof(*fl));
	if (fl == NULL)
		return NULL;
	*fl = (struct pflash){.ctx = ctx,
			      .gpa = gpa,
			      .array = array,
			      .len = len,
			      .fd = fd,
			      .segid = -1,
			      .mode = PFLASH_READ_ARRAY,
			      .status = PFLASH_SR_READY};
	pthread_mutex_init(&fl->lock, NULL);
	fl->segid =
	    vm_create_devmem(ctx, "bootvars", array, len, VM_DEVMEM_READONLY);
	if (fl->segid < 0 || vm_mmap_devmem(ctx, fl->segid, gpa) != 0) {
		fprintf(stderr,
			"bhyve: bootvars: cannot map the variable store at "
			"0x%llx: %s\n",
			(unsigned long long)gpa, strerror(errno));
		goto fail;
	}
	fl->mr = (struct mem_range){.name = "bootvars",
				    .flags = MEM_F_RW,
				    .handler = pflash_mem,
				    .arg1 = fl,
				    .base = gpa,
				    .size = len};
	if (register_mem(&fl->mr) != 0) {
		fprintf(stderr,
			"bhyve: bootvars: 0x%llx-0x%llx is already in use\n",
			(unsigned long long)gpa,
			(unsigned long long)(gpa + len - 1));
		goto fail;
	}
	fl->registered = true;
	return fl;
fail:
	pflash_destroy(fl);
	return NULL;
}

void
pflash_destroy(struct pflash *fl)
{
	if (fl == NULL)
		return;
	pflash_sync(fl);
	if (fl->registered)
		unregister_mem(&fl->mr);
	if (fl->segid >= 0 && vm_devmem_mapped(fl->ctx, fl->segid, NULL))
		(void)vm_munmap_devmem(fl->ctx, fl->segid);
	pthread_mutex_destroy(&fl->lock);
	free(fl);
}

/* ---- the boot ROM platform device ---- */

static struct pflash *bootrom_flash;
static struct mem_range bootrom_rom_mr;
static bool bootrom_rom_registered;

/* The ROM: reads that exit (none normally) see it, writes are dropped. */
static int
bootrom_rom_mem(struct vcpu *vcpu, int dir, uint64_t addr, int size,
		uint64_t *val, void *arg1, long arg2)
{
	const struct bootrom *br = arg1;
	uint64_t off = addr - bootrom_rom_gpa(br);

	if (dir == MEM_F_READ) {
		*val = 0;
		for (int i = 0; i < size && off + (uint64_t)i < br->rom_len;
		     i++)
			*val |= (uint64_t)br->rom[off + (uint64_t)i] << (8 * i);
	}
	return 0;
}

static int
bootrom_dev_init(struct vmctx *ctx)
{
	const struct bootrom *br = bootrom_get();
	int segid;

	if (!platform_firmware_is_uefi() || br == NULL)
		return 0;
	segid = vm_create_devmem(ctx, "bootrom", (void *)br->rom, br->rom_len,
				 VM_DEVMEM_READONLY);
	if (segid < 0 || vm_mmap_devmem(ctx, segid, bootrom_rom_gpa(br)) != 0) {
		fprintf(stderr,
			"bhyve: lpc.bootrom: cannot map the boot ROM at "
			"0x%llx: %s\n",
			(unsigned long long)bootrom_rom_gpa(br),
			errno == ENOTSUP ? "KVM lacks read-only memory slots"
					 : strerror(errno));
		return -1;
	}
	bootrom_rom_mr = (struct mem_range){.name = "bootrom",
					    .flags = MEM_F_RW,
					    .handler = bootrom_rom_mem,
					    .arg1 = (void *)br,
					    .base = bootrom_rom_gpa(br),
					    .size = br->rom_len};
	if (register_mem(&bootrom_rom_mr) != 0) {
		fprintf(stderr, "bhyve: lpc.bootrom: its range is in use\n");
		return -1;
	}
	bootrom_rom_registered = true;
	if (br->vars != NULL) {
		bootrom_flash =
		    pflash_create(ctx, bootrom_vars_gpa(br), br->vars,
				  br->vars_len, br->vars_fd);
		if (bootrom_flash == NULL)
			return -1;
	}
	return 0;
}

static void
bootrom_dev_fini(void)
{
	pflash_destroy(bootrom_flash);
	bootrom_flash = NULL;
	if (bootrom_rom_registered)
		unregister_mem(&bootrom_rom_mr);
	bootrom_rom_registered = false;
}

static const struct platform_dev bootrom_dev = {
    .pd_name = "bootrom",
    .pd_order = 5,
    .pd_init = bootrom_dev_init,
    .pd_fini = bootrom_dev_fini,
};
PLATFORM_DEV_SET(bootrom_dev);
