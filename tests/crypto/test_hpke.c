/* HPKE: RFC 9180 known answers (inline from Appendix A, and every
 * X25519/HKDF-SHA256 entry of the shared test-vector file), then failure
 * cases: tampering, wrong aad, wrong key, truncation, sequence misuse. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto/hpke.h"
#include "json/json.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"

/* Decode a hex string into a fresh buffer; *ret_len gets its length. */
static uint8_t *unhex(const char *hex, size_t *ret_len)
{
	size_t n = strlen(hex);
	uint8_t *out = malloc(n / 2 + 1);
	if (!out || n % 2 || enc_hex_decode(hex, n, out) < 0) {
		fprintf(stderr, "bad hex in test data: %s\n", hex);
		exit(2);
	}
	*ret_len = n / 2;
	return out;
}

static void unhex_fixed(const char *hex, uint8_t *out, size_t len)
{
	if (strlen(hex) != 2 * len || enc_hex_decode(hex, 2 * len, out) < 0) {
		fprintf(stderr, "bad fixed-size hex in test data: %s\n", hex);
		exit(2);
	}
}

static bool same(const struct buf *b, const uint8_t *want, size_t want_len)
{
	return b->len == want_len && (want_len == 0 || memcmp(b->data, want, want_len) == 0);
}

/* One known-answer case in hex, as RFC 9180 Appendix A prints it. */
struct kat {
	const char *name;
	enum hpke_mode mode;
	uint16_t aead_id;
	const char *ikm_e, *ikm_r, *ikm_s; /* ikm_s: auth modes only */
	const char *info, *psk, *psk_id;   /* psk, psk_id: psk modes only */
	const char *enc;
	/* Encryptions with sequence numbers 0 and 1 (NULL for export-only). */
	const char *aad[2], *pt[2], *ct[2];
	const char *exp_context, *exp_value;
};

static const char RFC_INFO[] = "4f6465206f6e2061204772656369616e2055726e";
static const char RFC_PT[] = "4265617574792069732074727574682c20747275746820626561757479";

static const struct kat KATS[] = {
	{ "A.1.1 base AES-128-GCM", HPKE_MODE_BASE, HPKE_AEAD_AES_128_GCM,
	  "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
	  "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
	  NULL, RFC_INFO, NULL, NULL,
	  "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
	  { "436f756e742d30", "436f756e742d31" }, { RFC_PT, RFC_PT },
	  { "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
	    "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84" },
	  "", "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee" },
	{ "A.1.2 psk AES-128-GCM", HPKE_MODE_PSK, HPKE_AEAD_AES_128_GCM,
	  "78628c354e46f3e169bd231be7b2ff1c77aa302460a26dbfa15515684c00130b",
	  "d4a09d09f575fef425905d2ab396c1449141463f698f8efdb7accfaff8995098",
	  NULL, RFC_INFO,
	  "0247fd33b913760fa1fa51e1892d9f307fbe65eb171e8132c2af18555a738b82",
	  "456e6e796e20447572696e206172616e204d6f726961",
	  "0ad0950d9fb9588e59690b74f1237ecdf1d775cd60be2eca57af5a4b0471c91b",
	  { "436f756e742d30", "436f756e742d31" }, { RFC_PT, RFC_PT },
	  { "e52c6fed7f758d0cf7145689f21bc1be6ec9ea097fef4e959440012f4feb73fb611b946199e681f4cfc34db8ea",
	    "49f3b19b28a9ea9f43e8c71204c00d4a490ee7f61387b6719db765e948123b45b61633ef059ba22cd62437c8ba" },
	  "54657374436f6e74657874",
	  "8aff52b45a1be3a734bc7a41e20b4e055ad4c4d22104b0c20285a7c4302401cd" },
	{ "A.1.3 auth AES-128-GCM", HPKE_MODE_AUTH, HPKE_AEAD_AES_128_GCM,
	  "6e6d8f200ea2fb20c30b003a8b4f433d2f4ed4c2658d5bc8ce2fef718059c9f7",
	  "f1d4a30a4cef8d6d4e3b016e6fd3799ea057db4f345472ed302a67ce1c20cdec",
	  "94b020ce91d73fca4649006c7e7329a67b40c55e9e93cc907d282bbbff386f58",
	  RFC_INFO, NULL, NULL,
	  "23fb952571a14a25e3d678140cd0e5eb47a0961bb18afcf85896e5453c312e76",
	  { "436f756e742d30", "436f756e742d31" }, { RFC_PT, RFC_PT },
	  { "5fd92cc9d46dbf8943e72a07e42f363ed5f721212cd90bcfd072bfd9f44e06b80fd17824947496e21b680c141b",
	    "d3736bb256c19bfa93d79e8f80b7971262cb7c887e35c26370cfed62254369a1b52e3d505b79dd699f002bc8ed" },
	  "54657374436f6e74657874",
	  "5a0131813abc9a522cad678eb6bafaabc43389934adb8097d23c5ff68059eb64" },
	{ "A.2.1 base ChaCha20-Poly1305", HPKE_MODE_BASE,
	  HPKE_AEAD_CHACHA20_POLY1305,
	  "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
	  "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
	  NULL, RFC_INFO, NULL, NULL,
	  "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
	  { "436f756e742d30", "436f756e742d31" }, { RFC_PT, RFC_PT },
	  { "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
	    "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c" },
	  "54657374436f6e74657874",
	  "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53" },
	{ "A.7.1 base export-only", HPKE_MODE_BASE, HPKE_AEAD_EXPORT_ONLY,
	  "55bc245ee4efda25d38f2d54d5bb6665291b99f8108a8c4b686c2b14893ea5d9",
	  "683ae0da1d22181e74ed2e503ebf82840deb1d5e872cade20f4b458d99783e31",
	  NULL, RFC_INFO, NULL, NULL,
	  "e5e8f9bfff6c2f29791fc351d2c25ce1299aa5eaca78a757c0b4fb4bcd830918",
	  { NULL, NULL }, { NULL, NULL }, { NULL, NULL },
	  "54657374436f6e74657874",
	  "ffaabc85a776136ca0c378e5d084c9140ab552b78f039d2e8775f26efff4c70e" },
};

