/* The client's local keystore, shared by atollctl and atoll-proxy: one
 * 0600 JSON file per private key in a 0700 directory, and beside it the
 * records of what the client sealed (sealed.h). The coordinator only ever
 * sees public keys; nothing here talks to it. */
#ifndef ATOLL_CLIENT_KEYSTORE_H
#define ATOLL_CLIENT_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/envelope.h"

struct cl_keystore {
	char dir[4096];
};

/* dir, or $HOME/.atoll/keys when NULL; created 0700 when missing. 0, or
 * -errno (-ENOENT without HOME). */
int cl_keystore_open(const char *dir, struct cl_keystore *ret);

/* Ids that become file names (key ids, job ids): 1..max-1 characters of
 * [A-Za-z0-9_-], so a coordinator cannot steer a path. */
bool cl_id_ok(const char *id, size_t max);

/* An X25519 key pair the client made. */
struct cl_key {
	char key_id[64];
	int algorithm; /* atoll.v1.KeyAlgorithm */
	uint8_t pub[ENV_KEY_LEN], priv[ENV_KEY_LEN];
};

/* Make a key pair (key_id still empty). 0 or -EIO. */
int cl_key_generate(struct cl_key *k);
/* Write <dir>/<key_id>.json (0600). -EINVAL for a bad key id. */
int cl_key_save(const struct cl_keystore *ks, const struct cl_key *k);
/* -ENOENT when absent, -EBADMSG when corrupt (the halves must match). */
int cl_key_load(const struct cl_keystore *ks, const char *key_id, struct cl_key *out);
void cl_key_wipe(struct cl_key *k);

/* The path of a key's Paillier private key file (<dir>/<id>.paillier.json);
 * -EINVAL for a bad key id. */
int cl_paillier_path(const struct cl_keystore *ks, const char *key_id, char *out, size_t size);

#endif
