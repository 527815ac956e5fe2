/* Atoll's input envelope, output record stream and report-data binding,
 * on HPKE (base mode for inputs, auth mode for outputs). Every length is
 * checked before it is used. */
#include "crypto/envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const uint8_t INPUT_MAGIC[4] = { 'A', 'T', 'I', '1' };
static const uint8_t OUTPUT_MAGIC[4] = { 'A', 'T', 'O', '2' };
static const uint8_t OUTPUT_MAGIC_V1[4] = { 'A', 'T', 'O', '1' };
static const char INPUT_INFO[] = "atoll input v1";
static const char OUTPUT_INFO[] = "atoll output v2";
static const char ATTEST_TAG[] = "atoll-attest-v2";

#define PAYLOAD_NONCE_LEN HPKE_NONCE_LEN
/* magic, version, aead id, enc, sender key, attempt, job id length */
#define OUTPUT_HEADER_FIXED (4 + 1 + 2 + HPKE_ENC_LEN + ENV_KEY_LEN + 4 + 2)
#define RECORD_LEN_SIZE 4
#define OUTPUT_INFO_MAX \
	(sizeof(OUTPUT_INFO) - 1 + 2 + ENV_MAX_JOB_ID_LEN + 4 + ENV_ID_LEN + 4)

struct env_output_sealer {
	hpke_ctx *ctx;
	bool finished;
};