/* Key pairs and setup of both sides from hex inputs. Returns 0 and both
 * contexts, or -1 after reporting. */
struct pair {
	hpke_ctx *s, *r;
};

static int setup_pair(enum hpke_mode mode, uint16_t aead_id, const uint8_t *ikm_e,
		      size_t ikm_e_len, const uint8_t *ikm_r, size_t ikm_r_len,
		      const uint8_t *ikm_s, size_t ikm_s_len, const uint8_t *info,
		      size_t info_len, const uint8_t *psk, size_t psk_len,
		      const uint8_t *psk_id, size_t psk_id_len,
		      const uint8_t *want_enc, struct pair *ret)
{
	uint8_t sk_e[32], pk_e[32], sk_r[32], pk_r[32], sk_s[32], pk_s[32];
	uint8_t enc[HPKE_ENC_LEN];
	struct hpke_params p = { .mode = mode, .info = info, .info_len = info_len,
				 .psk = psk, .psk_len = psk_len,
				 .psk_id = psk_id, .psk_id_len = psk_id_len };

	if (hpke_derive_keypair(ikm_e, ikm_e_len, sk_e, pk_e) < 0 ||
	    hpke_derive_keypair(ikm_r, ikm_r_len, sk_r, pk_r) < 0)
		return -1;
	if (ikm_s) {
		if (hpke_derive_keypair(ikm_s, ikm_s_len, sk_s, pk_s) < 0)
			return -1;
		p.sender_priv = sk_s;
		p.sender_pub = pk_s;
	}
	p.ephemeral_priv = sk_e;
	ret->s = ret->r = NULL;
	if (hpke_setup_s(aead_id, pk_r, &p, enc, &ret->s) < 0)
		return -1;
	if (memcmp(enc, want_enc, sizeof enc) != 0 ||
	    memcmp(enc, pk_e, sizeof enc) != 0) {
		ret->s = hpke_ctx_free(ret->s);
		return -1;
	}
	if (hpke_setup_r(aead_id, enc, sk_r, &p, &ret->r) < 0) {
		ret->s = hpke_ctx_free(ret->s);
		return -1;
	}
	return 0;
}

/* Seal with the sender and open with the receiver at their current
 * sequence numbers; 0 when both match the expected bytes. */
