/* Envelopes: report-data binding, input envelope round trips and every
 * single-byte flip, malformed headers, and the output stream against
 * reordering, dropping, replay, truncation, wrong keys or ids, forgery
 * by a party without a recipient's key, and sealed errors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto/envelope.h"
#include "util/buf.h"
#include "util/enc.h"

static const uint16_t AEADS[] = { HPKE_AEAD_AES_128_GCM, HPKE_AEAD_AES_256_GCM,
				  HPKE_AEAD_CHACHA20_POLY1305 };

struct keys {
	uint8_t enclave_priv[3][32], enclave_pub[3][32];
	uint8_t other_priv[32], other_pub[32];
	uint8_t client_priv[32], client_pub[32];
};

static bool same(const struct buf *b, const void *want, size_t len)
{
	return b->len == len && (len == 0 || memcmp(b->data, want, len) == 0);
}

static bool info_equal(const struct env_input_info *a,
		       const struct env_input_info *b)
{
	return a->aead_id == b->aead_id && a->workload_id == b->workload_id &&
	       memcmp(a->envelope_id, b->envelope_id, sizeof a->envelope_id) == 0 &&
	       memcmp(a->client_pub, b->client_pub, sizeof a->client_pub) == 0 &&
	       a->n_recipients == b->n_recipients &&
	       memcmp(a->recipients, b->recipients,
		      a->n_recipients * sizeof a->recipients[0]) == 0 &&
	       a->plaintext_len == b->plaintext_len;
}

static void test_report_data(void)
{
	uint8_t pub[32], out[64], want[64], empty_manifest[32], other[32];
	for (int i = 0; i < 32; i++)
		pub[i] = (uint8_t)(i + 1);
	/* SHA-256 of an empty manifest. */
	enc_hex_decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64,
		       empty_manifest);
	/* SHA-512 of the tag, the nonce, the key and the manifest digest,
	 * computed independently. */
	CHECK_INT(env_report_data((const uint8_t *)"0123456789abcdef", 16, pub, empty_manifest, out),
		  0);
	enc_hex_decode("b316ef5ecf19196dab2544525886b70519967732c7f4fb5ddd3fbfe203202fac"
		       "999b609ce196ae19d955019fcb19e9dc06ac250c354dddac39325e5507040676",
		       128, want);
	CHECK(memcmp(out, want, 64) == 0);
	CHECK_INT(env_report_data(NULL, 0, pub, empty_manifest, out), 0);
	enc_hex_decode("58e11bf552025a489dab8fbe3aa7ffd64f9c2898b1496385417d63ca158e6e36"
		       "eb110c12177085f5c7df578b6a6f979a54a91f372cb2ad5dd5db15bdd5abc014",
		       128, want);
	CHECK(memcmp(out, want, 64) == 0);
	/* Another manifest, another binding. */
	memcpy(other, empty_manifest, 32);
	other[0] ^= 1;
	CHECK_INT(env_report_data(NULL, 0, pub, other, out), 0);
	CHECK(memcmp(out, want, 64) != 0);
	CHECK_INT(env_report_data(NULL, 3, pub, empty_manifest, out), ENV_E_INVALID);
	CHECK_INT(env_report_data(NULL, 0, pub, NULL, out), ENV_E_INVALID);
}

