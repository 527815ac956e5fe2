/* atoll_drvcommon: collateral recognition and the parsed-collateral
 * cache, pins, chain verification with CRLs and the verified-chain cache,
 * the CBOR screen, COSE_Sign1, the claims builder and the config and table
 * helpers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "check.h"
#include "dc_cose.h"
#include "dc_driver.h"
#include "dc_util.h"
#include "dc_x509.h"
#include "gen.h"
#include "tdrv.h"

static const int64_t NOW = 1750000000;

struct pki {
	EVP_PKEY *rk, *ik, *lk;
	X509 *root, *inter, *leaf;
};

static void pki_make(struct pki *p, bool inter_ca)
{
	struct gen_cert_opts o = { 0 };

	p->rk = gen_ec_key("P-256");
	p->ik = gen_ec_key("P-256");
	p->lk = gen_ec_key("P-256");
	o.not_before = NOW - 86400 * 10;
	o.not_after = NOW + 86400 * 10;
	o.ca = true;
	o.cn = "Root";
	o.serial = 1;
	p->root = gen_cert(&o, p->rk, NULL, NULL);
	o.cn = "Inter";
	o.serial = 2;
	o.ca = inter_ca;
	o.not_after = NOW + 86400 * 5;
	p->inter = gen_cert(&o, p->ik, p->root, p->rk);
	o.cn = "Leaf";
	o.serial = 3;
	o.ca = false;
	o.not_before = NOW - 3600;
	o.not_after = NOW + 3600;
	p->leaf = gen_cert(&o, p->lk, p->inter, p->ik);
}

static void pki_free(struct pki *p)
{
	EVP_PKEY_free(p->rk);
	EVP_PKEY_free(p->ik);
	EVP_PKEY_free(p->lk);
	X509_free(p->root);
	X509_free(p->inter);
	X509_free(p->leaf);
}

static int chain(struct pki *p, X509 *leaf, bool with_inter, bool with_root,
		 STACK_OF(X509_CRL) *crls, const struct dc_pins *pins,
		 int64_t t, struct dc_chain_cache *cache,
		 struct dc_chain_result *res, atoll_err *err)
{
	STACK_OF(X509) *pool = sk_X509_new_null();
	int r;

	if (with_inter)
		sk_X509_push(pool, p->inter);
	if (with_root)
		sk_X509_push(pool, p->root);
	r = dc_chain_verify(leaf, pool, crls, pins, t, cache, res, err);
	sk_X509_free(pool);
	return r;
}

static void test_collateral(void)
{
	struct pki p;
	struct dc_collateral *c;
	atoll_err err;
	uint8_t *d1, *d2, *both;
	size_t l1, l2, pl, kl, cl;
	char *pem, *kpem, *crlpem, *mixed;
	X509_CRL *crl;
	BIO *b;

	pki_make(&p, true);
	d1 = gen_der(p.leaf, &l1);
	d2 = gen_der(p.inter, &l2);
	pem = gen_pem(p.root, &pl);
	kpem = gen_pubkey_pem(p.lk, &kl);
	crl = gen_crl(p.inter, p.ik, NOW - 10, NOW + 10, 0, 0);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509_CRL(b, crl);
	{
		char *data;
		long n = BIO_get_mem_data(b, &data);

		crlpem = malloc((size_t)n + 1);
		memcpy(crlpem, data, (size_t)n);
		crlpem[n] = 0;
		cl = (size_t)n;
	}
	BIO_free(b);

	/* One PEM blob with a certificate, a CRL, a key and a private key
	 * block (skipped), in text with leading noise. */
	mixed = malloc(pl + cl + kl + 200);
	snprintf(mixed, pl + cl + kl + 200,
		 "\n%s%s-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
		 "-----END EC PARAMETERS-----\n%s",
		 pem, crlpem, kpem);
	c = dc_collateral_new();
	CHECK_INT(dc_collateral_add(c, (uint8_t *)mixed, strlen(mixed), &err),
		  ATOLL_OK);
	CHECK_INT(sk_X509_num(c->certs), 1);
	CHECK_INT(sk_X509_CRL_num(c->crls), 1);
	CHECK_INT(c->n_keys, 1);

	/* Two DER certificates back to back, then zero padding. */
	both = calloc(1, l1 + l2 + 16);
	memcpy(both, d1, l1);
	memcpy(both + l1, d2, l2);
	CHECK_INT(dc_collateral_add(c, both, l1 + l2 + 16, &err), ATOLL_OK);
	CHECK_INT(sk_X509_num(c->certs), 3);
	/* ... but not garbage after them. */
	both[l1 + l2 + 3] = 7;
	CHECK_INT(dc_collateral_add(c, both, l1 + l2 + 16, &err),
		  ATOLL_E_FORMAT);
	/* JSON and unknown blobs are set aside. */
	CHECK_INT(dc_collateral_add(c, (const uint8_t *)" {\"tcbInfo\":{}}", 15,
				    &err),
		  ATOLL_OK);
	CHECK_INT(c->n_json, 1);
	CHECK_INT(dc_collateral_add(c, (const uint8_t *)"\x63\xda\x75", 3, &err),
		  ATOLL_OK);
	CHECK_INT(c->n_other, 1);
	CHECK_INT(dc_collateral_add(c, (const uint8_t *)"", 0, &err),
		  ATOLL_E_FORMAT);
	/* A PEM certificate whose body is damaged. */
	{
		char *bad = strdup(pem);

		bad[70] = bad[70] == 'A' ? 'B' : 'A';
		bad[71] = '!';
		CHECK_INT(dc_collateral_add(c, (uint8_t *)bad, strlen(bad), &err),
			  ATOLL_E_FORMAT);
		free(bad);
	}
	/* Blob list: the failing index is named. */
	{
		atoll_blob bl[2] = { { d1, l1 }, { (const uint8_t *)"-----BEGIN X", 12 } };

		CHECK_INT(dc_collateral_add_all(c, bl, 2, &err), ATOLL_E_FORMAT);
		CHECK(strstr(err.msg, "collateral[1]") != NULL);
	}
	dc_collateral_free(c);
	dc_collateral_free(NULL);
	free(both);
	free(d1);
	free(d2);
	free(pem);
	free(kpem);
	free(crlpem);
	free(mixed);
	X509_CRL_free(crl);
	pki_free(&p);
}

