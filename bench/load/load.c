/* The load generator's engine (load.h): channels, one completion queue and
 * thread per worker, slots that start their next operation as soon as the
 * last one ends, and the latency samples. */
#include "load.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

/* A worker whose operations fail this many times in a row (beyond one per
 * slot) gives up: something is broken, and waiting out a deadline per
 * operation, or spinning on failures, would measure nothing. */
#define MAX_FAILS_IN_A_ROW 4

int64_t load_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- calls ---- */

static gpr_timespec deadline(const struct load_slot *s)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			    gpr_time_from_millis(s->deadline_ms, GPR_TIMESPAN));
}

static int new_call(struct load_slot *s, int method, grpc_slice msg)
{
	struct load_call *c = &s->c;
	memset(c, 0, sizeof *c);
	c->call = grpc_channel_create_registered_call(s->channel, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq,
						      s->methods[method], deadline(s), NULL);
	if (!c->call)
		return -ENOMEM;
	grpc_metadata_array_init(&c->initial_md);
	grpc_metadata_array_init(&c->trailing_md);
	c->details = grpc_empty_slice();
	c->send = grpc_raw_byte_buffer_create(&msg, 1);
	return 0;
}

static int start(struct load_slot *s, grpc_op *ops, size_t n)
{
	grpc_call_error e = grpc_call_start_batch(s->c.call, ops, n, s, NULL);
	return e == GRPC_CALL_OK ? 0 : -EIO;
}

