/* atoll-proxy's homomorphic mode: Paillier keys made and kept here,
 * features encrypted here, scores decrypted here (he.c). */
#ifndef ATOLL_TOOLS_PROXY_HE_H
#define ATOLL_TOOLS_PROXY_HE_H

#include <stdbool.h>
#include <stddef.h>

#include "atoll/v1/confidential.pb-c.h"
#include "proxy.h"

/* Make a key of bits here, register its public half; 0 with *ret (the
 * coordinator's Key), or -1 after answering. */
int phe_key_create(struct preq *q, const char *label, int bits, Atoll__V1__Key **ret);
/* Does the keystore hold the Paillier key key_id? */
bool phe_have_key(const struct proxy *p, const char *key_id);
/* The homomorphic JobInput document for values. -errno with err. */
int phe_encrypt(const struct proxy *p, const char *key_id, const double *values, size_t n,
		struct buf *doc, char *err, size_t err_size);
/* Decrypt a homomorphic output document into the model's answer (the
 * label and probability per record; classes "a,b" names them). */
int phe_decrypt(const struct proxy *p, const char *key_id, const char *output,
		const char *classes, struct buf *answer, char *err, size_t err_size);

#endif