static void test_chain(void)
{
	struct pki p, q;
	struct dc_pins pins = { 0 };
	struct dc_chain_result res;
	struct dc_chain_cache *cache = dc_chain_cache_new(4), *tiny;
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	char fp[65];
	atoll_err err;
	uint64_t hits, misses;

	pki_make(&p, true);
	pki_make(&q, true);
	gen_fingerprint_hex(p.root, fp);
	CHECK_INT(dc_pins_add_list(&pins, "zz", &err), ATOLL_E_CONFIG);
	CHECK_INT(dc_pins_add_list(&pins, " , ", &err), ATOLL_E_CONFIG);
	CHECK_INT(dc_pins_add_list(&pins, fp, &err), ATOLL_OK);
	CHECK(dc_pins_match(&pins, p.root));
	CHECK(!dc_pins_match(&pins, q.root));

	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW, NULL, &res,
			&err),
		  ATOLL_OK);
	CHECK_INT(res.not_before, NOW - 3600);
	CHECK_INT(res.not_after, NOW + 3600);
	CHECK(res.root == p.root);
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW + 7200, NULL,
			&res, &err),
		  ATOLL_E_EXPIRED);
	CHECK(strstr(err.msg, "CN=Leaf") != NULL);
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW - 7200, NULL,
			&res, &err),
		  ATOLL_E_EXPIRED);
	CHECK_INT(chain(&p, p.leaf, false, true, NULL, &pins, NOW, NULL, &res,
			&err),
		  ATOLL_E_CHAIN);
	CHECK_INT(chain(&p, p.leaf, true, false, NULL, &pins, NOW, NULL, &res,
			&err),
		  ATOLL_E_CHAIN);
	/* q's chain is complete but its root is not pinned. */
	CHECK_INT(chain(&q, q.leaf, true, true, NULL, &pins, NOW, NULL, &res,
			&err),
		  ATOLL_E_CHAIN);
	/* An intermediate that is not a CA. */
	{
		struct pki n;
		struct dc_pins np = { 0 };
		uint8_t f[32];

		pki_make(&n, false);
		dc_cert_fingerprint(n.root, f);
		dc_pins_add(&np, f);
		CHECK_INT(chain(&n, n.leaf, true, true, NULL, &np, NOW, NULL,
				&res, &err),
			  ATOLL_E_CHAIN);
		dc_pins_clear(&np);
		pki_free(&n);
	}

	/* CRLs: revoked before t, revoked after t, stale, forged. */
	sk_X509_CRL_push(crls, gen_crl(p.inter, p.ik, NOW - 100, NOW + 100, 3,
					NOW - 50));
	CHECK_INT(chain(&p, p.leaf, true, true, crls, &pins, NOW, NULL, &res,
			&err),
		  ATOLL_E_CHAIN);
	CHECK(strstr(err.msg, "revoked") != NULL);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	crls = sk_X509_CRL_new_null();
	sk_X509_CRL_push(crls, gen_crl(p.inter, p.ik, NOW - 100, NOW + 100, 3,
					NOW + 50));
	CHECK_INT(chain(&p, p.leaf, true, true, crls, &pins, NOW, NULL, &res,
			&err),
		  ATOLL_OK);
	CHECK_INT(res.not_after, NOW + 49);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	crls = sk_X509_CRL_new_null();
	sk_X509_CRL_push(crls, gen_crl(p.inter, p.ik, NOW - 100, NOW - 10, 0, 0));
	CHECK_INT(chain(&p, p.leaf, true, true, crls, &pins, NOW, NULL, &res,
			&err),
		  ATOLL_E_EXPIRED);
	/* Named by the CRL's own nextUpdate, then the verification time. */
	{
		char want[96];
		dc_format_time(NOW - 10, want, sizeof(want));
		CHECK(strstr(err.msg, "past its nextUpdate") != NULL);
		CHECK(strstr(err.msg, want) != NULL);
	}
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	crls = sk_X509_CRL_new_null();
	/* Signed by the root key but naming the intermediate as issuer. */
	sk_X509_CRL_push(crls, gen_crl(p.inter, p.rk, NOW - 100, NOW + 100, 0, 0));
	CHECK_INT(chain(&p, p.leaf, true, true, crls, &pins, NOW, NULL, &res,
			&err),
		  ATOLL_E_CHAIN);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);

	/* The cache answers only inside the chain's validity. */
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW, cache, &res,
			&err),
		  ATOLL_OK);
	CHECK(!res.cached);
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW + 10, cache,
			&res, &err),
		  ATOLL_OK);
	CHECK(res.cached);
	CHECK_INT(res.not_after, NOW + 3600);
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW + 7200, cache,
			&res, &err),
		  ATOLL_E_EXPIRED);
	/* Other bytes, other key: the pool without the root misses. */
	CHECK_INT(chain(&p, p.leaf, true, false, NULL, &pins, NOW, cache, &res,
			&err),
		  ATOLL_E_CHAIN);
	dc_chain_cache_stats(cache, &hits, &misses);
	CHECK_INT(hits, 1);
	CHECK_INT(misses, 3);
	/* Capacity 1: two chains evict each other. */
	tiny = dc_chain_cache_new(1);
	{
		struct dc_pins both = { 0 };
		uint8_t f[32];
		int i;

		dc_cert_fingerprint(p.root, f);
		dc_pins_add(&both, f);
		dc_cert_fingerprint(q.root, f);
		dc_pins_add(&both, f);
		for (i = 0; i < 3; i++) {
			CHECK_INT(chain(&p, p.leaf, true, true, NULL, &both, NOW,
					tiny, &res, &err),
				  ATOLL_OK);
			CHECK_INT(chain(&q, q.leaf, true, true, NULL, &both, NOW,
					tiny, &res, &err),
				  ATOLL_OK);
		}
		dc_chain_cache_stats(tiny, &hits, &misses);
		CHECK_INT(hits, 0);
		CHECK_INT(misses, 6);
		dc_pins_clear(&both);
	}
	CHECK(dc_chain_cache_new(0) == NULL);
	dc_chain_cache_free(tiny);
	dc_chain_cache_free(cache);
	dc_chain_cache_free(NULL);
	dc_pins_clear(&pins);
	pki_free(&p);
	pki_free(&q);
}

