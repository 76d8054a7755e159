/*
 * fw_cfg (QEMU flavour) and fwctl (bhyve flavour); see fw_cfg.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "config.h"
#include "config_vm.h"
#include "e820.h"
#include "fw_cfg.h"
#include "inout.h"
#include "platform_dev.h"
#include "smbios.h"
#include "vmmapi.h"

#define FWCFG_KEY_MASK	  0x3fff
#define FWCFG_ARCH_ITEMS  16
#define FWCFG_GENERIC_MAX (FWCFG_FILE_FIRST + FWCFG_MAX_FILES)
#define FWCFG_DIR_ENTRY	  64 /* be32 size, be16 select, be16 0, name */
#define FWCFG_DMA_DESC	  16 /* be32 control, be32 length, be64 address */
#define FWCFG_USER_MAX	  (16u << 20)

struct fwcfg_item {
	uint8_t *data;
	uint32_t len;
	bool present;
	bool writable;
	char name[FWCFG_NAME_LEN]; /* files only */
};

struct fwcfg_softc {
	pthread_mutex_t mtx;
	struct vmctx *ctx;
	struct fwcfg_item generic[FWCFG_GENERIC_MAX];
	struct fwcfg_item arch[FWCFG_ARCH_ITEMS];
	uint16_t selector;
	uint32_t offset;
	uint32_t dma_hi; /* the high half written at 0x514 */
	int nfiles;
};

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static struct fwcfg_item *
fwcfg_lookup(struct fwcfg_softc *sc, uint16_t key)
{
	uint16_t idx = key & FWCFG_KEY_MASK;

	if (key & FWCFG_ARCH)
		return idx < FWCFG_ARCH_ITEMS ? &sc->arch[idx] : NULL;
	return idx < FWCFG_GENERIC_MAX ? &sc->generic[idx] : NULL;
}

static int
fwcfg_set(struct fwcfg_item *it, const void *data, uint32_t len)
{
	uint8_t *copy = malloc(len != 0 ? len : 1);

	if (copy == NULL)
		return -1;
	if (len != 0)
		memcpy(copy, data, len);
	free(it->data);
	it->data = copy;
	it->len = len;
	it->present = true;
	return 0;
}

struct fwcfg_softc *
fwcfg_create(struct vmctx *ctx)
{
	struct fwcfg_softc *sc = calloc(1, sizeof(*sc));
	uint8_t dir[4] = {0};

	if (sc == NULL)
		return NULL;
	pthread_mutex_init(&sc->mtx, NULL);
	sc->ctx = ctx;
	if (fwcfg_add_item(sc, FWCFG_SIGNATURE, "QEMU", 4) != 0 ||
	    fwcfg_add_item(sc, FWCFG_FILE_DIR, dir, sizeof(dir)) != 0) {
		fwcfg_destroy(sc);
		return NULL;
	}
	{
		uint8_t id[4] = {FWCFG_ID_TRADITIONAL | FWCFG_ID_DMA, 0, 0, 0};

		if (fwcfg_add_item(sc, FWCFG_ID, id, sizeof(id)) != 0) {
			fwcfg_destroy(sc);
			return NULL;
		}
	}
	return sc;
}

