/* Internal to lib/he's Paillier files (paillier.c, paillier_key.c,
 * paillier_rand.c, paillier_dot.c): what they share beyond
 * he/paillier.h. Not part of any interface. */
#ifndef ATOLL_HE_PAILLIER_INTERNAL_H
#define ATOLL_HE_PAILLIER_INTERNAL_H

#include <errno.h>

#include <openssl/bn.h>

/* Work with the caller's BN_CTX or a fresh one. */
#define CTX_BEGIN(ctx, own)                          \
	BN_CTX *own = NULL;                          \
	if (!(ctx) && !((ctx) = own = BN_CTX_new())) \
		return -ENOMEM

#endif