/* Certificates a thread adds over and over through a shared cache that
 * keeps evicting: each collateral must hold its own blob's objects. */
struct churn_arg {
	struct dc_parse_cache *pc;
	const atoll_blob *blobs; /* 3 */
	X509 *want[3];
	int failures;
};

static void *churn_main(void *p)
{
	struct churn_arg *a = p;
	atoll_err err;
	int i, j;

	for (i = 0; i < 200; i++) {
		struct dc_collateral *c = dc_collateral_new_cached(a->pc);

		for (j = 0; j < 3; j++)
			if (!c || dc_collateral_add(c, a->blobs[(i + j) % 3].data,
						    a->blobs[(i + j) % 3].len,
						    &err) != ATOLL_OK)
				a->failures++;
		for (j = 0; c && j < 3; j++)
			if (sk_X509_num(c->certs) != 3 ||
			    X509_cmp(sk_X509_value(c->certs, j),
				     a->want[(i + j) % 3]) != 0)
				a->failures++;
		dc_collateral_free(c);
	}
	return NULL;
}

/* The parsed-collateral cache: collaterals share the objects parsed once,
 * entries are keyed by the exact bytes and what was asked of them, the
 * least recently used entry leaves first, and objects outlive it. */
static void test_parse_cache(void)
{
	struct pki p;
	struct dc_parse_cache *pc, *lru;
	struct dc_collateral *a, *b, *c;
	uint8_t *d1, *d2, *d3, *padded, *big;
	char *pem_i, *pem_r, *pem2;
	size_t l1, l2, l3, li, lr, entries;
	uint64_t hits, misses;
	X509 *x, *y;
	atoll_err err;

	CHECK(dc_parse_cache_new(0) == NULL);
	CHECK(dc_parse_cache_new(DC_PARSE_CACHE_MAX_ENTRIES + 1) == NULL);
	CHECK(dc_parse_cache_free(NULL) == NULL);
	pki_make(&p, true);
	d1 = gen_der(p.leaf, &l1);
	d2 = gen_der(p.inter, &l2);
	d3 = gen_der(p.root, &l3);
	pem_i = gen_pem(p.inter, &li);
	pem_r = gen_pem(p.root, &lr);
	pem2 = malloc(li + lr + 1);
	memcpy(pem2, pem_i, li);
	memcpy(pem2 + li, pem_r, lr);
	pem2[li + lr] = '\0';

	/* The second collateral gets the first one's objects. */
	pc = dc_parse_cache_new(8);
	a = dc_collateral_new_cached(pc);
	b = dc_collateral_new_cached(pc);
	CHECK_INT(dc_collateral_add(a, d1, l1, &err), ATOLL_OK);
	CHECK_INT(dc_collateral_add(b, d1, l1, &err), ATOLL_OK);
	CHECK(sk_X509_value(a->certs, 0) == sk_X509_value(b->certs, 0));
	CHECK_INT(X509_cmp(sk_X509_value(b->certs, 0), p.leaf), 0);
	dc_parse_cache_stats(pc, &hits, &misses, &entries);
	CHECK_INT(hits, 1);
	CHECK_INT(misses, 1);
	CHECK_INT(entries, 1);
	/* A PEM blob of two certificates is one entry, order kept. */
	CHECK_INT(dc_collateral_add(a, (uint8_t *)pem2, li + lr, &err), ATOLL_OK);
	CHECK_INT(dc_collateral_add(b, (uint8_t *)pem2, li + lr, &err), ATOLL_OK);
	CHECK_INT(sk_X509_num(b->certs), 3);
	CHECK_INT(X509_cmp(sk_X509_value(b->certs, 1), p.inter), 0);
	CHECK_INT(X509_cmp(sk_X509_value(b->certs, 2), p.root), 0);
	/* JSON and unknown blobs are borrowed bytes, not entries; blobs that
	 * fail to parse fail every time. */
	CHECK_INT(dc_collateral_add(a, (const uint8_t *)"{\"a\":1}", 7, &err),
		  ATOLL_OK);
	CHECK_INT(dc_collateral_add(a, (const uint8_t *)"{\"a\":1}", 7, &err),
		  ATOLL_OK);
	CHECK_INT(a->n_json, 2);
	CHECK_INT(dc_collateral_add(a, (const uint8_t *)"-----BEGIN X", 12,
				    &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_collateral_add(a, (const uint8_t *)"-----BEGIN X", 12,
				    &err),
		  ATOLL_E_FORMAT);
	dc_parse_cache_stats(pc, &hits, &misses, &entries);
	CHECK_INT(hits, 2);
	CHECK_INT(entries, 2);
	/* The chain verifies from cached objects, and the cache has no say
	 * in time: past the leaf's notAfter it fails. */
	{
		struct dc_pins pins = { 0 };
		struct dc_chain_result res;
		uint8_t f[32];

		dc_cert_fingerprint(p.root, f);
		dc_pins_add(&pins, f);
		CHECK_INT(dc_chain_verify(sk_X509_value(b->certs, 0), b->certs,
					  NULL, &pins, NOW, NULL, &res, &err),
			  ATOLL_OK);
		CHECK_INT(dc_chain_verify(sk_X509_value(b->certs, 0), b->certs,
					  NULL, &pins, NOW + 7200, NULL, &res,
					  &err),
			  ATOLL_E_EXPIRED);
		dc_pins_clear(&pins);
	}
	/* A cached blob of a certificate with zero padding does not make the
	 * padded bytes one exact certificate. */
	padded = calloc(1, l1 + 8);
	memcpy(padded, d1, l1);
	CHECK_INT(dc_collateral_add(a, padded, l1 + 8, &err), ATOLL_OK);
	CHECK(dc_cert_from_der(pc, padded, l1 + 8) == NULL);
	CHECK(dc_cert_from_der(pc, padded, l1 + 8) == NULL);
	CHECK(dc_cert_from_der(pc, d1, 0) == NULL);
	CHECK(dc_cert_from_der(pc, d1, l1 - 1) == NULL);
	x = dc_cert_from_der(pc, d1, l1);
	y = dc_cert_from_der(pc, d1, l1);
	CHECK(x && x == y);
	X509_free(y);
	y = dc_cert_from_der(NULL, d1, l1);
	CHECK(y && y != x && X509_cmp(x, y) == 0);
	X509_free(y);
	/* Oversized blobs are parsed every time and not counted. */
	big = calloc(1, DC_PARSE_CACHE_MAX_BLOB + 1);
	memcpy(big, d2, l2);
	dc_parse_cache_stats(pc, &hits, &misses, &entries);
	CHECK_INT(dc_collateral_add(a, big, DC_PARSE_CACHE_MAX_BLOB + 1, &err),
		  ATOLL_OK);
	{
		uint64_t h2, m2;
		size_t e2;

		dc_parse_cache_stats(pc, &h2, &m2, &e2);
		CHECK(h2 == hits && m2 == misses && e2 == entries);
	}
	/* Objects outlive the cache that handed them out. */
	dc_parse_cache_free(pc);
	CHECK_INT(X509_cmp(x, p.leaf), 0);
	CHECK_INT(X509_cmp(sk_X509_value(b->certs, 2), p.root), 0);
	X509_free(x);
	dc_collateral_free(a);
	dc_collateral_free(b);

	/* Capacity 2: the least recently used entry leaves. */
	lru = dc_parse_cache_new(2);
	c = dc_collateral_new_cached(lru);
	CHECK_INT(dc_collateral_add(c, d1, l1, &err), ATOLL_OK); /* miss */
	CHECK_INT(dc_collateral_add(c, d2, l2, &err), ATOLL_OK); /* miss */
	CHECK_INT(dc_collateral_add(c, d1, l1, &err), ATOLL_OK); /* hit */
	CHECK_INT(dc_collateral_add(c, d3, l3, &err), ATOLL_OK); /* d2 out */
	CHECK_INT(dc_collateral_add(c, d1, l1, &err), ATOLL_OK); /* hit */
	CHECK_INT(dc_collateral_add(c, d2, l2, &err), ATOLL_OK); /* miss */
	dc_parse_cache_stats(lru, &hits, &misses, &entries);
	CHECK_INT(hits, 2);
	CHECK_INT(misses, 4);
	CHECK_INT(entries, 2);
	CHECK_INT(sk_X509_num(c->certs), 6);
	dc_collateral_free(c);
	dc_parse_cache_free(lru);

	/* Four threads through a cache of one entry that keeps changing. */
	{
		atoll_blob blobs[3] = { { d1, l1 }, { d2, l2 },
					{ (uint8_t *)pem_r, lr } };
		struct churn_arg ca[4];
		pthread_t th[4];
		int i;

		lru = dc_parse_cache_new(1);
		for (i = 0; i < 4; i++) {
			ca[i] = (struct churn_arg){
				lru, blobs, { p.leaf, p.inter, p.root }, 0
			};
			pthread_create(&th[i], NULL, churn_main, &ca[i]);
		}
		for (i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			CHECK_INT(ca[i].failures, 0);
		}
		dc_parse_cache_free(lru);
	}
	free(d1);
	free(d2);
	free(d3);
	free(padded);
	free(big);
	free(pem_i);
	free(pem_r);
	free(pem2);
	pki_free(&p);
}

/* A cached chain answers only while every CRL it was verified with holds:
 * not past a revocation dated after the first verification, not past a
 * CRL's nextUpdate; and a revoking CRL that arrives later is other bytes,
 * so it is never answered from the entry made without it. */
static void test_chain_cache_crls(void)
{
	struct pki p;
	struct dc_pins pins = { 0 };
	struct dc_chain_result res;
	struct dc_chain_cache *cache = dc_chain_cache_new(8);
	STACK_OF(X509_CRL) *later = sk_X509_CRL_new_null();
	STACK_OF(X509_CRL) *stale = sk_X509_CRL_new_null();
	STACK_OF(X509_CRL) *now = sk_X509_CRL_new_null();
	uint8_t f[32];
	atoll_err err;

	pki_make(&p, true);
	dc_cert_fingerprint(p.root, f);
	dc_pins_add(&pins, f);
	/* The leaf (serial 3) revoked as of NOW + 50. */
	sk_X509_CRL_push(later, gen_crl(p.inter, p.ik, NOW - 100, NOW + 1000,
					3, NOW + 50));
	CHECK_INT(chain(&p, p.leaf, true, true, later, &pins, NOW, cache, &res,
			&err),
		  ATOLL_OK);
	CHECK(!res.cached);
	CHECK_INT(chain(&p, p.leaf, true, true, later, &pins, NOW + 40, cache,
			&res, &err),
		  ATOLL_OK);
	CHECK(res.cached);
	CHECK_INT(chain(&p, p.leaf, true, true, later, &pins, NOW + 60, cache,
			&res, &err),
		  ATOLL_E_CHAIN);
	CHECK(strstr(err.msg, "revoked") != NULL);
	/* A CRL that goes stale at NOW + 100. */
	sk_X509_CRL_push(stale, gen_crl(p.inter, p.ik, NOW - 100, NOW + 100, 0,
					0));
	CHECK_INT(chain(&p, p.leaf, true, true, stale, &pins, NOW, cache, &res,
			&err),
		  ATOLL_OK);
	CHECK_INT(chain(&p, p.leaf, true, true, stale, &pins, NOW + 90, cache,
			&res, &err),
		  ATOLL_OK);
	CHECK(res.cached);
	CHECK_INT(chain(&p, p.leaf, true, true, stale, &pins, NOW + 101, cache,
			&res, &err),
		  ATOLL_E_EXPIRED);
	CHECK(strstr(err.msg, "nextUpdate") != NULL);
	/* Cached without a CRL, then one arrives that revokes the leaf. */
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW, cache, &res,
			&err),
		  ATOLL_OK);
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW, cache, &res,
			&err),
		  ATOLL_OK);
	CHECK(res.cached);
	sk_X509_CRL_push(now, gen_crl(p.inter, p.ik, NOW - 100, NOW + 1000, 3,
				      NOW - 10));
	CHECK_INT(chain(&p, p.leaf, true, true, now, &pins, NOW, cache, &res,
			&err),
		  ATOLL_E_CHAIN);
	/* And past the leaf's notAfter, though cached a moment before. */
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW + 3599, cache,
			&res, &err),
		  ATOLL_OK);
	CHECK(res.cached);
	CHECK_INT(chain(&p, p.leaf, true, true, NULL, &pins, NOW + 3601, cache,
			&res, &err),
		  ATOLL_E_EXPIRED);
	sk_X509_CRL_pop_free(later, X509_CRL_free);
	sk_X509_CRL_pop_free(stale, X509_CRL_free);
	sk_X509_CRL_pop_free(now, X509_CRL_free);
	dc_chain_cache_free(cache);
	dc_pins_clear(&pins);
	pki_free(&p);
}

