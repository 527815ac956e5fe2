/* lib/client: the keystore (round trip, modes, corrupt and foreign
 * files, ids that would steer a path), sealed records (binding to one job
 * only), and opening a streamed output against the record: in order,
 * across a retried attempt, and refusing a stream from an enclave the
 * input was not sealed to or for another job. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "client/keystore.h"
#include "client/output.h"
#include "client/sealed.h"
#include "crypto/envelope.h"
#include "util/fsutil.h"

static char dir[256];

static void test_keystore(void)
{
	struct cl_keystore ks;
	CHECK_INT(cl_keystore_open(dir, &ks), 0);
	struct stat st;
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);

	struct cl_key k, back;
	CHECK_INT(cl_key_generate(&k), 0);
	snprintf(k.key_id, sizeof k.key_id, "ck_test1");
	CHECK_INT(cl_key_save(&ks, &k), 0);
	char path[512];
	snprintf(path, sizeof path, "%s/ck_test1.json", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_INT(cl_key_load(&ks, "ck_test1", &back), 0);
	CHECK(memcmp(back.priv, k.priv, 32) == 0 && memcmp(back.pub, k.pub, 32) == 0);
	/* A key id given again (a coordinator repeating one) does not replace
	 * the key under it. */
	struct cl_key dup;
	CHECK_INT(cl_key_generate(&dup), 0);
	snprintf(dup.key_id, sizeof dup.key_id, "ck_test1");
	CHECK_INT(cl_key_save(&ks, &dup), -EEXIST);
	CHECK_INT(cl_key_load(&ks, "ck_test1", &back), 0);
	CHECK(memcmp(back.priv, k.priv, 32) == 0);

	/* Ids are file names: nothing that leaves the directory. */
	CHECK_INT(cl_key_load(&ks, "../ck_test1", &back), -EINVAL);
	CHECK_INT(cl_key_load(&ks, "", &back), -EINVAL);
	snprintf(k.key_id, sizeof k.key_id, "a/b");
	CHECK_INT(cl_key_save(&ks, &k), -EINVAL);
	CHECK_INT(cl_key_load(&ks, "ck_missing", &back), -ENOENT);

	/* Halves that do not match: corrupt. */
	struct cl_key other;
	cl_key_generate(&other);
	memcpy(k.pub, other.pub, 32);
	snprintf(k.key_id, sizeof k.key_id, "ck_mixed");
	CHECK_INT(cl_key_save(&ks, &k), 0);
	CHECK_INT(cl_key_load(&ks, "ck_mixed", &back), -EBADMSG);
	snprintf(path, sizeof path, "%s/ck_junk.json", dir);
	fs_write_atomic(path, "{\"public_key\": 3}", 17, 0600);
	CHECK_INT(cl_key_load(&ks, "ck_junk", &back), -EBADMSG);
}

/* A sealed input and the output stream an enclave would send for it. */
struct setup {
	struct cl_keystore ks;
	struct cl_key client;
	uint8_t enc_priv[32], enc_pub[32];
	struct cl_sealed rec;
};

static void make(struct setup *s)
{
	CHECK_INT(cl_keystore_open(dir, &s->ks), 0);
	cl_key_generate(&s->client);
	snprintf(s->client.key_id, sizeof s->client.key_id, "ck_out");
	x25519_keygen(s->enc_priv, s->enc_pub);
	struct buf env = { 0 };
	CHECK_INT(env_seal_input(HPKE_AEAD_AES_256_GCM, 42, s->client.pub,
				 (const uint8_t(*)[32])s->enc_pub, 1, (const uint8_t *)"in", 2, &env),
		  ENV_OK);
	struct env_input_info info;
	CHECK_INT(env_inspect_input(env.data, env.len, &info), ENV_OK);
	memset(&s->rec, 0, sizeof s->rec);
	memcpy(s->rec.envelope_id, info.envelope_id, ENV_ID_LEN);
	snprintf(s->rec.key_id, sizeof s->rec.key_id, "%s", s->client.key_id);
	s->rec.workload_id = 42;
	memcpy(s->rec.recipients[0], s->enc_pub, 32);
	s->rec.n_recipients = 1;
	buf_free(&env);
}

/* The stream of one attempt: header, chunks, final record. */
static void stream(const struct setup *s, const uint8_t priv[32], const uint8_t pub[32],
		   const char *job_id, uint32_t attempt, const char *const *parts, size_t n,
		   struct buf *out)
{
	env_output_sealer *se;
	CHECK_INT(env_output_sealer_new(HPKE_AEAD_AES_256_GCM, s->client.pub, priv, pub, job_id,
					42, s->rec.envelope_id, attempt, &se, out),
		  ENV_OK);
	for (size_t i = 0; i < n; i++)
		env_output_seal(se, (const uint8_t *)parts[i], strlen(parts[i]), out);
	env_output_finish(se, out);
	env_output_sealer_free(se);
}

