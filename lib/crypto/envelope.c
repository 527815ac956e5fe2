/* Atoll's input envelope, output record stream and report-data binding,
 * on top of HPKE base mode. Every length is checked before it is used. */
#include "crypto/envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const uint8_t INPUT_MAGIC[4] = { 'A', 'T', 'I', '1' };
static const uint8_t OUTPUT_MAGIC[4] = { 'A', 'T', 'O', '1' };
static const char INPUT_INFO[] = "atoll input v1";
static const char OUTPUT_INFO[] = "atoll output v1";
static const char ATTEST_TAG[] = "atoll-attest-v1";

#define PAYLOAD_NONCE_LEN HPKE_NONCE_LEN
/* magic, version, aead id, enc, job id length */
#define OUTPUT_HEADER_FIXED (4 + 1 + 2 + HPKE_ENC_LEN + 2)
#define RECORD_LEN_SIZE 4
#define OUTPUT_INFO_MAX \
	(sizeof(OUTPUT_INFO) - 1 + 2 + ENV_MAX_JOB_ID_LEN + 4 + ENV_ID_LEN)

struct env_output_sealer {
	hpke_ctx *ctx;
	bool finished;
};

struct env_output_opener {
	hpke_ctx *ctx;
	bool done;
};

const char *env_strerror(int status)
{
	switch ((enum env_status)status) {
	case ENV_OK:
		return "success";
	case ENV_E_INVALID:
		return "invalid argument";
	case ENV_E_NOMEM:
		return "out of memory";
	case ENV_E_MAGIC:
		return "bad magic: not an envelope or record of this kind";
	case ENV_E_VERSION:
		return "unsupported envelope version";
	case ENV_E_TRUNCATED:
		return "truncated";
	case ENV_E_FORMAT:
		return "malformed: lengths or counts disagree";
	case ENV_E_AEAD:
		return "unknown or unusable AEAD id";
	case ENV_E_NOT_RECIPIENT:
		return "not a recipient of this envelope";
	case ENV_E_AUTH:
		return "authentication failed (tampered, wrong key, or record "
		       "out of order)";
	case ENV_E_MISMATCH:
		return "sealed for another job or workload";
	case ENV_E_ORDER:
		return "record after the final record";
	case ENV_E_UNFINISHED:
		return "output stream ended without its final record";
	case ENV_E_CRYPTO:
		return "crypto library failure";
	}
	return "unknown envelope status";
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

/* HPKE's errno codes in envelope terms. A key that HPKE rejects came from
 * the envelope when opening, so it counts as an authentication failure. */
static int from_hpke(int r, bool opening)
{
	switch (r) {
	case 0:
		return ENV_OK;
	case -ENOMEM:
		return ENV_E_NOMEM;
	case -EBADMSG:
		return ENV_E_AUTH;
	case -EPROTONOSUPPORT:
		return ENV_E_AEAD;
	case -EINVAL:
		return opening ? ENV_E_AUTH : ENV_E_INVALID;
	default:
		return ENV_E_CRYPTO;
	}
}

/* Drop whatever a failed call appended to b, wiping it first. */
static void buf_rewind(struct buf *b, size_t len)
{
	if (b->len > len) {
		OPENSSL_cleanse(b->data + len, b->len - len);
		b->len = len;
	}
}

int env_report_data(const uint8_t *nonce, size_t nonce_len,
		    const uint8_t enclave_pub[ENV_KEY_LEN],
		    uint8_t out[ENV_REPORT_DATA_LEN])
{
	uint8_t md[ENV_REPORT_DATA_LEN];
	unsigned int md_len = 0;
	int r = ENV_E_CRYPTO;
	if ((!nonce && nonce_len) || !enclave_pub || !out)
		return ENV_E_INVALID;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	if (!mctx)
		return ENV_E_NOMEM;
	if (EVP_DigestInit_ex(mctx, EVP_sha512(), NULL) != 1 ||
	    EVP_DigestUpdate(mctx, ATTEST_TAG, sizeof(ATTEST_TAG) - 1) != 1 ||
	    (nonce_len && EVP_DigestUpdate(mctx, nonce, nonce_len) != 1) ||
	    EVP_DigestUpdate(mctx, enclave_pub, ENV_KEY_LEN) != 1 ||
	    EVP_DigestFinal_ex(mctx, md, &md_len) != 1 ||
	    md_len != ENV_REPORT_DATA_LEN)
		goto free_ctx;
	memcpy(out, md, sizeof md);
	r = ENV_OK;
free_ctx:
	EVP_MD_CTX_free(mctx);
	return r;
}

/* Size of one recipient block for an AEAD with key length nk. */
static size_t recipient_block_len(size_t nk)
{
	return ENV_KEY_LEN + HPKE_ENC_LEN + nk + HPKE_TAG_LEN;
}

int env_seal_input(uint16_t aead_id, uint32_t workload_id,
		   const uint8_t client_pub[ENV_KEY_LEN],
		   const uint8_t (*recipients)[ENV_KEY_LEN], size_t n,
		   const uint8_t *pt, size_t pt_len, struct buf *out)
{
	uint8_t header[ENV_INPUT_HEADER_LEN], data_key[HPKE_MAX_KEY_LEN],
		nonce[PAYLOAD_NONCE_LEN], enc[HPKE_ENC_LEN];
	hpke_ctx *ctx = NULL;
	size_t start, nk = hpke_aead_key_len(aead_id);
	int r;

	if (!client_pub || !recipients || !out || (!pt && pt_len))
		return ENV_E_INVALID;
	if (nk == 0)
		return ENV_E_AEAD;
	if (n == 0 || n > ENV_MAX_RECIPIENTS)
		return ENV_E_INVALID;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (memcmp(recipients[i], recipients[j], ENV_KEY_LEN) == 0)
				return ENV_E_INVALID;

	size_t fixed = ENV_INPUT_HEADER_LEN + 2 + n * recipient_block_len(nk) +
		       PAYLOAD_NONCE_LEN + HPKE_TAG_LEN;
	if (pt_len > SIZE_MAX - fixed)
		return ENV_E_INVALID;
	/* Reserve everything now: the payload's aad points into out. */
	if (buf_reserve(out, fixed + pt_len) < 0)
		return ENV_E_NOMEM;
	start = out->len;

	memcpy(header, INPUT_MAGIC, 4);
	header[4] = ENV_VERSION;
	put_be16(header + 5, aead_id);
	put_be32(header + 7, workload_id);
	memcpy(header + 11 + ENV_ID_LEN, client_pub, ENV_KEY_LEN);
	if (RAND_bytes(header + 11, ENV_ID_LEN) != 1 ||
	    RAND_priv_bytes(data_key, (int)nk) != 1 ||
	    RAND_bytes(nonce, sizeof nonce) != 1) {
		r = ENV_E_CRYPTO;
		goto fail;
	}
	if (buf_append(out, header, sizeof header) < 0) {
		r = ENV_E_NOMEM;
		goto fail;
	}
	uint8_t count[2];
	put_be16(count, (uint16_t)n);
	if (buf_append(out, count, sizeof count) < 0) {
		r = ENV_E_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		r = from_hpke(hpke_setup_base_s(aead_id, recipients[i],
						(const uint8_t *)INPUT_INFO,
						sizeof(INPUT_INFO) - 1, enc,
						&ctx),
			      false);
		if (r < 0)
			goto fail;
		if (buf_append(out, recipients[i], ENV_KEY_LEN) < 0 ||
		    buf_append(out, enc, sizeof enc) < 0) {
			r = ENV_E_NOMEM;
			goto fail;
		}
		r = from_hpke(hpke_seal(ctx, header, sizeof header, data_key, nk,
					out),
			      false);
		if (r < 0)
			goto fail;
		ctx = hpke_ctx_free(ctx);
	}
	size_t aad_len = out->len - start;
	if (buf_append(out, nonce, sizeof nonce) < 0) {
		r = ENV_E_NOMEM;
		goto fail;
	}
	/* The payload's aad covers the header and every recipient block, so
	 * no block can be dropped or altered without every recipient
	 * noticing. */
	r = from_hpke(hpke_aead_seal(aead_id, data_key, nonce, out->data + start,
				     aad_len, pt, pt_len, out),
		      false);
	if (r < 0)
		goto fail;
	OPENSSL_cleanse(data_key, sizeof data_key);
	return ENV_OK;
fail:
	hpke_ctx_free(ctx);
	OPENSSL_cleanse(data_key, sizeof data_key);
	buf_rewind(out, start);
	return r;
}

/* Parse the structure; on success also reports where the recipient blocks
 * and the payload start. */
static int parse_input(const uint8_t *env, size_t len,
		       struct env_input_info *info, size_t *ret_blocks,
		       size_t *ret_payload)
{
	if (!env && len)
		return ENV_E_INVALID;
	/* A short prefix of the magic is a truncated envelope. */
	if (memcmp(env ? env : INPUT_MAGIC, INPUT_MAGIC, len < 4 ? len : 4) != 0)
		return ENV_E_MAGIC;
	if (len < 4)
		return ENV_E_TRUNCATED;
	if (len < 5)
		return ENV_E_TRUNCATED;
	if (env[4] != ENV_VERSION)
		return ENV_E_VERSION;
	if (len < ENV_INPUT_HEADER_LEN + 2)
		return ENV_E_TRUNCATED;

	memset(info, 0, sizeof *info);
	info->aead_id = get_be16(env + 5);
	size_t nk = hpke_aead_key_len(info->aead_id);
	if (nk == 0)
		return ENV_E_AEAD;
	info->workload_id = get_be32(env + 7);
	memcpy(info->envelope_id, env + 11, ENV_ID_LEN);
	memcpy(info->client_pub, env + 11 + ENV_ID_LEN, ENV_KEY_LEN);

	size_t n = get_be16(env + ENV_INPUT_HEADER_LEN);
	if (n == 0 || n > ENV_MAX_RECIPIENTS)
		return ENV_E_FORMAT;
	size_t blocks = ENV_INPUT_HEADER_LEN + 2, block_len = recipient_block_len(nk);
	/* n <= 64 and block_len <= 112: no overflow. */
	if (len - blocks < n * block_len)
		return ENV_E_TRUNCATED;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *pub = env + blocks + i * block_len;
		for (size_t j = 0; j < i; j++)
			if (memcmp(info->recipients[j], pub, ENV_KEY_LEN) == 0)
				return ENV_E_FORMAT;
		memcpy(info->recipients[i], pub, ENV_KEY_LEN);
	}
	info->n_recipients = n;
	size_t payload = blocks + n * block_len;
	if (len - payload < PAYLOAD_NONCE_LEN + HPKE_TAG_LEN)
		return ENV_E_TRUNCATED;
	info->plaintext_len = len - payload - PAYLOAD_NONCE_LEN - HPKE_TAG_LEN;
	*ret_blocks = blocks;
	*ret_payload = payload;
	return ENV_OK;
}