struct env_output_opener {
	hpke_ctx *ctx;
	struct env_output_info info;
	bool done, failed;
	char code[ENV_MAX_ERROR_CODE + 1];
	char message[ENV_MAX_ERROR_MESSAGE + 1];
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
	case ENV_E_LEGACY:
		return "output sealed in format v1, which does not authenticate the "
		       "enclave: refused";
	case ENV_E_SENDER:
		return "output sealed by an enclave the input was not sealed to";
	case ENV_E_JOB_FAILED:
		return "the job failed (the enclave sealed its error)";
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
		    const uint8_t manifest_digest[ENV_MANIFEST_DIGEST_LEN],
		    uint8_t out[ENV_REPORT_DATA_LEN])
{
	uint8_t md[ENV_REPORT_DATA_LEN];
	unsigned int md_len = 0;
	int r = ENV_E_CRYPTO;
	if ((!nonce && nonce_len) || !enclave_pub || !manifest_digest || !out)
		return ENV_E_INVALID;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	if (!mctx)
		return ENV_E_NOMEM;
	if (EVP_DigestInit_ex(mctx, EVP_sha512(), NULL) != 1 ||
	    EVP_DigestUpdate(mctx, ATTEST_TAG, sizeof(ATTEST_TAG) - 1) != 1 ||
	    (nonce_len && EVP_DigestUpdate(mctx, nonce, nonce_len) != 1) ||
	    EVP_DigestUpdate(mctx, enclave_pub, ENV_KEY_LEN) != 1 ||
	    EVP_DigestUpdate(mctx, manifest_digest, ENV_MANIFEST_DIGEST_LEN) != 1 ||
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

/* info = "atoll output v2" || u16 len || job_id || u32 workload_id ||
 * envelope_id || u32 attempt. */
static size_t output_info(const char *job_id, size_t job_len,
			  uint32_t workload_id,
			  const uint8_t envelope_id[ENV_ID_LEN], uint32_t attempt,
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
	n += ENV_ID_LEN;
	put_be32(out + n, attempt);
	return n + 4;
}

int env_output_sealer_new(uint16_t aead_id,
			  const uint8_t client_pub[ENV_KEY_LEN],
			  const uint8_t enclave_priv[ENV_KEY_LEN],
			  const uint8_t enclave_pub[ENV_KEY_LEN],
			  const char *job_id, uint32_t workload_id,
			  const uint8_t envelope_id[ENV_ID_LEN], uint32_t attempt,
			  env_output_sealer **ret_sealer,
			  struct buf *header_record)
{
	uint8_t info[OUTPUT_INFO_MAX], head[OUTPUT_HEADER_FIXED];
	env_output_sealer *s = NULL;
	size_t start;
	int r;

	if (!client_pub || !enclave_priv || !enclave_pub || !job_id ||
	    !envelope_id || !ret_sealer || !header_record)
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
				      attempt, info);
	memcpy(head, OUTPUT_MAGIC, 4);
	head[4] = ENV_OUTPUT_VERSION;
	put_be16(head + 5, aead_id);
	/* Auth mode: only the holder of enclave_priv, a recipient the client
	 * sealed the input to, can produce a stream the client opens. */
	struct hpke_params prm = {
		.mode = HPKE_MODE_AUTH,
		.info = info,
		.info_len = info_len,
		.sender_priv = enclave_priv,
	};
	r = from_hpke(hpke_setup_s(aead_id, client_pub, &prm, head + 7, &s->ctx),
		      false);
	if (r < 0)
		goto fail;
	memcpy(head + 7 + HPKE_ENC_LEN, enclave_pub, ENV_KEY_LEN);
	put_be32(head + 7 + HPKE_ENC_LEN + ENV_KEY_LEN, attempt);
	put_be16(head + OUTPUT_HEADER_FIXED - 2, (uint16_t)job_len);
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

static bool code_ok(const char *code, size_t len)
{
	if (len == 0 || len > ENV_MAX_ERROR_CODE)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((code[i] >= 'a' && code[i] <= 'z') || code[i] == '_' ||
		      (code[i] >= '0' && code[i] <= '9')))
			return false;
	return true;
}

int env_output_fail(env_output_sealer *s, const char *code, const char *message,
		    struct buf *record)
{
	if (!s || !record || !code || s->finished)
		return ENV_E_INVALID;
	size_t code_len = strlen(code), msg_len = message ? strlen(message) : 0;
	if (!code_ok(code, code_len))
		return ENV_E_INVALID;
	if (msg_len > ENV_MAX_ERROR_MESSAGE)
		msg_len = ENV_MAX_ERROR_MESSAGE;
	uint8_t body[2 + ENV_MAX_ERROR_CODE + ENV_MAX_ERROR_MESSAGE];
	body[0] = 1;
	body[1] = (uint8_t)code_len;
	memcpy(body + 2, code, code_len);
	if (msg_len)
		memcpy(body + 2 + code_len, message, msg_len);
	int r = seal_record(s, body, 2 + code_len + msg_len, 1, record);
	OPENSSL_cleanse(body, sizeof body);
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
		size_t m = len < 4 ? len : 4;
		if (m && memcmp(data, OUTPUT_MAGIC_V1, m) == 0 && len >= 4)
			return ENV_E_LEGACY;
		if (memcmp(data ? data : OUTPUT_MAGIC, OUTPUT_MAGIC, m) != 0)
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

int env_output_header_info(const uint8_t *header_record, size_t len,
			   struct env_output_info *ret)
{
	size_t n;
	if (!ret)
		return ENV_E_INVALID;
	int r = env_output_record_len(header_record, len, true, &n);
	if (r < 0)
		return r;
	if (n != len)
		return ENV_E_FORMAT;
	if (header_record[4] != ENV_OUTPUT_VERSION)
		return ENV_E_VERSION;
	struct env_output_info info = { .aead_id = get_be16(header_record + 5) };
	memcpy(info.sender, header_record + 7 + HPKE_ENC_LEN, ENV_KEY_LEN);
	info.attempt = get_be32(header_record + 7 + HPKE_ENC_LEN + ENV_KEY_LEN);
	size_t job_len = len - OUTPUT_HEADER_FIXED;
	memcpy(info.job_id, header_record + OUTPUT_HEADER_FIXED, job_len);
	info.job_id[job_len] = 0;
	if (memchr(info.job_id, 0, job_len))
		return ENV_E_FORMAT;
	*ret = info;
	return ENV_OK;
}

int env_output_opener_new(const uint8_t client_priv[ENV_KEY_LEN],
			  const uint8_t *header_record, size_t len,
			  const struct env_output_expect *want,
			  env_output_opener **ret_opener)
{
	uint8_t info[OUTPUT_INFO_MAX];
	struct env_output_info hi;
	int r;

	if (!client_priv || !header_record || !want || !want->job_id ||
	    !want->envelope_id || (!want->senders && want->n_senders) ||
	    !ret_opener)
		return ENV_E_INVALID;
	if ((r = env_output_header_info(header_record, len, &hi)) < 0)
		return r;
	if (hpke_aead_key_len(hi.aead_id) == 0)
		return ENV_E_AEAD;
	if (strcmp(hi.job_id, want->job_id) != 0)
		return ENV_E_MISMATCH;
	/* The sender must be an enclave the client sealed the input to. */
	bool known = false;
	for (size_t i = 0; i < want->n_senders; i++)
		if (CRYPTO_memcmp(want->senders[i], hi.sender, ENV_KEY_LEN) == 0)
			known = true;
	if (!known)
		return ENV_E_SENDER;

	env_output_opener *o = calloc(1, sizeof *o);
	if (!o)
		return ENV_E_NOMEM;
	size_t info_len = output_info(want->job_id, strlen(want->job_id),
				      want->workload_id, want->envelope_id,
				      hi.attempt, info);
	struct hpke_params prm = {
		.mode = HPKE_MODE_AUTH,
		.info = info,
		.info_len = info_len,
		.sender_pub = hi.sender,
	};
	r = from_hpke(hpke_setup_r(hi.aead_id, header_record + 7, client_priv,
				   &prm, &o->ctx),
		      true);
	if (r < 0) {
		env_output_opener_free(o);
		return r;
	}
	o->info = hi;
	*ret_opener = o;
	return ENV_OK;
}

const struct env_output_info *env_output_opener_info(const env_output_opener *o)
{
	return o ? &o->info : NULL;
}

/* The final record's plaintext: empty for success, else the sealed
 * error (0x01, code length, code, message). */
static int read_final(env_output_opener *o, const uint8_t *p, size_t n)
{
	if (n == 0)
		return ENV_OK;
	if (n < 3 || p[0] != 1 || p[1] == 0 || (size_t)p[1] + 2 > n ||
	    !code_ok((const char *)p + 2, p[1]) ||
	    n - 2 - p[1] > ENV_MAX_ERROR_MESSAGE)
		return ENV_E_FORMAT;
	memcpy(o->code, p + 2, p[1]);
	o->code[p[1]] = 0;
	size_t m = n - 2 - p[1];
	memcpy(o->message, p + 2 + p[1], m);
	o->message[m] = 0;
	o->failed = true;
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
	if (r == -EBADMSG) {
		/* Not a data record: the final one, sealed with aad 0x01? */
		struct buf body = { 0 };
		r = hpke_open(o->ctx, &final, 1, ct, ct_len, &body);
		if (r == 0) {
			r = read_final(o, body.data, body.len);
			buf_free(&body); /* wipes */
			if (r < 0)
				return r;
			o->done = true;
			*ret_final = true;
			return ENV_OK;
		}
		buf_free(&body);
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

int env_output_opener_result(const env_output_opener *o, const char **ret_code,
			     const char **ret_message)
{
	if (!o)
		return ENV_E_INVALID;
	if (!o->done)
		return ENV_E_UNFINISHED;
	if (!o->failed)
		return ENV_OK;
	if (ret_code)
		*ret_code = o->code;
	if (ret_message)
		*ret_message = o->message;
	return ENV_E_JOB_FAILED;
}

env_output_opener *env_output_opener_free(env_output_opener *o)
{
	if (!o)
		return NULL;
	hpke_ctx_free(o->ctx);
	OPENSSL_cleanse(o->message, sizeof o->message);
	free(o);
	return NULL;
}

int env_open_output(const uint8_t client_priv[ENV_KEY_LEN],
		    const uint8_t *blob, size_t len,
		    const struct env_output_expect *want, struct buf *pt,
		    struct buf *ret_error)
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
	r = env_output_opener_new(client_priv, blob, n, want, &o);
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
	const char *code, *message;
	r = env_output_opener_result(o, &code, &message);
	if (r == ENV_E_JOB_FAILED && ret_error)
		buf_printf(ret_error, "%s: %s", code, message);
	env_output_opener_free(o);
	return r;
fail:
	env_output_opener_free(o);
	buf_rewind(pt, start);
	return r;
}
