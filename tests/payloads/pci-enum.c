/*
 * PCI enumeration as a guest OS does it: scan bus 0 through configuration
 * mechanism #1 (0xcf8/0xcfc, byte/word/dword reads at every data port),
 * find the host bridge at 0:0.0, bhyve's dummy device at 0:3.0 and the
 * LPC bridge at 0:31.0 with their ids and class codes, size and move the
 * dummy's BARs and use them, see the same through ECAM at 0xE0000000, and
 * receive an MSI the dummy sends.
 */
#include "payload.h"

#define CONF1_ADDR 0xcf8
#define CONF1_DATA 0xcfc
#define ECAM_BASE  0xe0000000ul
#define MSI_VECTOR 0x51

static uint32_t
conf1_addr(unsigned bus, unsigned slot, unsigned func, unsigned off)
{
	return 0x80000000u | bus << 16 | slot << 11 | func << 8 | (off & 0xfc);
}

static uint32_t
cfg_read32(unsigned slot, unsigned func, unsigned off)
{
	outl(CONF1_ADDR, conf1_addr(0, slot, func, off));
	return inl(CONF1_DATA);
}

static uint16_t
cfg_read16(unsigned slot, unsigned func, unsigned off)
{
	outl(CONF1_ADDR, conf1_addr(0, slot, func, off));
	return inw(CONF1_DATA + (off & 2));
}

static uint8_t
cfg_read8(unsigned slot, unsigned func, unsigned off)
{
	outl(CONF1_ADDR, conf1_addr(0, slot, func, off));
	return inb(CONF1_DATA + (off & 3));
}

static void
cfg_write32(unsigned slot, unsigned func, unsigned off, uint32_t v)
{
	outl(CONF1_ADDR, conf1_addr(0, slot, func, off));
	outl(CONF1_DATA, v);
}

static void
cfg_write16(unsigned slot, unsigned func, unsigned off, uint16_t v)
{
	outl(CONF1_ADDR, conf1_addr(0, slot, func, off));
	outw(CONF1_DATA + (off & 2), v);
}

static uint64_t
ecam(unsigned slot, unsigned func, unsigned off)
{
	return ECAM_BASE + (slot << 15) + (func << 12) + off;
}

struct found {
	unsigned slot, func;
	uint32_t id, class;
};

static struct found devs[32];
static unsigned ndevs;

static void
scan_bus0(void)
{
	for (unsigned slot = 0; slot < 32; slot++) {
		unsigned nfunc = 1;

		for (unsigned func = 0; func < nfunc; func++) {
			uint32_t id = cfg_read32(slot, func, 0);

			if ((id & 0xffff) == 0xffff)
				continue;
			if (func == 0 && (cfg_read8(slot, 0, 0x0e) & 0x80))
				nfunc = 8;
			if (ndevs < 32)
				devs[ndevs++] = (struct found){
				    slot, func, id,
				    cfg_read32(slot, func, 8) >> 8};
			td_printf("pci-enum: 0:%u.%u %04x:%04x class %06x",
				  slot, func, id & 0xffff, id >> 16,
				  cfg_read32(slot, func, 8) >> 8);
		}
	}
}

static void
check_identities(void)
{
	CHECK_EQ(ndevs, 3);
	CHECK(ndevs >= 3 && devs[0].slot == 0 && devs[1].slot == 3 &&
	      devs[2].slot == 31);
	/* Host bridge: NetApp ids, class 06/00 (bhyve's default). */
	CHECK_EQ(cfg_read16(0, 0, 0), 0x1275);
	CHECK_EQ(cfg_read16(0, 0, 2), 0x1275);
	CHECK_EQ(cfg_read8(0, 0, 0x0b), 0x06);
	CHECK_EQ(cfg_read8(0, 0, 0x0a), 0x00);
	/* LPC: Intel PIIX3 ISA bridge, class 06/01. */
	CHECK_EQ(cfg_read32(31, 0, 0), 0x70008086);
	CHECK_EQ(cfg_read8(31, 0, 1), 0x80);
	CHECK_EQ(cfg_read8(31, 0, 3), 0x70);
	CHECK_EQ(cfg_read16(31, 0, 0x0a), 0x0601);
	CHECK_EQ(cfg_read32(3, 0, 0), 0x000110dd);
	/* Disabled CONFIG_ADDRESS: the data port floats. */
	outl(CONF1_ADDR, conf1_addr(0, 31, 0, 0) & ~0x80000000u);
	CHECK_EQ(inl(CONF1_DATA), 0xffffffff);
	outl(CONF1_ADDR, 0x80000000u);
	CHECK_EQ(inl(CONF1_ADDR), 0x80000000u);
}

static void
check_ecam(void)
{
	for (unsigned i = 0; i < ndevs; i++) {
		CHECK_EQ(mmio_read32(ecam(devs[i].slot, devs[i].func, 0)),
			 devs[i].id);
		CHECK_EQ(mmio_read32(ecam(devs[i].slot, devs[i].func, 8)) >> 8,
			 devs[i].class);
	}
	CHECK_EQ(mmio_read16(ecam(31, 0, 2)), 0x7000);
	CHECK_EQ(mmio_read8(ecam(31, 0, 0x0b)), 0x06);
	CHECK_EQ(mmio_read32(ecam(7, 0, 0)), 0xffffffff);
	CHECK_EQ(mmio_read32(ecam(31, 0, 0x100)), 0);
	mmio_write8(ecam(31, 0, 0x3c), 0x0a);
	CHECK_EQ(cfg_read8(31, 0, 0x3c), 0x0a);
	td_printf("pci-enum: ecam agrees");
}

