/* atoll-proxy's routes: the seed's paths with the seed's bodies. Keys are
 * made here and only their public halves registered; inputs are sealed
 * here after judging each island with the client's policy; outputs are
 * opened here against the local record of what was sealed; the rest
 * passes through to the coordinator's gRPC API, with the same messages in
 * the proto3 JSON mapping and the same errors (rpc/status.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "atoll/v1/confidential.pb-c.h"
#include "atoll/v1/jobs.pb-c.h"
#include "client/output.h"
#include "client/sealed.h"
#include "grpc/health/v1/health.pb-c.h"
#include "json/json.h"
#include "pbjson/pbjson.h"
#include "proxy.h"
#include "proxy_he.h"
#include "rpc/status.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/log.h"

#define JSON_OUT (PBJSON_ORIGINAL_NAMES | PBJSON_EMIT_DEFAULTS)

/* ---- answers and calls ---- */

void proxy_fail(struct preq *q, int err, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	grpc_status_code code = rpc_status_from_errno(err);
	httpd_resp_error(q->resp, rpc_http_status(code), rpc_status_name(code), "%s", msg);
}

void proxy_reply(struct preq *q, const ProtobufCMessage *m)
{
	buf_reset(&q->resp->body);
	if (pbjson_write(m, JSON_OUT, &q->resp->body) < 0 || buf_putc(&q->resp->body, '\n') < 0) {
		proxy_fail(q, -ENOMEM, "cannot write the answer as JSON");
		return;
	}
	q->resp->status = 200;
	q->resp->content_type = "application/json";
}

int proxy_call(struct preq *q, const char *method, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret)
{
	struct rpc_md md = { "authorization", q->auth };
	struct rpc_status st;
	int e = rpc_unary(q->p->rpc, method, req, desc, &md, q->auth[0] ? 1 : 0,
			  q->p->cfg->coordinator.timeout_ms, ret, &st);
	if (e < 0) {
		proxy_fail(q, -ENOTCONN, "cannot call the coordinator: %s", strerror(-e));
		return -1;
	}
	if (st.code != GRPC_STATUS_OK) {
		httpd_resp_error(q->resp, rpc_http_status(st.code), rpc_status_name(st.code), "%s",
				 st.message);
		return -1;
	}
	return 0;
}

static ProtobufCMessage *read_body(struct preq *q, const ProtobufCMessageDescriptor *d)
{
	char err[512];
	ProtobufCMessage *m = NULL;
	const char *text = q->req->body_len ? (const char *)q->req->body : "{}";
	size_t len = q->req->body_len ? q->req->body_len : 2;
	int e = pbjson_read(d, text, len, 0, &m, err, sizeof err);
	if (e == -ENOMEM)
		proxy_fail(q, e, "out of memory");
	else if (e < 0)
		httpd_resp_error(q->resp, 400, "INVALID_ARGUMENT", "request body: %s", err);
	return e < 0 ? NULL : m;
}

/* ---- keys ---- */

/* Save a new key under the id the coordinator gave it: an id too long to
 * keep whole, or one that names a key already here, is refused (the key
 * under it stays). 0, or -errno with the reply written. */
static int proxy_key_keep(struct preq *q, struct cl_key *k, const char *key_id)
{
	if (strlen(key_id) >= sizeof k->key_id) {
		proxy_fail(q, -EKEYREJECTED, "the coordinator gave a key id of %zu characters: refused",
			   strlen(key_id));
		return -EKEYREJECTED;
	}
	snprintf(k->key_id, sizeof k->key_id, "%s", key_id);
	int e = cl_key_save(&q->p->ks, k);
	if (e == -EEXIST)
		proxy_fail(q, -EKEYREJECTED,
			   "the coordinator gave key id %s, which names a key already in the "
			   "keystore: refused, that key is kept",
			   key_id);
	else if (e < 0)
		proxy_fail(q, e, "cannot write the keystore: %s", strerror(-e));
	return e;
}

