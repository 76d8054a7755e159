/*
 * String port I/O: rep outsb of a message to the test device's message
 * port, rep insb/insw/insl from the sequence port (each read returns the
 * next counter value, truncated to the access width) with the direction
 * flag clear and set, rep outsl to the scratch register (the last item
 * wins), and a rep with RCX = 0 (no access at all).
 */
#include "payload.h"

static void
rep_outsb(uint16_t port, const void *buf, uint64_t n)
{
	__asm__ volatile("rep outsb"
			 : "+S"(buf), "+c"(n)
			 : "d"(port)
			 : "memory");
}

static void
rep_outsl(uint16_t port, const void *buf, uint64_t n)
{
	__asm__ volatile("rep outsl"
			 : "+S"(buf), "+c"(n)
			 : "d"(port)
			 : "memory");
}

static void
rep_insb(uint16_t port, void *buf, uint64_t n)
{
	__asm__ volatile("rep insb"
			 : "+D"(buf), "+c"(n)
			 : "d"(port)
			 : "memory");
}

static void
rep_insw(uint16_t port, void *buf, uint64_t n)
{
	__asm__ volatile("rep insw"
			 : "+D"(buf), "+c"(n)
			 : "d"(port)
			 : "memory");
}

static void
rep_insl(uint16_t port, void *buf, uint64_t n)
{
	__asm__ volatile("rep insl"
			 : "+D"(buf), "+c"(n)
			 : "d"(port)
			 : "memory");
}

/* rep insb with DF = 1: the buffer fills from 'last' downwards. */
static void
rep_insb_down(uint16_t port, void *last, uint64_t n)
{
	__asm__ volatile("std\n\trep insb\n\tcld"
			 : "+D"(last), "+c"(n)
			 : "d"(port)
			 : "memory");
}

static uint8_t bytes[300];
static uint16_t words[8];
static uint32_t dwords[8];

void
payload_main(void)
{
	static const char msg[] = "stringio: a message sent with rep outsb\n";
	static const uint32_t three[3] = {0x11111111, 0x22222222, 0x33333333};
	uint32_t seq = 0;
	bool ok;

	rep_outsb(TD_PORT_MSG, msg, sizeof(msg) - 1);

	/* Bytes: a long string, so a VMM's page-sized chunks are crossed. */
	outl(TD_PORT_SEQ, 0);
	rep_insb(TD_PORT_SEQ, bytes, sizeof(bytes));
	ok = true;
	for (unsigned i = 0; i < sizeof(bytes); i++)
		ok = ok && bytes[i] == (uint8_t)(seq + i);
	CHECK(ok);
	seq += sizeof(bytes);

	rep_insw(TD_PORT_SEQ, words, 8);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(words[i], (uint16_t)(seq + i));
	seq += 8;

	rep_insl(TD_PORT_SEQ, dwords, 8);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(dwords[i], seq + i);
	seq += 8;

	/* The counter can be set, and DF = 1 walks the buffer downwards. */
	outl(TD_PORT_SEQ, 1000);
	memset(bytes, 0, sizeof(bytes));
	rep_insb_down(TD_PORT_SEQ, &bytes[15], 16);
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(bytes[15 - i], (uint8_t)(1000 + i));
	CHECK_EQ(bytes[16], 0);

	/* RCX = 0: no access, so the counter does not move. */
	rep_insl(TD_PORT_SEQ, dwords, 0);
	CHECK_EQ(inl(TD_PORT_SEQ), 1016);

	rep_outsl(TD_PORT_SCRATCH, three, 3);
	CHECK_EQ(inl(TD_PORT_SCRATCH), 0x33333333);
	td_printf("stringio: done");
}