int env_inspect_input(const uint8_t *env, size_t len,
		      struct env_input_info *ret_info)
{
	struct env_input_info info;
	size_t blocks, payload;
	if (!ret_info)
		return ENV_E_INVALID;
	int r = parse_input(env, len, &info, &blocks, &payload);
	if (r < 0)
		return r;
	*ret_info = info;
	return ENV_OK;
}

int env_open_input(const uint8_t *env, size_t len,
		   uint32_t expected_workload_id,
		   const uint8_t enclave_priv[ENV_KEY_LEN],
		   const uint8_t enclave_pub[ENV_KEY_LEN],
		   struct env_input_info *ret_info, struct buf *ret_plaintext)
{
	struct env_input_info info;
	struct buf key = { 0 };
	hpke_ctx *ctx = NULL;
	size_t blocks, payload, idx;
	int r;

	if (!enclave_priv || !enclave_pub || !ret_plaintext)
		return ENV_E_INVALID;
	r = parse_input(env, len, &info, &blocks, &payload);
	if (r < 0)
		return r;
	for (idx = 0; idx < info.n_recipients; idx++)
		if (memcmp(info.recipients[idx], enclave_pub, ENV_KEY_LEN) == 0)
			break;
	if (idx == info.n_recipients)
		return ENV_E_NOT_RECIPIENT;