static int check_encryption(struct pair *pr, const uint8_t *aad, size_t aad_len,
			    const uint8_t *pt, size_t pt_len, const uint8_t *ct,
			    size_t ct_len)
{
	struct buf got_ct = { 0 }, got_pt = { 0 };
	int ok = hpke_seal(pr->s, aad, aad_len, pt, pt_len, &got_ct) == 0 &&
		 same(&got_ct, ct, ct_len) &&
		 hpke_open(pr->r, aad, aad_len, ct, ct_len, &got_pt) == 0 &&
		 same(&got_pt, pt, pt_len);
	buf_free(&got_ct);
	buf_free(&got_pt);
	return ok ? 0 : -1;
}

static int check_export(struct pair *pr, const uint8_t *context, size_t context_len,
			const uint8_t *want, size_t len)
{
	uint8_t *a = malloc(len), *b = malloc(len);
	int ok = a && b && hpke_export(pr->s, context, context_len, len, a) == 0 &&
		 hpke_export(pr->r, context, context_len, len, b) == 0 &&
		 memcmp(a, want, len) == 0 && memcmp(b, want, len) == 0;
	free(a);
	free(b);
	return ok ? 0 : -1;
}

static void run_inline_kats(void)
{
	for (size_t i = 0; i < sizeof KATS / sizeof KATS[0]; i++) {
		const struct kat *k = &KATS[i];
		size_t ie, ir, is = 0, in, ps = 0, pi = 0, cl, vl;
		uint8_t *ikm_e = unhex(k->ikm_e, &ie), *ikm_r = unhex(k->ikm_r, &ir);
		uint8_t *ikm_s = k->ikm_s ? unhex(k->ikm_s, &is) : NULL;
		uint8_t *info = unhex(k->info, &in);
		uint8_t *psk = k->psk ? unhex(k->psk, &ps) : NULL;
		uint8_t *psk_id = k->psk_id ? unhex(k->psk_id, &pi) : NULL;
		uint8_t enc[HPKE_ENC_LEN];
		struct pair pr;
		unhex_fixed(k->enc, enc, sizeof enc);

		int r = setup_pair(k->mode, k->aead_id, ikm_e, ie, ikm_r, ir, ikm_s,
				   is, info, in, psk, ps, psk_id, pi, enc, &pr);
		if (r < 0)
			fprintf(stderr, "%s: setup failed\n", k->name);
		CHECK(r == 0);
		for (int j = 0; r == 0 && j < 2 && k->ct[j]; j++) {
			size_t al, pl, ctl;
			uint8_t *aad = unhex(k->aad[j], &al), *pt = unhex(k->pt[j], &pl);
			uint8_t *ct = unhex(k->ct[j], &ctl);
			int e = check_encryption(&pr, aad, al, pt, pl, ct, ctl);
			if (e < 0)
				fprintf(stderr, "%s: encryption %d differs\n", k->name, j);
			CHECK(e == 0);
			free(aad);
			free(pt);
			free(ct);
		}
		if (r == 0) {
			uint8_t *ctx = unhex(k->exp_context, &cl);
			uint8_t *val = unhex(k->exp_value, &vl);
			int e = check_export(&pr, ctx, cl, val, vl);
			if (e < 0)
				fprintf(stderr, "%s: export differs\n", k->name);
			CHECK(e == 0);
			if (k->aead_id == HPKE_AEAD_EXPORT_ONLY) {
				struct buf out = { 0 };
				CHECK_INT(hpke_seal(pr.s, NULL, 0, val, vl, &out), -EOPNOTSUPP);
				CHECK_INT(hpke_open(pr.r, NULL, 0, val, vl, &out), -EOPNOTSUPP);
				CHECK_INT(out.len, 0);
			}
			free(ctx);
			free(val);
			hpke_ctx_free(pr.s);
			hpke_ctx_free(pr.r);
		}
		free(ikm_e);
		free(ikm_r);
		free(ikm_s);
		free(info);
		free(psk);
		free(psk_id);
	}
	printf("inline RFC 9180 vectors: %zu checked\n", sizeof KATS / sizeof KATS[0]);
}

/* Hex member of a vector-file entry, or NULL when absent. */
static uint8_t *member_hex(const json_value *e, const char *key, size_t *ret_len)
{
	const json_value *v = json_get(e, key);
	size_t n;
	const char *s = v ? json_string(v, &n) : NULL;
	if (!s) {
		*ret_len = 0;
		return NULL;
	}
	return unhex(s, ret_len);
}

static bool member_int(const json_value *e, const char *key, int64_t *ret)
{
	const json_value *v = json_get(e, key);
	return v && json_int64(v, ret) == 0;
}

struct tally {
	size_t entries, encryptions, exports;
};

