/*
 * fw_cfg at the register level, on a detached VM (no /dev/kvm): the
 * selector and data ports, the file directory (big-endian, sorted), DMA
 * reads, skips, selects and writes the way OVMF and Linux issue them,
 * and hostile DMA: descriptors and buffers outside RAM, lengths that
 * wrap, writes to read-only items, each refused with the error bit set
 * and no byte changed outside the request.  Then the populated qemu
 * flavour (signature, ID, etc/e820, ACPI, user files) and bhyve's fwctl.
 */
#include <stdint.h>
#include <string.h>

#include "acpi.h"
#include "config.h"
#include "e820.h"
#include "fw_cfg.h"
#include "smbios.h"
#include "test.h"
#include "vmmapi.h"

#define MiB	 (1ULL << 20)
#define DESC_GPA 0x10000ULL
#define BUF_GPA	 0x20000ULL
#define GUARD	 64

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void
sel(struct fwcfg_softc *sc, uint16_t key)
{
	fwcfg_io_write(sc, FWCFG_PORT_SEL, 2, key);
}

static void
read_bytes(struct fwcfg_softc *sc, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)fwcfg_io_read(sc, FWCFG_PORT_DATA, 1);
}

/* Writes a descriptor at DESC_GPA and starts it as a guest would. */
static uint32_t
dma(struct vmctx *ctx, struct fwcfg_softc *sc, uint64_t desc, uint32_t ctl,
    uint32_t len, uint64_t addr)
{
	uint8_t *d = vm_map_gpa(ctx, desc, 16);

	if (d != NULL) {
		put_be(d, ctl, 4);
		put_be(d + 4, len, 4);
		put_be(d + 8, addr, 8);
	}
	/* The guest writes cpu_to_be32() halves with outl. */
	fwcfg_io_write(sc, FWCFG_PORT_DMA_HI, 4,
		       __builtin_bswap32((uint32_t)(desc >> 32)));
	fwcfg_io_write(sc, FWCFG_PORT_DMA_LO, 4,
		       __builtin_bswap32((uint32_t)desc));
	return d != NULL ? (uint32_t)be(d, 4) : 0xdeadbeefu;
}

/* Every byte of [gpa, gpa+len) equals v. */
static bool
all(struct vmctx *ctx, uint64_t gpa, size_t len, uint8_t v)
{
	const uint8_t *p = vm_map_gpa(ctx, gpa, len);

	for (size_t i = 0; p != NULL && i < len; i++) {
		if (p[i] != v)
			return false;
	}
	return p != NULL;
}