static void test_input_round_trips(const struct keys *k)
{
	static const char msg[] = "{\"prompt\": \"the canary 7f3a is confidential\"}";
	for (size_t a = 0; a < 3; a++) {
		for (size_t n = 1; n <= 3; n += 2) {
			struct buf env = { 0 }, pt = { 0 };
			struct env_input_info info;
			CHECK_INT(env_seal_input(AEADS[a], 42, k->client_pub,
						 (const uint8_t (*)[32])k->enclave_pub, n,
						 (const uint8_t *)msg, sizeof msg, &env), 0);
			size_t nk = a == 0 ? 16 : 32;
			CHECK_INT(env.len, ENV_INPUT_HEADER_LEN + 2 + n * (64 + nk + 16) +
						   12 + sizeof msg + 16);
			CHECK_INT(env_inspect_input(env.data, env.len, &info), 0);
			CHECK_INT(info.aead_id, AEADS[a]);
			CHECK_INT(info.workload_id, 42);
			CHECK_INT(info.n_recipients, n);
			CHECK_INT(info.plaintext_len, sizeof msg);
			CHECK(memcmp(info.client_pub, k->client_pub, 32) == 0);
			for (size_t i = 0; i < n; i++)
				CHECK(memcmp(info.recipients[i], k->enclave_pub[i], 32) == 0);
			for (size_t i = 0; i < n; i++) {
				struct env_input_info got;
				buf_reset(&pt);
				CHECK_INT(env_open_input(env.data, env.len, 42,
							 k->enclave_priv[i],
							 k->enclave_pub[i], &got, &pt), 0);
				CHECK(same(&pt, msg, sizeof msg));
				CHECK(info_equal(&got, &info));
			}
			buf_reset(&pt);
			CHECK_INT(env_open_input(env.data, env.len, 42, k->other_priv,
						 k->other_pub, NULL, &pt),
				  ENV_E_NOT_RECIPIENT);
			/* A recipient's public key with another private key. */
			CHECK_INT(env_open_input(env.data, env.len, 42, k->other_priv,
						 k->enclave_pub[0], NULL, &pt),
				  ENV_E_AUTH);
			CHECK_INT(env_open_input(env.data, env.len, 43,
						 k->enclave_priv[0], k->enclave_pub[0],
						 NULL, &pt),
				  ENV_E_MISMATCH);
			CHECK_INT(pt.len, 0);
			buf_free(&env);
			buf_free(&pt);
		}
	}

	/* Empty input, and two envelopes of the same input differ. */
	struct buf e1 = { 0 }, e2 = { 0 }, pt = { 0 };
	CHECK_INT(env_seal_input(HPKE_AEAD_AES_256_GCM, 1, k->client_pub,
				 (const uint8_t (*)[32])k->enclave_pub, 1, NULL, 0, &e1), 0);
	CHECK_INT(env_seal_input(HPKE_AEAD_AES_256_GCM, 1, k->client_pub,
				 (const uint8_t (*)[32])k->enclave_pub, 1, NULL, 0, &e2), 0);
	CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) != 0);
	CHECK_INT(env_open_input(e1.data, e1.len, 1, k->enclave_priv[0],
				 k->enclave_pub[0], NULL, &pt), 0);
	CHECK_INT(pt.len, 0);

	/* Caller mistakes. */
	uint8_t dup[2][32];
	memcpy(dup[0], k->enclave_pub[0], 32);
	memcpy(dup[1], k->enclave_pub[0], 32);
	size_t before = e1.len;
	CHECK_INT(env_seal_input(1, 1, k->client_pub, (const uint8_t (*)[32])dup, 2,
				 NULL, 0, &e1), ENV_E_INVALID);
	CHECK_INT(env_seal_input(1, 1, k->client_pub, (const uint8_t (*)[32])dup, 0,
				 NULL, 0, &e1), ENV_E_INVALID);
	CHECK_INT(env_seal_input(HPKE_AEAD_EXPORT_ONLY, 1, k->client_pub,
				 (const uint8_t (*)[32])dup, 1, NULL, 0, &e1), ENV_E_AEAD);
	CHECK_INT(env_seal_input(9, 1, k->client_pub, (const uint8_t (*)[32])dup, 1,
				 NULL, 0, &e1), ENV_E_AEAD);
	uint8_t small_order[1][32] = { { 0 } };
	CHECK_INT(env_seal_input(1, 1, k->client_pub, (const uint8_t (*)[32])small_order,
				 1, NULL, 0, &e1), ENV_E_INVALID);
	CHECK_INT(e1.len, before);
	buf_free(&e1);
	buf_free(&e2);
	buf_free(&pt);
}

/* Every single-byte change of a small envelope must fail to open, and a
 * failure must leave the output buffer as it was. */