/* Every encryption and export of one entry; counts what matched. */
static int run_file_entry(const json_value *e, size_t index, struct tally *done)
{
	int64_t mode, aead;
	size_t ie, ir, is, in, ps, pi, el, skl, pkl;
	int failed = 0;
	struct pair pr;

	if (!member_int(e, "mode", &mode) || !member_int(e, "aead_id", &aead))
		return -1;
	uint8_t *ikm_e = member_hex(e, "ikmE", &ie), *ikm_r = member_hex(e, "ikmR", &ir);
	uint8_t *ikm_s = member_hex(e, "ikmS", &is), *info = member_hex(e, "info", &in);
	uint8_t *psk = member_hex(e, "psk", &ps), *psk_id = member_hex(e, "psk_id", &pi);
	uint8_t *enc = member_hex(e, "enc", &el);
	uint8_t *sk_rm = member_hex(e, "skRm", &skl), *pk_rm = member_hex(e, "pkRm", &pkl);
	uint8_t sk[32], pk[32];

	/* DeriveKeyPair must reproduce the file's receiver key pair. */
	if (!ikm_e || !ikm_r || !info || !enc || el != HPKE_ENC_LEN || !sk_rm ||
	    !pk_rm || skl != 32 || pkl != 32 ||
	    hpke_derive_keypair(ikm_r, ir, sk, pk) < 0 ||
	    memcmp(sk, sk_rm, 32) != 0 || memcmp(pk, pk_rm, 32) != 0 ||
	    setup_pair((enum hpke_mode)mode, (uint16_t)aead, ikm_e, ie, ikm_r, ir,
		       ikm_s, is, info, in, psk, ps, psk_id, pi, enc, &pr) < 0) {
		fprintf(stderr, "vector entry %zu: key derivation or setup differs\n", index);
		failed = 1;
		goto free_inputs;
	}
	const json_value *encs = json_get(e, "encryptions");
	for (size_t j = 0; encs && j < json_count(encs); j++) {
		const json_value *x = json_at(encs, j);
		size_t al, pl, cl;
		uint8_t *aad = member_hex(x, "aad", &al), *pt = member_hex(x, "pt", &pl);
		uint8_t *ct = member_hex(x, "ct", &cl);
		/* The file's array index is the sequence number. */
		if (!aad || !pt || !ct || hpke_ctx_seq(pr.s) != j ||
		    check_encryption(&pr, aad, al, pt, pl, ct, cl) < 0) {
			fprintf(stderr, "vector entry %zu: encryption %zu differs\n", index, j);
			failed = 1;
		} else {
			done->encryptions++;
		}
		free(aad);
		free(pt);
		free(ct);
	}
	const json_value *exps = json_get(e, "exports");
	for (size_t j = 0; exps && j < json_count(exps); j++) {
		const json_value *x = json_at(exps, j);
		size_t cl, vl;
		int64_t len;
		uint8_t *ctx = member_hex(x, "exporter_context", &cl);
		uint8_t *val = member_hex(x, "exported_value", &vl);
		if (!ctx || !val || !member_int(x, "L", &len) || (size_t)len != vl ||
		    check_export(&pr, ctx, cl, val, vl) < 0) {
			fprintf(stderr, "vector entry %zu: export %zu differs\n", index, j);
			failed = 1;
		} else {
			done->exports++;
		}
		free(ctx);
		free(val);
	}
	hpke_ctx_free(pr.s);
	hpke_ctx_free(pr.r);
	if (!failed)
		done->entries++;
free_inputs:
	free(ikm_e);
	free(ikm_r);
	free(ikm_s);
	free(info);
	free(psk);
	free(psk_id);
	free(enc);
	free(sk_rm);
	free(pk_rm);
	return failed ? -1 : 0;
}