static void test_sealed_and_output(void)
{
	struct setup s;
	make(&s);
	CHECK_INT(cl_sealed_save(&s.ks, &s.rec), 0);
	struct cl_sealed r;
	CHECK_INT(cl_sealed_load(&s.ks, s.rec.envelope_id, &r), 0);
	CHECK_INT(cl_sealed_find_job(&s.ks, "job_1", &r), -ENOENT);
	CHECK_INT(cl_sealed_bind_job(&s.ks, &r, "job_1"), 0);
	CHECK_INT(cl_sealed_bind_job(&s.ks, &r, "job_1"), 0);
	struct cl_sealed again;
	CHECK_INT(cl_sealed_load(&s.ks, s.rec.envelope_id, &again), 0);
	CHECK_INT(cl_sealed_bind_job(&s.ks, &again, "job_2"), -EEXIST);
	CHECK_INT(cl_sealed_find_job(&s.ks, "job_1", &r), 0);
	CHECK_STR(r.job_id, "job_1");
	/* Another envelope under job_1's id (a coordinator reporting an
	 * earlier job's id for a new submission): refused, job_1 still
	 * resolves to its own envelope. */
	struct cl_sealed moved = s.rec;
	moved.envelope_id[0] ^= 0xff;
	moved.job_id[0] = 0;
	CHECK_INT(cl_sealed_save(&s.ks, &moved), 0);
	CHECK_INT(cl_sealed_bind_job(&s.ks, &moved, "job_1"), -EEXIST);
	CHECK_INT(cl_sealed_find_job(&s.ks, "job_1", &r), 0);
	CHECK(memcmp(r.envelope_id, s.rec.envelope_id, ENV_ID_LEN) == 0);
	CHECK(moved.job_id[0] == 0);
	CHECK_INT(cl_sealed_load(&s.ks, moved.envelope_id, &again), 0);
	CHECK(again.job_id[0] == 0);

	/* The whole stream as one chunk, as a late watcher gets it. */
	const char *parts[] = { "hello ", "world" };
	struct buf out = { 0 }, pt = { 0 };
	stream(&s, s.enc_priv, s.enc_pub, "job_1", 1, parts, 2, &out);
	struct cl_live lv = { .rec = &r, .k = &s.client };
	bool restarted;
	CHECK_INT(cl_live_chunk(&lv, 0, out.data, out.len, &pt, &restarted), ENV_OK);
	CHECK(pt.len == 11 && memcmp(pt.data, "hello world", 11) == 0);
	const char *code, *msg;
	CHECK_INT(cl_live_result(&lv, &code, &msg), ENV_OK);

	/* A retried attempt starts over; an older one is refused. */
	struct buf out2 = { 0 };
	const char *p2[] = { "again" };
	stream(&s, s.enc_priv, s.enc_pub, "job_1", 2, p2, 1, &out2);
	buf_reset(&pt);
	CHECK_INT(cl_live_chunk(&lv, 0, out2.data, out2.len, &pt, &restarted), ENV_OK);
	CHECK(pt.len == 5 && memcmp(pt.data, "again", 5) == 0);
	CHECK_INT(cl_live_chunk(&lv, 0, out.data, out.len, &pt, &restarted), ENV_E_ORDER);
	CHECK_INT(lv.refused, CL_LIVE_ATTEMPT);
	cl_live_clear(&lv);

	/* An enclave the input was not sealed to. */
	uint8_t mpriv[32], mpub[32];
	x25519_keygen(mpriv, mpub);
	struct buf forged = { 0 };
	stream(&s, mpriv, mpub, "job_1", 3, parts, 2, &forged);
	lv = (struct cl_live){ .rec = &r, .k = &s.client };
	buf_reset(&pt);
	CHECK_INT(cl_live_chunk(&lv, 0, forged.data, forged.len, &pt, &restarted), ENV_E_SENDER);
	CHECK_INT(lv.refused, CL_LIVE_HEADER);
	CHECK_INT(pt.len, 0);
	CHECK(cl_live_result(&lv, &code, &msg) == ENV_E_UNFINISHED);
	cl_live_clear(&lv);
	CHECK_INT(cl_open_output(&r, &s.client, forged.data, forged.len, &pt, NULL), ENV_E_SENDER);

	/* Another job's output. */
	struct buf other = { 0 };
	stream(&s, s.enc_priv, s.enc_pub, "job_9", 1, parts, 2, &other);
	CHECK_INT(cl_open_output(&r, &s.client, other.data, other.len, &pt, NULL), ENV_E_MISMATCH);
	buf_free(&out);
	buf_free(&out2);
	buf_free(&forged);
	buf_free(&other);
	buf_free(&pt);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s/atoll-client-XXXXXX", check_env("TMPDIR", "/tmp"));
	if (!mkdtemp(dir))
		return 1;
	test_keystore();
	test_sealed_and_output();
	CHECK_DONE();
}