static void
test_ports(struct fwcfg_softc *sc)
{
	uint8_t b[64];
	uint32_t n;

	sel(sc, FWCFG_SIGNATURE);
	read_bytes(sc, b, 4);
	CHECK(memcmp(b, "QEMU", 4) == 0, "fwcfg: signature QEMU");
	read_bytes(sc, b, 2);
	CHECK(b[0] == 0 && b[1] == 0, "fwcfg: reads past the end are zero");
	sel(sc, FWCFG_SIGNATURE);
	CHECK_EQ_U64(fwcfg_io_read(sc, FWCFG_PORT_DATA, 4), 0x554d4551,
		     "fwcfg: selecting rewinds; 4-byte data read");
	CHECK_EQ_U64(fwcfg_io_read(sc, FWCFG_PORT_SEL, 2), FWCFG_SIGNATURE,
		     "fwcfg: selector reads back");
	sel(sc, FWCFG_ID);
	read_bytes(sc, b, 4);
	CHECK(b[0] == 3, "fwcfg: ID has the DMA bit");
	sel(sc, 0x3fff);
	read_bytes(sc, b, 4);
	CHECK(b[0] == 0 && b[3] == 0, "fwcfg: unknown selector reads zero");
	fwcfg_io_write(sc, FWCFG_PORT_DATA, 1, 0x55);
	sel(sc, FWCFG_SIGNATURE);
	read_bytes(sc, b, 1);
	CHECK(b[0] == 'Q', "fwcfg: data-port writes ignored");
	CHECK_EQ_U64(fwcfg_io_read(sc, FWCFG_PORT_DMA_HI, 4), 0x554d4551,
		     "fwcfg: DMA port reads 'QEMU'");
	CHECK_EQ_U64(fwcfg_io_read(sc, FWCFG_PORT_DMA_LO, 4), 0x47464320,
		     "fwcfg: DMA port reads ' CFG'");

	/* Directory: files sorted by name whatever the insertion order. */
	CHECK(fwcfg_add_file(sc, "opt/b", "BB", 2, false) >= FWCFG_FILE_FIRST,
	      "fwcfg: add opt/b");
	CHECK(fwcfg_add_file(sc, "opt/a", "A", 1, true) >= FWCFG_FILE_FIRST,
	      "fwcfg: add opt/a (writable)");
	CHECK(fwcfg_add_file(sc, "opt/a", "X", 1, false) < 0,
	      "fwcfg: duplicate name refused");
	memset(b, 'x', sizeof(b));
	b[sizeof(b) - 1] = '\0';
	CHECK(fwcfg_add_file(sc, (const char *)b, "X", 1, false) < 0,
	      "fwcfg: 63-character name refused");
	sel(sc, FWCFG_FILE_DIR);
	read_bytes(sc, b, 4);
	n = (uint32_t)be(b, 4);
	CHECK_EQ_U64(n, 2, "fwcfg: directory count (big-endian)");
	read_bytes(sc, b, 64);
	CHECK(be(b, 4) == 1 && strcmp((char *)b + 8, "opt/a") == 0,
	      "fwcfg: first entry opt/a, size 1");
	read_bytes(sc, b, 64);
	CHECK(be(b, 4) == 2 && strcmp((char *)b + 8, "opt/b") == 0,
	      "fwcfg: second entry opt/b, size 2");
	sel(sc, (uint16_t)be(b + 4, 2));
	read_bytes(sc, b, 2);
	CHECK(b[0] == 'B' && b[1] == 'B', "fwcfg: file read by its selector");
}