static void run_vector_file(void)
{
	const char *dir = getenv("ATOLL_SHARED_DIR");
	char path[4096], err[128];
	uint8_t *text = NULL;
	size_t len;
	json_value *root = NULL;

	snprintf(path, sizeof path, "%s/vectors/hpke/test-vectors.json",
		 dir && *dir ? dir : "../shared");
	if (fs_read_file(path, 64u << 20, &text, &len) < 0) {
		printf("skipped: %s not found; only the inline vectors ran\n", path);
		return;
	}
	int r = json_parse((const char *)text, len, &root, err, sizeof err);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", path, err);
	CHECK(r == 0);
	free(text);
	if (r < 0)
		return;

	struct tally want = { 0 }, done = { 0 };
	for (size_t i = 0; i < json_count(root); i++) {
		const json_value *e = json_at(root, i);
		int64_t kem, kdf;
		if (!member_int(e, "kem_id", &kem) || !member_int(e, "kdf_id", &kdf) ||
		    kem != HPKE_KEM_X25519_HKDF_SHA256 || kdf != HPKE_KDF_HKDF_SHA256)
			continue;
		want.entries++;
		want.encryptions += json_count(json_get(e, "encryptions"));
		want.exports += json_count(json_get(e, "exports"));
		CHECK(run_file_entry(e, i, &done) == 0);
	}
	printf("RFC 9180 vector file: %zu/%zu entries, %zu/%zu encryptions, "
	       "%zu/%zu exports checked\n",
	       done.entries, want.entries, done.encryptions, want.encryptions,
	       done.exports, want.exports);
	/* The pinned file has 16 such entries: 4 modes x 4 AEADs, 257
	 * encryptions each for the 12 that encrypt, 3 exports each. */
	CHECK_INT(want.entries, 16);
	CHECK_INT(want.encryptions, 12 * 257);
	CHECK_INT(want.exports, 16 * 3);
	CHECK_INT(done.entries, want.entries);
	CHECK_INT(done.encryptions, want.encryptions);
	CHECK_INT(done.exports, want.exports);
	json_free(root);
}

