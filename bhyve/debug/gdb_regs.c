/*
 * beehive's x86-64 register set for gdb: one table gives each register's
 * name, size, type and feature; the 'g' layout and target.xml are both
 * derived from it so they cannot disagree.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gdb_regs.h"

enum gdb_feature { FEAT_CORE, FEAT_SSE, FEAT_SEGMENTS, FEAT_SYS, FEAT_NUM };

static const char *const feature_names[FEAT_NUM] = {
    [FEAT_CORE] = "org.gnu.gdb.i386.core",
    [FEAT_SSE] = "org.gnu.gdb.i386.sse",
    [FEAT_SEGMENTS] = "org.gnu.gdb.i386.segments",
    [FEAT_SYS] = "org.beehive.gdb.x86.sys",
};

struct reg_desc {
	const char *name;
	uint8_t size; /* bytes */
	uint8_t feature;
	const char *type;
	const char *group; /* NULL: gdb's default for the type */
};

#define GPR(n, t)                                                              \
	{                                                                      \
		n, 8, FEAT_CORE, t, "general"                                  \
	}
#define SEG(n)                                                                 \
	{                                                                      \
		n, 4, FEAT_CORE, "int32", "general"                            \
	}
#define ST(n)                                                                  \
	{                                                                      \
		n, 10, FEAT_CORE, "i387_ext", "float"                          \
	}
#define FPC(n)                                                                 \
	{                                                                      \
		n, 4, FEAT_CORE, "int", "float"                                \
	}
#define XMM(n)                                                                 \
	{                                                                      \
		n, 16, FEAT_SSE, "vec128", "vector"                            \
	}
#define SYS(n)                                                                 \
	{                                                                      \
		n, 8, FEAT_SYS, "int64", "system"                              \
	}

static const struct reg_desc regs[GDB_NREGS] = {
    GPR("rax", "int64"),
    GPR("rbx", "int64"),
    GPR("rcx", "int64"),
    GPR("rdx", "int64"),
    GPR("rsi", "int64"),
    GPR("rdi", "int64"),
    GPR("rbp", "data_ptr"),
    GPR("rsp", "data_ptr"),
    GPR("r8", "int64"),
    GPR("r9", "int64"),
    GPR("r10", "int64"),
    GPR("r11", "int64"),
    GPR("r12", "int64"),
    GPR("r13", "int64"),
    GPR("r14", "int64"),
    GPR("r15", "int64"),
    GPR("rip", "code_ptr"),
    {"eflags", 4, FEAT_CORE, "i386_eflags", "general"},
    SEG("cs"),
    SEG("ss"),
    SEG("ds"),
    SEG("es"),
    SEG("fs"),
    SEG("gs"),
    ST("st0"),
    ST("st1"),
    ST("st2"),
    ST("st3"),
    ST("st4"),
    ST("st5"),
    ST("st6"),
    ST("st7"),
    FPC("fctrl"),
    FPC("fstat"),
    FPC("ftag"),
    FPC("fiseg"),
    FPC("fioff"),
    FPC("foseg"),
    FPC("fooff"),
    FPC("fop"),
    XMM("xmm0"),
    XMM("xmm1"),
    XMM("xmm2"),
    XMM("xmm3"),
    XMM("xmm4"),
    XMM("xmm5"),
    XMM("xmm6"),
    XMM("xmm7"),
    XMM("xmm8"),
    XMM("xmm9"),
    XMM("xmm10"),
    XMM("xmm11"),
    XMM("xmm12"),
    XMM("xmm13"),
    XMM("xmm14"),
    XMM("xmm15"),
    {"mxcsr", 4, FEAT_SSE, "i386_mxcsr", "vector"},
    {"fs_base", 8, FEAT_SEGMENTS, "int", NULL},
    {"gs_base", 8, FEAT_SEGMENTS, "int", NULL},
    SYS("cr0"),
    SYS("cr2"),
    SYS("cr3"),
    SYS("cr4"),
    SYS("cr8"),
    SYS("efer"),
};