/* Returns the size the BAR decodes, restoring its value. */
static uint32_t
bar_size(unsigned slot, unsigned bar, uint32_t addrmask)
{
	unsigned off = 0x10 + 4 * bar;
	uint32_t orig = cfg_read32(slot, 0, off), sz;

	cfg_write32(slot, 0, off, 0xffffffff);
	sz = cfg_read32(slot, 0, off) & addrmask;
	cfg_write32(slot, 0, off, orig);
	CHECK_EQ(cfg_read32(slot, 0, off), orig);
	return ~sz + 1;
}

static void
check_bars(void)
{
	uint32_t bar0 = cfg_read32(3, 0, 0x10), bar1 = cfg_read32(3, 0, 0x14);
	uint16_t io = (uint16_t)(bar0 & ~3u);
	uint64_t mem = bar1 & ~0xfu, moved = mem + 0x100000;

	td_printf("pci-enum: dummy bar0 0x%x bar1 0x%x", bar0, bar1);
	CHECK_EQ(bar0 & 3, 1);
	CHECK(io >= 0x2000);
	CHECK(mem >= 0xc0000000ul && mem < ECAM_BASE);
	CHECK_EQ(bar_size(3, 0, 0xfffc) & 0xffff, 8);
	CHECK_EQ(bar_size(3, 1, 0xfffffff0), 4096);
	CHECK_EQ(bar_size(3, 2, 0xfffffff0), 4096);
	CHECK_EQ(cfg_read16(3, 0, 4) & 3, 3); /* I/O and memory decode on */

	outl(io, 0x12345678);
	CHECK_EQ(inl(io), 0x12345678);
	CHECK_EQ(inw(io + 2), 0x1234);
	mmio_write32(mem + 0x10, 0xcafef00d);
	CHECK_EQ(mmio_read32(mem + 0x10), 0xcafef00d);

	/* Memory decode off: the BAR goes away; back on: it returns. */
	cfg_write16(3, 0, 4, 1);
	CHECK_EQ(mmio_read32(mem + 0x10), 0xffffffff);
	cfg_write16(3, 0, 4, 3);
	CHECK_EQ(mmio_read32(mem + 0x10), 0xcafef00d);

	/* Moved: decodes at the new address only. */
	cfg_write32(3, 0, 0x14, (uint32_t)moved);
	CHECK_EQ(mmio_read32(moved + 0x10), 0xcafef00d);
	CHECK_EQ(mmio_read32(mem + 0x10), 0xffffffff);
	cfg_write32(3, 0, 0x14, (uint32_t)mem);
	CHECK_EQ(mmio_read32(mem + 0x10), 0xcafef00d);
	td_printf("pci-enum: bars sized and used");
}

static volatile unsigned msi_count;
static volatile uint64_t msi_vector;

static void
msi_handler(struct trap_frame *tf)
{
	msi_vector = tf->vector;
	msi_count++;
	lapic_eoi();
}

static unsigned
find_cap(unsigned slot, uint8_t id)
{
	unsigned off = cfg_read8(slot, 0, 0x34), hops = 0;

	while (off >= 0x40 && hops++ < 48) {
		if (cfg_read8(slot, 0, off) == id)
			return off;
		off = cfg_read8(slot, 0, off + 1);
	}
	return 0;
}

static void
check_msi(void)
{
	unsigned cap = find_cap(3, 0x05);
	uint16_t io = (uint16_t)(cfg_read32(3, 0, 0x10) & ~3u);
	unsigned halts = 0;

	CHECK_EQ(cap, 0x40);
	if (cap == 0)
		return;
	pic_init(0x20, 0x28);
	lapic_enable();
	trap_set_handler(MSI_VECTOR, msi_handler);
	/* Fixed delivery to this CPU, edge, vector MSI_VECTOR. */
	cfg_write32(3, 0, cap + 4, 0xfee00000u | lapic_id() << 12);
	cfg_write32(3, 0, cap + 8, 0);
	cfg_write16(3, 0, cap + 12, MSI_VECTOR);
	cfg_write16(3, 0, cap + 2, 0x0001); /* enable, one message */
	CHECK_EQ(cfg_read16(3, 0, cap + 2) & 0x81, 0x81);
	outl(io + 4, 0);
	while (msi_count == 0 && halts < 3) {
		__asm__ volatile("sti; hlt; cli" : : : "memory");
		halts++;
	}
	td_printf("pci-enum: msi %u, vector 0x%lx", msi_count, msi_vector);
	CHECK_EQ(msi_count, 1);
	CHECK_EQ(msi_vector, MSI_VECTOR);
}

void
payload_main(void)
{
	scan_bus0();
	check_identities();
	check_ecam();
	check_bars();
	check_msi();
	td_printf("pci-enum: done");
}