	size_t nk = hpke_aead_key_len(info.aead_id);
	const uint8_t *block = env + blocks + idx * recipient_block_len(nk);
	r = from_hpke(hpke_setup_base_r(info.aead_id, block + ENV_KEY_LEN,
					enclave_priv,
					(const uint8_t *)INPUT_INFO,
					sizeof(INPUT_INFO) - 1, &ctx),
		      true);
	if (r < 0)
		goto free_key;
	r = from_hpke(hpke_open(ctx, env, ENV_INPUT_HEADER_LEN,
				block + ENV_KEY_LEN + HPKE_ENC_LEN,
				nk + HPKE_TAG_LEN, &key),
		      true);
	if (r < 0)
		goto free_key;
	/* The data key authenticated the header: the workload id is the one
	 * the client sealed for. */
	if (info.workload_id != expected_workload_id) {
		r = ENV_E_MISMATCH;
		goto free_key;
	}
	r = from_hpke(hpke_aead_open(info.aead_id, key.data, env + payload,
				     env, payload,
				     env + payload + PAYLOAD_NONCE_LEN,
				     len - payload - PAYLOAD_NONCE_LEN,
				     ret_plaintext),
		      true);
	if (r < 0)
		goto free_key;
	if (ret_info)
		*ret_info = info;
free_key:
	hpke_ctx_free(ctx);
	buf_free(&key);
	return r;
}