static void test_input_flips(const struct keys *k, size_t n)
{
	struct buf env = { 0 }, pt = { 0 };
	CHECK_INT(env_seal_input(HPKE_AEAD_AES_128_GCM, 5, k->client_pub,
				 (const uint8_t (*)[32])k->enclave_pub, n,
				 (const uint8_t *)"hi", 2, &env), 0);
	buf_append(&pt, "keep", 4);
	size_t accepted = 0;
	for (size_t i = 0; i < env.len; i++) {
		static const uint8_t masks[] = { 0x01, 0x80, 0xff };
		for (size_t m = 0; m < 3; m++) {
			env.data[i] ^= masks[m];
			/* Recipient 0 opens; with 3 recipients the flips in the
			 * other recipients' blocks must fail too. */
			int r = env_open_input(env.data, env.len, 5, k->enclave_priv[0],
					       k->enclave_pub[0], NULL, &pt);
			if (r == 0) {
				fprintf(stderr, "flip 0x%02x at %zu accepted\n", masks[m], i);
				accepted++;
			}
			env.data[i] ^= masks[m];
		}
	}
	CHECK_INT(accepted, 0);
	CHECK(same(&pt, "keep", 4));
	printf("input envelope, %zu recipient(s): %zu bytes x 3 flips rejected\n", n,
	       env.len);

	/* Every truncation fails; so does a trailing byte. */
	size_t truncated_ok = 0;
	for (size_t len = 0; len < env.len; len++)
		if (env_open_input(env.data, len, 5, k->enclave_priv[0],
				   k->enclave_pub[0], NULL, &pt) == 0)
			truncated_ok++;
	CHECK_INT(truncated_ok, 0);
	buf_putc(&env, 0);
	CHECK_INT(env_open_input(env.data, env.len, 5, k->enclave_priv[0],
				 k->enclave_pub[0], NULL, &pt), ENV_E_AUTH);
	CHECK(same(&pt, "keep", 4));
	buf_free(&env);
	buf_free(&pt);
}

static void test_input_errors(const struct keys *k)
{
	struct buf env = { 0 };
	struct env_input_info info;
	CHECK_INT(env_seal_input(HPKE_AEAD_AES_128_GCM, 5, k->client_pub,
				 (const uint8_t (*)[32])k->enclave_pub, 2,
				 (const uint8_t *)"x", 1, &env), 0);
	uint8_t *e = env.data;

	CHECK_INT(env_inspect_input(e, 0, &info), ENV_E_TRUNCATED);
	CHECK_INT(env_inspect_input(e, 3, &info), ENV_E_TRUNCATED);
	CHECK_INT(env_inspect_input(e, 4, &info), ENV_E_TRUNCATED);
	CHECK_INT(env_inspect_input(e, ENV_INPUT_HEADER_LEN + 1, &info), ENV_E_TRUNCATED);
	CHECK_INT(env_inspect_input(e, ENV_INPUT_HEADER_LEN + 2 + 100, &info),
		  ENV_E_TRUNCATED);
	/* Both recipient blocks but not the payload's nonce and tag. */
	CHECK_INT(env_inspect_input(e, ENV_INPUT_HEADER_LEN + 2 + 2 * 96 + 27, &info),
		  ENV_E_TRUNCATED);
	CHECK_INT(env_inspect_input((const uint8_t *)"ATO1", 4, &info), ENV_E_MAGIC);
	CHECK_INT(env_inspect_input((const uint8_t *)"AX", 2, &info), ENV_E_MAGIC);
	CHECK_INT(env_inspect_input(NULL, 5, &info), ENV_E_INVALID);

	e[0] = 'X';
	CHECK_INT(env_inspect_input(e, env.len, &info), ENV_E_MAGIC);
	e[0] = 'A';
	e[4] = 2;
	CHECK_INT(env_inspect_input(e, env.len, &info), ENV_E_VERSION);
	e[4] = 1;
	e[6] = 4;
	CHECK_INT(env_inspect_input(e, env.len, &info), ENV_E_AEAD);
	e[5] = 0xff;
	e[6] = 0xff;
	CHECK_INT(env_inspect_input(e, env.len, &info), ENV_E_AEAD);
	e[5] = 0;
	e[6] = 1;
	e[ENV_INPUT_HEADER_LEN + 1] = 0;
	CHECK_INT(env_inspect_input(e, env.len, &info), ENV_E_FORMAT);
	e[ENV_INPUT_HEADER_LEN + 1] = ENV_MAX_RECIPIENTS + 1;
	CHECK_INT(env_inspect_input(e, env.len, &info), ENV_E_FORMAT);
	e[ENV_INPUT_HEADER_LEN + 1] = 3;
	CHECK_INT(env_inspect_input(e, env.len, &info), ENV_E_TRUNCATED);
	e[ENV_INPUT_HEADER_LEN + 1] = 2;
	/* The second recipient's key made equal to the first. */
	uint8_t saved[32];
	memcpy(saved, e + ENV_INPUT_HEADER_LEN + 2 + 96, 32);
	memcpy(e + ENV_INPUT_HEADER_LEN + 2 + 96, e + ENV_INPUT_HEADER_LEN + 2, 32);
	CHECK_INT(env_inspect_input(e, env.len, &info), ENV_E_FORMAT);
	memcpy(e + ENV_INPUT_HEADER_LEN + 2 + 96, saved, 32);
	CHECK_INT(env_inspect_input(e, env.len, &info), 0);
	CHECK_INT(info.n_recipients, 2);
	buf_free(&env);

	/* Each code has its own message. */
	for (int a = 0; a >= ENV_E_CRYPTO; a--)
		for (int b = a - 1; b >= ENV_E_CRYPTO; b--)
			CHECK(strcmp(env_strerror(a), env_strerror(b)) != 0);
}

