/*
 * The firmware configuration interface at I/O ports 0x510-0x51B, in the
 * two flavours bhyve offers (lpc.fwcfg, -l fwcfg=...):
 *
 *   qemu   QEMU's fw_cfg (QEMU docs/specs/fw_cfg.rst): a 16-bit selector
 *          at 0x510, a byte-wide data port at 0x511 and the DMA interface
 *          at 0x514 (a big-endian 64-bit descriptor address written as
 *          two 32-bit halves; writing the low half at 0x518 runs it).
 *          Items: signature "QEMU", ID with the DMA bit, UUID, RAM size,
 *          CPU counts, the file directory and the files: the ACPI tables
 *          with their table-loader script, SMBIOS, etc/e820, bootorder
 *          and the -f user files.  What OVMF and SeaBIOS read; the
 *          default with a boot ROM.  Never "etc/hardware-info": OVMF
 *          releases that read it hung with it present (QEMU's "pc"
 *          has none either).
 *   bhyve  bhyve's own "fwctl" request/response protocol (signature
 *          "BHYV", operations GET and GET_LEN on named values; bhyve
 *          exposes "hw.ncpu"), which bhyve's UEFI firmware uses.
 *
 * The device model (fwcfg_create ...) takes a VM context only for DMA
 * and is driven by port accesses, so unit tests and the fuzzer run it on
 * a detached context.  Every guest address and length of a DMA request is
 * checked with vm_map_gpa() before memory is touched; a bad request sets
 * the error bit and changes nothing else.
 */
#ifndef FW_CFG_H
#define FW_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmctx;

#define FWCFG_PORT_SEL	  0x510
#define FWCFG_PORT_DATA	  0x511
#define FWCFG_PORT_DMA_HI 0x514
#define FWCFG_PORT_DMA_LO 0x518
#define FWCFG_PORT_COUNT  12
#define FWCFG_PD_ORDER	  85 /* after ACPI and SMBIOS (80) */

/* Well-known selectors (QEMU's FW_CFG_*). */
#define FWCFG_SIGNATURE	 0x0000
#define FWCFG_ID	 0x0001
#define FWCFG_UUID	 0x0002
#define FWCFG_RAM_SIZE	 0x0003
#define FWCFG_NOGRAPHIC	 0x0004
#define FWCFG_NB_CPUS	 0x0005
#define FWCFG_MAX_CPUS	 0x000f
#define FWCFG_FILE_DIR	 0x0019
#define FWCFG_FILE_FIRST 0x0020
#define FWCFG_MAX_FILES	 256
#define FWCFG_ARCH	 0x8000 /* architecture-specific items */
#define FWCFG_NAME_LEN	 56	/* file names, NUL included */

#define FWCFG_ID_TRADITIONAL 0x1
#define FWCFG_ID_DMA	     0x2

/* FWCfgDmaAccess.control bits. */
#define FWCFG_DMA_ERROR	 0x01
#define FWCFG_DMA_READ	 0x02
#define FWCFG_DMA_SKIP	 0x04
#define FWCFG_DMA_SELECT 0x08
#define FWCFG_DMA_WRITE	 0x10

/* What a read of the DMA port returns: "QEMU CFG", big-endian. */
#define FWCFG_DMA_SIGNATURE 0x51454d5520434647ULL

struct fwcfg_softc;

struct fwcfg_softc *fwcfg_create(struct vmctx *ctx);
void fwcfg_destroy(struct fwcfg_softc *sc);

/* Adds an item under a fixed selector; data is copied.  0, or -1. */
int fwcfg_add_item(struct fwcfg_softc *sc, uint16_t key, const void *data,
		   uint32_t len);
/*
 * Adds a named file (listed in the directory, sorted by name) and
 * returns its selector, or -1 (duplicate name, bad name, table full).
 * Writable files accept DMA writes of their existing length.
 */
int fwcfg_add_file(struct fwcfg_softc *sc, const char *name, const void *data,
		   uint32_t len, bool writable);
/* The current contents of a file (tests); NULL if absent. */
const uint8_t *fwcfg_file_data(struct fwcfg_softc *sc, const char *name,
			       uint32_t *len);

/* Guest port accesses (bytes 1, 2 or 4) at 0x510-0x51B. */
uint32_t fwcfg_io_read(struct fwcfg_softc *sc, int port, int bytes);
void fwcfg_io_write(struct fwcfg_softc *sc, int port, int bytes, uint32_t val);

/* bhyve's fwctl flavour, the same way. */
struct fwctl_softc;
struct fwctl_softc *fwctl_create(int ncpus);
void fwctl_destroy(struct fwctl_softc *sc);
uint32_t fwctl_io_read(struct fwctl_softc *sc, int port, int bytes);
void fwctl_io_write(struct fwctl_softc *sc, int port, int bytes, uint32_t val);

/*
 * Boot order (QEMU's "bootorder" file: one OpenFirmware device path per
 * line, lowest index first).  Devices with a bootindex call this from
 * their init, before fw_cfg's (FWCFG_PD_ORDER).  0, or -1.
 */
int fwcfg_bootorder_add(int index, const char *path);

/*
 * Fills sc with everything the qemu flavour exposes for this VM: the
 * fixed items, ACPI, SMBIOS, etc/e820, bootorder and the fwcfg.user.N
 * files.  0, or -1 after printing one line.
 */
int fwcfg_populate(struct fwcfg_softc *sc, struct vmctx *ctx, int ncpus);

/*
 * Whether the VM gets the qemu flavour: lpc.fwcfg=qemu, or lpc.fwcfg
 * unset with a boot ROM (OVMF reads nothing else); else bhyve's.
 */
bool fwcfg_flavour_is_qemu(void);

#endif
