/* GET /api/v1/jobs/{id}/events: the job's WatchJob stream as Server-Sent
 * Events, with output opened here as it streams ("output" events carry a
 * JobOutput of plaintext), then the final state ("job" events carry the
 * Job, its output opened), then "end" (or "error").
 *
 * Event ids are positions, "<attempt>.<state>.<offset>" (offset: bytes of
 * the attempt's plaintext sent so far), as the coordinator's gateway
 * uses. The final state is read with GetJob (the watch's final job comes
 * without output), opened here, and anything the stream did not carry
 * (scores, the end of a job that finished before the watch) goes out
 * before it. A client that reconnects with Last-Event-ID gets what follows
 * that position: the proxy watches again, opens the stream from its
 * start (the header record is needed), and skips what was sent. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/v1/jobs.pb-c.h"
#include "client/output.h"
#include "pbjson/pbjson.h"
#include "proxy.h"
#include "proxy_he.h"
#include "rpc/status.h"
#include "util/log.h"

#define JSON_OUT (PBJSON_ORIGINAL_NAMES | PBJSON_EMIT_DEFAULTS)

struct pev {
	struct proxy *p;
	struct httpd_stream *s;
	pthread_mutex_t mu; /* guards rs, gone, refs */
	rpc_stream *rs;
	bool gone;
	int refs;
	char job_id[65];
	char auth[1100];
	/* Where the client stood (Last-Event-ID), if it came back. */
	bool resume;
	uint32_t r_attempt;
	int r_state;
	uint64_t r_offset;
	/* Where the stream stands. */
	uint32_t attempt;
	int state;
	uint64_t offset;
	bool sent_job;
	bool final_seen; /* the job's final state came */
	/* The job's input was sealed here: its output opens against rec. */
	bool sealed;
	bool he;
	bool foreign; /* a TEE job sealed elsewhere: its chunks pass as they are */
	struct cl_sealed rec;
	struct cl_key k;
	struct cl_live live;
};