static void test_failures(void)
{
	static const uint8_t info[] = "negative tests";
	static const uint8_t aad[] = "header";
	static const uint8_t msg[] = "a secret prompt for the model";
	uint8_t sk_r[32], pk_r[32], sk_x[32], pk_x[32], enc[32], zero[32] = { 0 };
	struct buf ct = { 0 }, ct2 = { 0 }, pt = { 0 };
	hpke_ctx *s = NULL, *r = NULL, *wrong = NULL;

	CHECK_INT(x25519_keygen(sk_r, pk_r), 0);
	CHECK_INT(x25519_keygen(sk_x, pk_x), 0);
	uint8_t pub[32];
	CHECK_INT(x25519_public_from_private(sk_r, pub), 0);
	CHECK(memcmp(pub, pk_r, 32) == 0);

	CHECK_INT(hpke_setup_base_s(HPKE_AEAD_AES_256_GCM, pk_r, info, sizeof info,
				    enc, &s), 0);
	CHECK_INT(hpke_setup_base_r(HPKE_AEAD_AES_256_GCM, enc, sk_r, info,
				    sizeof info, &r), 0);
	CHECK_INT(hpke_seal(s, aad, sizeof aad, msg, sizeof msg, &ct), 0);
	CHECK_INT(ct.len, sizeof msg + HPKE_TAG_LEN);
	CHECK_INT(hpke_seal(s, aad, sizeof aad, msg, sizeof msg, &ct2), 0);

	/* Every flipped bit position class: first byte, middle, tag. */
	size_t spots[] = { 0, sizeof msg / 2, ct.len - 1 };
	for (size_t i = 0; i < 3; i++) {
		ct.data[spots[i]] ^= 0x01;
		CHECK_INT(hpke_open(r, aad, sizeof aad, ct.data, ct.len, &pt), -EBADMSG);
		ct.data[spots[i]] ^= 0x01;
	}
	CHECK_INT(hpke_open(r, aad, sizeof aad - 1, ct.data, ct.len, &pt), -EBADMSG);
	CHECK_INT(hpke_open(r, NULL, 0, ct.data, ct.len, &pt), -EBADMSG);
	CHECK_INT(hpke_open(r, aad, sizeof aad, ct.data, ct.len - 1, &pt), -EBADMSG);
	CHECK_INT(hpke_open(r, aad, sizeof aad, ct.data, HPKE_TAG_LEN - 1, &pt), -EBADMSG);
	CHECK_INT(hpke_open(r, aad, sizeof aad, ct.data, 0, &pt), -EBADMSG);
	/* Out of sequence: the second record cannot be opened first. */
	CHECK_INT(hpke_open(r, aad, sizeof aad, ct2.data, ct2.len, &pt), -EBADMSG);
	CHECK_INT(pt.len, 0);
	CHECK_INT(hpke_ctx_seq(r), 0);
	/* Failures did not advance the receiver: the records still open. */
	CHECK_INT(hpke_open(r, aad, sizeof aad, ct.data, ct.len, &pt), 0);
	CHECK(same(&pt, msg, sizeof msg));
	CHECK_INT(hpke_open(r, aad, sizeof aad, ct2.data, ct2.len, &pt), 0);
	/* Replay of an opened record fails. */
	CHECK_INT(hpke_open(r, aad, sizeof aad, ct.data, ct.len, &pt), -EBADMSG);
	CHECK_INT(pt.len, 2 * sizeof msg);

	/* Wrong recipient key, wrong info, wrong AEAD. */
	CHECK_INT(hpke_setup_base_r(HPKE_AEAD_AES_256_GCM, enc, sk_x, info,
				    sizeof info, &wrong), 0);
	CHECK_INT(hpke_open(wrong, aad, sizeof aad, ct.data, ct.len, &pt), -EBADMSG);
	wrong = hpke_ctx_free(wrong);
	CHECK_INT(hpke_setup_base_r(HPKE_AEAD_AES_256_GCM, enc, sk_r, info,
				    sizeof info - 1, &wrong), 0);
	CHECK_INT(hpke_open(wrong, aad, sizeof aad, ct.data, ct.len, &pt), -EBADMSG);
	wrong = hpke_ctx_free(wrong);
	CHECK_INT(hpke_setup_base_r(HPKE_AEAD_CHACHA20_POLY1305, enc, sk_r, info,
				    sizeof info, &wrong), 0);
	CHECK_INT(hpke_open(wrong, aad, sizeof aad, ct.data, ct.len, &pt), -EBADMSG);
	wrong = hpke_ctx_free(wrong);
	CHECK_INT(pt.len, 2 * sizeof msg);

	/* Role misuse and sequence exhaustion. */
	CHECK_INT(hpke_seal(r, NULL, 0, msg, sizeof msg, &ct), -EINVAL);
	CHECK_INT(hpke_open(s, NULL, 0, ct.data, ct.len, &pt), -EINVAL);
	CHECK_INT(hpke_ctx_set_seq(s, 1), -EINVAL); /* would reuse nonce 1 */
	CHECK_INT(hpke_ctx_set_seq(s, UINT64_MAX - 1), 0);
	size_t before = ct.len;
	CHECK_INT(hpke_seal(s, NULL, 0, msg, sizeof msg, &ct), 0);
	CHECK_INT(hpke_seal(s, NULL, 0, msg, sizeof msg, &ct), -EOVERFLOW);
	CHECK_INT(ct.len, before + sizeof msg + HPKE_TAG_LEN);
	CHECK_INT(hpke_ctx_set_seq(r, UINT64_MAX), 0);
	CHECK_INT(hpke_open(r, NULL, 0, ct.data, ct.len, &pt), -EOVERFLOW);

	/* Export bounds. */
	uint8_t big[HPKE_MAX_EXPORT_LEN + 1], ctxbuf[HPKE_MAX_EXPORT_CONTEXT + 1] = { 0 };
	CHECK_INT(hpke_export(s, NULL, 0, HPKE_MAX_EXPORT_LEN, big), 0);
	CHECK_INT(hpke_export(s, NULL, 0, HPKE_MAX_EXPORT_LEN + 1, big), -EINVAL);
	CHECK_INT(hpke_export(s, NULL, 0, 0, big), -EINVAL);
	CHECK_INT(hpke_export(s, ctxbuf, HPKE_MAX_EXPORT_CONTEXT, 32, big), 0);
	CHECK_INT(hpke_export(s, ctxbuf, HPKE_MAX_EXPORT_CONTEXT + 1, 32, big), -EINVAL);

	/* Setup argument checks (VerifyPSKInputs and friends). */
	uint8_t psk[32] = { 1 }, e2[32];
	hpke_ctx *c = NULL;
	CHECK_INT(hpke_setup_base_s(0x0004, pk_r, NULL, 0, e2, &c), -EPROTONOSUPPORT);
	CHECK_INT(hpke_setup_base_r(0x0000, enc, sk_r, NULL, 0, &c), -EPROTONOSUPPORT);
	CHECK_INT(hpke_setup_psk_s(1, pk_r, NULL, 0, psk, 32, NULL, 0, e2, &c), -EINVAL);
	CHECK_INT(hpke_setup_psk_s(1, pk_r, NULL, 0, NULL, 0, (const uint8_t *)"id", 2,
				   e2, &c), -EINVAL);
	CHECK_INT(hpke_setup_psk_s(1, pk_r, NULL, 0, psk, 31, (const uint8_t *)"id", 2,
				   e2, &c), -EINVAL);
	struct hpke_params base_with_psk = { .mode = HPKE_MODE_BASE, .psk = psk,
					     .psk_len = 32,
					     .psk_id = (const uint8_t *)"id",
					     .psk_id_len = 2 };
	CHECK_INT(hpke_setup_s(1, pk_r, &base_with_psk, e2, &c), -EINVAL);
	struct hpke_params auth_no_key = { .mode = HPKE_MODE_AUTH };
	CHECK_INT(hpke_setup_s(1, pk_r, &auth_no_key, e2, &c), -EINVAL);
	CHECK_INT(hpke_setup_r(1, enc, sk_r, &auth_no_key, &c), -EINVAL);
	struct hpke_params bad_mode = { .mode = (enum hpke_mode)4 };
	CHECK_INT(hpke_setup_s(1, pk_r, &bad_mode, e2, &c), -EINVAL);
	/* A small-order public key gives an all-zero DH result. */
	CHECK_INT(hpke_setup_base_s(1, zero, NULL, 0, e2, &c), -EINVAL);
	CHECK_INT(hpke_setup_base_r(1, zero, sk_r, NULL, 0, &c), -EINVAL);
	CHECK(c == NULL);
	CHECK_INT(hpke_derive_keypair(psk, 31, sk_x, pk_x), -EINVAL);

	/* PSK mode: both sides must agree on the psk. */
	uint8_t psk2[32] = { 2 };
	CHECK_INT(hpke_setup_psk_s(HPKE_AEAD_CHACHA20_POLY1305, pk_r, info,
				   sizeof info, psk, 32, (const uint8_t *)"id", 2,
				   e2, &c), 0);
	struct buf pct = { 0 };
	CHECK_INT(hpke_seal(c, NULL, 0, msg, sizeof msg, &pct), 0);
	c = hpke_ctx_free(c);
	CHECK_INT(hpke_setup_psk_r(HPKE_AEAD_CHACHA20_POLY1305, e2, sk_r, info,
				   sizeof info, psk2, 32, (const uint8_t *)"id", 2,
				   &c), 0);
	CHECK_INT(hpke_open(c, NULL, 0, pct.data, pct.len, &pt), -EBADMSG);
	c = hpke_ctx_free(c);
	CHECK_INT(hpke_setup_psk_r(HPKE_AEAD_CHACHA20_POLY1305, e2, sk_r, info,
				   sizeof info, psk, 32, (const uint8_t *)"id", 2,
				   &c), 0);
	size_t mark = pt.len;
	CHECK_INT(hpke_open(c, NULL, 0, pct.data, pct.len, &pt), 0);
	CHECK_INT(pt.len, mark + sizeof msg);
	c = hpke_ctx_free(c);
	buf_free(&pct);

	/* One-shot AEAD under a caller key. */
	uint8_t key[32] = { 7 }, nonce[12] = { 9 };
	struct buf a = { 0 }, b = { 0 };
	for (uint16_t id = 1; id <= 3; id++) {
		buf_reset(&a);
		buf_reset(&b);
		CHECK_INT(hpke_aead_seal(id, key, nonce, aad, sizeof aad, msg, sizeof msg, &a), 0);
		CHECK_INT(hpke_aead_open(id, key, nonce, aad, sizeof aad, a.data, a.len, &b), 0);
		CHECK(same(&b, msg, sizeof msg));
		a.data[3] ^= 0x80;
		CHECK_INT(hpke_aead_open(id, key, nonce, aad, sizeof aad, a.data, a.len, &b), -EBADMSG);
		CHECK_INT(b.len, sizeof msg);
	}
	CHECK_INT(hpke_aead_seal(HPKE_AEAD_EXPORT_ONLY, key, nonce, NULL, 0, msg, 1, &a),
		  -EPROTONOSUPPORT);
	buf_free(&a);
	buf_free(&b);

	CHECK(hpke_ctx_free(NULL) == NULL);
	hpke_ctx_free(s);
	hpke_ctx_free(r);
	buf_free(&ct);
	buf_free(&ct2);
	buf_free(&pt);
}

int main(void)
{
	run_inline_kats();
	run_vector_file();
	test_failures();
	CHECK_DONE();
}
