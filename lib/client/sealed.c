/* The records of what this client sealed.
 *
 * Layout: <keystore>/sealed/<envelope id hex>.json, and
 * <keystore>/sealed/job_<job id> holding the envelope id hex of a
 * submitted job. */
#include "client/sealed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json/json.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define MAX_RECORD (64 << 10)

static int sealed_dir(const struct cl_keystore *ks, char *out, size_t size)
{
	snprintf(out, size, "%s/sealed", ks->dir);
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cl_sealed_save(const struct cl_keystore *ks, const struct cl_sealed *r)
{
	char dir[4200], path[4400], hex[2 * ENV_ID_LEN + 1];
	int e = sealed_dir(ks, dir, sizeof dir);
	if (e < 0)
		return e;
	if (!cl_id_ok(r->key_id, sizeof r->key_id) ||
	    (r->job_id[0] && !cl_id_ok(r->job_id, sizeof r->job_id)))
		return -EINVAL;
	enc_hex_encode(r->envelope_id, ENV_ID_LEN, hex);
	snprintf(path, sizeof path, "%s/%s.json", dir, hex);
	struct buf b = { 0 };
	struct json_writer w;
	char ts[40];
	time_rfc3339_format(time_now_ms(), ts, sizeof ts);
	jw_init(&w, &b);
	jw_object_begin(&w);
	jw_key(&w, "envelope_id");
	jw_string(&w, hex);
	jw_key(&w, "key_id");
	jw_string(&w, r->key_id);
	jw_key(&w, "workload_id");
	jw_uint(&w, r->workload_id);
	jw_key(&w, "recipients");
	jw_array_begin(&w);
	for (size_t i = 0; i < r->n_recipients; i++)
		jw_hex(&w, r->recipients[i], ENV_KEY_LEN);
	jw_array_end(&w);
	jw_key(&w, "job_id");
	jw_string(&w, r->job_id);
	jw_key(&w, "sealed_at");
	jw_string(&w, ts);
	jw_object_end(&w);
	buf_putc(&b, '\n');
	/* A job id is bound to one envelope for good, before the record says
	 * so: a coordinator that reports an earlier job's id for a new
	 * submission gets -EEXIST, and the earlier job still opens. */
	if (!w.error && r->job_id[0]) {
		char bind[4400];
		snprintf(bind, sizeof bind, "%s/job_%s", dir, r->job_id);
		e = fs_write_new(bind, hex, strlen(hex), 0600);
		if (e == -EEXIST) {
			uint8_t *old = NULL;
			size_t n = 0;
			if (fs_read_file(bind, sizeof hex, &old, &n) == 0 && n == strlen(hex) &&
			    memcmp(old, hex, n) == 0)
				e = 0;
			free(old);
		}
		if (e < 0) {
			buf_free(&b);
			return e;
		}
	}
	e = w.error ? w.error : fs_write_atomic(path, b.data, b.len, 0600);
	buf_free(&b);
	return e;
}

static int parse_record(const char *text, size_t len, struct cl_sealed *out)
{
	json_value *v = NULL;
	char err[128];
	if (json_parse(text, len, &v, err, sizeof err) < 0)
		return -EBADMSG;
	int e = -EBADMSG;
	struct cl_sealed r = { 0 };
	const char *env = json_string(json_get(v, "envelope_id"), NULL);
	const char *key = json_string(json_get(v, "key_id"), NULL);
	const char *job = json_string(json_get(v, "job_id"), NULL);
	uint64_t wl = 0;
	const json_value *rec = json_get(v, "recipients");
	size_t n = json_type_of(rec) == JSON_ARRAY ? json_count(rec) : 0;
	if (!env || strlen(env) != 2 * ENV_ID_LEN ||
	    enc_hex_decode(env, 2 * ENV_ID_LEN, r.envelope_id) < 0 || !key ||
	    !cl_id_ok(key, sizeof r.key_id) || !job || (job[0] && !cl_id_ok(job, sizeof r.job_id)) ||
	    json_uint64(json_get(v, "workload_id"), &wl) < 0 || wl < 1 || wl > UINT32_MAX ||
	    n == 0 || n > ENV_MAX_RECIPIENTS)
		goto out;
	snprintf(r.key_id, sizeof r.key_id, "%s", key);
	snprintf(r.job_id, sizeof r.job_id, "%s", job);
	r.workload_id = (uint32_t)wl;
	for (size_t i = 0; i < n; i++) {
		const char *h = json_string(json_at(rec, i), NULL);
		if (!h || strlen(h) != 2 * ENV_KEY_LEN ||
		    enc_hex_decode(h, 2 * ENV_KEY_LEN, r.recipients[i]) < 0)
			goto out;
	}
	r.n_recipients = n;
	*out = r;
	e = 0;
out:
	json_free(v);
	return e;
}

int cl_sealed_load(const struct cl_keystore *ks, const uint8_t envelope_id[ENV_ID_LEN],
		struct cl_sealed *out)
{
	char dir[4200], path[4400], hex[2 * ENV_ID_LEN + 1];
	int e = sealed_dir(ks, dir, sizeof dir);
	if (e < 0)
		return e;
	enc_hex_encode(envelope_id, ENV_ID_LEN, hex);
	snprintf(path, sizeof path, "%s/%s.json", dir, hex);
	uint8_t *data;
	size_t len;
	if ((e = fs_read_file(path, MAX_RECORD, &data, &len)) < 0)
		return e;
	e = parse_record((const char *)data, len, out);
	free(data);
	if (e == 0 && memcmp(out->envelope_id, envelope_id, ENV_ID_LEN) != 0)
		e = -EBADMSG;
	return e;
}

int cl_sealed_find_job(const struct cl_keystore *ks, const char *job_id, struct cl_sealed *out)
{
	char dir[4200], path[4400];
	if (!cl_id_ok(job_id, sizeof out->job_id))
		return -EINVAL;
	int e = sealed_dir(ks, dir, sizeof dir);
	if (e < 0)
		return e;
	snprintf(path, sizeof path, "%s/job_%s", dir, job_id);
	uint8_t *data, id[ENV_ID_LEN];
	size_t len;
	if ((e = fs_read_file(path, 256, &data, &len)) < 0)
		return e;
	e = len == 2 * ENV_ID_LEN && enc_hex_decode((char *)data, len, id) == 0 ? 0 : -EBADMSG;
	free(data);
	if (e < 0)
		return e;
	if ((e = cl_sealed_load(ks, id, out)) < 0)
		return e;
	return strcmp(out->job_id, job_id) == 0 ? 0 : -EBADMSG;
}

int cl_sealed_bind_job(const struct cl_keystore *ks, struct cl_sealed *r, const char *job_id)
{
	if (r->job_id[0])
		return strcmp(r->job_id, job_id) == 0 ? 0 : -EEXIST;
	if (!cl_id_ok(job_id, sizeof r->job_id))
		return -EINVAL;
	snprintf(r->job_id, sizeof r->job_id, "%s", job_id);
	int e = cl_sealed_save(ks, r);
	if (e < 0)
		r->job_id[0] = 0;
	return e;
}

struct env_output_expect cl_sealed_expect(const struct cl_sealed *r)
{
	return (struct env_output_expect){
		.job_id = r->job_id,
		.workload_id = r->workload_id,
		.envelope_id = r->envelope_id,
		.senders = (const uint8_t(*)[ENV_KEY_LEN])r->recipients,
		.n_senders = r->n_recipients,
	};
}