const char *
gdb_reg_name(int regno)
{
	if (regno < 0 || regno >= GDB_NREGS)
		return NULL;
	return regs[regno].name;
}

int
gdb_reg_size(int regno)
{
	if (regno < 0 || regno >= GDB_NREGS)
		return -1;
	return regs[regno].size;
}

int
gdb_reg_offset(int regno)
{
	int off = 0;

	if (regno < 0 || regno >= GDB_NREGS)
		return -1;
	for (int i = 0; i < regno; i++)
		off += regs[i].size;
	return off;
}

int
gdb_reg_lookup(const char *name)
{
	for (int i = 0; i < GDB_NREGS; i++) {
		if (strcmp(regs[i].name, name) == 0)
			return i;
	}
	return -1;
}

/* ---- target.xml ---- */

/* Types the i386 features use that gdb does not predefine. */
static const char xml_core_types[] =
    "<flags id=\"i386_eflags\" size=\"4\">"
    "<field name=\"CF\" start=\"0\" end=\"0\"/>"
    "<field name=\"\" start=\"1\" end=\"1\"/>"
    "<field name=\"PF\" start=\"2\" end=\"2\"/>"
    "<field name=\"AF\" start=\"4\" end=\"4\"/>"
    "<field name=\"ZF\" start=\"6\" end=\"6\"/>"
    "<field name=\"SF\" start=\"7\" end=\"7\"/>"
    "<field name=\"TF\" start=\"8\" end=\"8\"/>"
    "<field name=\"IF\" start=\"9\" end=\"9\"/>"
    "<field name=\"DF\" start=\"10\" end=\"10\"/>"
    "<field name=\"OF\" start=\"11\" end=\"11\"/>"
    "<field name=\"NT\" start=\"14\" end=\"14\"/>"
    "<field name=\"RF\" start=\"16\" end=\"16\"/>"
    "<field name=\"VM\" start=\"17\" end=\"17\"/>"
    "<field name=\"AC\" start=\"18\" end=\"18\"/>"
    "<field name=\"VIF\" start=\"19\" end=\"19\"/>"
    "<field name=\"VIP\" start=\"20\" end=\"20\"/>"
    "<field name=\"ID\" start=\"21\" end=\"21\"/>"
    "</flags>";

static const char xml_sse_types[] =
    "<vector id=\"v8bf16\" type=\"bfloat16\" count=\"8\"/>"
    "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>"
    "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
    "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>"
    "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
    "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
    "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
    "<union id=\"vec128\">"
    "<field name=\"v8_bfloat16\" type=\"v8bf16\"/>"
    "<field name=\"v4_float\" type=\"v4f\"/>"
    "<field name=\"v2_double\" type=\"v2d\"/>"
    "<field name=\"v16_int8\" type=\"v16i8\"/>"
    "<field name=\"v8_int16\" type=\"v8i16\"/>"
    "<field name=\"v4_int32\" type=\"v4i32\"/>"
    "<field name=\"v2_int64\" type=\"v2i64\"/>"
    "<field name=\"uint128\" type=\"uint128\"/>"
    "</union>"
    "<flags id=\"i386_mxcsr\" size=\"4\">"
    "<field name=\"IE\" start=\"0\" end=\"0\"/>"
    "<field name=\"DE\" start=\"1\" end=\"1\"/>"
    "<field name=\"ZE\" start=\"2\" end=\"2\"/>"
    "<field name=\"OE\" start=\"3\" end=\"3\"/>"
    "<field name=\"UE\" start=\"4\" end=\"4\"/>"
    "<field name=\"PE\" start=\"5\" end=\"5\"/>"
    "<field name=\"DAZ\" start=\"6\" end=\"6\"/>"
    "<field name=\"IM\" start=\"7\" end=\"7\"/>"
    "<field name=\"DM\" start=\"8\" end=\"8\"/>"
    "<field name=\"ZM\" start=\"9\" end=\"9\"/>"
    "<field name=\"OM\" start=\"10\" end=\"10\"/>"
    "<field name=\"UM\" start=\"11\" end=\"11\"/>"
    "<field name=\"PM\" start=\"12\" end=\"12\"/>"
    "<field name=\"FZ\" start=\"15\" end=\"15\"/>"
    "</flags>";

