/*
 * bhyve's "fbuf" framebuffer device (-s N,fbuf,tcp=ADDR:PORT,w=W,h=H,...)
 * as QEMU's standard VGA: Debian's OVMF has no driver for bhyve's own
 * fbuf PCI device, but its QemuVideoDxe and Linux's bochs DRM driver
 * both drive this one.  What they use:
 *   BAR0  the linear framebuffer, 16 MiB of host memory mapped into the
 *         guest as a memory slot, so drawing never exits;
 *   BAR2  4 KiB of registers: an EDID area (empty), the VGA ports
 *         0x3c0-0x3df at 0x400, the VBE DISPI registers at 0x500 and
 *         QEMU's extension registers at 0x600;
 *   ports 0x1ce/0x1cf DISPI index/data and 0x3c0-0x3df (vga=io or on),
 *         which drivers use where they find no MMIO BAR.
 * Both drivers check DISPI ID (0xB0C0-0xB0C5) and VIDEO_MEMORY_64K, set
 * XRES, YRES, BPP, VIRT_WIDTH/HEIGHT, X/Y_OFFSET and then ENABLE with
 * the LFB bit.  The mode they program, clamped to the configured w x h,
 * is the VNC picture; registers are stored as written and checked only
 * when the picture is computed, so no value the guest writes can point
 * the picture outside BAR0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "inout.h"
#include "pci_emul.h"
#include "pci_fbuf.h"
#include "vmmapi.h"
#include "vnc.h"

#define FBUF_MIN_WIDTH	  640
#define FBUF_MIN_HEIGHT	  480
#define FBUF_DEF_WIDTH	  1024
#define FBUF_DEF_HEIGHT	  768
#define FBUF_VGA_NPORTS	  32
#define FBUF_QEXT_SIZE	  8	     /* bytes of extension registers */
#define FBUF_QEXT_LE	  0x1e1e1e1e /* framebuffer endianness: little */
#define FBUF_SUBVENDOR	  0x1af4     /* as QEMU's */
#define FBUF_SUBDEVICE	  0x1100
#define PCIC_DISPLAY	  0x03
#define PCIS_DISPLAY_VGA  0x00
#define FBUF_DISPI_NPORTS 3

enum fbuf_vga { FBUF_VGA_OFF, FBUF_VGA_IO, FBUF_VGA_ON };

struct fbuf_opts {
	bool tcp; /* a TCP listener at host:port */
	char host[64];
	int port;
	const char *unix_path;
	const char *password;
	bool wait;
	uint32_t width, height;
	enum fbuf_vga vga;
};

struct fbuf_softc {
	struct pci_devinst *pi;
	struct fbuf_opts opts;
	pthread_mutex_t mtx; /* the registers */
	uint8_t *fb;
	int segid;
	uint16_t dispi[FBUF_DISPI_NREGS];
	uint16_t dispi_index; /* port 0x1ce */
	uint8_t vga[FBUF_VGA_NPORTS];
	int nports; /* port ranges registered */
	struct vnc_server *vnc;
};

/* ---- options (bhyve_config(5): tcp/rfb, unix, w, h, wait, password,
 * vga) ---- */