void
fwcfg_destroy(struct fwcfg_softc *sc)
{
	if (sc == NULL)
		return;
	for (int i = 0; i < FWCFG_GENERIC_MAX; i++)
		free(sc->generic[i].data);
	for (int i = 0; i < FWCFG_ARCH_ITEMS; i++)
		free(sc->arch[i].data);
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

int
fwcfg_add_item(struct fwcfg_softc *sc, uint16_t key, const void *data,
	       uint32_t len)
{
	struct fwcfg_item *it = fwcfg_lookup(sc, key);
	int rc;

	if (it == NULL || (key & 0x4000))
		return -1;
	pthread_mutex_lock(&sc->mtx);
	rc = fwcfg_set(it, data, len);
	pthread_mutex_unlock(&sc->mtx);
	return rc;
}

static int
fwcfg_name_cmp(const void *a, const void *b)
{
	const struct fwcfg_item *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Rebuilds the directory item: be32 count, then entries sorted by name. */
static int
fwcfg_rebuild_dir(struct fwcfg_softc *sc)
{
	struct fwcfg_item *files[FWCFG_MAX_FILES];
	size_t len = 4 + (size_t)sc->nfiles * FWCFG_DIR_ENTRY;
	uint8_t *dir = calloc(1, len);
	int n = 0, rc;

	if (dir == NULL)
		return -1;
	for (int i = 0; i < FWCFG_MAX_FILES; i++) {
		if (sc->generic[FWCFG_FILE_FIRST + i].present)
			files[n++] = &sc->generic[FWCFG_FILE_FIRST + i];
	}
	qsort(files, (size_t)n, sizeof(files[0]), fwcfg_name_cmp);
	put_be(dir, (uint64_t)n, 4);
	for (int i = 0; i < n; i++) {
		uint8_t *e = dir + 4 + (size_t)i * FWCFG_DIR_ENTRY;

		put_be(e, files[i]->len, 4);
		put_be(e + 4, (uint64_t)(files[i] - sc->generic), 2);
		memcpy(e + 8, files[i]->name, FWCFG_NAME_LEN);
	}
	rc = fwcfg_set(&sc->generic[FWCFG_FILE_DIR], dir, (uint32_t)len);
	free(dir);
	return rc;
}

int
fwcfg_add_file(struct fwcfg_softc *sc, const char *name, const void *data,
	       uint32_t len, bool writable)
{
	struct fwcfg_item *it;
	int key = -1;

	if (name == NULL || name[0] == '\0' || strlen(name) >= FWCFG_NAME_LEN)
		return -1;
	pthread_mutex_lock(&sc->mtx);
	for (int i = 0; i < FWCFG_MAX_FILES; i++) {
		it = &sc->generic[FWCFG_FILE_FIRST + i];
		if (it->present && strcmp(it->name, name) == 0) {
			key = -1;
			break;
		}
		if (!it->present && key < 0)
			key = FWCFG_FILE_FIRST + i;
	}
	if (key >= 0) {
		it = &sc->generic[key];
		if (fwcfg_set(it, data, len) != 0) {
			key = -1;
		} else {
			memset(it->name, 0, sizeof(it->name));
			strcpy(it->name, name);
			it->writable = writable;
			sc->nfiles++;
			if (fwcfg_rebuild_dir(sc) != 0)
				key = -1;
		}
	}
	pthread_mutex_unlock(&sc->mtx);
	return key;
}

const uint8_t *
fwcfg_file_data(struct fwcfg_softc *sc, const char *name, uint32_t *len)
{
	for (int i = 0; i < FWCFG_MAX_FILES; i++) {
		struct fwcfg_item *it = &sc->generic[FWCFG_FILE_FIRST + i];

		if (it->present && strcmp(it->name, name) == 0) {
			*len = it->len;
			return it->data;
		}
	}
	return NULL;
}

/* ---- port I/O ------------------------------------------------------- */

static uint8_t
fwcfg_next_byte(struct fwcfg_softc *sc)
{
	struct fwcfg_item *it = fwcfg_lookup(sc, sc->selector);

	/* Past the end, or nothing selected: zeros, as QEMU. */
	if (it == NULL || !it->present || sc->offset >= it->len)
		return 0;
	return it->data[sc->offset++];
}

/*
 * Runs the transfer a descriptor asks for.  The whole guest range is
 * checked before any byte moves, so a refused request has no effect.
 */
static bool
fwcfg_dma_transfer(struct fwcfg_softc *sc, uint32_t control, uint32_t len,
		   uint64_t addr)
{
	struct fwcfg_item *it;
	uint32_t avail, n;
	uint8_t *g = NULL;

	if (control & FWCFG_DMA_SELECT) {
		sc->selector = (uint16_t)(control >> 16);
		sc->offset = 0;
	}
	if (!(control & (FWCFG_DMA_READ | FWCFG_DMA_WRITE | FWCFG_DMA_SKIP)) ||
	    len == 0)
		return true;
	it = fwcfg_lookup(sc, sc->selector);
	avail = it != NULL && it->present && sc->offset < it->len
		    ? it->len - sc->offset
		    : 0;
	n = len < avail ? len : avail;
	if (control & FWCFG_DMA_READ) {
		g = vm_map_gpa(sc->ctx, addr, len);
		if (g == NULL)
			return false;
		if (n != 0)
			memcpy(g, it->data + sc->offset, n);
		memset(g + n, 0, len - n);
	} else if (control & FWCFG_DMA_WRITE) {
		/* Only writable items, and never beyond their end. */
		if (it == NULL || !it->writable || n != len)
			return false;
		g = vm_map_gpa(sc->ctx, addr, len);
		if (g == NULL)
			return false;
		memcpy(it->data + sc->offset, g, n);
	}
	sc->offset += n;
	return true;
}

static void
fwcfg_dma_run(struct fwcfg_softc *sc, uint64_t desc_addr)
{
	uint8_t *d = vm_map_gpa(sc->ctx, desc_addr, FWCFG_DMA_DESC);
	uint32_t control, len;
	uint64_t addr;
	bool ok;

	/* No descriptor in RAM: nowhere to report the error either. */
	if (d == NULL)
		return;
	/* One read of the descriptor: the guest may change it meanwhile. */
	control = (uint32_t)get_be(d, 4);
	len = (uint32_t)get_be(d + 4, 4);
	addr = get_be(d + 8, 8);
	ok = fwcfg_dma_transfer(sc, control, len, addr);
	put_be(d, ok ? 0 : FWCFG_DMA_ERROR, 4);
}

static uint32_t
fwcfg_dma_sig_read(int port, int bytes)
{
	uint32_t v = 0;
	int off = port - FWCFG_PORT_DMA_HI;

	/* The signature's bytes in address order, as a big-endian device. */
	for (int i = 0; i < bytes && off + i < 8; i++)
		v |= (uint32_t)(uint8_t)(FWCFG_DMA_SIGNATURE >>
					 (8 * (7 - (off + i))))
		     << (8 * i);
	return v;
}

uint32_t
fwcfg_io_read(struct fwcfg_softc *sc, int port, int bytes)
{
	uint32_t v = 0;

	if (bytes != 1 && bytes != 2 && bytes != 4)
		return 0xffffffffu;
	pthread_mutex_lock(&sc->mtx);
	if (port == FWCFG_PORT_SEL) {
		v = sc->selector;
	} else if (port == FWCFG_PORT_DATA) {
		for (int i = 0; i < bytes; i++)
			v |= (uint32_t)fwcfg_next_byte(sc) << (8 * i);
	} else if (port >= FWCFG_PORT_DMA_HI &&
		   port < FWCFG_PORT_SEL + FWCFG_PORT_COUNT) {
		v = fwcfg_dma_sig_read(port, bytes);
	} else {
		v = 0xffffffffu;
	}
	pthread_mutex_unlock(&sc->mtx);
	return v;
}

void
fwcfg_io_write(struct fwcfg_softc *sc, int port, int bytes, uint32_t val)
{
	pthread_mutex_lock(&sc->mtx);
	if (port == FWCFG_PORT_SEL && bytes == 2) {
		sc->selector = (uint16_t)val;
		sc->offset = 0;
	} else if (port == FWCFG_PORT_DMA_HI && bytes == 4) {
		sc->dma_hi = __builtin_bswap32(val);
	} else if (port == FWCFG_PORT_DMA_LO && bytes == 4) {
		/* Writing the low half starts the transfer. */
		uint64_t a =
		    (uint64_t)sc->dma_hi << 32 | __builtin_bswap32(val);

		sc->dma_hi = 0;
		fwcfg_dma_run(sc, a);
	}
	/* Data-port writes are ignored, as in QEMU 2.4 and later. */
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- bhyve's fwctl -------------------------------------------------- */

#define FWCTL_OP_GET	 3
#define FWCTL_OP_GET_LEN 4
#define FWCTL_HDR	 12 /* request: size, type, txid */
#define FWCTL_REQ_MAX	 80 /* the longest name accepted */
#define FWCTL_E2BIG	 7
#define FWCTL_ENOENT	 2

enum fwctl_state { FWCTL_IDENT_WAIT, FWCTL_IDENT_SEND, FWCTL_REQ, FWCTL_RESP };

struct fwctl_softc {
	pthread_mutex_t mtx;
	enum fwctl_state state;
	int ident_idx;
	/* Request being received. */
	uint32_t req_words, req_size, req_type, req_txid, req_left;
	char req_data[FWCTL_REQ_MAX + 4];
	uint32_t req_len;
	/* Response being sent. */
	uint32_t resp[4 + 8];
	uint32_t resp_words, resp_idx;
	int32_t ncpus;
};

struct fwctl_softc *
fwctl_create(int ncpus)
{
	struct fwctl_softc *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return NULL;
	pthread_mutex_init(&sc->mtx, NULL);
	sc->state = FWCTL_IDENT_WAIT;
	sc->ncpus = ncpus;
	return sc;
}

void
fwctl_destroy(struct fwctl_softc *sc)
{
	if (sc == NULL)
		return;
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

/*
 * Whether the request names exactly 'name': its payload up to the first
 * NUL, or all of it when the guest sent none.  Not a prefix compare: the
 * guest's "hw.n" or "hw." must not read as "hw.ncpu".
 */
static bool
fwctl_name_is(const struct fwctl_softc *sc, const char *name)
{
	size_t len = sc->req_size - FWCTL_HDR;

	if (len > sc->req_len)
		len = sc->req_len;
	len = strnlen(sc->req_data, len);
	return len == strlen(name) && memcmp(sc->req_data, name, len) == 0;
}

/* Builds the response: header words, then 8-byte size and the value. */
static void
fwctl_respond(struct fwctl_softc *sc)
{
	uint32_t data[3] = {0};
	uint32_t ndata = 0, err = 0;
	bool known = fwctl_name_is(sc, "hw.ncpu");

	if (sc->req_size - FWCTL_HDR > FWCTL_REQ_MAX)
		err = FWCTL_E2BIG;
	else if ((sc->req_type != FWCTL_OP_GET &&
		  sc->req_type != FWCTL_OP_GET_LEN) ||
		 !known)
		err = FWCTL_ENOENT;
	else if (sc->req_type == FWCTL_OP_GET_LEN) {
		data[0] = sizeof(sc->ncpus); /* a 64-bit size_t */
		ndata = 2;
	} else {
		data[0] = sizeof(sc->ncpus);
		data[2] = (uint32_t)sc->ncpus;
		ndata = 3;
	}
	sc->resp[0] = 16 + 4 * ndata;
	sc->resp[1] = sc->req_type;
	sc->resp[2] = sc->req_txid;
	sc->resp[3] = err;
	memcpy(sc->resp + 4, data, sizeof(data));
	sc->resp_words = 4 + ndata;
	sc->resp_idx = 0;
	sc->state = FWCTL_RESP;
}

static void
fwctl_request_word(struct fwctl_softc *sc, uint32_t w)
{
	switch (sc->req_words++) {
	case 0:
		/* Too short to hold its own header: start over. */
		if (w < FWCTL_HDR) {
			sc->req_words = 0;
			return;
		}
		sc->req_size = w;
		sc->req_left = w - FWCTL_HDR;
		sc->req_len = 0;
		memset(sc->req_data, 0, sizeof(sc->req_data));
		return;
	case 1:
		sc->req_type = w;
		return;
	case 2:
		sc->req_txid = w;
		break;
	default:
		if (sc->req_len + 4 <= FWCTL_REQ_MAX + 4) {
			memcpy(sc->req_data + sc->req_len, &w, 4);
			sc->req_len += 4;
		}
		sc->req_left = sc->req_left > 4 ? sc->req_left - 4 : 0;
		break;
	}
	if (sc->req_left == 0) {
		sc->req_words = 0;
		fwctl_respond(sc);
	}
}

uint32_t
fwctl_io_read(struct fwctl_softc *sc, int port, int bytes)
{
	static const char sig[4] = {'B', 'H', 'Y', 'V'};
	uint32_t v = 0xffffffffu;

	pthread_mutex_lock(&sc->mtx);
	if (bytes == 1 && sc->state == FWCTL_IDENT_SEND) {
		v = (uint8_t)sig[sc->ident_idx++];
		if (sc->ident_idx == 4)
			sc->state = FWCTL_REQ;
	} else if (bytes == 1) {
		v = 0xff;
	} else if (bytes == 4 && sc->state == FWCTL_RESP) {
		v = sc->resp[sc->resp_idx++];
		if (sc->resp_idx >= sc->resp_words)
			sc->state = FWCTL_REQ;
	} else if (bytes == 2) {
		v = 0xffff;
	}
	pthread_mutex_unlock(&sc->mtx);
	return v;
}

void
fwctl_io_write(struct fwctl_softc *sc, int port, int bytes, uint32_t val)
{
	pthread_mutex_lock(&sc->mtx);
	if (bytes == 2 && (val & 0xffff) == 0) {
		/* Selector 0: the guest restarts with the signature. */
		sc->state = FWCTL_IDENT_SEND;
		sc->ident_idx = 0;
		sc->req_words = 0;
	} else if (bytes == 4 && sc->state == FWCTL_REQ) {
		fwctl_request_word(sc, val);
	}
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- boot order ------------------------------------------------------ */

struct fwcfg_boot {
	int index;
	char *path;
};

static struct fwcfg_boot *fwcfg_boots;
static int fwcfg_nboots;

int
fwcfg_bootorder_add(int index, const char *path)
{
	struct fwcfg_boot *b;

	if (path == NULL || strchr(path, '\n') != NULL)
		return -1;
	b = realloc(fwcfg_boots, (size_t)(fwcfg_nboots + 1) * sizeof(*b));
	if (b == NULL)
		return -1;
	fwcfg_boots = b;
	b[fwcfg_nboots].index = index;
	b[fwcfg_nboots].path = strdup(path);
	if (b[fwcfg_nboots].path == NULL)
		return -1;
	fwcfg_nboots++;
	return 0;
}

static int
fwcfg_boot_cmp(const void *a, const void *b)
{
	const struct fwcfg_boot *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

static int
fwcfg_add_bootorder(struct fwcfg_softc *sc)
{
	size_t len = 0, off = 0;
	char *s;
	int rc;

	if (fwcfg_nboots == 0)
		return 0;
	qsort(fwcfg_boots, (size_t)fwcfg_nboots, sizeof(*fwcfg_boots),
	      fwcfg_boot_cmp);
	for (int i = 0; i < fwcfg_nboots; i++)
		len += strlen(fwcfg_boots[i].path) + 1;
	s = malloc(len + 1);
	if (s == NULL)
		return -1;
	for (int i = 0; i < fwcfg_nboots; i++)
		off += (size_t)sprintf(s + off, "%s\n", fwcfg_boots[i].path);
	rc = fwcfg_add_file(sc, "bootorder", s, (uint32_t)off + 1, false) < 0
		 ? -1
		 : 0;
	free(s);
	return rc;
}

/* ---- what the qemu flavour exposes ---------------------------------- */

/*
 * QEMU's etc/e820: packed {le64 address, le64 length, le32 type}.  With
 * a boot ROM only the RAM entries, as QEMU gives them: OVMF takes the
 * top of low RAM and the RAM above 4 GiB from them, lays out the first
 * MiB itself, and turns every reserved entry into a reserved resource
 * (one over the legacy area would overlap its own RAM below 640 KiB).
 */
static int
fwcfg_add_e820(struct fwcfg_softc *sc)
{
	struct e820_entry m[E820_MAX_ENTRIES];
	uint8_t buf[E820_MAX_ENTRIES * 20];
	int n = e820_get(m, E820_MAX_ENTRIES);

	if (platform_firmware_is_uefi()) {
		int k = 0;

		for (int i = 0; i < n; i++)
			if (m[i].type == E820_TYPE_RAM)
				m[k++] = m[i];
		n = k;
	}
	for (int i = 0; i < n; i++) {
		for (int b = 0; b < 8; b++) {
			buf[20 * i + b] = (uint8_t)(m[i].base >> (8 * b));
			buf[20 * i + 8 + b] = (uint8_t)(m[i].len >> (8 * b));
		}
		for (int b = 0; b < 4; b++)
			buf[20 * i + 16 + b] = (uint8_t)(m[i].type >> (8 * b));
	}
	return fwcfg_add_file(sc, "etc/e820", buf, (uint32_t)(20 * n), false) <
		       0
		   ? -1
		   : 0;
}

static int
fwcfg_read_file(const char *path, uint8_t **data, uint32_t *len)
{
	FILE *fp = fopen(path, "rb");
	long sz;

	*data = NULL;
	if (fp == NULL)
		return -1;
	if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
	    (uint64_t)sz > FWCFG_USER_MAX || fseek(fp, 0, SEEK_SET) != 0) {
		fclose(fp);
		errno = EFBIG;
		return -1;
	}
	*data = malloc((size_t)sz + 1);
	if (*data == NULL || fread(*data, 1, (size_t)sz, fp) != (size_t)sz) {
		fclose(fp);
		free(*data);
		*data = NULL;
		return -1;
	}
	fclose(fp);
	*len = (uint32_t)sz;
	return 0;
}

/* -f name,string=... / name,file=...: the name as given (bhyve does not
 * prefix "opt/"; QEMU expects users to choose opt/... names). */
static int
fwcfg_add_user_files(struct fwcfg_softc *sc)
{
	char key[48];

	for (int n = 0;; n++) {
		const char *name, *str, *path;
		uint8_t *data = NULL;
		uint32_t len = 0;
		int rc;

		snprintf(key, sizeof(key), "fwcfg.user.%d.name", n);
		name = get_config_value(key);
		if (name == NULL)
			return 0;
		snprintf(key, sizeof(key), "fwcfg.user.%d.string", n);
		str = get_config_value(key);
		snprintf(key, sizeof(key), "fwcfg.user.%d.file", n);
		path = get_config_value(key);
		if (str != NULL) {
			/* As bhyve: the string with its NUL. */
			rc = fwcfg_add_file(sc, name, str,
					    (uint32_t)strlen(str) + 1, false);
		} else if (path != NULL &&
			   fwcfg_read_file(path, &data, &len) == 0) {
			rc = fwcfg_add_file(sc, name, data, len, false);
		} else {
			fprintf(stderr,
				"bhyve: fw_cfg: cannot read '%s' for "
				"'%s': %s\n",
				path != NULL ? path : "(none)", name,
				strerror(errno));
			return -1;
		}
		free(data);
		if (rc < 0) {
			fprintf(stderr,
				"bhyve: fw_cfg: cannot add file '%s' "
				"(duplicate or too many files)\n",
				name);
			return -1;
		}
	}
}

int
fwcfg_populate(struct fwcfg_softc *sc, struct vmctx *ctx, int ncpus)
{
	const struct acpi_image *acpi = acpi_get_image();
	const struct smbios_image *smb = smbios_get_image();
	uint8_t b8[8], uuid[16], s[16];
	uint64_t ram = vm_get_lowmem_size(ctx) + vm_get_highmem_size(ctx);
	int rc = 0;

	for (int i = 0; i < 8; i++)
		b8[i] = (uint8_t)(ram >> (8 * i));
	rc |= fwcfg_add_item(sc, FWCFG_RAM_SIZE, b8, 8);
	b8[0] = (uint8_t)ncpus;
	b8[1] = (uint8_t)(ncpus >> 8);
	rc |= fwcfg_add_item(sc, FWCFG_NB_CPUS, b8, 2);
	rc |= fwcfg_add_item(sc, FWCFG_MAX_CPUS, b8, 2);
	b8[0] = 1, b8[1] = 0; /* no graphics */
	rc |= fwcfg_add_item(sc, FWCFG_NOGRAPHIC, b8, 2);
	/* FW_CFG_UUID is in RFC 4122 byte order; SMBIOS swaps fields. */
	if (smbios_get_uuid(s) == 0) {
		uuid[0] = s[3], uuid[1] = s[2], uuid[2] = s[1], uuid[3] = s[0];
		uuid[4] = s[5], uuid[5] = s[4], uuid[6] = s[7], uuid[7] = s[6];
		memcpy(uuid + 8, s + 8, 8);
		rc |= fwcfg_add_item(sc, FWCFG_UUID, uuid, 16);
	}
	if (acpi != NULL) {
		rc |= fwcfg_add_file(sc, ACPI_FWCFG_TABLES, acpi->tables,
				     (uint32_t)acpi->tables_len, false) < 0;
		rc |= fwcfg_add_file(sc, ACPI_FWCFG_RSDP, acpi->rsdp,
				     (uint32_t)acpi->rsdp_len, false) < 0;
		rc |= fwcfg_add_file(sc, ACPI_FWCFG_LOADER, acpi->loader,
				     (uint32_t)acpi->loader_len, false) < 0;
	}
	if (smb != NULL) {
		rc |= fwcfg_add_file(sc, SMBIOS_FWCFG_TABLES, smb->tables,
				     (uint32_t)smb->tables_len, false) < 0;
		rc |= fwcfg_add_file(sc, SMBIOS_FWCFG_ANCHOR, smb->anchor,
				     (uint32_t)smb->anchor_len, false) < 0;
	}
	if (e820_initialized_for(ctx))
		rc |= fwcfg_add_e820(sc);
	rc |= fwcfg_add_bootorder(sc);
	if (rc != 0) {
		fprintf(stderr, "bhyve: fw_cfg: cannot build the items\n");
		return -1;
	}
	return fwcfg_add_user_files(sc);
}

/* ---- the platform device -------------------------------------------- */

static struct fwcfg_softc *fwcfg_sc;
static struct fwctl_softc *fwctl_sc;
static bool fwcfg_registered;

static int
fwcfg_port_handler(struct vcpu *vcpu, int in, int port, int bytes,
		   uint32_t *eax, void *arg)
{
	if (in)
		*eax = fwcfg_io_read(fwcfg_sc, port, bytes);
	else
		fwcfg_io_write(fwcfg_sc, port, bytes, *eax);
	return 0;
}

static int
fwctl_port_handler(struct vcpu *vcpu, int in, int port, int bytes,
		   uint32_t *eax, void *arg)
{
	if (in)
		*eax = fwctl_io_read(fwctl_sc, port, bytes);
	else
		fwctl_io_write(fwctl_sc, port, bytes, *eax);
	return 0;
}

static struct inout_port fwcfg_iop;

static void
fwcfg_fini(void)
{
	if (fwcfg_registered)
		unregister_inout(&fwcfg_iop);
	fwcfg_registered = false;
	fwcfg_destroy(fwcfg_sc);
	fwcfg_sc = NULL;
	fwctl_destroy(fwctl_sc);
	fwctl_sc = NULL;
	for (int i = 0; i < fwcfg_nboots; i++)
		free(fwcfg_boots[i].path);
	free(fwcfg_boots);
	fwcfg_boots = NULL;
	fwcfg_nboots = 0;
}

bool
fwcfg_flavour_is_qemu(void)
{
	const char *flavour = get_config_value("lpc.fwcfg");

	if (flavour == NULL)
		return platform_firmware_is_uefi();
	return strcmp(flavour, "qemu") == 0;
}

static int
fwcfg_pd_init(struct vmctx *ctx)
{
	if (fwcfg_flavour_is_qemu()) {
		fwcfg_sc = fwcfg_create(ctx);
		if (fwcfg_sc == NULL ||
		    fwcfg_populate(fwcfg_sc, ctx, config_ncpus()) != 0) {
			fwcfg_fini();
			return -1;
		}
		fwcfg_iop = (struct inout_port){
		    "fw_cfg",	    FWCFG_PORT_SEL,	FWCFG_PORT_COUNT,
		    IOPORT_F_INOUT, fwcfg_port_handler, NULL};
	} else {
		fwctl_sc = fwctl_create(config_ncpus());
		if (fwctl_sc == NULL)
			return -1;
		fwcfg_iop = (struct inout_port){
		    "fwctl",	    FWCFG_PORT_SEL,	2,
		    IOPORT_F_INOUT, fwctl_port_handler, NULL};
	}
	if (register_inout(&fwcfg_iop) != 0) {
		fprintf(stderr, "bhyve: fw_cfg: ports %#x-%#x already in use\n",
			FWCFG_PORT_SEL, FWCFG_PORT_SEL + fwcfg_iop.size - 1);
		fwcfg_fini();
		return -1;
	}
	fwcfg_registered = true;
	return 0;
}

static const struct platform_dev fwcfg_dev = {
    .pd_name = "fw_cfg",
    .pd_order = FWCFG_PD_ORDER,
    .pd_init = fwcfg_pd_init,
    .pd_fini = fwcfg_fini,
};
PLATFORM_DEV_SET(fwcfg_dev);