static char target_xml[16384];
static pthread_once_t target_xml_once = PTHREAD_ONCE_INIT;

/* Appends to target_xml; the buffer is sized well above what the fixed
 * table produces, and a truncation would show as a malformed document. */
static void
xml_append(size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= sizeof(target_xml))
		return;
	memcpy(target_xml + *len, s, n + 1);
	*len += n;
}

static void
target_xml_build(void)
{
	size_t len = 0;
	char line[256];

	xml_append(&len, "<?xml version=\"1.0\"?>"
			 "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
			 "<target version=\"1.0\">"
			 "<architecture>i386:x86-64</architecture>");
	for (int f = 0; f < FEAT_NUM; f++) {
		snprintf(line, sizeof(line), "<feature name=\"%s\">",
			 feature_names[f]);
		xml_append(&len, line);
		if (f == FEAT_CORE)
			xml_append(&len, xml_core_types);
		if (f == FEAT_SSE)
			xml_append(&len, xml_sse_types);
		for (int i = 0; i < GDB_NREGS; i++) {
			if (regs[i].feature != f)
				continue;
			/* regnum pins the remote number to the 'g' order. */
			snprintf(line, sizeof(line),
				 "<reg name=\"%s\" bitsize=\"%d\" type=\"%s\" "
				 "regnum=\"%d\"%s%s%s/>",
				 regs[i].name, regs[i].size * 8, regs[i].type,
				 i, regs[i].group ? " group=\"" : "",
				 regs[i].group ? regs[i].group : "",
				 regs[i].group ? "\"" : "");
			xml_append(&len, line);
		}
		xml_append(&len, "</feature>");
	}
	xml_append(&len, "</target>");
}

const char *
gdb_target_xml(void)
{
	pthread_once(&target_xml_once, target_xml_build);
	return target_xml;
}

/* ---- conversions ---- */