static int
fbuf_opt_dim(const struct config_node *nvl, const char *key, uint32_t min,
	     uint32_t max, uint32_t def, uint32_t *out, char *err,
	     size_t errlen)
{
	const char *v = get_config_value_node(nvl, key);
	char *end;
	unsigned long n;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < min ||
	    n > max) {
		snprintf(err, errlen, "invalid %s '%s' (want %u-%u)", key, v,
			 min, max);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static int
fbuf_opt_vga(const struct config_node *nvl, enum fbuf_vga *vga, char *err,
	     size_t errlen)
{
	const char *v = get_config_value_node(nvl, "vga");

	if (v == NULL || strcmp(v, "io") == 0)
		*vga = FBUF_VGA_IO;
	else if (strcmp(v, "on") == 0)
		*vga = FBUF_VGA_ON;
	else if (strcmp(v, "off") == 0)
		*vga = FBUF_VGA_OFF;
	else {
		snprintf(err, errlen, "invalid vga '%s' (want on, io or off)",
			 v);
		return -1;
	}
	return 0;
}

/* The listener: tcp= (or its alias rfb=), unix=, or the default TCP. */
static int
fbuf_opt_listen(const struct config_node *nvl, struct fbuf_opts *o, char *err,
		size_t errlen)
{
	const char *tcp = get_config_value_node(nvl, "tcp");
	const char *rfb = get_config_value_node(nvl, "rfb");

	if (tcp != NULL && rfb != NULL && strcmp(tcp, rfb) != 0) {
		snprintf(err, errlen, "tcp= and rfb= name different addresses");
		return -1;
	}
	if (tcp == NULL)
		tcp = rfb;
	o->unix_path = get_config_value_node(nvl, "unix");
	if (o->unix_path != NULL && o->unix_path[0] != '/') {
		snprintf(err, errlen, "unix= wants an absolute path, got '%s'",
			 o->unix_path);
		return -1;
	}
	o->tcp = tcp != NULL || o->unix_path == NULL;
	if (!o->tcp)
		return 0;
	return vnc_parse_addr(tcp, o->host, &o->port, err, errlen);
}

static int
fbuf_parse_opts(const struct config_node *nvl, struct fbuf_opts *o, char *err,
		size_t errlen)
{
	const char *wait = get_config_value_node(nvl, "wait");
	bool ok = true;

	memset(o, 0, sizeof(*o));
	if (fbuf_opt_dim(nvl, "w", FBUF_MIN_WIDTH, VNC_MAX_WIDTH,
			 FBUF_DEF_WIDTH, &o->width, err, errlen) != 0 ||
	    fbuf_opt_dim(nvl, "h", FBUF_MIN_HEIGHT, VNC_MAX_HEIGHT,
			 FBUF_DEF_HEIGHT, &o->height, err, errlen) != 0 ||
	    fbuf_opt_vga(nvl, &o->vga, err, errlen) != 0 ||
	    fbuf_opt_listen(nvl, o, err, errlen) != 0)
		return -1;
	if (wait != NULL)
		o->wait = parse_config_bool(wait, &ok);
	if (!ok) {
		snprintf(err, errlen, "invalid wait '%s' (want true or false)",
			 wait);
		return -1;
	}
	o->password = get_config_value_node(nvl, "password");
	if (o->password != NULL && o->password[0] == '\0') {
		snprintf(err, errlen, "empty password");
		return -1;
	}
	return 0;
}

static int
fbuf_check(const struct config_node *nvl, char *err, size_t errlen)
{
	struct fbuf_opts o;

	return fbuf_parse_opts(nvl, &o, err, errlen);
}

/* ---- the DISPI registers ---- */

static uint16_t
fbuf_dispi_read(struct fbuf_softc *sc, uint16_t idx)
{
	bool caps = (sc->dispi[FBUF_DISPI_ENABLE] & FBUF_GETCAPS) != 0;

	switch (idx) {
	case FBUF_DISPI_XRES:
		return caps ? (uint16_t)sc->opts.width : sc->dispi[idx];
	case FBUF_DISPI_YRES:
		return caps ? (uint16_t)sc->opts.height : sc->dispi[idx];
	case FBUF_DISPI_BPP:
		return caps ? 32 : sc->dispi[idx];
	case FBUF_DISPI_VIDEO_MEM64K:
		return (uint16_t)(FBUF_FB_SIZE >> 16);
	default:
		return idx < FBUF_DISPI_NREGS ? sc->dispi[idx] : 0;
	}
}

/* Bytes per pixel of a depth the picture can show, else 0. */
static uint32_t
fbuf_bytespp(uint16_t bpp)
{
	switch (bpp) {
	case 16:
		return 2;
	case 24:
		return 3;
	case 32:
		return 4;
	default:
		return 0;
	}
}

/*
 * Turning the display on starts from an unpanned virtual screen as wide
 * as the mode (as QEMU does: drivers set the panning registers after
 * ENABLE) and clears what the mode shows unless told not to.
 */
static void
fbuf_enable(struct fbuf_softc *sc, uint16_t val)
{
	uint16_t old = sc->dispi[FBUF_DISPI_ENABLE];
	uint64_t bytes;

	sc->dispi[FBUF_DISPI_ENABLE] =
	    val & (FBUF_ENABLED | FBUF_GETCAPS | FBUF_8BIT_DAC | FBUF_LFB |
		   FBUF_NOCLEARMEM);
	if (!(val & FBUF_ENABLED) || (old & FBUF_ENABLED))
		return;
	sc->dispi[FBUF_DISPI_VIRT_WIDTH] = sc->dispi[FBUF_DISPI_XRES];
	sc->dispi[FBUF_DISPI_VIRT_HEIGHT] = sc->dispi[FBUF_DISPI_YRES];
	sc->dispi[FBUF_DISPI_X_OFFSET] = 0;
	sc->dispi[FBUF_DISPI_Y_OFFSET] = 0;
	if (val & FBUF_NOCLEARMEM)
		return;
	/* At most 65535 * 65535 * 4: no overflow in 64 bits. */
	bytes = (uint64_t)sc->dispi[FBUF_DISPI_XRES] *
		sc->dispi[FBUF_DISPI_YRES] *
		fbuf_bytespp(sc->dispi[FBUF_DISPI_BPP]);
	memset(sc->fb, 0, bytes < FBUF_FB_SIZE ? bytes : FBUF_FB_SIZE);
}

static void
fbuf_dispi_write(struct fbuf_softc *sc, uint16_t idx, uint16_t val)
{
	switch (idx) {
	case FBUF_DISPI_ID:
		/* A driver may ask for an older interface version. */
		if (val >= FBUF_DISPI_ID0 && val <= FBUF_DISPI_ID5)
			sc->dispi[idx] = val;
		break;
	case FBUF_DISPI_ENABLE:
		fbuf_enable(sc, val);
		break;
	case FBUF_DISPI_VIDEO_MEM64K:
		break; /* read-only */
	default:
		if (idx < FBUF_DISPI_NREGS)
			sc->dispi[idx] = val;
		break;
	}
}

/* ---- the picture ---- */

static void
fbuf_mode_locked(struct fbuf_softc *sc, struct vnc_mode *m)
{
	const uint16_t *r = sc->dispi;
	uint32_t bytes = fbuf_bytespp(r[FBUF_DISPI_BPP]);
	uint64_t vw, stride, off, end;

	memset(m, 0, sizeof(*m));
	if (!(r[FBUF_DISPI_ENABLE] & FBUF_ENABLED) || bytes == 0 ||
	    r[FBUF_DISPI_XRES] == 0 || r[FBUF_DISPI_YRES] == 0)
		return;
	m->width = r[FBUF_DISPI_XRES];
	m->height = r[FBUF_DISPI_YRES];
	m->bpp = bytes * 8;
	vw = r[FBUF_DISPI_VIRT_WIDTH] > m->width ? r[FBUF_DISPI_VIRT_WIDTH]
						 : m->width;
	/* Each factor is below 2^17: every product fits in 64 bits. */
	stride = vw * bytes;
	off = r[FBUF_DISPI_Y_OFFSET] * stride +
	      (uint64_t)r[FBUF_DISPI_X_OFFSET] * bytes;
	/* Larger modes than configured show their top-left corner. */
	if (m->width > sc->opts.width)
		m->width = sc->opts.width;
	if (m->height > sc->opts.height)
		m->height = sc->opts.height;
	end = off + (m->height - 1) * stride + (uint64_t)m->width * bytes;
	if (end > FBUF_FB_SIZE)
		return;
	m->stride = stride;
	m->base = sc->fb + off;
}

void
fbuf_get_mode(struct pci_devinst *pi, struct vnc_mode *m)
{
	struct fbuf_softc *sc = pi->pi_arg;

	pthread_mutex_lock(&sc->mtx);
	fbuf_mode_locked(sc, m);
	pthread_mutex_unlock(&sc->mtx);
}

uint8_t *
fbuf_framebuffer(struct pci_devinst *pi)
{
	struct fbuf_softc *sc = pi->pi_arg;

	return sc->fb;
}

static void
fbuf_vnc_get_mode(void *arg, struct vnc_mode *m)
{
	fbuf_get_mode(arg, m);
}

/* ---- BAR2: registers ---- */

/* One byte of BAR2 (reads have no side effects). */
static uint8_t
fbuf_mmio_read8(struct fbuf_softc *sc, uint64_t off)
{
	static const uint32_t qext[2] = {FBUF_QEXT_SIZE, FBUF_QEXT_LE};

	if (off >= FBUF_MMIO_VGA && off < FBUF_MMIO_VGA + FBUF_VGA_NPORTS)
		return sc->vga[off - FBUF_MMIO_VGA];
	if (off >= FBUF_MMIO_DISPI &&
	    off < FBUF_MMIO_DISPI + 2 * FBUF_DISPI_NREGS)
		return (
		    uint8_t)(fbuf_dispi_read(
				 sc, (uint16_t)((off - FBUF_MMIO_DISPI) / 2)) >>
			     (8 * (off & 1)));
	if (off >= FBUF_MMIO_QEXT && off < FBUF_MMIO_QEXT + FBUF_QEXT_SIZE)
		return (uint8_t)(qext[(off - FBUF_MMIO_QEXT) / 4] >>
				 (8 * (off & 3)));
	return 0; /* EDID area and holes */
}

/* A write to DISPI registers: each one touched is written whole. */
static void
fbuf_mmio_write_dispi(struct fbuf_softc *sc, uint64_t off, int size,
		      uint64_t val)
{
	for (int i = 0; i < size;) {
		uint64_t o = off + (uint64_t)i;
		uint16_t idx = (uint16_t)((o - FBUF_MMIO_DISPI) / 2);
		uint16_t reg = idx < FBUF_DISPI_NREGS ? sc->dispi[idx] : 0;
		int shift = 8 * (int)(o & 1);

		reg = (uint16_t)((reg & ~(0xffu << shift)) |
				 ((val >> (8 * i)) & 0xff) << shift);
		i++;
		if ((o & 1) == 0 && i < size) {
			reg = (uint16_t)((reg & 0x00ff) |
					 ((val >> (8 * i)) & 0xff) << 8);
			i++;
		}
		fbuf_dispi_write(sc, idx, reg);
	}
}

static void
fbuf_mmio_write(struct fbuf_softc *sc, uint64_t off, int size, uint64_t val)
{
	if (off >= FBUF_MMIO_DISPI &&
	    off < FBUF_MMIO_DISPI + 2 * FBUF_DISPI_NREGS) {
		fbuf_mmio_write_dispi(sc, off, size, val);
		return;
	}
	for (int i = 0; i < size; i++) {
		uint64_t o = off + (uint64_t)i;

		if (o >= FBUF_MMIO_VGA && o < FBUF_MMIO_VGA + FBUF_VGA_NPORTS)
			sc->vga[o - FBUF_MMIO_VGA] = (uint8_t)(val >> (8 * i));
	}
	/* The endianness register takes only little-endian: ignored. */
}

/* ---- BAR accesses ---- */

static uint64_t
fbuf_barread(struct pci_devinst *pi, int baridx, uint64_t off, int size)
{
	struct fbuf_softc *sc = pi->pi_arg;
	uint64_t v = 0;

	if (size < 1 || size > 8)
		return ~0ULL;
	if (baridx == 0) {
		/* Only while the memory slot is not mapped. */
		if (off <= FBUF_FB_SIZE - (uint64_t)size)
			memcpy(&v, sc->fb + off, (size_t)size);
		return v;
	}
	if (baridx != 2 || off > FBUF_MMIO_SZ - (uint64_t)size)
		return ~0ULL;
	pthread_mutex_lock(&sc->mtx);
	for (int i = 0; i < size; i++)
		v |= (uint64_t)fbuf_mmio_read8(sc, off + (uint64_t)i)
		     << (8 * i);
	pthread_mutex_unlock(&sc->mtx);
	return v;
}

static void
fbuf_barwrite(struct pci_devinst *pi, int baridx, uint64_t off, int size,
	      uint64_t val)
{
	struct fbuf_softc *sc = pi->pi_arg;

	if (size < 1 || size > 8)
		return;
	if (baridx == 0) {
		if (off <= FBUF_FB_SIZE - (uint64_t)size)
			memcpy(sc->fb + off, &val, (size_t)size);
		return;
	}
	if (baridx != 2 || off > FBUF_MMIO_SZ - (uint64_t)size)
		return;
	pthread_mutex_lock(&sc->mtx);
	fbuf_mmio_write(sc, off, size, val);
	pthread_mutex_unlock(&sc->mtx);
}

/* BAR0 decodes as a memory slot wherever the guest puts it. */
static void
fbuf_baraddr(struct pci_devinst *pi, int baridx, bool enabled, uint64_t addr)
{
	struct fbuf_softc *sc = pi->pi_arg;

	if (baridx != 0 || sc->segid < 0)
		return;
	if (!enabled) {
		(void)vm_munmap_devmem(pi->pi_vmctx, sc->segid);
		return;
	}
	/* On failure accesses exit and reach fbuf_barread/write: slower,
	 * still correct.  EEXIST is the transient overlap of a BAR being
	 * sized (all-ones address) with decoding on: not worth a line. */
	if (vm_mmap_devmem(pi->pi_vmctx, sc->segid, addr) != 0 &&
	    errno != EEXIST)
		fprintf(stderr,
			"bhyve: fbuf: framebuffer not mapped at %#llx "
			"(%s); drawing will be slow\n",
			(unsigned long long)addr, strerror(errno));
}

/* ---- I/O ports (vga=io, vga=on) ---- */

static int
fbuf_dispi_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	      void *arg)
{
	struct fbuf_softc *sc = arg;

	pthread_mutex_lock(&sc->mtx);
	if (port == FBUF_DISPI_PORT) {
		if (in)
			*eax = sc->dispi_index;
		else
			sc->dispi_index = (uint16_t)*eax;
	} else if (in) {
		*eax = fbuf_dispi_read(sc, sc->dispi_index);
	} else {
		fbuf_dispi_write(sc, sc->dispi_index, (uint16_t)*eax);
	}
	pthread_mutex_unlock(&sc->mtx);
	return 0;
}