/* info = "atoll output v1" || u16 len || job_id || u32 workload_id ||
 * envelope_id. */
static size_t output_info(const char *job_id, size_t job_len,
			  uint32_t workload_id,
			  const uint8_t envelope_id[ENV_ID_LEN],
			  uint8_t out[OUTPUT_INFO_MAX])
{
	size_t n = sizeof(OUTPUT_INFO) - 1;
	memcpy(out, OUTPUT_INFO, n);
	put_be16(out + n, (uint16_t)job_len);
	n += 2;
	memcpy(out + n, job_id, job_len);
	n += job_len;
	put_be32(out + n, workload_id);
	n += 4;
	memcpy(out + n, envelope_id, ENV_ID_LEN);
	return n + ENV_ID_LEN;
}

int env_output_sealer_new(uint16_t aead_id,
			  const uint8_t client_pub[ENV_KEY_LEN],
			  const char *job_id, uint32_t workload_id,
			  const uint8_t envelope_id[ENV_ID_LEN],
			  env_output_sealer **ret_sealer,
			  struct buf *header_record)
{
	uint8_t info[OUTPUT_INFO_MAX], head[OUTPUT_HEADER_FIXED];
	env_output_sealer *s = NULL;
	size_t start;
	int r;

	if (!client_pub || !job_id || !envelope_id || !ret_sealer ||
	    !header_record)
		return ENV_E_INVALID;
	if (hpke_aead_key_len(aead_id) == 0)
		return ENV_E_AEAD;
	size_t job_len = strlen(job_id);
	if (job_len == 0 || job_len > ENV_MAX_JOB_ID_LEN)
		return ENV_E_INVALID;