static void
test_dma(struct vmctx *ctx, struct fwcfg_softc *sc)
{
	uint64_t ram = vm_get_lowmem_size(ctx);
	uint8_t *buf = vm_map_gpa(ctx, BUF_GPA - GUARD, 256 + 2 * GUARD);
	uint32_t len;
	const uint8_t *a;
	int key = fwcfg_add_file(sc, "etc/test", "0123456789", 10, false);

	if (buf == NULL)
		return;
	/* SELECT + READ of 4 bytes, with guards around the buffer. */
	memset(buf, 0xee, 256 + 2 * GUARD);
	CHECK_EQ_U64(
	    dma(ctx, sc, DESC_GPA,
		(uint32_t)key << 16 | FWCFG_DMA_SELECT | FWCFG_DMA_READ, 4,
		BUF_GPA),
	    0, "fwcfg: DMA select+read succeeds");
	CHECK(memcmp(buf + GUARD, "0123", 4) == 0, "fwcfg: DMA read data");
	CHECK(all(ctx, BUF_GPA - GUARD, GUARD, 0xee) &&
		  all(ctx, BUF_GPA + 4, 256 + GUARD - 4, 0xee),
	      "fwcfg: DMA read touches only its buffer");
	/* SKIP 2, then READ 8: 4 bytes left, the rest zero-filled. */
	CHECK_EQ_U64(dma(ctx, sc, DESC_GPA, FWCFG_DMA_SKIP, 2, 0), 0,
		     "fwcfg: DMA skip");
	CHECK_EQ_U64(dma(ctx, sc, DESC_GPA, FWCFG_DMA_READ, 8, BUF_GPA), 0,
		     "fwcfg: DMA read past the end succeeds");
	CHECK(memcmp(buf + GUARD, "6789\0\0\0\0", 8) == 0 &&
		  all(ctx, BUF_GPA + 8, 8, 0xee),
	      "fwcfg: tail zero-filled, nothing beyond");

	/* Hostile requests: error bit, nothing written. */
	memset(buf, 0xee, 256 + 2 * GUARD);
	CHECK_EQ_U64(
	    dma(ctx, sc, DESC_GPA,
		(uint32_t)key << 16 | FWCFG_DMA_SELECT | FWCFG_DMA_READ, 16,
		ram - 8),
	    FWCFG_DMA_ERROR, "fwcfg: read crossing the end of RAM");
	CHECK(all(ctx, ram - 8, 8, 0), "fwcfg: nothing written at RAM's end");
	CHECK_EQ_U64(
	    dma(ctx, sc, DESC_GPA, FWCFG_DMA_READ, 0xffffffffu, BUF_GPA),
	    FWCFG_DMA_ERROR, "fwcfg: 4 GiB read refused");
	CHECK_EQ_U64(
	    dma(ctx, sc, DESC_GPA, FWCFG_DMA_READ, 16, 0xfffffffffffffff8ULL),
	    FWCFG_DMA_ERROR, "fwcfg: wrapping address refused");
	CHECK_EQ_U64(dma(ctx, sc, DESC_GPA, FWCFG_DMA_READ, 16, 0xfec00000ULL),
		     FWCFG_DMA_ERROR, "fwcfg: read into MMIO space refused");
	CHECK(all(ctx, BUF_GPA - GUARD, 256 + 2 * GUARD, 0xee),
	      "fwcfg: refused requests changed nothing");
	/* A descriptor outside RAM: ignored, no crash, nothing written. */
	CHECK_EQ_U64(dma(ctx, sc, ram - 8, FWCFG_DMA_READ, 4, BUF_GPA),
		     0xdeadbeefu, "fwcfg: descriptor outside RAM ignored");
	CHECK(all(ctx, BUF_GPA - GUARD, 256 + 2 * GUARD, 0xee),
	      "fwcfg: ignored descriptor changed nothing");

	/* Writes: refused for read-only items, allowed within writable. */
	memcpy(buf + GUARD, "ZZ", 2);
	CHECK_EQ_U64(
	    dma(ctx, sc, DESC_GPA,
		(uint32_t)key << 16 | FWCFG_DMA_SELECT | FWCFG_DMA_WRITE, 2,
		BUF_GPA),
	    FWCFG_DMA_ERROR, "fwcfg: write to read-only file refused");
	a = fwcfg_file_data(sc, "etc/test", &len);
	CHECK(a != NULL && memcmp(a, "01", 2) == 0,
	      "fwcfg: read-only file unchanged");
	key = -1;
	for (int k = FWCFG_FILE_FIRST; k < FWCFG_FILE_FIRST + 8; k++) {
		uint8_t c;

		sel(sc, (uint16_t)k);
		read_bytes(sc, &c, 1);
		if (c == 'A')
			key = k; /* opt/a, writable, 1 byte */
	}
	CHECK(key > 0, "fwcfg: found opt/a");
	CHECK_EQ_U64(
	    dma(ctx, sc, DESC_GPA,
		(uint32_t)key << 16 | FWCFG_DMA_SELECT | FWCFG_DMA_WRITE, 1,
		BUF_GPA),
	    0, "fwcfg: write to writable file");
	a = fwcfg_file_data(sc, "opt/a", &len);
	CHECK(a != NULL && len == 1 && a[0] == 'Z', "fwcfg: write landed");
	CHECK_EQ_U64(
	    dma(ctx, sc, DESC_GPA,
		(uint32_t)key << 16 | FWCFG_DMA_SELECT | FWCFG_DMA_WRITE, 2,
		BUF_GPA),
	    FWCFG_DMA_ERROR, "fwcfg: write beyond the item refused");
	CHECK_EQ_U64(
	    dma(ctx, sc, DESC_GPA,
		(uint32_t)key << 16 | FWCFG_DMA_SELECT | FWCFG_DMA_WRITE, 1,
		ram),
	    FWCFG_DMA_ERROR, "fwcfg: write from outside RAM refused");
	a = fwcfg_file_data(sc, "opt/a", &len);
	CHECK(a != NULL && a[0] == 'Z', "fwcfg: refused write changed nothing");
	/* Half-written address, then a bad access size: no transfer. */
	fwcfg_io_write(sc, FWCFG_PORT_DMA_LO, 2, 0x1234);
	CHECK(all(ctx, BUF_GPA - GUARD, GUARD, 0xee),
	      "fwcfg: 2-byte DMA port write ignored");
}