/* Real AMD chains that have no report sample: the Turin VCEK. */
static void test_real_chains(void)
{
	struct dc_collateral *c;
	struct dc_pins pins = { 0 };
	struct dc_chain_result res;
	atoll_err err;
	uint8_t *vcek, *ca;
	size_t vl, cl;
	int64_t t;

	vcek = tdrv_read("sev-snp/virtee-sev/vcek_turin.der", &vl);
	ca = tdrv_read("sev-snp/go-sev-guest/ask_ark_turin_vcek.pem", &cl);
	if (!vcek || !ca) {
		printf("skipped: no evidence dir\n");
		free(vcek);
		free(ca);
		return;
	}
	t = tdrv_time("2025-06-01T00:00:00Z");
	c = dc_collateral_new();
	CHECK_INT(dc_collateral_add(c, vcek, vl, &err), ATOLL_OK);
	CHECK_INT(dc_collateral_add(c, ca, cl, &err), ATOLL_OK);
	CHECK_INT(sk_X509_num(c->certs), 3);
	CHECK_INT(dc_pins_add_list(&pins,
		"1F084161A44BB6D93778A904877D4819CAFA5D05EF4193B2DED9DD9C73DD3F6A",
		&err), ATOLL_OK);
	CHECK_INT(dc_chain_verify(sk_X509_value(c->certs, 0), c->certs, NULL,
				  &pins, t, NULL, &res, &err),
		  ATOLL_OK);
	if (res.root)
		CHECK(dc_cert_cn_is(res.root, "ARK-Turin"));
	CHECK_INT(dc_chain_verify(sk_X509_value(c->certs, 0), c->certs, NULL,
				  &pins, tdrv_time("2024-01-01T00:00:00Z"), NULL,
				  &res, &err),
		  ATOLL_E_EXPIRED);
	{
		const uint8_t *hw;
		size_t hl;

		CHECK_INT(dc_cert_ext(sk_X509_value(c->certs, 0),
				      "1.3.6.1.4.1.3704.1.4", &hw, &hl), 1);
		CHECK_INT(hl, 8);
	}
	dc_pins_clear(&pins);
	dc_collateral_free(c);
	free(vcek);
	free(ca);
}