	s = calloc(1, sizeof *s);
	if (!s)
		return ENV_E_NOMEM;
	size_t info_len = output_info(job_id, job_len, workload_id, envelope_id,
				      info);
	memcpy(head, OUTPUT_MAGIC, 4);
	head[4] = ENV_VERSION;
	put_be16(head + 5, aead_id);
	r = from_hpke(hpke_setup_base_s(aead_id, client_pub, info, info_len,
					head + 7, &s->ctx),
		      false);
	if (r < 0)
		goto fail;
	put_be16(head + 7 + HPKE_ENC_LEN, (uint16_t)job_len);
	start = header_record->len;
	if (buf_append(header_record, head, sizeof head) < 0 ||
	    buf_append(header_record, job_id, job_len) < 0) {
		buf_rewind(header_record, start);
		r = ENV_E_NOMEM;
		goto fail;
	}
	*ret_sealer = s;
	return ENV_OK;
fail:
	env_output_sealer_free(s);
	return r;
}

static int seal_record(env_output_sealer *s, const uint8_t *pt, size_t len,
		       uint8_t final, struct buf *record)
{
	uint8_t prefix[RECORD_LEN_SIZE];
	if (len > UINT32_MAX - HPKE_TAG_LEN)
		return ENV_E_INVALID;
	if (buf_reserve(record, RECORD_LEN_SIZE + len + HPKE_TAG_LEN) < 0)
		return ENV_E_NOMEM;
	size_t start = record->len;
	put_be32(prefix, (uint32_t)(len + HPKE_TAG_LEN));
	if (buf_append(record, prefix, sizeof prefix) < 0)
		return ENV_E_NOMEM;
	int r = from_hpke(hpke_seal(s->ctx, &final, 1, pt, len, record), false);
	if (r < 0)
		buf_rewind(record, start);
	return r;
}

int env_output_seal(env_output_sealer *s, const uint8_t *pt, size_t len,
		    struct buf *record)
{
	if (!s || !record || (!pt && len) || s->finished)
		return ENV_E_INVALID;
	return seal_record(s, pt, len, 0, record);
}

int env_output_finish(env_output_sealer *s, struct buf *record)
{
	if (!s || !record || s->finished)
		return ENV_E_INVALID;
	int r = seal_record(s, NULL, 0, 1, record);
	if (r == 0)
		s->finished = true;
	return r;
}

env_output_sealer *env_output_sealer_free(env_output_sealer *s)
{
	if (!s)
		return NULL;
	hpke_ctx_free(s->ctx);
	free(s);
	return NULL;
}

int env_output_record_len(const uint8_t *data, size_t len, bool header,
			  size_t *ret_len)
{
	size_t n;
	if ((!data && len) || !ret_len)
		return ENV_E_INVALID;
	if (header) {
		if (memcmp(data ? data : OUTPUT_MAGIC, OUTPUT_MAGIC,
			   len < 4 ? len : 4) != 0)
			return ENV_E_MAGIC;
		if (len < OUTPUT_HEADER_FIXED)
			return ENV_E_TRUNCATED;
		size_t job_len = get_be16(data + OUTPUT_HEADER_FIXED - 2);
		if (job_len == 0 || job_len > ENV_MAX_JOB_ID_LEN)
			return ENV_E_FORMAT;
		n = OUTPUT_HEADER_FIXED + job_len;
	} else {
		if (len < RECORD_LEN_SIZE)
			return ENV_E_TRUNCATED;
		n = RECORD_LEN_SIZE + (size_t)get_be32(data);
	}
	if (len < n)
		return ENV_E_TRUNCATED;
	*ret_len = n;
	return ENV_OK;
}

