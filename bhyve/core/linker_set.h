/*
 * Linker sets: a device model registers itself by dropping a pointer to
 * its descriptor into a named ELF section; the code that walks the set
 * never names the devices, so adding a device touches no central switch.
 */
#ifndef LINKER_SET_H
#define LINKER_SET_H

#define DATA_SET(set, sym)                                                     \
	static const void *const __set_##set##_##sym                           \
	    __attribute__((section("set_" #set), used)) = &(sym)

#define SET_DECLARE(set, type)                                                 \
	extern type *const __start_set_##set[] __attribute__((weak));          \
	extern type *const __stop_set_##set[] __attribute__((weak))

#define SET_BEGIN(set) (__start_set_##set)
#define SET_LIMIT(set) (__stop_set_##set)
#define SET_COUNT(set) ((size_t)(SET_LIMIT(set) - SET_BEGIN(set)))
#define SET_FOREACH(pvar, set)                                                 \
	for (pvar = SET_BEGIN(set); pvar < SET_LIMIT(set); pvar++)

#endif