static int
fbuf_vga_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	    void *arg)
{
	struct fbuf_softc *sc = arg;
	uint64_t off = FBUF_MMIO_VGA + (uint64_t)(port - FBUF_VGA_PORT);
	uint32_t v = 0;

	/* The dispatcher keeps port + bytes inside the range. */
	pthread_mutex_lock(&sc->mtx);
	for (int i = 0; i < bytes; i++) {
		if (in)
			v |= (uint32_t)fbuf_mmio_read8(sc, off + (uint64_t)i)
			     << (8 * i);
	}
	if (in)
		*eax = v;
	else
		fbuf_mmio_write(sc, off, bytes, *eax);
	pthread_mutex_unlock(&sc->mtx);
	return 0;
}

static void
fbuf_ports(struct fbuf_softc *sc, struct inout_port iop[2])
{
	iop[0] = (struct inout_port){"fbuf-dispi",	FBUF_DISPI_PORT,
				     FBUF_DISPI_NPORTS, IOPORT_F_INOUT,
				     fbuf_dispi_io,	sc};
	iop[1] =
	    (struct inout_port){"fbuf-vga",	FBUF_VGA_PORT, FBUF_VGA_NPORTS,
				IOPORT_F_INOUT, fbuf_vga_io,   sc};
}

static int
fbuf_register_ports(struct fbuf_softc *sc)
{
	struct inout_port iop[2];

	fbuf_ports(sc, iop);
	for (; sc->nports < 2; sc->nports++) {
		if (register_inout(&iop[sc->nports]) != 0) {
			fprintf(stderr,
				"bhyve: fbuf: ports %#x-%#x already in use "
				"(one fbuf with vga=io/on per VM)\n",
				iop[sc->nports].port,
				iop[sc->nports].port + iop[sc->nports].size -
				    1);
			return -1;
		}
	}
	return 0;
}