int env_output_opener_new(const uint8_t client_priv[ENV_KEY_LEN],
			  const uint8_t *header_record, size_t len,
			  const char *expected_job_id,
			  uint32_t expected_workload_id,
			  const uint8_t expected_envelope_id[ENV_ID_LEN],
			  env_output_opener **ret_opener)
{
	uint8_t info[OUTPUT_INFO_MAX];
	size_t n;
	int r;

	if (!client_priv || !header_record || !expected_job_id ||
	    !expected_envelope_id || !ret_opener)
		return ENV_E_INVALID;
	r = env_output_record_len(header_record, len, true, &n);
	if (r < 0)
		return r;
	if (n != len)
		return ENV_E_FORMAT;
	if (header_record[4] != ENV_VERSION)
		return ENV_E_VERSION;
	uint16_t aead_id = get_be16(header_record + 5);
	if (hpke_aead_key_len(aead_id) == 0)
		return ENV_E_AEAD;
	size_t job_len = len - OUTPUT_HEADER_FIXED;
	if (strlen(expected_job_id) != job_len ||
	    memcmp(expected_job_id, header_record + OUTPUT_HEADER_FIXED,
		   job_len) != 0)
		return ENV_E_MISMATCH;

	env_output_opener *o = calloc(1, sizeof *o);
	if (!o)
		return ENV_E_NOMEM;
	size_t info_len = output_info(expected_job_id, job_len,
				      expected_workload_id, expected_envelope_id,
				      info);
	r = from_hpke(hpke_setup_base_r(aead_id, header_record + 7, client_priv,
					info, info_len, &o->ctx),
		      true);
	if (r < 0) {
		env_output_opener_free(o);
		return r;
	}
	*ret_opener = o;
	return ENV_OK;
}

int env_output_open(env_output_opener *o, const uint8_t *record, size_t len,
		    struct buf *pt, bool *ret_final)
{
	static const uint8_t not_final = 0, final = 1;
	size_t n;
	if (!o || !pt || !ret_final)
		return ENV_E_INVALID;
	if (o->done)
		return ENV_E_ORDER;
	int r = env_output_record_len(record, len, false, &n);
	if (r < 0)
		return r;
	if (n != len || len - RECORD_LEN_SIZE < HPKE_TAG_LEN)
		return ENV_E_FORMAT;
	const uint8_t *ct = record + RECORD_LEN_SIZE;
	size_t ct_len = len - RECORD_LEN_SIZE;
	r = hpke_open(o->ctx, &not_final, 1, ct, ct_len, pt);
	if (r == -EBADMSG && ct_len == HPKE_TAG_LEN) {
		/* Only the final record is sealed with aad 0x01, and it is
		 * always empty: a tag-only record may be it. */
		r = hpke_open(o->ctx, &final, 1, ct, ct_len, pt);
		if (r == 0) {
			o->done = true;
			*ret_final = true;
			return ENV_OK;
		}
	}
	r = from_hpke(r, true);
	if (r == 0)
		*ret_final = false;
	return r;
}

int env_output_opener_done(const env_output_opener *o)
{
	if (!o)
		return ENV_E_INVALID;
	return o->done ? ENV_OK : ENV_E_UNFINISHED;
}

env_output_opener *env_output_opener_free(env_output_opener *o)
{
	if (!o)
		return NULL;
	hpke_ctx_free(o->ctx);
	free(o);
	return NULL;
}

int env_open_output(const uint8_t client_priv[ENV_KEY_LEN],
		    const uint8_t *blob, size_t len,
		    const char *expected_job_id, uint32_t expected_workload_id,
		    const uint8_t expected_envelope_id[ENV_ID_LEN],
		    struct buf *pt)
{
	env_output_opener *o = NULL;
	size_t n, off, start;
	bool final = false;
	int r;

	if (!pt || (!blob && len))
		return ENV_E_INVALID;
	start = pt->len;
	r = env_output_record_len(blob, len, true, &n);
	if (r < 0)
		return r;
	r = env_output_opener_new(client_priv, blob, n, expected_job_id,
				  expected_workload_id, expected_envelope_id,
				  &o);
	if (r < 0)
		return r;
	for (off = n; off < len && !final; off += n) {
		r = env_output_record_len(blob + off, len - off, false, &n);
		if (r < 0)
			goto fail;
		r = env_output_open(o, blob + off, n, pt, &final);
		if (r < 0)
			goto fail;
	}
	if (!final) {
		r = ENV_E_UNFINISHED;
		goto fail;
	}
	if (off != len) {
		r = ENV_E_FORMAT;
		goto fail;
	}
	env_output_opener_free(o);
	return ENV_OK;
fail:
	env_output_opener_free(o);
	buf_rewind(pt, start);
	return r;
}