static void create_key(struct preq *q)
{
	Atoll__V1__CreateKeyRequest *r =
		(void *)read_body(q, &atoll__v1__create_key_request__descriptor);
	if (!r)
		return;
	Atoll__V1__Key *key = NULL;
	if (r->public_key.len) {
		/* A key the client made itself: only registered. */
		if (proxy_call(q, "/atoll.v1.Confidential/CreateKey", &r->base,
			       &atoll__v1__key__descriptor, (ProtobufCMessage **)&key) == 0)
			proxy_reply(q, &key->base);
	} else if (r->algorithm == ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_PAILLIER) {
		uint32_t bits = q->p->cfg->limits.paillier_bits;
		if (httpd_query_u32(q->req, "bits", &bits, q->resp) == 0) {
			if (bits != 2048 && bits != 3072 && bits != 4096)
				proxy_fail(q, -EINVAL, "bits: 2048, 3072 or 4096");
			else if (phe_key_create(q, r->label, (int)bits, &key) == 0)
				proxy_reply(q, &key->base);
		}
	} else if (r->algorithm > ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_PAILLIER) {
		proxy_fail(q, -EINVAL, "unknown key algorithm");
	} else {
		struct cl_key k;
		if (cl_key_generate(&k) < 0) {
			proxy_fail(q, -EIO, "cannot generate a key");
		} else {
			Atoll__V1__CreateKeyRequest reg = *r;
			reg.algorithm = ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE;
			reg.public_key.data = k.pub;
			reg.public_key.len = sizeof k.pub;
			if (proxy_call(q, "/atoll.v1.Confidential/CreateKey", &reg.base,
				       &atoll__v1__key__descriptor, (ProtobufCMessage **)&key) == 0) {
				int e = proxy_key_keep(q, &k, key->key_id);
				if (e == 0)
					proxy_reply(q, &key->base);
			}
		}
		cl_key_wipe(&k);
	}
	if (key)
		protobuf_c_message_free_unpacked(&key->base, NULL);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* An X25519 key of the keystore; -1 after answering. */
static int load_key(struct preq *q, const char *key_id, struct cl_key *k)
{
	if (!key_id[0]) {
		proxy_fail(q, -EINVAL, "key_id is required");
		return -1;
	}
	int e = cl_key_load(&q->p->ks, key_id, k);
	if (e < 0) {
		proxy_fail(q, e == -EBADMSG ? -EIO : -ENOENT,
			   "key %s is not in this proxy's keystore %s (%s): create keys through "
			   "the proxy",
			   key_id, q->p->ks.dir, strerror(-e));
		return -1;
	}
	return 0;
}

/* ---- sealing ---- */

/* The document a backend reads, from a plain JobInput: the same JSON
 * atollctl seals. -1 after answering. */
static int input_document(struct preq *q, const Atoll__V1__JobInput *in, struct buf *doc)
{
	if (in->encrypted || in->ciphertext.len || in->homomorphic) {
		proxy_fail(q, -EINVAL, "input to encrypt must be plain (prompt, features, record or "
				       "data)");
		return -1;
	}
	int forms = (in->prompt[0] != 0) + (in->n_features > 0) + (in->n_record > 0) +
		    (in->data.len > 0);
	if (forms != 1) {
		proxy_fail(q, -EINVAL, forms ? "input: give only one of prompt, features, record "
					       "and data"
					     : "input: one of prompt, features, record or data is "
					       "needed");
		return -1;
	}
	if (pbjson_write(&in->base, PBJSON_ORIGINAL_NAMES, doc) < 0) {
		proxy_fail(q, -ENOMEM, "cannot encode the input");
		return -1;
	}
	return 0;
}

/* Seal doc for workload to the islands that pass the client's policy.
 * -1 after answering. */
static int seal_now(struct preq *q, const struct cl_key *k, uint32_t workload_id,
		    const uint8_t *doc, size_t len, struct buf *env, struct buf *ids,
		    struct cl_sealed *rec)
{
	if (!q->p->trust) {
		proxy_fail(q, -ENOTSUP,
			   "no policy: set `policy:` in %s to the policy file that says which "
			   "islands you trust",
			   q->p->cfg->file);
		return -1;
	}
	if (!workload_id) {
		proxy_fail(q, -EINVAL, "workload_id is required (the envelope is bound to it)");
		return -1;
	}
	Atoll__V1__ListAttestedIslandsRequest req = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	req.workload_id = workload_id;
	Atoll__V1__ListAttestedIslandsResponse *resp = NULL;
	if (proxy_call(q, "/atoll.v1.Confidential/ListAttestedIslands", &req.base,
		       &atoll__v1__list_attested_islands_response__descriptor,
		       (ProtobufCMessage **)&resp) < 0)
		return -1;
	char err[4096];
	int e = cl_seal_for_workload(&q->p->ks, q->p->trust, k, workload_id, resp, doc, len, env,
				     ids, rec, err, sizeof err);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (e < 0) {
		proxy_fail(q, e, "%s", err);
		return -1;
	}
	return 0;
}

static void encrypt(struct preq *q)
{
	Atoll__V1__EncryptRequest *r = (void *)read_body(q, &atoll__v1__encrypt_request__descriptor);
	if (!r)
		return;
	struct cl_key k = { 0 };
	struct buf doc = { 0 }, env = { 0 }, ids = { 0 };
	char **rec_ids = NULL;
	if (load_key(q, r->key_id, &k) < 0)
		goto out;
	if (r->input && r->plaintext.len) {
		proxy_fail(q, -EINVAL, "give plaintext or input, not both");
		goto out;
	}
	if (r->input) {
		if (input_document(q, r->input, &doc) < 0)
			goto out;
	} else if (buf_append(&doc, r->plaintext.data, r->plaintext.len) < 0) {
		proxy_fail(q, -ENOMEM, "out of memory");
		goto out;
	}
	if (!doc.len) {
		proxy_fail(q, -EINVAL, "nothing to encrypt: give input (or plaintext)");
		goto out;
	}
	Atoll__V1__EncryptResponse resp = ATOLL__V1__ENCRYPT_RESPONSE__INIT;
	if (r->workload_id) {
		if (seal_now(q, &k, r->workload_id, doc.data, doc.len, &env, &ids, NULL) < 0)
			goto out;
		size_t n = 1;
		for (size_t i = 0; i < ids.len; i++)
			n += ids.data[i] == ',';
		rec_ids = calloc(n + 1, sizeof *rec_ids);
		char *list = buf_cstr(&ids);
		if (!rec_ids || !list) {
			proxy_fail(q, -ENOMEM, "out of memory");
			goto out;
		}
		char *save = NULL;
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
			rec_ids[resp.n_recipients++] = t;
		resp.recipients = rec_ids;
	} else {
		/* No workload yet: sealed to the islands at submission. */
		int e = pending_seal(q->p, k.key_id, doc.data, doc.len, &env);
		if (e < 0) {
			proxy_fail(q, e, "cannot encrypt: %s", strerror(-e));
			goto out;
		}
	}
	resp.encrypted = true;
	resp.key_id = k.key_id;
	resp.ciphertext.data = env.data;
	resp.ciphertext.len = env.len;
	proxy_reply(q, &resp.base);
out:
	free(rec_ids);
	cl_key_wipe(&k);
	buf_free(&doc);
	buf_free(&env);
	buf_free(&ids);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* ---- opening outputs ---- */

/* Marks the jobs this proxy sealed for a client that sent plain input:
 * their GET answers plaintext. */
static void marker_path(const struct proxy *p, const char *job_id, char *out, size_t size)
{
	snprintf(out, size, "%s/sealed/proxy_plain_%s", p->ks.dir, job_id);
}

/* The local record of a job, binding it on first use when the job's
 * envelope is one this keystore sealed. 0, -ENOENT when not sealed here,
 * -1 after answering. */
int proxy_record_of(struct proxy *p, const Atoll__V1__Job *j, struct cl_sealed *rec)
{
	int e = cl_sealed_find_job(&p->ks, j->id, rec);
	if (e == 0)
		return 0;
	if (j->input_envelope_id.len != ENV_ID_LEN ||
	    cl_sealed_load(&p->ks, j->input_envelope_id.data, rec) < 0)
		return -ENOENT;
	return cl_sealed_bind_job(&p->ks, rec, j->id);
}

static int record_of(struct preq *q, const Atoll__V1__Job *j, struct cl_sealed *rec)
{
	int e = proxy_record_of(q->p, j, rec);
	if (e == 0 || e == -ENOENT)
		return e;
	proxy_fail(q, e == -EEXIST ? -EKEYREJECTED : e,
		   e == -EEXIST ? "the input of job %s was submitted as job %s: refused"
				: "cannot record job %s in the keystore (%s)",
		   j->id, e == -EEXIST ? rec->job_id : strerror(-e));
	return -1;
}

void opened_free(struct opened *o)
{
	buf_free(&o->pt);
}

void proxy_plain_output(Atoll__V1__JobOutput *out, struct buf *pt)
{
	atoll__v1__job_output__init(out);
	char *text = buf_cstr(pt);
	if (text && enc_utf8_text(pt->data, pt->len)) {
		out->text = text;
	} else {
		out->data.data = pt->data;
		out->data.len = pt->len;
	}
}

/* Open a finished job's output here: TEE jobs sealed with this keystore,
 * homomorphic jobs under a Paillier key of this keystore. 1 opened, 0 not
 * ours (the job stays as it is), -1 after answering. */
int proxy_open_job(struct preq *q, const Atoll__V1__Job *j, struct opened *o)
{
	memset(o, 0, sizeof *o);
	if (j->mode == ATOLL__V1__MODE__MODE_HOMOMORPHIC) {
		if (!j->output || !j->output->text[0] || !phe_have_key(q->p, j->encryption_key_id))
			return 0;
		char err[512];
		if (phe_decrypt(q->p, j->encryption_key_id, j->output->text, NULL, &o->pt, err,
				sizeof err) < 0) {
			proxy_fail(q, -EBADMSG, "cannot decrypt the output of %s: %s", j->id, err);
			return -1;
		}
		proxy_plain_output(&o->out, &o->pt);
		o->opened = true;
		return 1;
	}
	struct cl_sealed rec;
	int e = record_of(q, j, &rec);
	if (e == -ENOENT)
		return 0;
	if (e < 0)
		return -1;
	/* What was sealed here is opened whatever the coordinator says; it
	 * may not pass it off as plain. */
	if (j->mode != ATOLL__V1__MODE__MODE_TEE) {
		proxy_fail(q, -EKEYREJECTED,
			   "the coordinator reports job %s as not confidential, but its input was "
			   "sealed here: refused",
			   j->id);
		return -1;
	}
	if (!j->output && j->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED) {
		proxy_fail(q, -EKEYREJECTED,
			   "the coordinator reports job %s completed without its sealed output: "
			   "refused",
			   j->id);
		return -1;
	}
	if (!j->output)
		return 1;
	if (!j->output->encrypted) {
		proxy_fail(q, -EKEYREJECTED,
			   "the coordinator returned plain output for job %s, whose input was "
			   "sealed here: refused",
			   j->id);
		return -1;
	}
	struct cl_key k;
	if ((e = cl_key_load(&q->p->ks, rec.key_id, &k)) < 0) {
		proxy_fail(q, -ENOENT, "job %s was sealed with key %s, which is not in the keystore",
			   j->id, rec.key_id);
		return -1;
	}
	struct buf err = { 0 };
	e = cl_open_output(&rec, &k, j->output->ciphertext.data, j->output->ciphertext.len, &o->pt,
			   &err);
	cl_key_wipe(&k);
	if (e == ENV_E_JOB_FAILED) {
		snprintf(o->error, sizeof o->error, "%s", buf_cstr(&err));
		o->failed = true;
	} else if (e != ENV_OK) {
		buf_free(&err);
		proxy_fail(q, -EKEYREJECTED,
			   "the output of job %s does not open against what was sealed here: %s",
			   j->id, env_strerror(e));
		return -1;
	}
	buf_free(&err);
	proxy_plain_output(&o->out, &o->pt);
	o->opened = true;
	return 1;
}

void proxy_swap_opened(Atoll__V1__Job *j, struct opened *o)
{
	if (!o->swapped) {
		o->output_swapped = o->opened && j->output;
		if (o->output_swapped) {
			o->saved_output = j->output;
			j->output = &o->out;
		}
		if (o->failed) {
			o->saved_error = j->error;
			j->error = o->error;
		}
	} else {
		if (o->output_swapped)
			j->output = o->saved_output;
		if (o->failed)
			j->error = o->saved_error;
	}
	o->swapped = !o->swapped;
}

static void reply_opened(struct preq *q, Atoll__V1__Job *j, struct opened *o)
{
	proxy_swap_opened(j, o);
	proxy_reply(q, &j->base);
	proxy_swap_opened(j, o);
}

static void get_job(struct preq *q, const char *job_id)
{
	Atoll__V1__GetJobRequest r = ATOLL__V1__GET_JOB_REQUEST__INIT;
	r.job_id = (char *)job_id;
	Atoll__V1__Job *j;
	if (proxy_call(q, "/atoll.v1.Jobs/GetJob", &r.base, &atoll__v1__job__descriptor,
		       (ProtobufCMessage **)&j) < 0)
		return;
	if (strcmp(j->id, job_id)) {
		proxy_fail(q, -EKEYREJECTED, "asked for job %s, the coordinator answered with another job: "
				       "refused", job_id);
		protobuf_c_message_free_unpacked(&j->base, NULL);
		return;
	}
	/* Plaintext for jobs the proxy sealed for a plain input (and on
	 * request); the seed's explicit flow opens with /decrypt. */
	char path[4400];
	marker_path(q->p, job_id, path, sizeof path);
	const char *d = httpd_query(q->req, "decrypt");
	bool want = d ? strcmp(d, "true") == 0 || strcmp(d, "1") == 0
		      : access(path, F_OK) == 0 || j->mode == ATOLL__V1__MODE__MODE_HOMOMORPHIC;
	struct opened o = { 0 };
	int e = want ? proxy_open_job(q, j, &o) : 0;
	if (e >= 0)
		reply_opened(q, j, &o);
	opened_free(&o);
	protobuf_c_message_free_unpacked(&j->base, NULL);
}

static void decrypt(struct preq *q)
{
	Atoll__V1__DecryptRequest *r = (void *)read_body(q, &atoll__v1__decrypt_request__descriptor);
	if (!r)
		return;
	const ProtobufCBinaryData *ct = &r->ciphertext;
	const char *key_id = r->key_id;
	struct buf pt = { 0 }, err = { 0 };
	struct cl_key k = { 0 };
	Atoll__V1__Job *j = NULL;
	if (r->output) {
		if (r->ciphertext.len) {
			proxy_fail(q, -EINVAL, "give ciphertext or output, not both");
			goto out;
		}
		if (key_id[0] && r->output->key_id[0] && strcmp(key_id, r->output->key_id)) {
			proxy_fail(q, -EINVAL, "key_id %s differs from output.key_id %s", key_id,
				   r->output->key_id);
			goto out;
		}
		if (!key_id[0])
			key_id = r->output->key_id;
		if (!r->output->encrypted && r->output->text[0] && phe_have_key(q->p, key_id)) {
			/* A homomorphic job's scores. */
			char e2[512];
			if (phe_decrypt(q->p, key_id, r->output->text, httpd_query(q->req, "classes"),
					&pt, e2, sizeof e2) < 0) {
				proxy_fail(q, -EINVAL, "cannot decrypt the scores: %s", e2);
				goto out;
			}
			goto reply;
		}
		if (!r->output->encrypted || !r->output->ciphertext.len) {
			proxy_fail(q, -EINVAL, "output is not encrypted: there is nothing to decrypt");
			goto out;
		}
		ct = &r->output->ciphertext;
	}
	if (!ct->len) {
		proxy_fail(q, -EINVAL, "output (or ciphertext) is required");
		goto out;
	}
	/* The job: given, or named by the output's header; what the output
	 * must match comes from the local record, never from the header. */
	struct env_output_info hdr;
	const char *job_id = r->job_id;
	if (!job_id[0]) {
		size_t hlen;
		if (env_output_record_len(ct->data, ct->len, true, &hlen) != ENV_OK ||
		    env_output_header_info(ct->data, hlen, &hdr) != ENV_OK) {
			proxy_fail(q, -EINVAL, "the ciphertext is not a sealed job output");
			goto out;
		}
		job_id = hdr.job_id;
	}
	if (!cl_id_ok(job_id, 64)) {
		proxy_fail(q, -EINVAL, "job_id is not a job id");
		goto out;
	}
	struct cl_sealed rec;
	int e = cl_sealed_find_job(&q->p->ks, job_id, &rec);
	if (e < 0) {
		Atoll__V1__GetJobRequest g = ATOLL__V1__GET_JOB_REQUEST__INIT;
		g.job_id = (char *)job_id;
		if (proxy_call(q, "/atoll.v1.Jobs/GetJob", &g.base, &atoll__v1__job__descriptor,
			       (ProtobufCMessage **)&j) < 0)
			goto out;
		if ((e = record_of(q, j, &rec)) == -ENOENT) {
			proxy_fail(q, -ENOENT,
				   "the input of job %s was not sealed with this keystore: nothing "
				   "to check its output against",
				   job_id);
			goto out;
		}
		if (e < 0)
			goto out;
	}
	if (key_id[0] && strcmp(key_id, rec.key_id) != 0) {
		proxy_fail(q, -EINVAL, "job %s was sealed to key %s, not %s", job_id, rec.key_id,
			   key_id);
		goto out;
	}
	if ((e = cl_key_load(&q->p->ks, rec.key_id, &k)) < 0) {
		proxy_fail(q, -ENOENT, "key %s is not in the keystore", rec.key_id);
		goto out;
	}
	e = cl_open_output(&rec, &k, ct->data, ct->len, &pt, &err);
	if (e == ENV_E_JOB_FAILED) {
		proxy_fail(q, -EALREADY, "the job failed: %s", buf_cstr(&err));
		goto out;
	}
	if (e != ENV_OK) {
		proxy_fail(q, -EINVAL, "cannot open the output of %s: %s", job_id, env_strerror(e));
		goto out;
	}
reply:;
	Atoll__V1__DecryptResponse resp = ATOLL__V1__DECRYPT_RESPONSE__INIT;
	Atoll__V1__JobOutput view;
	proxy_plain_output(&view, &pt);
	resp.plaintext.data = pt.data;
	resp.plaintext.len = pt.len;
	resp.text = view.text;
	proxy_reply(q, &resp.base);
out:
	cl_key_wipe(&k);
	buf_free(&pt);
	buf_free(&err);
	if (j)
		protobuf_c_message_free_unpacked(&j->base, NULL);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* ---- jobs ---- */

static bool plain_form(const Atoll__V1__JobInput *in)
{
	return in && !in->encrypted && !in->ciphertext.len && !in->homomorphic &&
	       (in->prompt[0] || in->n_features || in->n_record || in->data.len);
}

static void submit(struct preq *q)
{
	Atoll__V1__SubmitJobRequest *r =
		(void *)read_body(q, &atoll__v1__submit_job_request__descriptor);
	if (!r)
		return;
	Atoll__V1__JobInput *orig_in = r->input, sealed_in = ATOLL__V1__JOB_INPUT__INIT;
	Atoll__V1__JobInput *he_in = NULL;
	char *orig_key = r->encryption_key_id;
	struct cl_key k = { 0 };
	struct cl_sealed rec;
	bool sealed = false, transparent = false;
	struct buf doc = { 0 }, env = { 0 }, ids = { 0 };
	Atoll__V1__Job *job = NULL;
	Atoll__V1__Mode mode = r->mode;
	bool he = mode == ATOLL__V1__MODE__MODE_HOMOMORPHIC || (orig_in && orig_in->homomorphic);
	bool tee = !he && (mode == ATOLL__V1__MODE__MODE_TEE ||
			   (mode == ATOLL__V1__MODE__MODE_UNSPECIFIED && r->confidential));
	if (tee && orig_in) {
		const char *key_id = r->encryption_key_id[0] ? r->encryption_key_id : orig_in->key_id;
		if (orig_in->encrypted && orig_in->ciphertext.len && key_id[0]) {
			int e = pending_open(q->p, key_id, orig_in->ciphertext.data,
					     orig_in->ciphertext.len, &doc);
			if (e < 0) {
				proxy_fail(q, -EINVAL,
					   "input.ciphertext was encrypted by this proxy for another "
					   "key than %s, or is damaged",
					   key_id);
				goto out;
			}
			/* A real envelope passes through as it is. */
			if (e == 1 && load_key(q, key_id, &k) < 0)
				goto out;
		} else if (plain_form(orig_in)) {
			/* The client need not know about envelopes: seal here. */
			if (key_id[0]) {
				if (load_key(q, key_id, &k) < 0)
					goto out;
			} else {
				Atoll__V1__Key *key = NULL;
				Atoll__V1__CreateKeyRequest reg = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
				if (cl_key_generate(&k) < 0) {
					proxy_fail(q, -EIO, "cannot generate a key");
					goto out;
				}
				reg.public_key.data = k.pub;
				reg.public_key.len = sizeof k.pub;
				reg.label = "atoll-proxy";
				if (proxy_call(q, "/atoll.v1.Confidential/CreateKey", &reg.base,
					       &atoll__v1__key__descriptor, (ProtobufCMessage **)&key) < 0)
					goto out;
				int e = proxy_key_keep(q, &k, key->key_id);
				protobuf_c_message_free_unpacked(&key->base, NULL);
				if (e < 0)
					goto out;
			}
			if (input_document(q, orig_in, &doc) < 0)
				goto out;
			transparent = true;
		}
		if (doc.len) {
			if (seal_now(q, &k, r->workload_id, doc.data, doc.len, &env, &ids, &rec) < 0)
				goto out;
			sealed = true;
			sealed_in.encrypted = true;
			sealed_in.key_id = k.key_id;
			sealed_in.ciphertext.data = env.data;
			sealed_in.ciphertext.len = env.len;
			r->input = &sealed_in;
			r->encryption_key_id = k.key_id;
			r->confidential = true;
		}
	} else if (he && orig_in && !orig_in->homomorphic && orig_in->n_features) {
		/* Homomorphic without crypto of the client's own. */
		char err[512];
		char made[64] = "";
		const char *key_id = r->encryption_key_id;
		if (!key_id[0]) {
			Atoll__V1__Key *key = NULL;
			if (phe_key_create(q, "atoll-proxy", (int)q->p->cfg->limits.paillier_bits,
					   &key) < 0)
				goto out;
			snprintf(made, sizeof made, "%s", key->key_id);
			protobuf_c_message_free_unpacked(&key->base, NULL);
			key_id = made;
		}
		if (phe_encrypt(q->p, key_id, orig_in->features, orig_in->n_features, &doc, err,
				sizeof err) < 0) {
			proxy_fail(q, -EINVAL, "cannot encrypt the features: %s", err);
			goto out;
		}
		if (pbjson_read(&atoll__v1__job_input__descriptor, buf_cstr(&doc), doc.len, 0,
				(ProtobufCMessage **)&he_in, err, sizeof err) < 0) {
			proxy_fail(q, -EIO, "cannot encode the homomorphic input: %s", err);
			goto out;
		}
		r->input = he_in;
		r->mode = ATOLL__V1__MODE__MODE_HOMOMORPHIC;
		r->confidential = true;
	}
	if (proxy_call(q, "/atoll.v1.Jobs/SubmitJob", &r->base, &atoll__v1__job__descriptor,
		       (ProtobufCMessage **)&job) < 0)
		goto out;
	if (sealed) {
		/* The coordinator must report the envelope sealed here. */
		if (job->input_envelope_id.len != ENV_ID_LEN ||
		    memcmp(job->input_envelope_id.data, rec.envelope_id, ENV_ID_LEN) != 0) {
			proxy_fail(q, -EKEYREJECTED,
				   "the coordinator reports another input than the one sealed");
			goto out;
		}
		int e = cl_sealed_bind_job(&q->p->ks, &rec, job->id);
		if (e < 0) {
			proxy_fail(q, e, "cannot record job %s in the keystore: %s", job->id,
				   strerror(-e));
			goto out;
		}
		if (transparent) {
			char path[4400];
			marker_path(q->p, job->id, path, sizeof path);
			fs_write_atomic(path, "", 0, 0600);
		}
	} else if (orig_in && orig_in->encrypted) {
		/* Sealed with this keystore elsewhere (atollctl encrypt): bind. */
		struct env_input_info info;
		if (env_inspect_input(orig_in->ciphertext.data, orig_in->ciphertext.len, &info) ==
			    ENV_OK &&
		    cl_sealed_load(&q->p->ks, info.envelope_id, &rec) == 0 &&
		    cl_sealed_bind_job(&q->p->ks, &rec, job->id) == -EEXIST) {
			proxy_fail(q, -EEXIST,
				   "this input was already submitted as job %s; its outputs belong "
				   "to that job",
				   rec.job_id);
			goto out;
		}
	}
	if ((transparent || he_in) && job->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED) {
		/* "wait": true: the final job, opened for a client that sent
		 * plain input. */
		struct opened o;
		if (proxy_open_job(q, job, &o) >= 0)
			reply_opened(q, job, &o);
		opened_free(&o);
		goto out;
	}
	proxy_reply(q, &job->base);
out:
	r->input = orig_in;
	r->encryption_key_id = orig_key;
	if (he_in)
		protobuf_c_message_free_unpacked(&he_in->base, NULL);
	if (job)
		protobuf_c_message_free_unpacked(&job->base, NULL);
	cl_key_wipe(&k);
	buf_free(&doc);
	buf_free(&env);
	buf_free(&ids);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* ---- pass-through ---- */

static void pass(struct preq *q, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *resp_desc)
{
	ProtobufCMessage *resp;
	if (proxy_call(q, method, req, resp_desc, &resp) == 0) {
		proxy_reply(q, resp);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
}

static void health(struct preq *q)
{
	Grpc__Health__V1__HealthCheckRequest r = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	pass(q, "/grpc.health.v1.Health/Check", &r.base,
	     &grpc__health__v1__health_check_response__descriptor);
}

static void list_jobs(struct preq *q)
{
	Atoll__V1__ListJobsRequest l = ATOLL__V1__LIST_JOBS_REQUEST__INIT;
	if (httpd_query_u32(q->req, "page_size", &l.page_size, q->resp) < 0 ||
	    httpd_query_u32(q->req, "workload_id", &l.workload_id, q->resp) < 0)
		return;
	const char *tok = httpd_query(q->req, "page_token");
	if (tok)
		l.page_token = (char *)tok;
	const char *st = httpd_query(q->req, "state");
	if (st) {
		int v;
		if (pbjson_enum_value(&atoll__v1__job_state__descriptor, st, &v) < 0) {
			proxy_fail(q, -EINVAL, "query parameter state: unknown job state '%s'", st);
			return;
		}
		l.state = (Atoll__V1__JobState)v;
	}
	pass(q, "/atoll.v1.Jobs/ListJobs", &l.base, &atoll__v1__list_jobs_response__descriptor);
}

static void cancel(struct preq *q, const char *job_id)
{
	Atoll__V1__CancelJobRequest *r =
		(void *)read_body(q, &atoll__v1__cancel_job_request__descriptor);
	if (!r)
		return;
	Atoll__V1__CancelJobRequest c = *r;
	c.job_id = (char *)job_id;
	pass(q, "/atoll.v1.Jobs/CancelJob", &c.base, &atoll__v1__job__descriptor);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* ---- routing ---- */

static bool job_id_ok(const char *s, size_t n)
{
	char id[65];
	if (n == 0 || n >= sizeof id)
		return false;
	memcpy(id, s, n);
	id[n] = 0;
	return cl_id_ok(id, sizeof id);
}

static void route(struct preq *q)
{
	const struct httpd_req *req = q->req;
	struct httpd_resp *resp = q->resp;
	const char *p = req->path;
	if (!strcmp(p, "/healthz") || !strcmp(p, "/health") || !strcmp(p, "/readyz")) {
		if (httpd_method_in(req, "GET", resp))
			health(q);
		return;
	}
	static const char API[] = "/api/v1/";
	if (strncmp(p, API, sizeof API - 1) != 0) {
		proxy_fail(q, -ENOENT, "no such path: %s", p);
		return;
	}
	p += sizeof API - 1;
	if (!strcmp(p, "confidential/keys")) {
		if (httpd_method_in(req, "POST", resp))
			create_key(q);
	} else if (!strcmp(p, "confidential/encrypt")) {
		if (httpd_method_in(req, "POST", resp))
			encrypt(q);
	} else if (!strcmp(p, "confidential/decrypt")) {
		if (httpd_method_in(req, "POST", resp))
			decrypt(q);
	} else if (!strcmp(p, "confidential/stats")) {
		Atoll__V1__GetStatsRequest r = ATOLL__V1__GET_STATS_REQUEST__INIT;
		if (httpd_method_in(req, "GET", resp))
			pass(q, "/atoll.v1.Confidential/GetStats", &r.base,
			     &atoll__v1__stats__descriptor);
	} else if (!strcmp(p, "confidential/islands")) {
		Atoll__V1__ListAttestedIslandsRequest r =
			ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
		const char *all = httpd_query(req, "include_unattested");
		r.include_unattested = all && (!strcmp(all, "true") || !strcmp(all, "1"));
		if (httpd_method_in(req, "GET", resp) &&
		    httpd_query_u32(req, "workload_id", &r.workload_id, resp) == 0)
			pass(q, "/atoll.v1.Confidential/ListAttestedIslands", &r.base,
			     &atoll__v1__list_attested_islands_response__descriptor);
	} else if (!strcmp(p, "usage")) {
		Atoll__V1__GetUsageRequest r = ATOLL__V1__GET_USAGE_REQUEST__INIT;
		if (httpd_method_in(req, "GET", resp))
			pass(q, "/atoll.v1.Jobs/GetUsage", &r.base, &atoll__v1__usage__descriptor);
	} else if (!strcmp(p, "jobs")) {
		if (!httpd_method_in(req, "GET, POST", resp))
			return;
		if (!strcmp(req->method, "GET"))
			list_jobs(q);
		else
			submit(q);
	} else if (!strncmp(p, "jobs/", 5)) {
		const char *id = p + 5, *slash = strchr(id, '/');
		size_t n = slash ? (size_t)(slash - id) : strlen(id);
		const char *rest = slash ? slash : "";
		char job_id[65];
		if (!job_id_ok(id, n) ||
		    (rest[0] && strcmp(rest, "/events") != 0 && strcmp(rest, "/cancel") != 0)) {
			proxy_fail(q, -ENOENT, "no such path: %s", req->path);
			return;
		}
		memcpy(job_id, id, n);
		job_id[n] = 0;
		if (!rest[0]) {
			if (!httpd_method_in(req, "GET, DELETE", resp))
				return;
			if (!strcmp(req->method, "GET"))
				get_job(q, job_id);
			else
				cancel(q, job_id);
		} else if (!strcmp(rest, "/events")) {
			if (httpd_method_in(req, "GET", resp))
				proxy_events(q, job_id);
		} else if (httpd_method_in(req, "POST", resp)) {
			cancel(q, job_id);
		}
	} else {
		proxy_fail(q, -ENOENT, "no such path: %s", req->path);
	}
}

/* Whether a Host header's host (or an origin's, after "scheme://") names
 * this machine's loopback: localhost, 127.0.0.0/8 or [::1], any port. */
static bool loopback_host(const char *h)
{
	char host[256];
	size_t n;
	if (h[0] == '[') {
		n = strcspn(h + 1, "]");
		if (h[1 + n] != ']' || (h[2 + n] && h[2 + n] != ':'))
			return false;
		snprintf(host, sizeof host, "%.*s", (int)n, h + 1);
		struct in6_addr a6;
		return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	n = strcspn(h, ":");
	if (n == 0 || n >= sizeof host || (h[n] && strspn(h + n + 1, "0123456789") !=
							strlen(h + n + 1)))
		return false;
	snprintf(host, sizeof host, "%.*s", (int)n, h);
	if (!strcasecmp(host, "localhost"))
		return true;
	struct in_addr a4;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* Requests a web page could make: a Host that is not loopback (a DNS name
 * rebound to 127.0.0.1) or an Origin of another site. NULL when the
 * request may go on, else why not. */
static const char *browser_refusal(const struct proxy *p, const struct httpd_req *req)
{
	const char *host = httpd_header(req, "Host");
	if (!p->cfg->listen.allow_remote && (!host || !loopback_host(host)))
		return "its Host header does not name this machine's loopback (localhost, "
		       "127.0.0.1 or [::1])";
	const char *origin = httpd_header(req, "Origin");
	if (origin) {
		const char *sep = strstr(origin, "://");
		if (!sep || strncmp(origin, "http", 4) || !loopback_host(sep + 3))
			return "it comes from a web page of another origin";
	}
	const char *site = httpd_header(req, "Sec-Fetch-Site");
	if (site && !strcmp(site, "cross-site"))
		return "it comes from a web page of another site";
	return NULL;
}

void proxy_handle(void *ud, const struct httpd_req *req, struct httpd_resp *resp)
{
	struct preq q = { .p = ud, .req = req, .resp = resp };
	if (!req->peer_loopback && !q.p->cfg->listen.allow_remote) {
		proxy_fail(&q, -EACCES,
			   "atoll-proxy serves only this machine; %s is not a loopback address "
			   "(listen.allow_remote: true in %s changes that)",
			   req->peer, q.p->cfg->file);
		log_warn("refused %s %s from %s (not loopback)", req->method, req->path, req->peer);
		return;
	}
	/* It holds private keys and answers with plaintext: no web page may
	 * drive it, whether by a rebound name or from another origin. */
	const char *why = browser_refusal(q.p, req);
	if (why) {
		proxy_fail(&q, -EACCES, "atoll-proxy refused this request: %s", why);
		log_warn("refused %s %s from %s: %s", req->method, req->path, req->peer, why);
		return;
	}
	const char *a = httpd_header(req, "Authorization");
	if (a)
		snprintf(q.auth, sizeof q.auth, "%s", a);
	else if (q.p->cfg->coordinator.api_key)
		snprintf(q.auth, sizeof q.auth, "Bearer %s", q.p->cfg->coordinator.api_key);
	route(&q);
	log_debug("%s %s -> %u", req->method, req->path, resp->status);
}