/* ---- setup ---- */

static void
fbuf_config_space(struct pci_devinst *pi)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, FBUF_VENDOR);
	pci_set_cfgdata16(pi, PCIR_DEVICE, FBUF_DEVICE);
	pci_set_cfgdata8(pi, PCIR_REVID, 2);
	pci_set_cfgdata8(pi, PCIR_CLASS, PCIC_DISPLAY);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, PCIS_DISPLAY_VGA);
	pci_set_cfgdata16(pi, PCIR_SUBVEND_0, FBUF_SUBVENDOR);
	pci_set_cfgdata16(pi, PCIR_SUBDEV_0, FBUF_SUBDEVICE);
}

static int
fbuf_start_vnc(struct fbuf_softc *sc)
{
	struct vnc_config vc = {
	    .host = sc->opts.tcp ? sc->opts.host : NULL,
	    .port = sc->opts.port,
	    .unix_path = sc->opts.unix_path,
	    .password = sc->opts.password,
	    .wait = sc->opts.wait,
	    .width = sc->opts.width,
	    .height = sc->opts.height,
	};
	struct vnc_display disp = {fbuf_vnc_get_mode, sc->pi};
	char err[160];

	if (sc->opts.wait)
		fprintf(stderr, "bhyve: fbuf: waiting for a VNC client\n");
	sc->vnc = vnc_server_start(&vc, &disp, err, sizeof(err));
	if (sc->vnc == NULL) {
		fprintf(stderr, "bhyve: fbuf: %s\n", err);
		return -1;
	}
	return 0;
}