static void
test_populated(void)
{
	struct vmctx *ctx = vm_create_detached("fwcfg");
	struct fwcfg_softc *sc;
	uint32_t len;
	const uint8_t *p;
	uint8_t b[8];

	if (ctx == NULL || vm_setup_memory(ctx, 128 * MiB) != 0)
		return;
	init_config();
	set_config_value("name", "fwcfgvm");
	set_config_value("fwcfg.user.0.name", "opt/org.example/greeting");
	set_config_value("fwcfg.user.0.string", "hello");
	CHECK(e820_init(ctx) == 0, "fwcfg: e820 map");
	CHECK(acpi_build(ctx, 2, false) == 0, "fwcfg: ACPI image");
	CHECK(smbios_build(ctx) == 0, "fwcfg: SMBIOS image");
	CHECK(fwcfg_bootorder_add(2, "/pci@i0cf8/disk@2") == 0 &&
		  fwcfg_bootorder_add(1, "/pci@i0cf8/net@3") == 0,
	      "fwcfg: boot order entries");
	sc = fwcfg_create(ctx);
	CHECK(sc != NULL && fwcfg_populate(sc, ctx, 2) == 0,
	      "fwcfg: populate the qemu flavour");
	if (sc == NULL)
		return;
	sel(sc, FWCFG_NB_CPUS);
	read_bytes(sc, b, 2);
	CHECK(b[0] == 2 && b[1] == 0, "fwcfg: NB_CPUS");
	sel(sc, FWCFG_RAM_SIZE);
	read_bytes(sc, b, 8);
	CHECK(b[3] == 0x08 && b[2] == 0, "fwcfg: RAM_SIZE 128 MiB");
	p = fwcfg_file_data(sc, "etc/e820", &len);
	CHECK(p != NULL && len == 20u * (uint32_t)e820_count() && p[16] == 1,
	      "fwcfg: etc/e820, first entry RAM");
	p = fwcfg_file_data(sc, ACPI_FWCFG_TABLES, &len);
	CHECK(p != NULL && len == acpi_get_image()->tables_len,
	      "fwcfg: etc/acpi/tables");
	CHECK(fwcfg_file_data(sc, ACPI_FWCFG_RSDP, &len) != NULL && len == 36,
	      "fwcfg: etc/acpi/rsdp");
	p = fwcfg_file_data(sc, ACPI_FWCFG_LOADER, &len);
	CHECK(p != NULL && len % 128 == 0 && p[0] == 1,
	      "fwcfg: etc/table-loader starts with ALLOCATE");
	CHECK(fwcfg_file_data(sc, SMBIOS_FWCFG_TABLES, &len) != NULL &&
		  fwcfg_file_data(sc, SMBIOS_FWCFG_ANCHOR, &len) != NULL,
	      "fwcfg: SMBIOS files");
	p = fwcfg_file_data(sc, "opt/org.example/greeting", &len);
	CHECK(p != NULL && len == 6 && memcmp(p, "hello", 6) == 0,
	      "fwcfg: -f string file");
	p = fwcfg_file_data(sc, "bootorder", &len);
	CHECK(p != NULL && strcmp((const char *)p,
				  "/pci@i0cf8/net@3\n/pci@i0cf8/disk@2\n") == 0,
	      "fwcfg: bootorder sorted by index");
	fwcfg_destroy(sc);
	/* Register-level checks on an instance with only the basics. */
	sc = fwcfg_create(ctx);
	CHECK(sc != NULL, "fwcfg: bare instance");
	if (sc != NULL) {
		test_ports(sc);
		test_dma(ctx, sc);
		fwcfg_destroy(sc);
	}
	acpi_reset();
	smbios_reset();
	e820_reset();
	fini_config();
	vm_destroy(ctx);
}