static void test_cbor(void)
{
	atoll_err err;
	uint8_t deep[40];
	cbor_item_t *item = NULL;
	size_t i;

	CHECK_INT(dc_cbor_check((const uint8_t *)"\x01", 1, 16, &err), ATOLL_OK);
	CHECK_INT(dc_cbor_check((const uint8_t *)"\x01\x02", 2, 16, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cbor_check((const uint8_t *)"\x5f\x41\x00\xff", 4, 16, &err),
		  ATOLL_E_FORMAT);
	CHECK(strstr(err.msg, "indefinite") != NULL);
	CHECK_INT(dc_cbor_check((const uint8_t *)"\x1c", 1, 16, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cbor_check((const uint8_t *)"\x5a\xff\xff\xff\xff", 5, 16,
				&err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cbor_check((const uint8_t *)"\x9b\xff\xff\xff\xff\xff\xff"
				"\xff\xff", 9, 16, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cbor_check((const uint8_t *)"\xbb\x80\x00\x00\x00\x00\x00"
				"\x00\x00", 9, 16, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cbor_check((const uint8_t *)"\x19\x01", 2, 16, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cbor_check(NULL, 0, 16, &err), ATOLL_E_FORMAT);
	/* 16 nested arrays pass, 17 do not. */
	for (i = 0; i < sizeof(deep); i++)
		deep[i] = 0x81;
	deep[16] = 0x00;
	CHECK_INT(dc_cbor_check(deep, 17, 16, &err), ATOLL_OK);
	deep[16] = 0x81;
	deep[17] = 0x00;
	CHECK_INT(dc_cbor_check(deep, 18, 16, &err), ATOLL_E_FORMAT);
	CHECK(strstr(err.msg, "nested") != NULL);
	/* Short-form tag 18 decodes despite libcbor 0.8. */
	CHECK_INT(dc_cbor_decode((const uint8_t *)"\xd2\x82\x01\xc1\x02", 5, &item,
				 &err),
		  ATOLL_OK);
	if (item) {
		CHECK(cbor_isa_tag(item) && cbor_tag_value(item) == 18);
		cbor_decref(&item);
	}
	/* Integer and map helpers. */
	CHECK_INT(dc_cbor_decode((const uint8_t *)"\xa3\x3a\x00\x01\x24\xf7\x02"
				 "\x01\x02\x01\x03", 11, &item, &err),
		  ATOLL_OK);
	if (item) {
		bool dup = false;
		int64_t v;

		CHECK(dc_cbor_map_int(item, -75000, &dup) != NULL && !dup);
		CHECK(dc_cbor_map_int(item, 1, &dup) != NULL && dup);
		CHECK(dc_cbor_int(dc_cbor_map_int(item, -75000, NULL), &v) &&
		      v == 2);
		CHECK(dc_cbor_map_str(item, "x", NULL) == NULL);
		cbor_decref(&item);
	}
	CHECK_INT(dc_cbor_decode((const uint8_t *)"\x3b\xff\xff\xff\xff\xff\xff"
				 "\xff\xff", 9, &item, &err),
		  ATOLL_OK);
	if (item) {
		int64_t v;

		CHECK(!dc_cbor_int(item, &v));
		cbor_decref(&item);
	}
}

static void test_cose(void)
{
	EVP_PKEY *k = gen_ec_key("P-256"), *other = gen_ec_key("P-256");
	struct dc_cose_sign1 m;
	atoll_err err;
	uint8_t *msg;
	size_t len;

	msg = gen_cose_sign1(true, DC_COSE_ES256, (const uint8_t *)"\xa0", 1, k,
			     false, &len);
	CHECK_INT(dc_cose_sign1_parse(msg, len, &m, &err), ATOLL_OK);
	CHECK(m.tag == 18 && m.alg == DC_COSE_ES256 && m.payload_len == 1);
	CHECK_INT(dc_cose_sign1_verify(&m, k, &err), ATOLL_OK);
	CHECK_INT(dc_cose_sign1_verify(&m, other, &err), ATOLL_E_SIGNATURE);
	dc_cose_sign1_clear(&m);
	free(msg);

	/* Hand-built variants: [protected, unprotected, payload, sig]. */
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\x84\x43\xa1\x01\x26\xa0"
				      "\xf6\x40", 8, &m, &err),
		  ATOLL_E_UNSUPPORTED);
	CHECK(strstr(err.msg, "detached") != NULL);
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\x84\x43\xa1\x01\x26\xa1"
				      "\x01\x26\x40\x40", 10, &m, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\x84\x40\xa0\x40\x40", 5,
				      &m, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\x84\x45\xa2\x01\x26\x02"
				      "\x80\xa0\x40\x40", 10, &m, &err),
		  ATOLL_E_UNSUPPORTED);
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\xd1\x84\x43\xa1\x01\x05"
				      "\xa0\x40\x40", 9, &m, &err),
		  ATOLL_E_UNSUPPORTED);
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\xd8\x3d\x84\x43\xa1\x01"
				      "\x26\xa0\x40\x40", 10, &m, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\x83\x43\xa1\x01\x26\xa0"
				      "\x40", 7, &m, &err),
		  ATOLL_E_FORMAT);
	/* A float where the payload goes (found by fuzz_psa_token: libcbor's
	 * cbor_is_null() aborted on it). */
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\x84\x40\xa0\xf9\x00"
				      "\x0f\x00", 7, &m, &err),
		  ATOLL_E_FORMAT);
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\x84\x43\xa1\x01\x26\xa0"
				      "\xfa\x00\x00\x00\x00\x40", 12, &m, &err),
		  ATOLL_E_FORMAT);
	/* An HMAC algorithm in an untagged message. */
	CHECK_INT(dc_cose_sign1_parse((const uint8_t *)"\x84\x43\xa1\x01\x05\xa0"
				      "\x40\x40", 8, &m, &err),
		  ATOLL_OK);
	CHECK_INT(dc_cose_sign1_verify(&m, k, &err), ATOLL_E_UNSUPPORTED);
	dc_cose_sign1_clear(&m);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void test_util(void)
{
	struct dc_claims *c = dc_claims_new("x");
	atoll_claims *pub = dc_claims_pub(c);
	uint8_t out[4];
	bool b;
	size_t n;
	atoll_err err;

	CHECK(dc_claims_add_bytes(c, "a", "\x01\x02", 2) == 0);
	CHECK(dc_claims_add_string(c, "s", "hi", 2) == 0);
	CHECK(dc_claims_add_uint(c, "u", 5) == 0);
	CHECK(dc_claims_add_bool(c, "b", true) == 0);
	CHECK(dc_claims_set_tcb_status(c, "UpToDate") == 0);
	CHECK(dc_claims_set_measurement(c, "m", 1) == 0);
	CHECK_STR(pub->tee_type, "x");
	CHECK_INT(pub->n_extra, 4);
	CHECK_STR((const char *)dc_claims_find(pub, "s")->bytes, "hi");
	CHECK(dc_claims_find(pub, "u")->u64 == 5);
	CHECK(dc_claims_find(pub, "zz") == NULL);
	CHECK_STR(pub->tcb_status, "UpToDate");
	dc_claims_free(pub);
	dc_claims_free(NULL);

	CHECK(dc_parse_bool("Yes", &b) == 0 && b);
	CHECK(dc_parse_bool("off", &b) == 0 && !b);
	CHECK(dc_parse_bool("maybe", &b) < 0);
	CHECK(dc_parse_size("64", 1, 100, &n) == 0 && n == 64);
	CHECK(dc_parse_size("0", 1, 100, &n) < 0);
	CHECK(dc_parse_size("-1", 0, 100, &n) < 0);
	CHECK(dc_parse_size("12x", 0, 100, &n) < 0);
	CHECK(dc_parse_hex_exact("de:AD be ef", 11, out, 4) == 0 &&
	      out[0] == 0xde && out[3] == 0xef);
	CHECK(dc_parse_hex_exact("deadbe", 6, out, 4) < 0);
	CHECK(dc_parse_hex_exact("deadbeef00", 10, out, 4) < 0);
	CHECK(dc_parse_hex_exact("deadbeeg", 8, out, 4) < 0);
	dc_err(&err, ATOLL_E_CHAIN, "inner %d", 1);
	CHECK_INT(dc_err_prefix(&err, ATOLL_E_CHAIN, "outer"), ATOLL_E_CHAIN);
	CHECK_STR(err.msg, "outer: inner 1");
}

