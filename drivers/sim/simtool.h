/* Provisioning for the sim TEE, for `atollctl sim ...`: a self-signed sim
 * root CA, island keys certified by it, and the measurement of an enclave
 * runtime binary as the sim driver computes it.
 *
 * All keys are ECDSA P-256; private keys are written as unencrypted PKCS#8
 * PEM with mode 0600, certificates as PEM. Existing files are never
 * overwritten (-EEXIST). Functions return 0 or a negative errno and, on
 * failure, a message in err (NUL-terminated, truncated to err_size). */
#ifndef ATOLL_SIM_SIMTOOL_H
#define ATOLL_SIM_SIMTOOL_H

#include <stddef.h>
#include <stdint.h>

#define SIMTOOL_CA_CERT "sim-ca.pem"
#define SIMTOOL_CA_KEY "sim-ca.key"
#define SIMTOOL_MEASUREMENT_LEN 48
#define SIMTOOL_MEASUREMENT_HEX (2 * SIMTOOL_MEASUREMENT_LEN + 1)
/* Certificates are valid for 1..SIMTOOL_MAX_DAYS days. */
#define SIMTOOL_MAX_DAYS 36500

/* Create dir (mode 0700) if missing and write dir/sim-ca.pem (subject
 * CN=<name>, a CA for `days` days) and dir/sim-ca.key (0600). */
int simtool_make_ca(const char *dir, const char *name, int days, char *err,
		    size_t err_size);

/* Read ca_dir/sim-ca.pem and ca_dir/sim-ca.key, create out_dir if missing
 * and write out_dir/<name>.key (0600) and out_dir/<name>.pem: a leaf
 * certificate (subject CN=<name>) valid for `days` days, cut short at the
 * CA's own expiry. name is 1..64 of [A-Za-z0-9._-], not starting with a
 * dot, as it becomes a file name. */
int simtool_make_island_key(const char *ca_dir, const char *name, int days,
			    const char *out_dir, char *err, size_t err_size);

/* SHA-384 of a file's contents, as lowercase hex. */
int simtool_measure(const char *path, char hex_out[SIMTOOL_MEASUREMENT_HEX],
		    char *err, size_t err_size);
/* The same digest as bytes. 0 or -errno, no message. */
int simtool_measure_raw(const char *path,
			uint8_t out[SIMTOOL_MEASUREMENT_LEN]);

#endif
