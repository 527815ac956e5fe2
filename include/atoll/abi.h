/* What the Atoll plugin ABIs (TEE drivers, backends) share: how versions
 * are numbered and negotiated, the test for a field appended after a
 * plugin was built, and the attribute that exports an entry point.
 *
 * Versions. Each ABI has a {major, minor} version at the start of its
 * table. The major changes only when an existing field changes meaning
 * or place; a host refuses a table of another major. The minor grows when
 * a field is appended to a table (or to a struct the host hands over);
 * any minor loads in any host of the same major, because each side reads
 * an appended field only when the other side's struct_size covers it.
 *
 * This header depends on <stddef.h> and <stdint.h> only. */
#ifndef ATOLL_ABI_H
#define ATOLL_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Nonzero when the struct at p, whose struct_size field says how large it
 * was when its author compiled it, includes `field` of `type`. Read any
 * field that was appended after version x.0 through this test, e.g.
 * ATOLL_ABI_HAS(d, atoll_tee_driver, version). */
#define ATOLL_ABI_HAS(p, type, field)                                        \
	((size_t)(p)->struct_size >=                                        \
	 offsetof(type, field) + sizeof(((const type *)0)->field))

/* Marks the one symbol a plugin exports. Plugins are built with hidden
 * visibility by default (-fvisibility=hidden), so nothing else leaves the
 * shared object. */
#if defined(__GNUC__) || defined(__clang__)
#define ATOLL_ABI_EXPORT __attribute__((visibility("default")))
#else
#define ATOLL_ABI_EXPORT
#endif

/* What an entry point answers a host: nonzero when a host offering
 * host_major.host_minor can load a plugin built for `major` that needs at
 * least `min_minor` from its host. Used by the export macros; a function
 * rather than an expression so that a minimum of 0 draws no warning. */
static inline int atoll_abi_host_fits(uint32_t host_major, uint32_t host_minor,
				      uint32_t major, uint32_t min_minor)
{
	return host_major == major && host_minor >= min_minor;
}

#ifdef __cplusplus
}
#endif

#endif
