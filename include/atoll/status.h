/* Status codes shared by every Atoll plugin ABI (TEE drivers, backends).
 *
 * The set is closed and numbers never change: a new code is appended with
 * the ABI version that added it. Functions across the ABI return one of
 * these and, on failure, write a human-readable message into the caller's
 * error buffer (atoll_err). This header depends only on <stddef.h>. */
#ifndef ATOLL_STATUS_H
#define ATOLL_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum atoll_status {
	ATOLL_OK = 0,
	/* A caller mistake: NULL where a value is needed, a bad size. */
	ATOLL_E_INVALID_ARGUMENT = 1,
	/* Evidence or input that does not parse: truncated, wrong version,
	 * lengths that disagree. */
	ATOLL_E_FORMAT = 2,
	/* A signature over evidence or a certificate does not verify. */
	ATOLL_E_SIGNATURE = 3,
	/* The certificate chain does not lead to the pinned root, or a
	 * certificate is outside its validity at the verification time. */
	ATOLL_E_CHAIN = 4,
	/* The platform's TCB is revoked, out of date or below the minimum. */
	ATOLL_E_TCB = 5,
	/* Evidence is not bound to what it should be (report data, nonce,
	 * key, chip id). */
	ATOLL_E_BINDING = 6,
	/* Evidence is genuine but refused by policy (debug, measurement). */
	ATOLL_E_POLICY = 7,
	/* Evidence or certificate not valid at the verification time. */
	ATOLL_E_EXPIRED = 8,
	/* The operation is not implemented by this plugin. */
	ATOLL_E_UNSUPPORTED = 9,
	/* The hardware or service is not present here. */
	ATOLL_E_UNAVAILABLE = 10,
	ATOLL_E_NOMEM = 11,
	/* Plugin configuration is missing or wrong. */
	ATOLL_E_CONFIG = 12,
	/* A device, file or socket operation failed. */
	ATOLL_E_IO = 13,
	/* The job was cancelled; the backend stopped early. */
	ATOLL_E_CANCELLED = 14,
	/* Decryption or authentication of ciphertext failed. */
	ATOLL_E_CRYPTO = 15,
	/* Anything else; the message says what. */
	ATOLL_E_INTERNAL = 16,
} atoll_status;

/* Error buffer handed to plugins: they fill `msg` (NUL-terminated,
 * truncated to fit) when they return anything but ATOLL_OK. */
#define ATOLL_ERR_MAX 256
typedef struct atoll_err {
	char msg[ATOLL_ERR_MAX];
} atoll_err;

/* A configuration entry from YAML: `key: value`, both NUL-terminated and
 * borrowed for the duration of the call that receives them. */
typedef struct atoll_kv {
	const char *key;
	const char *value;
} atoll_kv;

#ifdef __cplusplus
}
#endif

#endif
