/* The enclave manifest of an island.yaml: what its enclave section makes
 * the enclave load, hashed. The enclave computes it at start-up from the
 * files it is about to load; `atollctl manifest` computes the same bytes
 * offline from the same files, so operators and clients know what to pin. */
#ifndef ATOLL_ISLAND_MANIFEST_H
#define ATOLL_ISLAND_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "attest/manifest.h"
#include "config.h"

/* Fill *out (zeroed by the caller; release with manifest_clear) from ic:
 * the runtime file (the enclave's own binary), the driver the enclave
 * uses (driver_name and driver_path, both NULL without a TEE: the one
 * named in the config, or the one probing found), and each workload i
 * for which include is NULL or include[i] is true. 0, or -errno with the
 * file that could not be read in err. */
int island_manifest(const struct island_config *ic, const char *runtime_path,
		    const char *driver_name, const char *driver_path, const bool *include,
		    struct manifest *out, char *err, size_t err_size);

#endif