static void
put_le(uint8_t *p, uint64_t v, int size)
{
	for (int i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int size)
{
	uint64_t v = 0;

	for (int i = 0; i < size && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/*
 * Where a scalar (up to 64-bit) register outside the FXSAVE image lives
 * in struct gdb_cpu_regs, or -1.
 */
static long
cpu_scalar_offset(int regno)
{
	if (regno >= GDB_REG_RAX && regno <= GDB_REG_R15)
		return (long)(offsetof(struct gdb_cpu_regs, gpr) +
			      8 * (size_t)(regno - GDB_REG_RAX));
	if (regno >= GDB_REG_CS && regno <= GDB_REG_GS)
		return (long)(offsetof(struct gdb_cpu_regs, seg) +
			      8 * (size_t)(regno - GDB_REG_CS));
	switch (regno) {
	case GDB_REG_RIP:
		return offsetof(struct gdb_cpu_regs, rip);
	case GDB_REG_EFLAGS:
		return offsetof(struct gdb_cpu_regs, rflags);
	case GDB_REG_FS_BASE:
		return offsetof(struct gdb_cpu_regs, fs_base);
	case GDB_REG_GS_BASE:
		return offsetof(struct gdb_cpu_regs, gs_base);
	case GDB_REG_CR0:
		return offsetof(struct gdb_cpu_regs, cr0);
	case GDB_REG_CR2:
		return offsetof(struct gdb_cpu_regs, cr2);
	case GDB_REG_CR3:
		return offsetof(struct gdb_cpu_regs, cr3);
	case GDB_REG_CR4:
		return offsetof(struct gdb_cpu_regs, cr4);
	case GDB_REG_CR8:
		return offsetof(struct gdb_cpu_regs, cr8);
	case GDB_REG_EFER:
		return offsetof(struct gdb_cpu_regs, efer);
	default:
		return -1;
	}
}

static bool
is_fx_reg(int regno)
{
	return regno >= GDB_REG_ST0 && regno <= GDB_REG_MXCSR;
}

/* Classifies one 80-bit register for the full tag word. */
static unsigned
fx_tag_of(const uint8_t *st)
{
	uint16_t exp = (uint16_t)(get_le(st + 8, 2) & 0x7fff);
	uint64_t mant = get_le(st, 8);

	if (exp == 0x7fff)
		return 2; /* special: infinity or NaN */
	if (exp == 0)
		return mant == 0 ? 1 : 2; /* zero, or denormal */
	return (mant >> 63) ? 0 : 2;	  /* valid, or unnormal */
}

uint16_t
gdb_fx_full_ftag(const uint8_t fx[VM_FXSAVE_LEN])
{
	unsigned top = (unsigned)(get_le(fx + VM_FX_FSW, 2) >> 11) & 7;
	uint16_t full = 0;

	/* Tag bits index physical registers; ST(i) is physical (top+i)%8. */
	for (unsigned phys = 0; phys < 8; phys++) {
		unsigned tag = 3;

		if (fx[VM_FX_FTW] & (1u << phys))
			tag =
			    fx_tag_of(fx + VM_FX_ST0 + 16 * ((phys - top) & 7));
		full |= (uint16_t)(tag << (2 * phys));
	}
	return full;
}

uint8_t
gdb_fx_abridged_ftag(uint16_t full)
{
	uint8_t ab = 0;

	for (unsigned phys = 0; phys < 8; phys++) {
		if (((full >> (2 * phys)) & 3) != 3)
			ab |= (uint8_t)(1u << phys);
	}
	return ab;
}

/* One x87/SSE register from the FXSAVE image into its gdb image. */
static void
fx_reg_get(const uint8_t *fx, int regno, uint8_t *out)
{
	uint64_t fip = get_le(fx + VM_FX_FIP, 8),
		 fdp = get_le(fx + VM_FX_FDP, 8);

	memset(out, 0, (size_t)regs[regno].size);
	if (regno >= GDB_REG_ST0 && regno <= GDB_REG_ST7) {
		memcpy(out, fx + VM_FX_ST0 + 16 * (regno - GDB_REG_ST0), 10);
		return;
	}
	if (regno >= GDB_REG_XMM0 && regno <= GDB_REG_XMM15) {
		memcpy(out, fx + VM_FX_XMM0 + 16 * (regno - GDB_REG_XMM0), 16);
		return;
	}
	switch (regno) {
	case GDB_REG_FCTRL:
		put_le(out, get_le(fx + VM_FX_FCW, 2), 4);
		break;
	case GDB_REG_FSTAT:
		put_le(out, get_le(fx + VM_FX_FSW, 2), 4);
		break;
	case GDB_REG_FTAG:
		put_le(out, gdb_fx_full_ftag(fx), 4);
		break;
	/* In the 64-bit image, FIP/FDP bits 32-47 hold FCS/FDS where the
	 * processor saves them (SDM Vol. 1, 10.5.1.1). */
	case GDB_REG_FISEG:
		put_le(out, (fip >> 32) & 0xffff, 4);
		break;
	case GDB_REG_FIOFF:
		put_le(out, fip & 0xffffffff, 4);
		break;
	case GDB_REG_FOSEG:
		put_le(out, (fdp >> 32) & 0xffff, 4);
		break;
	case GDB_REG_FOOFF:
		put_le(out, fdp & 0xffffffff, 4);
		break;
	case GDB_REG_FOP:
		put_le(out, get_le(fx + VM_FX_FOP, 2) & 0x7ff, 4);
		break;
	case GDB_REG_MXCSR:
		memcpy(out, fx + VM_FX_MXCSR, 4);
		break;
	default:
		break;
	}
}

static void
fx_reg_set(uint8_t *fx, int regno, const uint8_t *in)
{
	uint64_t v = get_le(in, regs[regno].size);
	uint64_t fip = get_le(fx + VM_FX_FIP, 8),
		 fdp = get_le(fx + VM_FX_FDP, 8);

	if (regno >= GDB_REG_ST0 && regno <= GDB_REG_ST7) {
		memcpy(fx + VM_FX_ST0 + 16 * (regno - GDB_REG_ST0), in, 10);
		return;
	}
	if (regno >= GDB_REG_XMM0 && regno <= GDB_REG_XMM15) {
		memcpy(fx + VM_FX_XMM0 + 16 * (regno - GDB_REG_XMM0), in, 16);
		return;
	}
	switch (regno) {
	case GDB_REG_FCTRL:
		put_le(fx + VM_FX_FCW, v, 2);
		break;
	case GDB_REG_FSTAT:
		put_le(fx + VM_FX_FSW, v, 2);
		break;
	case GDB_REG_FTAG:
		fx[VM_FX_FTW] = gdb_fx_abridged_ftag((uint16_t)v);
		break;
	case GDB_REG_FISEG:
		fip = (fip & ~(0xffffULL << 32)) | ((v & 0xffff) << 32);
		put_le(fx + VM_FX_FIP, fip, 8);
		break;
	case GDB_REG_FIOFF:
		put_le(fx + VM_FX_FIP,
		       (fip & ~0xffffffffULL) | (v & 0xffffffff), 8);
		break;
	case GDB_REG_FOSEG:
		fdp = (fdp & ~(0xffffULL << 32)) | ((v & 0xffff) << 32);
		put_le(fx + VM_FX_FDP, fdp, 8);
		break;
	case GDB_REG_FOOFF:
		put_le(fx + VM_FX_FDP,
		       (fdp & ~0xffffffffULL) | (v & 0xffffffff), 8);
		break;
	case GDB_REG_FOP:
		put_le(fx + VM_FX_FOP, v & 0x7ff, 2);
		break;
	case GDB_REG_MXCSR:
		memcpy(fx + VM_FX_MXCSR, in, 4);
		break;
	default:
		break;
	}
}

void
gdb_regs_to_file(const struct gdb_cpu_regs *r, struct gdb_regfile *rf)
{
	int off = 0;

	memset(rf, 0, sizeof(*rf));
	for (int i = 0; i < GDB_NREGS; off += regs[i].size, i++) {
		long so = cpu_scalar_offset(i);

		if (so >= 0) {
			uint64_t v;

			memcpy(&v, (const uint8_t *)r + so, sizeof(v));
			put_le(rf->data + off, v, regs[i].size);
			rf->valid[i] = true;
		} else if (is_fx_reg(i) && r->fx_valid) {
			fx_reg_get(r->fx, i, rf->data + off);
			rf->valid[i] = true;
		}
	}
}

bool
gdb_regs_from_file(struct gdb_cpu_regs *r, const struct gdb_regfile *rf)
{
	bool fx_dirty = false;
	int off = 0;

	for (int i = 0; i < GDB_NREGS; off += regs[i].size, i++) {
		long so = cpu_scalar_offset(i);

		if (!rf->valid[i])
			continue;
		if (so >= 0) {
			uint64_t v = get_le(rf->data + off, regs[i].size);

			memcpy((uint8_t *)r + so, &v, sizeof(v));
		} else if (is_fx_reg(i)) {
			fx_reg_set(r->fx, i, rf->data + off);
			fx_dirty = true;
		}
	}
	return fx_dirty;
}
