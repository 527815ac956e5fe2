/* The driver fuzz targets' shared steps: an instance of a driver compiled
 * into the target, created from key/value config, and verify() on an
 * input of evidence and collateral blobs (fuzz_split()). */
#ifndef ATOLL_TESTS_FUZZ_FUZZ_TEE_H
#define ATOLL_TESTS_FUZZ_FUZZ_TEE_H

#include <stdlib.h>
#include <string.h>

#include "atoll/tee_driver.h"
#include "fuzz.h"

/* The table from a driver's entry, and an instance of it; or abort. */
static inline const atoll_tee_driver *fuzz_tee_driver(atoll_tee_driver_entry_fn entry)
{
	const atoll_tee_driver *d = entry(ATOLL_TEE_DRIVER_ABI_MAJOR,
					  ATOLL_TEE_DRIVER_ABI_MINOR);

	if (!d)
		fuzz_die("the driver refuses ABI %u.%u", ATOLL_TEE_DRIVER_ABI_MAJOR,
			 ATOLL_TEE_DRIVER_ABI_MINOR);
	return d;
}

static inline void *fuzz_tee_init(const atoll_tee_driver *d,
				  const atoll_kv *kv, size_t n)
{
	atoll_err err = { "" };
	void *ctx = NULL;

	if (d->init(kv, n, &ctx, &err) != ATOLL_OK)
		fuzz_die("%s init failed: %s", d->name, err.msg);
	return ctx;
}

/* A fresh instance in place of ctx (which may be NULL), made before each
 * input by the targets of drivers that cache: their chain and
 * certificate caches then start empty, so an input takes the same paths
 * alone as after others (a regression replays as it ran), while the
 * verifications of one input share them. */
static inline void *fuzz_tee_renew(const atoll_tee_driver *d, void *ctx,
				   const atoll_kv *kv, size_t n)
{
	d->fini(ctx);
	return fuzz_tee_init(d, kv, n);
}

/* Read every byte the claims point at: ASan then reports claims that
 * borrow from freed memory. */
static inline void fuzz_tee_touch(const uint8_t *p, size_t n)
{
	volatile uint8_t sink = 0;

	if (n && !p)
		fuzz_die("claim of %zu bytes without data", n);
	for (size_t i = 0; i < n; i++)
		sink ^= p[i];
	(void)sink;
}

/* Evidence accepted as of when says it is valid then. */
static inline void fuzz_tee_check_claims(const atoll_claims *c, int64_t when)
{
	if (!c || !c->tee_type || (c->n_extra && !c->extra))
		fuzz_die("accepted evidence with incomplete claims");
	/* 0 is "no bound" on either side. */
	if ((c->not_before && c->not_before > when) ||
	    (c->not_after && c->not_after < when))
		fuzz_die("accepted as of %lld, valid only from %lld to %lld",
			 (long long)when, (long long)c->not_before,
			 (long long)c->not_after);
	fuzz_tee_touch(c->measurement, c->measurement_len);
	fuzz_tee_touch(c->signer, c->signer_len);
	fuzz_tee_touch(c->report_data, c->report_data_len);
	for (size_t i = 0; i < c->n_extra; i++) {
		const atoll_claim *x = &c->extra[i];

		if (!x->name)
			fuzz_die("claim %zu has no name", i);
		if (x->type == ATOLL_CLAIM_BYTES || x->type == ATOLL_CLAIM_STRING)
			fuzz_tee_touch(x->bytes, x->len);
	}
}

/* verify() as of when; the first blob is the evidence, the others its
 * collateral; expected (may be NULL) is the report data to bind. */
static inline int fuzz_tee_verify_once(const atoll_tee_driver *d, void *ctx,
				       const uint8_t *data, size_t size,
				       int64_t when, const uint8_t *expected,
				       size_t expected_len, atoll_claims **ret,
				       atoll_err *err)
{
	atoll_blob b[FUZZ_MAX_BLOBS];
	uint8_t *copy = malloc(size + 1);
	size_t n;
	atoll_verify_args a = { 0 };
	int r;

	if (!copy)
		fuzz_die("out of memory");
	if (size)
		memcpy(copy, data, size);
	n = fuzz_split(copy, size, b, FUZZ_MAX_BLOBS);
	a.struct_size = sizeof(a);
	a.evidence = b[0].data;
	a.evidence_len = b[0].len;
	a.collateral = n > 1 ? b + 1 : NULL;
	a.n_collateral = n - 1;
	a.expected_report_data = expected;
	a.expected_report_data_len = expected_len;
	a.verify_time = when;
	r = d->verify(ctx, &a, ret, err);
	free(copy);
	return r;
}

/* verify() as of when. The input is copied and the copy freed before the
 * claims of an accepted input are read, since the driver owns its claims.
 * Evidence accepted without expected report data must then be accepted
 * with its own report data claim as the expected value, and refused with
 * one bit of it changed; with caches on, those two calls answer from
 * what the first one cached. Returns the status. */
static inline int fuzz_tee_verify(const atoll_tee_driver *d, void *ctx,
				  const uint8_t *data, size_t size, int64_t when)
{
	atoll_claims *c = NULL;
	atoll_err err = { "" };
	uint8_t rd[256];
	size_t rd_len = 0;
	int r = fuzz_tee_verify_once(d, ctx, data, size, when, NULL, 0, &c, &err);

	if (r != ATOLL_OK) {
		if (c || !err.msg[0])
			fuzz_die("refusal %d with claims or without a message", r);
		return r;
	}
	fuzz_tee_check_claims(c, when);
	if (c->report_data_len <= sizeof(rd)) {
		rd_len = c->report_data_len;
		if (rd_len)
			memcpy(rd, c->report_data, rd_len);
	}
	d->claims_free(ctx, c);
	if (!rd_len)
		return r;
	c = NULL;
	if (fuzz_tee_verify_once(d, ctx, data, size, when, rd, rd_len, &c,
				 &err) != ATOLL_OK)
		fuzz_die("refused with its own report data: %s", err.msg);
	d->claims_free(ctx, c);
	rd[rd_len - 1] ^= 1;
	c = NULL;
	if (fuzz_tee_verify_once(d, ctx, data, size, when, rd, rd_len, &c,
				 &err) != ATOLL_E_BINDING || c)
		fuzz_die("accepted for other report data, or refused otherwise: %s",
			 err.msg);
	return r;
}

#endif