/* A stream as separate records: [0] header, then chunks, then final. */
struct stream {
	struct buf rec[8];
	size_t n;
};

static void stream_free(struct stream *s)
{
	for (size_t i = 0; i < s->n; i++)
		buf_free(&s->rec[i]);
	s->n = 0;
}

static const uint8_t ENVELOPE_ID[16] = { 0xe1, 0xe2, 0xe3, 0xe4, 5, 6, 7, 8,
					 9, 10, 11, 12, 13, 14, 15, 16 };

/* The client's expectation: job_abc, workload 42, ENVELOPE_ID, sealed to
 * the three enclave keys. */
static struct env_output_expect expect(const struct keys *k)
{
	return (struct env_output_expect){ "job_abc", 42, ENVELOPE_ID,
					   (const uint8_t(*)[32])k->enclave_pub, 3 };
}

/* A stream from enclave `who` as separate records: [0] header, then
 * chunks, then final (an error when fail_code is set). */
static void make_stream_as(const uint8_t *priv, const uint8_t *pub, const struct keys *k,
			   uint16_t aead, uint32_t attempt, const char **chunks,
			   size_t n_chunks, const char *fail_code, struct stream *ret)
{
	env_output_sealer *s = NULL;
	memset(ret, 0, sizeof *ret);
	CHECK_INT(env_output_sealer_new(aead, k->client_pub, priv, pub, "job_abc", 42,
					ENVELOPE_ID, attempt, &s, &ret->rec[0]), 0);
	ret->n = 1;
	for (size_t i = 0; i < n_chunks; i++)
		CHECK_INT(env_output_seal(s, (const uint8_t *)chunks[i], strlen(chunks[i]),
					  &ret->rec[ret->n++]), 0);
	if (fail_code)
		CHECK_INT(env_output_fail(s, fail_code, "feature 'secret_field' is unknown",
					  &ret->rec[ret->n++]), 0);
	else
		CHECK_INT(env_output_finish(s, &ret->rec[ret->n++]), 0);
	struct buf extra = { 0 };
	CHECK_INT(env_output_seal(s, (const uint8_t *)"late", 4, &extra), ENV_E_INVALID);
	CHECK_INT(env_output_finish(s, &extra), ENV_E_INVALID);
	CHECK_INT(env_output_fail(s, "x", "y", &extra), ENV_E_INVALID);
	CHECK_INT(extra.len, 0);
	env_output_sealer_free(s);
}

static void make_stream(const struct keys *k, uint16_t aead, const char **chunks,
			size_t n_chunks, struct stream *ret)
{
	make_stream_as(k->enclave_priv[1], k->enclave_pub[1], k, aead, 1, chunks, n_chunks,
		       NULL, ret);
}

/* Concatenate records in the given order (indexes into s->rec). */
static void join(const struct stream *s, const size_t *order, size_t n, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < n; i++)
		buf_append(out, s->rec[order[i]].data, s->rec[order[i]].len);
}

static int open_blob(const struct keys *k, const struct buf *blob, struct buf *pt)
{
	struct env_output_expect want = expect(k);
	return env_open_output(k->client_priv, blob->data, blob->len, &want, pt, NULL);
}