static void
fbuf_fini(struct pci_devinst *pi)
{
	struct fbuf_softc *sc = pi->pi_arg;
	struct inout_port iop[2];

	if (sc == NULL)
		return;
	vnc_server_stop(sc->vnc);
	fbuf_ports(sc, iop);
	while (sc->nports > 0)
		unregister_inout(&iop[--sc->nports]);
	if (sc->segid >= 0)
		(void)vm_munmap_devmem(pi->pi_vmctx, sc->segid);
	if (sc->fb != NULL)
		munmap(sc->fb, FBUF_FB_SIZE);
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
	pi->pi_arg = NULL;
}

static int
fbuf_alloc(struct pci_devinst *pi, struct fbuf_softc *sc)
{
	void *fb = mmap(NULL, FBUF_FB_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (fb == MAP_FAILED) {
		fprintf(stderr, "bhyve: fbuf: no memory for the framebuffer\n");
		return -1;
	}
	sc->fb = fb;
	sc->segid = vm_create_devmem(pi->pi_vmctx, "fbuf", fb, FBUF_FB_SIZE, 0);
	if (sc->segid < 0) {
		fprintf(stderr, "bhyve: fbuf: framebuffer segment: %s\n",
			strerror(errno));
		return -1;
	}
	if (pci_emul_alloc_bar(pi, 0, PCIBAR_MEM32, FBUF_FB_SIZE) != 0 ||
	    pci_emul_alloc_bar(pi, 2, PCIBAR_MEM32, FBUF_MMIO_SZ) != 0)
		return -1;
	/* As QEMU's: drivers map it write-combining. */
	pi->pi_bar[0].lobits |= PCIM_BAR_MEM_PREFETCH;
	return 0;
}

static int
fbuf_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct fbuf_softc *sc = calloc(1, sizeof(*sc));
	char err[160];

	if (sc == NULL)
		return -1;
	pi->pi_arg = sc;
	sc->pi = pi;
	sc->segid = -1;
	pthread_mutex_init(&sc->mtx, NULL);
	if (fbuf_parse_opts(nvl, &sc->opts, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: fbuf: %s\n", err);
		goto fail;
	}
	sc->dispi[FBUF_DISPI_ID] = FBUF_DISPI_ID5;
	sc->dispi[FBUF_DISPI_XRES] = (uint16_t)sc->opts.width;
	sc->dispi[FBUF_DISPI_YRES] = (uint16_t)sc->opts.height;
	sc->dispi[FBUF_DISPI_BPP] = 32;
	fbuf_config_space(pi);
	if (fbuf_alloc(pi, sc) != 0 ||
	    (sc->opts.vga != FBUF_VGA_OFF && fbuf_register_ports(sc) != 0) ||
	    fbuf_start_vnc(sc) != 0)
		goto fail;
	return 0;
fail:
	fbuf_fini(pi);
	return -1;
}

static const struct pci_devemu pci_de_fbuf = {
    .pe_emu = "fbuf",
    .pe_init = fbuf_init,
    .pe_check = fbuf_check,
    .pe_fini = fbuf_fini,
    .pe_barread = fbuf_barread,
    .pe_barwrite = fbuf_barwrite,
    .pe_baraddr = fbuf_baraddr,
    .pe_bar64 = true,
};
PCI_EMUL_SET(pci_de_fbuf);