/* One request whose name is the nl bytes at name (a NUL is not implied). */
static uint32_t
fwctl_req_raw(struct fwctl_softc *sc, uint32_t op, const char *name, size_t nl,
	      uint32_t *resp, int max)
{
	uint32_t w[8] = {0};
	size_t nw = (nl + 3) / 4;
	int n = 0;

	memcpy(w, name, nl);
	fwctl_io_write(sc, FWCFG_PORT_SEL, 4, (uint32_t)(12 + nl));
	fwctl_io_write(sc, FWCFG_PORT_SEL, 4, op);
	fwctl_io_write(sc, FWCFG_PORT_SEL, 4, 0x77);
	for (size_t i = 0; i < nw; i++)
		fwctl_io_write(sc, FWCFG_PORT_SEL, 4, w[i]);
	resp[n++] = fwctl_io_read(sc, FWCFG_PORT_DATA, 4);
	while (n < max && (uint32_t)n * 4 < resp[0])
		resp[n] = fwctl_io_read(sc, FWCFG_PORT_DATA, 4), n++;
	return (uint32_t)n;
}

static uint32_t
fwctl_req(struct fwctl_softc *sc, uint32_t op, const char *name, uint32_t *resp,
	  int max)
{
	return fwctl_req_raw(sc, op, name, strlen(name) + 1, resp, max);
}

static void
test_fwctl(void)
{
	struct fwctl_softc *sc = fwctl_create(3);
	uint32_t r[16];
	char sig[5] = {0};

	if (sc == NULL)
		return;
	CHECK_EQ_U64(fwctl_io_read(sc, FWCFG_PORT_DATA, 1), 0xff,
		     "fwctl: dormant before the handshake");
	fwctl_io_write(sc, FWCFG_PORT_SEL, 2, 0);
	for (int i = 0; i < 4; i++)
		sig[i] = (char)fwctl_io_read(sc, FWCFG_PORT_DATA, 1);
	CHECK_STR(sig, "BHYV", "fwctl: signature BHYV");
	CHECK(fwctl_req(sc, 3, "hw.ncpu", r, 16) == 7 && r[1] == 3 &&
		  r[2] == 0x77 && r[3] == 0 && r[4] == 4 && r[6] == 3,
	      "fwctl: GET hw.ncpu = 3");
	CHECK(fwctl_req(sc, 4, "hw.ncpu", r, 16) == 6 && r[3] == 0 && r[4] == 4,
	      "fwctl: GET_LEN hw.ncpu = 4");
	CHECK(fwctl_req(sc, 3, "hw.nope", r, 16) == 4 && r[3] == 2,
	      "fwctl: unknown name: ENOENT");
	CHECK(fwctl_req(sc, 9, "hw.ncpu", r, 16) == 4 && r[3] == 2,
	      "fwctl: unknown operation: ENOENT");
	/* The name must match exactly, not as a prefix of either. */
	CHECK(fwctl_req_raw(sc, 3, "hw.n", 4, r, 16) == 4 && r[3] == 2,
	      "fwctl: a prefix of a name without its NUL: ENOENT");
	CHECK(fwctl_req(sc, 3, "hw.", r, 16) == 4 && r[3] == 2,
	      "fwctl: a prefix of a name: ENOENT");
	CHECK(fwctl_req(sc, 3, "hw.ncpus", r, 16) == 4 && r[3] == 2,
	      "fwctl: a name extending a real one: ENOENT");
	CHECK(fwctl_req_raw(sc, 3, "hw.ncpu.", 8, r, 16) == 4 && r[3] == 2,
	      "fwctl: an extension without its NUL: ENOENT");
	CHECK(fwctl_req_raw(sc, 3, "hw.ncpu", 7, r, 16) == 7 && r[6] == 3,
	      "fwctl: the whole name without its NUL still matches");
	/* A request shorter than its header is dropped, not fatal. */
	fwctl_io_write(sc, FWCFG_PORT_SEL, 4, 3);
	CHECK(fwctl_req(sc, 3, "hw.ncpu", r, 16) == 7 && r[6] == 3,
	      "fwctl: short request ignored, next one served");
	fwctl_destroy(sc);
}

int
main(void)
{
	test_populated();
	test_fwctl();
	return test_done();
}