static void pev_release(struct pev *ev)
{
	pthread_mutex_lock(&ev->mu);
	int left = --ev->refs;
	pthread_mutex_unlock(&ev->mu);
	if (left)
		return;
	cl_live_clear(&ev->live);
	cl_key_wipe(&ev->k);
	httpd_stream_unref(ev->s);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

/* The client went away (or the proxy stops): end the watch. */
static void pev_gone(void *ud)
{
	struct pev *ev = ud;
	pthread_mutex_lock(&ev->mu);
	ev->gone = true;
	if (ev->rs)
		rpc_stream_cancel(ev->rs);
	pthread_mutex_unlock(&ev->mu);
	pev_release(ev);
}

static void send_event(struct pev *ev, const char *event, const ProtobufCMessage *m)
{
	char id[64];
	snprintf(id, sizeof id, "%" PRIu32 ".%d.%" PRIu64, ev->attempt, ev->state, ev->offset);
	struct buf b = { 0 };
	if (pbjson_write(m, JSON_OUT, &b) == 0)
		httpd_stream_event(ev->s, id, event, (const char *)b.data, b.len);
	buf_free(&b);
}

static void send_error(struct pev *ev, grpc_status_code code, const char *msg)
{
	struct httpd_resp r = { 0 };
	httpd_resp_error(&r, rpc_http_status(code), rpc_status_name(code), "%s", msg);
	httpd_stream_error_event(ev->s, &r);
	buf_free(&r.body);
}

/* Plaintext bytes of the current attempt: the part past the client's
 * position goes out as an "output" event. */
static void send_output(struct pev *ev, const uint8_t *data, size_t len)
{
	uint64_t skip = 0;
	if (ev->resume && ev->attempt == ev->r_attempt && ev->r_offset > ev->offset)
		skip = ev->r_offset - ev->offset < len ? ev->r_offset - ev->offset : len;
	ev->offset += len;
	if (skip == len)
		return;
	struct buf pt = { 0 };
	Atoll__V1__JobOutput out;
	if (buf_append(&pt, data + skip, len - skip) == 0) {
		proxy_plain_output(&out, &pt);
		send_event(ev, "output", &out.base);
	}
	buf_free(&pt);
}

/* 0, or -1 when the stream must stop (sealed output refused). */
static int on_chunk(struct pev *ev, const Atoll__V1__OutputChunk *ch)
{
	if (ev->he)
		return 0; /* scores open once the job is done */
	if (ev->foreign) {
		send_event(ev, "chunk", &ch->base);
		return 0;
	}
	if (!ev->sealed) {
		send_output(ev, ch->data.data, ch->data.len);
		return 0;
	}
	struct buf pt = { 0 };
	bool restarted;
	int r = cl_live_chunk(&ev->live, ch->seq, ch->data.data, ch->data.len, &pt, &restarted);
	if (pt.len)
		send_output(ev, pt.data, pt.len);
	buf_free(&pt);
	if (r != ENV_OK) {
		char msg[256];
		snprintf(msg, sizeof msg, "the sealed output of %s was refused: %s", ev->job_id,
			 env_strerror(r));
		send_error(ev, GRPC_STATUS_PERMISSION_DENIED, msg);
		return -1;
	}
	return 0;
}

static int on_job(struct pev *ev, Atoll__V1__Job *j)
{
	if (ev->sealed && (j->mode != ATOLL__V1__MODE__MODE_TEE || strcmp(j->id, ev->job_id))) {
		send_error(ev, GRPC_STATUS_PERMISSION_DENIED,
			   "the coordinator reports the job as not confidential, but its input "
			   "was sealed here: refused");
		return -1;
	}
	if (j->attempts != ev->attempt) {
		ev->attempt = j->attempts;
		ev->offset = 0;
	}
	bool final = j->state >= ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED;
	struct opened o = { 0 };
	Atoll__V1__Job *full = NULL;
	if (final) {
		/* The watch's final job comes without output (that came as
		 * chunks); the stored job has it, and the sealed error. */
		struct httpd_resp resp = { 0 };
		struct preq q = { .p = ev->p, .resp = &resp };
		snprintf(q.auth, sizeof q.auth, "%s", ev->auth);
		Atoll__V1__GetJobRequest g = ATOLL__V1__GET_JOB_REQUEST__INIT;
		g.job_id = ev->job_id;
		int e = proxy_call(&q, "/atoll.v1.Jobs/GetJob", &g.base, &atoll__v1__job__descriptor,
				   (ProtobufCMessage **)&full);
		if (e == 0 && strcmp(full->id, ev->job_id)) {
			proxy_fail(&q, -EKEYREJECTED, "asked for job %s, the coordinator answered "
						      "with another job: refused", ev->job_id);
			e = -EKEYREJECTED;
		}
		if (e == 0 && (ev->sealed || ev->he))
			e = proxy_open_job(&q, full, &o);
		if (e < 0) {
			httpd_stream_error_event(ev->s, &resp);
			buf_free(&resp.body);
			opened_free(&o);
			if (full)
				protobuf_c_message_free_unpacked(&full->base, NULL);
			return -1;
		}
		buf_free(&resp.body);
		j = full;
	}
	if (final && o.opened) {
		/* What streamed live is skipped by offset; what was missed
		 * (scores, or output of a job that ended before) goes out. */
		if (o.pt.len > ev->offset)
			send_output(ev, o.pt.data + ev->offset, o.pt.len - ev->offset);
	} else if (final && j->output && !ev->sealed && !ev->foreign) {
		const uint8_t *d = j->output->text[0] ? (const uint8_t *)j->output->text
						      : j->output->data.data;
		size_t n = j->output->text[0] ? strlen(j->output->text) : j->output->data.len;
		if (n > ev->offset)
			send_output(ev, d + ev->offset, n - ev->offset);
	}
	ev->final_seen |= final;
	bool same = ev->sent_job && ev->state == (int)j->state;
	bool seen = ev->resume && !ev->sent_job && ev->attempt == ev->r_attempt &&
		    (int)j->state == ev->r_state;
	ev->state = (int)j->state;
	ev->sent_job = true;
	if (!same && !seen) {
		proxy_swap_opened(j, &o);
		send_event(ev, "job", &j->base);
		proxy_swap_opened(j, &o);
	}
	opened_free(&o);
	if (full)
		protobuf_c_message_free_unpacked(&full->base, NULL);
	return 0;
}

static void *watch_thread(void *arg)
{
	struct pev *ev = arg;
	Atoll__V1__WatchJobRequest req = ATOLL__V1__WATCH_JOB_REQUEST__INIT;
	req.job_id = ev->job_id;
	struct rpc_md md = { "authorization", ev->auth };
	rpc_stream *rs = NULL;
	int e = rpc_stream_open(ev->p->rpc, "/atoll.v1.Jobs/WatchJob", &req.base, &md,
				ev->auth[0] ? 1 : 0, 0, false, &rs);
	if (e < 0) {
		send_error(ev, GRPC_STATUS_UNAVAILABLE, "cannot watch the job at the coordinator");
		httpd_stream_close(ev->s);
		struct proxy *p = ev->p;
		pev_release(ev);
		pthread_mutex_lock(&p->mu);
		p->watches--;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	pthread_mutex_lock(&ev->mu);
	ev->rs = rs;
	if (ev->gone)
		rpc_stream_cancel(rs);
	pthread_mutex_unlock(&ev->mu);
	bool stopped = false;
	for (;;) {
		/* Read no faster than the HTTP client: the gRPC stream's flow
		 * control then paces the coordinator. */
		if (httpd_stream_wait(ev->s, 1u << 20, 60000) < 0)
			break;
		Atoll__V1__JobEvent *je = NULL;
		int r = rpc_stream_recv(rs, &atoll__v1__job_event__descriptor, (ProtobufCMessage **)&je);
		if (r <= 0)
			break;
		if (je->event_case == ATOLL__V1__JOB_EVENT__EVENT_JOB)
			stopped = on_job(ev, je->job) < 0;
		else if (je->event_case == ATOLL__V1__JOB_EVENT__EVENT_CHUNK)
			stopped = on_chunk(ev, je->chunk) < 0;
		protobuf_c_message_free_unpacked(&je->base, NULL);
		if (stopped || httpd_stream_gone_p(ev->s))
			break;
	}
	if (stopped)
		rpc_stream_cancel(rs);
	pthread_mutex_lock(&ev->mu);
	ev->rs = NULL;
	pthread_mutex_unlock(&ev->mu);
	struct rpc_status st;
	rpc_stream_finish(rs, &st);
	if (!stopped) {
		/* A watch ends with the job's final state; one that stops
		 * before it is cut short, whatever its status says. */
		if (st.code == GRPC_STATUS_OK && ev->final_seen)
			httpd_stream_event(ev->s, NULL, "end", "{}", 2);
		else if (st.code == GRPC_STATUS_OK)
			send_error(ev, GRPC_STATUS_UNAVAILABLE,
				   "the watch ended before the job did; reconnect with "
				   "Last-Event-ID to go on");
		else
			send_error(ev, st.code, st.message[0] ? st.message : "the watch ended");
	}
	httpd_stream_close(ev->s);
	struct proxy *p = ev->p;
	pev_release(ev);
	pthread_mutex_lock(&p->mu);
	p->watches--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void proxy_events(struct preq *q, const char *job_id)
{
	struct pev *ev = calloc(1, sizeof *ev);
	if (!ev) {
		proxy_fail(q, -ENOMEM, "out of memory");
		return;
	}
	const char *last = httpd_header(q->req, "Last-Event-ID");
	if (last) {
		int n = 0;
		if (sscanf(last, "%" SCNu32 ".%d.%" SCNu64 "%n", &ev->r_attempt, &ev->r_state,
			   &ev->r_offset, &n) != 3 || last[n] || ev->r_state < 1 || ev->r_state > 6) {
			free(ev);
			proxy_fail(q, -EINVAL, "Last-Event-ID '%s' is not an id this proxy sent", last);
			return;
		}
		ev->resume = true;
	}
	/* The job must exist for this tenant, and decides how output opens. */
	Atoll__V1__GetJobRequest g = ATOLL__V1__GET_JOB_REQUEST__INIT;
	g.job_id = (char *)job_id;
	Atoll__V1__Job *j;
	if (proxy_call(q, "/atoll.v1.Jobs/GetJob", &g.base, &atoll__v1__job__descriptor,
		       (ProtobufCMessage **)&j) < 0) {
		free(ev);
		return;
	}
	int e;
	if (strcmp(j->id, job_id)) {
		proxy_fail(q, -EKEYREJECTED, "asked for job %s, the coordinator answered with "
					     "another job: refused", job_id);
		goto fail;
	}
	e = proxy_record_of(q->p, j, &ev->rec);
	if (e == 0) {
		ev->sealed = true;
		if ((e = cl_key_load(&q->p->ks, ev->rec.key_id, &ev->k)) < 0) {
			proxy_fail(q, -ENOENT, "job %s was sealed with key %s, which is not in the "
					       "keystore", job_id, ev->rec.key_id);
			goto fail;
		}
	} else if (e != -ENOENT) {
		proxy_fail(q, -EKEYREJECTED, "job %s: its input's record does not match (%s)",
			   job_id, strerror(-e));
		goto fail;
	}
	ev->he = j->mode == ATOLL__V1__MODE__MODE_HOMOMORPHIC &&
		 phe_have_key(q->p, j->encryption_key_id);
	ev->foreign = !ev->sealed && j->mode == ATOLL__V1__MODE__MODE_TEE;
	/* A finished job's chunks come before its job event. */
	ev->attempt = j->attempts;
	protobuf_c_message_free_unpacked(&j->base, NULL);
	j = NULL;
	ev->p = q->p;
	snprintf(ev->job_id, sizeof ev->job_id, "%s", job_id);
	snprintf(ev->auth, sizeof ev->auth, "%s", q->auth);
	ev->live.rec = &ev->rec;
	ev->live.k = &ev->k;
	pthread_mutex_init(&ev->mu, NULL);
	ev->refs = 2; /* the thread's and the stream's */
	ev->s = httpd_stream_new(pev_gone, ev);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&q->p->mu);
	q->p->watches++;
	pthread_mutex_unlock(&q->p->mu);
	if (!ev->s || pthread_create(&t, &attr, watch_thread, ev) != 0) {
		pthread_mutex_lock(&q->p->mu);
		q->p->watches--;
		pthread_mutex_unlock(&q->p->mu);
		pthread_attr_destroy(&attr);
		if (ev->s) {
			httpd_stream_unref(ev->s);
			httpd_stream_unref(ev->s);
		}
		pthread_mutex_destroy(&ev->mu);
		cl_key_wipe(&ev->k);
		free(ev);
		proxy_fail(q, -ENOMEM, "cannot start the watch");
		return;
	}
	pthread_attr_destroy(&attr);
	httpd_resp_stream(q->resp, ev->s);
	return;
fail:
	protobuf_c_message_free_unpacked(&j->base, NULL);
	cl_key_wipe(&ev->k);
	free(ev);
}