/* ops[0..3]: metadata, message, half-close, initial metadata. */
static size_t request_ops(struct load_call *c, grpc_op *ops, const grpc_metadata *md, size_t n_md)
{
	memset(ops, 0, 6 * sizeof *ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = n_md;
	ops[0].data.send_initial_metadata.metadata = (grpc_metadata *)md;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = c->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->initial_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &c->recv;
	return 5;
}

static void status_op(struct load_call *c, grpc_op *op)
{
	memset(op, 0, sizeof *op);
	op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op->data.recv_status_on_client.trailing_metadata = &c->trailing_md;
	op->data.recv_status_on_client.status = &c->status;
	op->data.recv_status_on_client.status_details = &c->details;
	c->have_status = true;
}

int load_call_unary(struct load_slot *s, int method, const grpc_metadata *md, size_t n_md,
		    grpc_slice msg)
{
	grpc_op ops[6];
	if (new_call(s, method, msg) < 0)
		return -ENOMEM;
	size_t n = request_ops(&s->c, ops, md, n_md);
	status_op(&s->c, &ops[n++]);
	return start(s, ops, n);
}

int load_call_stream(struct load_slot *s, int method, const grpc_metadata *md, size_t n_md,
		     grpc_slice msg)
{
	grpc_op ops[6];
	if (new_call(s, method, msg) < 0)
		return -ENOMEM;
	return start(s, ops, request_ops(&s->c, ops, md, n_md));
}

int load_call_recv(struct load_slot *s)
{
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &s->c.recv;
	return start(s, &op, 1);
}

int load_call_status(struct load_slot *s)
{
	grpc_op op;
	status_op(&s->c, &op);
	return start(s, &op, 1);
}

bool load_call_take(struct load_slot *s, grpc_slice *ret)
{
	struct load_call *c = &s->c;
	if (!c->recv)
		return false;
	grpc_byte_buffer_reader r;
	if (!grpc_byte_buffer_reader_init(&r, c->recv)) {
		grpc_byte_buffer_destroy(c->recv);
		c->recv = NULL;
		return false;
	}
	*ret = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	grpc_byte_buffer_destroy(c->recv);
	c->recv = NULL;
	return true;
}

bool load_call_ok(const struct load_slot *s)
{
	return s->c.have_status && s->c.status == GRPC_STATUS_OK;
}

void load_call_end(struct load_slot *s)
{
	struct load_call *c = &s->c;
	if (!c->call)
		return;
	if (c->send)
		grpc_byte_buffer_destroy(c->send);
	if (c->recv)
		grpc_byte_buffer_destroy(c->recv);
	grpc_metadata_array_destroy(&c->initial_md);
	grpc_metadata_array_destroy(&c->trailing_md);
	grpc_slice_unref(c->details);
	grpc_call_unref(c->call);
	memset(c, 0, sizeof *c);
}

/* ---- the engine ---- */

struct shared {
	const struct load_opts *o;
	const struct load_kind *k;
	int64_t warm_end, end; /* by time */
	atomic_long tickets;   /* by count */
};

struct worker {
	pthread_t th;
	struct shared *sh;
	grpc_completion_queue *cq;
	struct load_slot *slots;
	long *ticket; /* per slot, by count */
	int n_slots;
	int64_t *lat;
	size_t n, cap;
	long done, failed, fails_in_a_row;
	int64_t first_begin, last_end; /* by count: the measured span */
};

static bool by_time(const struct shared *sh)
{
	return sh->o->seconds > 0;
}

/* Begin the next operation in slot i, if the run wants one. */
static bool begin_next(struct worker *w, int i)
{
	struct shared *sh = w->sh;
	struct load_slot *s = &w->slots[i];
	if (w->fails_in_a_row >= MAX_FAILS_IN_A_ROW + w->n_slots)
		return false;
	int64_t now = load_now_ns();
	if (by_time(sh)) {
		if (now >= sh->end)
			return false;
	} else {
		long t = atomic_fetch_add(&sh->tickets, 1);
		if (t >= sh->o->warmup_ops + sh->o->total)
			return false;
		w->ticket[i] = t;
	}
	s->t_begin = now;
	s->t_end = 0;
	if (sh->k->begin(s, sh->k->ud) == LOAD_FAIL) {
		load_call_end(s);
		w->failed++;
		w->fails_in_a_row++;
		return false;
	}
	return true;
}

static void record(struct worker *w, int i, int r)
{
	struct shared *sh = w->sh;
	struct load_slot *s = &w->slots[i];
	int64_t end = s->t_end ? s->t_end : load_now_ns();
	bool counted;
	if (by_time(sh)) {
		counted = end >= sh->warm_end && end <= sh->end;
	} else {
		counted = w->ticket[i] >= sh->o->warmup_ops;
		if (counted && (!w->first_begin || s->t_begin < w->first_begin))
			w->first_begin = s->t_begin;
		if (counted && end > w->last_end)
			w->last_end = end;
	}
	if (r != LOAD_DONE) {
		w->failed += counted;
		w->fails_in_a_row++;
		return;
	}
	w->fails_in_a_row = 0;
	if (!counted)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4096;
		int64_t *p = realloc(w->lat, cap * sizeof *p);
		if (!p)
			return;
		w->lat = p;
		w->cap = cap;
	}
	w->lat[w->n++] = end - s->t_begin;
	w->done++;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	const struct load_kind *k = w->sh->k;
	int active = 0;
	for (int i = 0; i < w->n_slots; i++)
		active += begin_next(w, i);
	while (active > 0) {
		grpc_event ev = grpc_completion_queue_next(
			w->cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(1, GPR_TIMESPAN)),
			NULL);
		if (ev.type == GRPC_QUEUE_TIMEOUT)
			continue;
		if (ev.type != GRPC_OP_COMPLETE)
			break;
		struct load_slot *s = ev.tag;
		int r = k->step(s, ev.success != 0, k->ud);
		if (r == LOAD_MORE)
			continue;
		load_call_end(s);
		int i = (int)(s - w->slots);
		record(w, i, r);
		if (!begin_next(w, i))
			active--;
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int load_run(const struct load_opts *o, const struct load_kind *k, struct load_result *ret,
	     char *err, size_t err_size)
{
	struct load_opts opt = *o;
	memset(ret, 0, sizeof *ret);
	if (opt.in_flight < 1)
		opt.in_flight = 1;
	if (opt.channels < 1)
		opt.channels = 1;
	if (opt.channels > opt.in_flight)
		opt.channels = opt.in_flight;
	if (opt.threads < 1)
		opt.threads = 1;
	if (opt.threads > opt.in_flight)
		opt.threads = opt.in_flight;
	if (!opt.deadline_ms)
		opt.deadline_ms = 60000;
	if (opt.seconds <= 0 && opt.total <= 0) {
		snprintf(err, err_size, "a load needs seconds or a count");
		return -EINVAL;
	}
	size_t n_methods = 0;
	while (n_methods < LOAD_MAX_METHODS && k->methods[n_methods])
		n_methods++;

	/* Each channel its own connection: a local subchannel pool. */
	grpc_arg args[] = {
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, .value.integer = 1 },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = -1 },
	};
	grpc_channel_args ca = { sizeof args / sizeof args[0], args };
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_channel **chans = calloc((size_t)opt.channels, sizeof *chans);
	void **handles = calloc((size_t)opt.channels * LOAD_MAX_METHODS, sizeof *handles);
	struct worker *ws = calloc((size_t)opt.threads, sizeof *ws);
	struct load_slot *slots = calloc((size_t)opt.in_flight, sizeof *slots);
	long *tickets = calloc((size_t)opt.in_flight, sizeof *tickets);
	int e = 0, inited = 0;
	if (!chans || !handles || !ws || !slots || !tickets) {
		e = -ENOMEM;
		goto out;
	}
	for (int c = 0; c < opt.channels; c++) {
		chans[c] = grpc_channel_create(opt.target, creds, &ca);
		for (size_t m = 0; m < n_methods; m++)
			handles[c * LOAD_MAX_METHODS + m] =
				grpc_channel_register_call(chans[c], k->methods[m], NULL, NULL);
	}
	struct shared sh = { .o = &opt, .k = k };
	/* Slots are dealt to workers in runs, channels round-robin. */
	int per = opt.in_flight / opt.threads, extra = opt.in_flight % opt.threads, at = 0;
	for (int t = 0; t < opt.threads; t++) {
		ws[t].sh = &sh;
		ws[t].cq = grpc_completion_queue_create_for_next(NULL);
		ws[t].slots = slots + at;
		ws[t].ticket = tickets + at;
		ws[t].n_slots = per + (t < extra);
		for (int i = 0; i < ws[t].n_slots; i++) {
			struct load_slot *s = &ws[t].slots[i];
			s->index = at + i;
			s->channel = chans[s->index % opt.channels];
			s->methods = &handles[(s->index % opt.channels) * LOAD_MAX_METHODS];
			s->cq = ws[t].cq;
			s->deadline_ms = opt.deadline_ms;
		}
		at += ws[t].n_slots;
	}
	for (; inited < opt.in_flight; inited++) {
		if (k->slot_init && (e = k->slot_init(&slots[inited], k->ud)) < 0) {
			snprintf(err, err_size, "slot setup failed: %s", strerror(-e));
			goto out;
		}
	}
	int64_t t0 = load_now_ns();
	sh.warm_end = t0 + (int64_t)(opt.warmup_seconds * 1e9);
	sh.end = sh.warm_end + (int64_t)(opt.seconds * 1e9);
	for (int t = 0; t < opt.threads; t++)
		pthread_create(&ws[t].th, NULL, work, &ws[t]);
	for (int t = 0; t < opt.threads; t++)
		pthread_join(ws[t].th, NULL);

	size_t total = 0;
	int64_t first = 0, last = 0;
	for (int t = 0; t < opt.threads; t++) {
		total += ws[t].n;
		ret->done += ws[t].done;
		ret->failed += ws[t].failed;
		if (ws[t].first_begin && (!first || ws[t].first_begin < first))
			first = ws[t].first_begin;
		if (ws[t].last_end > last)
			last = ws[t].last_end;
	}
	ret->lat_ns = malloc((total + 1) * sizeof *ret->lat_ns);
	if (!ret->lat_ns) {
		e = -ENOMEM;
		goto out;
	}
	for (int t = 0; t < opt.threads; t++) {
		memcpy(ret->lat_ns + ret->n_lat, ws[t].lat, ws[t].n * sizeof *ret->lat_ns);
		ret->n_lat += ws[t].n;
	}
	qsort(ret->lat_ns, ret->n_lat, sizeof *ret->lat_ns, cmp_i64);
	ret->seconds = by_time(&sh) ? opt.seconds : (double)(last - first) / 1e9;
	ret->per_s = ret->seconds > 0 ? (double)ret->done / ret->seconds : 0;
	if (!ret->done && ret->failed) {
		snprintf(err, err_size, "every operation failed (%ld)", ret->failed);
		e = -EIO;
	}
out:
	for (int i = 0; i < inited; i++)
		if (k->slot_fini)
			k->slot_fini(&slots[i], k->ud);
	for (int t = 0; ws && t < opt.threads; t++) {
		if (ws[t].cq) {
			grpc_completion_queue_shutdown(ws[t].cq);
			while (grpc_completion_queue_next(ws[t].cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
				       .type != GRPC_QUEUE_SHUTDOWN)
				;
			grpc_completion_queue_destroy(ws[t].cq);
		}
		free(ws[t].lat);
	}
	for (int c = 0; chans && c < opt.channels; c++)
		if (chans[c])
			grpc_channel_destroy(chans[c]);
	grpc_channel_credentials_release(creds);
	free(chans);
	free(handles);
	free(ws);
	free(slots);
	free(tickets);
	return e;
}

double load_pct_ms(const struct load_result *r, double p)
{
	if (!r->n_lat)
		return 0;
	size_t i = (size_t)(p * (double)(r->n_lat - 1) + 0.5);
	return (double)r->lat_ns[i] / 1e6;
}

void load_result_free(struct load_result *r)
{
	free(r->lat_ns);
	r->lat_ns = NULL;
	r->n_lat = 0;
}