static void test_output(const struct keys *k)
{
	const char *chunks[] = { "first chunk, ", "", "second chunk" };
	static const char whole[] = "first chunk, second chunk";
	struct buf blob = { 0 }, pt = { 0 };
	struct stream st;
	struct env_output_expect want = expect(k);

	for (size_t a = 0; a < 3; a++) {
		make_stream(k, AEADS[a], chunks, 3, &st);
		CHECK_INT(st.n, 5);
		CHECK_INT(st.rec[4].len, 4 + 16);

		/* Incremental, record by record. */
		env_output_opener *o = NULL;
		bool final = true;
		CHECK_INT(env_output_opener_new(k->client_priv, st.rec[0].data,
						st.rec[0].len, &want, &o), 0);
		if (!o)
			continue;
		CHECK_INT(env_output_opener_info(o)->attempt, 1);
		CHECK(memcmp(env_output_opener_info(o)->sender, k->enclave_pub[1], 32) == 0);
		buf_reset(&pt);
		for (size_t i = 1; i < 4; i++) {
			CHECK_INT(env_output_open(o, st.rec[i].data, st.rec[i].len, &pt,
						  &final), 0);
			CHECK(!final);
			CHECK_INT(env_output_opener_done(o), ENV_E_UNFINISHED);
			CHECK_INT(env_output_opener_result(o, NULL, NULL), ENV_E_UNFINISHED);
		}
		CHECK_INT(env_output_open(o, st.rec[4].data, st.rec[4].len, &pt, &final), 0);
		CHECK(final);
		CHECK_INT(env_output_opener_done(o), 0);
		CHECK_INT(env_output_opener_result(o, NULL, NULL), 0);
		CHECK(same(&pt, whole, sizeof whole - 1));
		/* Nothing after the final record. */
		CHECK_INT(env_output_open(o, st.rec[4].data, st.rec[4].len, &pt, &final),
			  ENV_E_ORDER);
		CHECK_INT(env_output_open(o, st.rec[1].data, st.rec[1].len, &pt, &final),
			  ENV_E_ORDER);
		env_output_opener_free(o);

		/* Whole blob. */
		size_t all[] = { 0, 1, 2, 3, 4 };
		join(&st, all, 5, &blob);
		buf_reset(&pt);
		CHECK_INT(open_blob(k, &blob, &pt), 0);
		CHECK(same(&pt, whole, sizeof whole - 1));
		stream_free(&st);
	}

	make_stream(k, HPKE_AEAD_AES_256_GCM, chunks, 3, &st);
	buf_reset(&pt);
	buf_append(&pt, "keep", 4);
	struct {
		const char *what;
		size_t order[6];
		size_t n;
		int want;
	} bad[] = {
		{ "reordered", { 0, 1, 3, 2, 4 }, 5, ENV_E_AUTH },
		{ "chunk dropped", { 0, 1, 3, 4 }, 4, ENV_E_AUTH },
		{ "chunk replayed", { 0, 1, 1, 2, 3, 4 }, 6, ENV_E_AUTH },
		{ "final record first", { 0, 4 }, 2, ENV_E_AUTH },
		{ "no final record", { 0, 1, 2, 3 }, 4, ENV_E_UNFINISHED },
		{ "header only", { 0 }, 1, ENV_E_UNFINISHED },
		{ "record after final", { 0, 1, 2, 3, 4, 3 }, 6, ENV_E_FORMAT },
		{ "final replayed", { 0, 1, 2, 3, 4, 4 }, 6, ENV_E_FORMAT },
		{ "no header", { 1, 2, 3, 4 }, 4, ENV_E_MAGIC },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		join(&st, bad[i].order, bad[i].n, &blob);
		int r = open_blob(k, &blob, &pt);
		if (r != bad[i].want)
			fprintf(stderr, "%s: got %d (%s)\n", bad[i].what, r, env_strerror(r));
		CHECK_INT(r, bad[i].want);
	}
	CHECK(same(&pt, "keep", 4));

	/* Truncation at every length of the good stream. */
	size_t all[] = { 0, 1, 2, 3, 4 };
	join(&st, all, 5, &blob);
	size_t truncated_ok = 0;
	for (size_t len = 0; len < blob.len; len++) {
		struct buf cut = { 0 };
		buf_append(&cut, blob.data, len);
		if (open_blob(k, &cut, &pt) == 0)
			truncated_ok++;
		buf_free(&cut);
	}
	CHECK_INT(truncated_ok, 0);

	/* Every single-byte flip anywhere in the stream (the attempt and the
	 * sender key in the header included). */
	size_t flips_ok = 0;
	for (size_t i = 0; i < blob.len; i++) {
		blob.data[i] ^= 0x01;
		if (open_blob(k, &blob, &pt) == 0)
			flips_ok++;
		blob.data[i] ^= 0x01;
	}
	CHECK_INT(flips_ok, 0);
	CHECK(same(&pt, "keep", 4));

	/* Wrong key and wrong ids. */
	uint8_t other_id[16];
	memcpy(other_id, ENVELOPE_ID, 16);
	other_id[15] ^= 1;
	struct env_output_expect w = want;
	CHECK_INT(env_open_output(k->other_priv, blob.data, blob.len, &want, &pt, NULL),
		  ENV_E_AUTH);
	w.job_id = "job_abd";
	CHECK_INT(env_open_output(k->client_priv, blob.data, blob.len, &w, &pt, NULL),
		  ENV_E_MISMATCH);
	w.job_id = "job_ab";
	CHECK_INT(env_open_output(k->client_priv, blob.data, blob.len, &w, &pt, NULL),
		  ENV_E_MISMATCH);
	w = want;
	w.workload_id = 43;
	CHECK_INT(env_open_output(k->client_priv, blob.data, blob.len, &w, &pt, NULL),
		  ENV_E_AUTH);
	w = want;
	w.envelope_id = other_id;
	CHECK_INT(env_open_output(k->client_priv, blob.data, blob.len, &w, &pt, NULL),
		  ENV_E_AUTH);
	/* The sender must be one of the enclaves the input was sealed to. */
	w = want;
	w.senders = (const uint8_t(*)[32])k->enclave_pub[2];
	w.n_senders = 1;
	CHECK_INT(env_open_output(k->client_priv, blob.data, blob.len, &w, &pt, NULL),
		  ENV_E_SENDER);
	CHECK(same(&pt, "keep", 4));

	/* Incremental opener: a failed record leaves it in place, so the
	 * right record still opens; an early end is reported. */
	env_output_opener *o = NULL;
	bool final = false;
	CHECK_INT(env_output_opener_new(k->client_priv, st.rec[0].data, st.rec[0].len, &want,
					&o), 0);
	CHECK_INT(env_output_open(o, st.rec[2].data, st.rec[2].len, &pt, &final),
		  ENV_E_AUTH);
	CHECK_INT(env_output_open(o, st.rec[1].data, st.rec[1].len, &pt, &final), 0);
	CHECK_INT(env_output_open(o, st.rec[1].data, st.rec[1].len - 1, &pt, &final),
		  ENV_E_TRUNCATED);
	CHECK_INT(env_output_open(o, (const uint8_t *)"\0\0\0\0", 4, &pt, &final),
		  ENV_E_FORMAT);
	CHECK_INT(env_output_opener_done(o), ENV_E_UNFINISHED);
	o = env_output_opener_free(o);
	CHECK_INT(env_output_opener_new(k->client_priv, st.rec[0].data, st.rec[0].len - 1,
					&want, &o),
		  ENV_E_TRUNCATED);
	struct buf h = { 0 };
	buf_append(&h, st.rec[0].data, st.rec[0].len);
	h.data[4] = 9;
	CHECK_INT(env_output_opener_new(k->client_priv, h.data, h.len, &want, &o),
		  ENV_E_VERSION);
	h.data[4] = ENV_OUTPUT_VERSION;
	h.data[6] = 0x7;
	CHECK_INT(env_output_opener_new(k->client_priv, h.data, h.len, &want, &o), ENV_E_AEAD);
	h.data[6] = 2;
	buf_putc(&h, 0);
	CHECK_INT(env_output_opener_new(k->client_priv, h.data, h.len, &want, &o), ENV_E_FORMAT);
	/* A stream in the old, unauthenticated format. */
	h.data[3] = '1';
	CHECK_INT(env_output_opener_new(k->client_priv, h.data, h.len, &want, &o), ENV_E_LEGACY);
	CHECK(strstr(env_strerror(ENV_E_LEGACY), "v1") != NULL);
	CHECK(o == NULL);
	buf_free(&h);
	stream_free(&st);

	/* A stream with no data is just header and final record. */
	make_stream(k, HPKE_AEAD_CHACHA20_POLY1305, NULL, 0, &st);
	size_t two[] = { 0, 1 };
	join(&st, two, 2, &blob);
	buf_reset(&pt);
	CHECK_INT(open_blob(k, &blob, &pt), 0);
	CHECK_INT(pt.len, 0);
	stream_free(&st);

	/* Sealer argument checks. */
	env_output_sealer *s = NULL;
	struct buf hr = { 0 };
	char long_id[ENV_MAX_JOB_ID_LEN + 2];
	memset(long_id, 'j', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = 0;
	const uint8_t *ep = k->enclave_priv[0], *eb = k->enclave_pub[0];
	CHECK_INT(env_output_sealer_new(1, k->client_pub, ep, eb, long_id, 1, ENVELOPE_ID, 1, &s,
					&hr),
		  ENV_E_INVALID);
	CHECK_INT(env_output_sealer_new(1, k->client_pub, ep, eb, "", 1, ENVELOPE_ID, 1, &s, &hr),
		  ENV_E_INVALID);
	CHECK_INT(env_output_sealer_new(1, k->client_pub, NULL, eb, "j", 1, ENVELOPE_ID, 1, &s,
					&hr),
		  ENV_E_INVALID);
	CHECK_INT(env_output_sealer_new(HPKE_AEAD_EXPORT_ONLY, k->client_pub, ep, eb, "j", 1,
					ENVELOPE_ID, 1, &s, &hr), ENV_E_AEAD);
	CHECK(s == NULL && hr.len == 0);
	CHECK(env_output_sealer_free(NULL) == NULL);
	CHECK(env_output_opener_free(NULL) == NULL);
	buf_free(&blob);
	buf_free(&pt);
}

/* Output nobody but a recipient enclave could produce: a party with every
 * public value (job id, workload, envelope id, client and enclave keys)
 * and a key of its own is refused, whether it names itself or a recipient
 * as the sender. */
static void test_forgery(const struct keys *k)
{
	const char *chunks[] = { "forged verdict: benign" };
	struct stream st;
	struct buf blob = { 0 }, pt = { 0 };
	size_t all[] = { 0, 1, 2 };

	/* Sealed by the forger's own key: not a recipient. */
	make_stream_as(k->other_priv, k->other_pub, k, HPKE_AEAD_AES_256_GCM, 1, chunks, 1,
		       NULL, &st);
	join(&st, all, 3, &blob);
	CHECK_INT(open_blob(k, &blob, &pt), ENV_E_SENDER);
	stream_free(&st);

	/* Sealed by the forger's key but naming recipient 0 as the sender. */
	make_stream_as(k->other_priv, k->enclave_pub[0], k, HPKE_AEAD_AES_256_GCM, 1, chunks, 1,
		       NULL, &st);
	join(&st, all, 3, &blob);
	CHECK_INT(open_blob(k, &blob, &pt), ENV_E_AUTH);
	CHECK_INT(pt.len, 0);
	stream_free(&st);

	/* A real recipient's stream with its header swapped onto another
	 * attempt: the attempt is bound, the records no longer open. */
	make_stream_as(k->enclave_priv[0], k->enclave_pub[0], k, HPKE_AEAD_AES_256_GCM, 1, chunks,
		       1, NULL, &st);
	st.rec[0].data[4 + 1 + 2 + 32 + 32 + 3] = 2;
	join(&st, all, 3, &blob);
	CHECK_INT(open_blob(k, &blob, &pt), ENV_E_AUTH);
	stream_free(&st);
	buf_free(&blob);
	buf_free(&pt);
}

/* A failed job's stream ends in a sealed error: the output before it is
 * kept, the code and message reach the client only. */
static void test_sealed_error(const struct keys *k)
{
	const char *chunks[] = { "partial" };
	struct stream st;
	struct buf blob = { 0 }, pt = { 0 }, err = { 0 };
	make_stream_as(k->enclave_priv[2], k->enclave_pub[2], k, HPKE_AEAD_AES_256_GCM, 3, chunks,
		       1, "invalid_input", &st);
	size_t all[] = { 0, 1, 2 };
	join(&st, all, 3, &blob);
	/* The error is not visible in the stream's bytes. */
	CHECK(memmem(blob.data, blob.len, "secret_field", 12) == NULL);
	struct env_output_expect want = expect(k);
	CHECK_INT(env_open_output(k->client_priv, blob.data, blob.len, &want, &pt, &err),
		  ENV_E_JOB_FAILED);
	CHECK(same(&pt, "partial", 7));
	CHECK_STR(buf_cstr(&err), "invalid_input: feature 'secret_field' is unknown");

	env_output_opener *o = NULL;
	bool final = false;
	const char *code = NULL, *msg = NULL;
	CHECK_INT(env_output_opener_new(k->client_priv, st.rec[0].data, st.rec[0].len, &want, &o),
		  0);
	CHECK_INT(env_output_opener_info(o)->attempt, 3);
	CHECK_INT(env_output_open(o, st.rec[1].data, st.rec[1].len, &pt, &final), 0);
	CHECK_INT(env_output_open(o, st.rec[2].data, st.rec[2].len, &pt, &final), 0);
	CHECK(final);
	CHECK_INT(env_output_opener_result(o, &code, &msg), ENV_E_JOB_FAILED);
	CHECK_STR(code, "invalid_input");
	CHECK_STR(msg, "feature 'secret_field' is unknown");
	env_output_opener_free(o);

	/* Codes are a closed alphabet. */
	env_output_sealer *s = NULL;
	struct buf hr = { 0 }, rec = { 0 };
	CHECK_INT(env_output_sealer_new(1, k->client_pub, k->enclave_priv[0], k->enclave_pub[0],
					"j", 1, ENVELOPE_ID, 1, &s, &hr), 0);
	CHECK_INT(env_output_fail(s, "Not A Code", "m", &rec), ENV_E_INVALID);
	CHECK_INT(env_output_fail(s, "", "m", &rec), ENV_E_INVALID);
	CHECK_INT(rec.len, 0);
	env_output_sealer_free(s);
	buf_free(&hr);
	stream_free(&st);
	buf_free(&blob);
	buf_free(&pt);
	buf_free(&err);
}

/* A large chunk stream through the whole path: client seals an input, the
 * enclave opens it and streams output to the key in its header. */
static void test_end_to_end(const struct keys *k)
{
	struct buf env = { 0 }, in = { 0 }, blob = { 0 }, out = { 0 };
	struct env_input_info info;
	size_t big = 300 * 1024;
	uint8_t *data = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 31 + 7);
	CHECK_INT(env_seal_input(HPKE_AEAD_CHACHA20_POLY1305, 9, k->client_pub,
				 (const uint8_t (*)[32])k->enclave_pub, 3, data, big, &env), 0);
	CHECK_INT(env_open_input(env.data, env.len, 9, k->enclave_priv[2],
				 k->enclave_pub[2], &info, &in), 0);
	CHECK(same(&in, data, big));

	env_output_sealer *s = NULL;
	CHECK_INT(env_output_sealer_new(info.aead_id, info.client_pub, k->enclave_priv[2],
					k->enclave_pub[2], "job_e2e", info.workload_id,
					info.envelope_id, 1, &s, &blob), 0);
	for (size_t off = 0; off < big; off += 64 * 1024) {
		size_t n = big - off < 64 * 1024 ? big - off : 64 * 1024;
		CHECK_INT(env_output_seal(s, in.data + off, n, &blob), 0);
	}
	CHECK_INT(env_output_finish(s, &blob), 0);
	env_output_sealer_free(s);

	struct env_input_info mine;
	CHECK_INT(env_inspect_input(env.data, env.len, &mine), 0);
	struct env_output_expect want = { "job_e2e", mine.workload_id, mine.envelope_id,
					  (const uint8_t(*)[32])mine.recipients,
					  mine.n_recipients };
	CHECK_INT(env_open_output(k->client_priv, blob.data, blob.len, &want, &out, NULL), 0);
	CHECK(same(&out, data, big));

	/* Splitting the blob record by record gives the same records. */
	size_t off = 0, len, records = 0;
	CHECK_INT(env_output_record_len(blob.data, blob.len, true, &len), 0);
	for (off = len; off < blob.len; off += len, records++)
		CHECK_INT(env_output_record_len(blob.data + off, blob.len - off, false, &len), 0);
	CHECK_INT(off, blob.len);
	CHECK_INT(records, 5 + 1);
	free(data);
	buf_free(&env);
	buf_free(&in);
	buf_free(&blob);
	buf_free(&out);
}

int main(void)
{
	struct keys k;
	for (int i = 0; i < 3; i++)
		CHECK_INT(x25519_keygen(k.enclave_priv[i], k.enclave_pub[i]), 0);
	CHECK_INT(x25519_keygen(k.other_priv, k.other_pub), 0);
	CHECK_INT(x25519_keygen(k.client_priv, k.client_pub), 0);

	test_report_data();
	test_input_round_trips(&k);
	test_input_flips(&k, 1);
	test_input_flips(&k, 3);
	test_input_errors(&k);
	test_output(&k);
	test_forgery(&k);
	test_sealed_error(&k);
	test_end_to_end(&k);
	CHECK_DONE();
}