/* A driver's own keys beside the chain settings. */
static int own_key(void *userdata, const char *k, const char *v,
		   atoll_err *err)
{
	int *seen = userdata;

	if (strcmp(k, "device") == 0) {
		(*seen)++;
		return ATOLL_OK;
	}
	if (strcmp(k, "refuse") == 0)
		return dc_err(err, ATOLL_E_CONFIG, "refuse: '%s'", v);
	return DC_CONFIG_UNKNOWN;
}

static void test_driver_helpers(void)
{
	static const char fp0[] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	struct dc_chain_conf cc = { 0 };
	struct pki p;
	char *pem, longpath[5000];
	size_t pem_len;
	const char *path;
	atoll_err err;
	int seen = 0;

	/* The walk: empty entries, unknown keys, the first failure wins. */
	CHECK_INT(dc_config_walk((const atoll_kv[]){ { "device", "x" },
						     { "device", NULL } },
				 2, own_key, &seen, &err),
		  ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "config entry 1 is empty");
	CHECK_INT(seen, 1);
	CHECK_INT(dc_config_walk((const atoll_kv[]){ { "nope", "1" },
						     { "refuse", "2" } },
				 2, own_key, &seen, &err),
		  ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "unknown key 'nope'");
	CHECK_INT(dc_config_walk((const atoll_kv[]){ { "refuse", "2" },
						     { "nope", "1" } },
				 2, own_key, &seen, &err),
		  ATOLL_E_CONFIG);
	CHECK_STR(err.msg, "refuse: '2'");
	CHECK_INT(dc_config_walk(NULL, 0, own_key, &seen, &err), ATOLL_OK);

	/* Chain settings: defaults, then each key. */
	CHECK_INT(dc_chain_conf_init(&cc, "roots", fp0, NULL, 0, NULL, NULL,
				     &err),
		  ATOLL_OK);
	CHECK(cc.pins.n == 1 && cc.extra && cc.cache && cc.parsed);
	CHECK_INT(sk_X509_num(cc.extra->certs), 0);
	dc_chain_conf_clear(&cc);
	CHECK(!cc.extra && !cc.cache && !cc.parsed && cc.pins.n == 0);
	dc_chain_conf_clear(&cc);

	pki_make(&p, true);
	pem = gen_pem(p.root, &pem_len);
	path = tdrv_write_tmp("root.pem", pem, pem_len);
	seen = 0;
	CHECK_INT(dc_chain_conf_init(&cc, "roots", fp0,
				     (const atoll_kv[]){
					     { "roots", fp0 },
					     { "roots", fp0 },
					     { "device", "/dev/x" },
					     { "certs", path },
					     { "chain_cache", "off" },
					     { "chain_cache_size", "5" },
					     { "cert_cache", "no" },
					     { "cert_cache_size", "7" },
				     },
				     8, own_key, &seen, &err),
		  ATOLL_OK);
	CHECK(cc.pins.n == 2 && !cc.cache && !cc.parsed);
	CHECK_INT(sk_X509_num(cc.extra->certs), 1);
	CHECK_INT(seen, 1);
	dc_chain_conf_clear(&cc);

	/* Each refusal, and the message that starts it. */
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	{
		const struct {
			atoll_kv kv;
			const char *msg;
		} bad[] = {
			{ { "certs", longpath }, "certs: path too long" },
			{ { "certs", "/nonexistent/a.pem" }, "certs: " },
			{ { "roots", "abcd" }, "roots: " },
			{ { "chain_cache", "maybe" },
			  "chain_cache: 'maybe' is not true or false" },
			{ { "chain_cache_size", "65537" },
			  "chain_cache_size: '65537' is not a number in 1..65536" },
			{ { "cert_cache", "2" },
			  "cert_cache: '2' is not true or false" },
			{ { "cert_cache_size", "0" },
			  "cert_cache_size: '0' is not a number in 1..65536" },
			{ { "device", "x" }, "unknown key 'device'" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			CHECK_INT(dc_chain_conf_init(&cc, "roots", fp0, &bad[i].kv,
						     1, NULL, NULL, &err),
				  ATOLL_E_CONFIG);
			if (strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)) != 0)
				fprintf(stderr, "%s: '%s'\n", bad[i].kv.key,
					err.msg);
			CHECK(strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)) ==
			      0);
			dc_chain_conf_clear(&cc);
		}
	}
	/* A bad default is the driver's bug, reported without a key. */
	CHECK_INT(dc_chain_conf_init(&cc, "roots", "xyz", NULL, 0, NULL, NULL,
				     &err),
		  ATOLL_E_CONFIG);
	dc_chain_conf_clear(&cc);
	free(pem);

	/* verify()'s argument check. */
	{
		atoll_verify_args a = { 0 };
		atoll_claims *c = NULL;

		CHECK_INT(dc_verify_args_check(NULL, &c, &err),
			  ATOLL_E_INVALID_ARGUMENT);
		CHECK_STR(err.msg, "bad verify arguments");
		a.struct_size = sizeof(a) - 1;
		CHECK_INT(dc_verify_args_check(&a, &c, &err),
			  ATOLL_E_INVALID_ARGUMENT);
		a.struct_size = sizeof(a);
		CHECK_INT(dc_verify_args_check(&a, &c, &err), ATOLL_OK);
		CHECK_INT(dc_verify_args_check(&a, NULL, &err),
			  ATOLL_E_INVALID_ARGUMENT);
		a.evidence_len = 1;
		CHECK_INT(dc_verify_args_check(&a, &c, &err),
			  ATOLL_E_INVALID_ARGUMENT);
	}

	/* The curve check. */
	CHECK(dc_key_is_ec(p.rk, "prime256v1"));
	CHECK(!dc_key_is_ec(p.rk, "secp384r1"));
	CHECK(!dc_key_is_ec(NULL, "prime256v1"));
	{
		EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

		CHECK(ed && !dc_key_is_ec(ed, "prime256v1"));
		EVP_PKEY_free(ed);
	}
	pki_free(&p);

	/* The table's release functions accept NULL. */
	dc_driver_claims_free(NULL, NULL);
	dc_driver_evidence_free(NULL, NULL);
}

int main(void)
{
	test_util();
	test_driver_helpers();
	test_collateral();
	test_chain();
	test_parse_cache();
	test_chain_cache_crls();
	test_real_chains();
	test_cbor();
	test_cose();
	CHECK_DONE();
}
