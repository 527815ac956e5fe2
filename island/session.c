/* The island host's coordinator session (session.h): dialling the
 * coordinator addresses in turn with backoff, Hello and the coordinator's
 * messages (Welcome, Challenge, AttestationResult, Assignment, Cancel),
 * what the island sends on the stream, and heartbeats. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <openssl/rand.h>

#include "atoll/v1/islands.pb-c.h"
#include "link.h"
#include "session.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ---- coordinator stream ---- */

/* Send on the current stream, if any. The stream outlives the send: the
 * connection thread frees it only after clearing the pointer and then
 * taking send_mu once. */
void send_current(struct island *is, Atoll__V1__IslandMessage *m)
{
	pthread_mutex_lock(&is->send_mu);
	pthread_mutex_lock(&is->mu);
	rpc_stream *s = is->stream;
	pthread_mutex_unlock(&is->mu);
	if (s)
		rpc_stream_send(s, &m->base);
	pthread_mutex_unlock(&is->send_mu);
}

void hand_back(struct island *is, const char *job_id, uint32_t attempt, const char *why)
{
	Atoll__V1__HandBack hb = ATOLL__V1__HAND_BACK__INIT;
	hb.job_id = (char *)job_id;
	hb.attempt = attempt;
	hb.reason = (char *)why;
	Atoll__V1__IslandMessage m = ATOLL__V1__ISLAND_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HAND_BACK;
	m.hand_back = &hb;
	send_current(is, &m);
}

void cancel_stream(struct island *is)
{
	pthread_mutex_lock(&is->mu);
	if (is->stream)
		rpc_stream_cancel(is->stream);
	pthread_mutex_unlock(&is->mu);
}

/* ---- messages from the coordinator ---- */

static void on_assignment(struct island *is, rpc_stream *s, Atoll__V1__Assignment *a)
{
	if (strlen(a->job_id) > MAX_JOB_ID) {
		log_warn("assignment with an over-long job id ignored");
		return;
	}
	pthread_mutex_lock(&is->mu);
	const char *refuse = NULL;
	if (atomic_load(&is->draining))
		refuse = "the island is shutting down";
	else if (!is->enclave_alive)
		refuse = "the island's enclave is restarting";
	else if (is->running >= is->cfg->slots)
		refuse = "no free slot";
	struct ijob *j = NULL;
	if (!refuse) {
		j = ijob_new(a->job_id, a->attempt, time_mono_ms());
		if (!j) {
			refuse = "out of memory";
		} else {
			j->next = is->jobs;
			is->jobs = j;
			is->running++;
		}
	}
	pthread_mutex_unlock(&is->mu);
	if (refuse) {
		hand_back(is, a->job_id, a->attempt, refuse);
		return;
	}
	Atoll__Enclave__V1__RunJob rj = ATOLL__ENCLAVE__V1__RUN_JOB__INIT;
	rj.job_id = a->job_id;
	rj.attempt = a->attempt;
	rj.workload_id = a->workload_id;
	rj.mode = a->mode;
	rj.input = a->input;
	rj.client_public_key = a->client_public_key;
	if (a->deadline)
		rj.deadline_ms = a->deadline->seconds * 1000 + a->deadline->nanos / 1000000;
	Atoll__Enclave__V1__HostMessage hm = ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT;
	hm.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_RUN;
	hm.run = &rj;
	if (enclave_send(is, &hm) < 0) {
		pthread_mutex_lock(&is->mu);
		struct ijob *t = take_job(is, a->job_id, a->attempt);
		pthread_mutex_unlock(&is->mu);
		ijob_free(t);
		hand_back(is, a->job_id, a->attempt, "the island's enclave is not reachable");
		return;
	}
	/* JobStarted follows from the enclave thread (held.h): wake it. */
	uint64_t one = 1;
	if (write(is->wake_fd, &one, sizeof one) < 0)
		log_warn("cannot wake the enclave thread: %s", strerror(errno));
}

static void on_cancel(struct island *is, Atoll__V1__Cancel *c)
{
	enclave_cancel(is, c->job_id, c->attempt);
	log_info("job %s attempt %u cancelled by the coordinator: %s", c->job_id, c->attempt,
		 c->reason);
}

static void on_coordinator_msg(struct island *is, rpc_stream *s, Atoll__V1__CoordinatorMessage *cm)
{
	switch (cm->msg_case) {
	case ATOLL__V1__COORDINATOR_MESSAGE__MSG_WELCOME: {
		Atoll__V1__Welcome *w = cm->welcome;
		pthread_mutex_lock(&is->mu);
		is->welcomed = true;
		if (w->heartbeat_interval_ms)
			is->heartbeat_ms = w->heartbeat_interval_ms;
		pthread_cond_broadcast(&is->cond);
		pthread_mutex_unlock(&is->mu);
		log_info("connected to %s (session %s)", is->address, w->session_id);
		for (size_t i = 0; i < w->n_workloads; i++)
			if (!w->workloads[i]->accepted)
				log_error("coordinator refused workload %u: %s",
					  w->workloads[i]->workload_id, w->workloads[i]->reason);
		return;
	}
	case ATOLL__V1__COORDINATOR_MESSAGE__MSG_CHALLENGE: {
		Atoll__Enclave__V1__AttestRequest ar = ATOLL__ENCLAVE__V1__ATTEST_REQUEST__INIT;
		ar.nonce = cm->challenge->nonce;
		Atoll__Enclave__V1__HostMessage hm = ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT;
		hm.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_ATTEST;
		hm.attest = &ar;
		enclave_send(is, &hm);
		return;
	}
	case ATOLL__V1__COORDINATOR_MESSAGE__MSG_ATTESTATION: {
		Atoll__V1__AttestationResult *r = cm->attestation;
		if (r->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED)
			log_info("attested");
		else
			log_warn("not attested: %s", r->reason);
		return;
	}
	case ATOLL__V1__COORDINATOR_MESSAGE__MSG_ASSIGNMENT:
		on_assignment(is, s, cm->assignment);
		return;
	case ATOLL__V1__COORDINATOR_MESSAGE__MSG_CANCEL:
		on_cancel(is, cm->cancel);
		return;
	default:
		log_warn("unexpected message from the coordinator");
		return;
	}
}

static int send_hello(struct island *is, rpc_stream *s)
{
	Atoll__V1__Hello h = ATOLL__V1__HELLO__INIT;
	h.island_id = is->cfg->id;
	h.software_version = ATOLL_VERSION;
	h.slots = is->cfg->slots;
	/* Lock order everywhere: send_mu, then mu. */
	pthread_mutex_lock(&is->send_mu);
	pthread_mutex_lock(&is->mu);
	Atoll__Enclave__V1__Ready *rd = is->ready;
	size_t n = 0;
	Atoll__V1__WorkloadOffer *offers = calloc(rd->n_workloads + 1, sizeof *offers);
	Atoll__V1__WorkloadOffer **op = calloc(rd->n_workloads + 1, sizeof *op);
	if (!offers || !op) {
		pthread_mutex_unlock(&is->mu);
		pthread_mutex_unlock(&is->send_mu);
		free(offers);
		free(op);
		return -ENOMEM;
	}
	/* One offer per workload: entries of the same workload on different
	 * backends (by mode) merge their modes. */
	Atoll__V1__Mode(*modes)[3] = calloc(rd->n_workloads + 1, sizeof *modes);
	if (!modes) {
		pthread_mutex_unlock(&is->mu);
		pthread_mutex_unlock(&is->send_mu);
		free(offers);
		free(op);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rd->n_workloads; i++) {
		Atoll__Enclave__V1__Workload *w = rd->workloads[i];
		if (!w->available)
			continue;
		size_t k = 0;
		while (k < n && offers[k].workload_id != w->workload_id)
			k++;
		if (k == n) {
			atoll__v1__workload_offer__init(&offers[n]);
			offers[n].workload_id = w->workload_id;
			offers[n].backend = w->backend;
			offers[n].modes = modes[n];
			op[n] = &offers[n];
			n++;
		}
		for (size_t m = 0; m < w->n_modes && offers[k].n_modes < 3; m++)
			modes[k][offers[k].n_modes++] = w->modes[m];
	}
	h.n_workloads = n;
	h.workloads = op;
	h.tee_type = rd->tee_type;
	h.enclave_public_key = rd->enclave_public_key;
	Atoll__V1__IslandMessage m = ATOLL__V1__ISLAND_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO;
	m.hello = &h;
	int r = rpc_stream_send(s, &m.base);
	pthread_mutex_unlock(&is->mu);
	pthread_mutex_unlock(&is->send_mu);
	free(offers);
	free(op);
	free(modes);
	return r;
}

/* One session: dial, Hello, read until the stream ends. Returns how long it
 * stayed up (ms) and whether the coordinator welcomed it. */
static bool run_session(struct island *is)
{
	char auth[4200];
	snprintf(auth, sizeof auth, "Bearer %s", is->cfg->coordinator.token);
	struct rpc_md md[] = { { "authorization", auth } };
	rpc_stream *s;
	if (rpc_stream_open(is->client, "/atoll.v1.Islands/Connect", NULL, md, 1, 0, false, &s) < 0)
		return false;
	pthread_mutex_lock(&is->mu);
	is->stream = s;
	is->welcomed = false;
	pthread_mutex_unlock(&is->mu);
	bool welcomed = false;
	if (send_hello(is, s) == 0) {
		for (;;) {
			ProtobufCMessage *pm = NULL;
			int r = rpc_stream_recv(s, &atoll__v1__coordinator_message__descriptor, &pm);
			if (r == 0)
				break;
			if (r < 0) {
				log_error("malformed message from the coordinator; reconnecting");
				rpc_stream_cancel(s);
				break;
			}
			on_coordinator_msg(is, s, (Atoll__V1__CoordinatorMessage *)pm);
			protobuf_c_message_free_unpacked(pm, NULL);
		}
	}
	pthread_mutex_lock(&is->mu);
	welcomed = is->welcomed;
	is->stream = NULL;
	is->welcomed = false;
	pthread_mutex_unlock(&is->mu);
	/* Wait for any sender still using the stream. */
	pthread_mutex_lock(&is->send_mu);
	pthread_mutex_unlock(&is->send_mu);
	struct rpc_status st;
	rpc_stream_finish(s, &st);
	if (!atomic_load(&is->stopping))
		log_warn("stream to %s ended: %s (%d)%s%s", is->address,
			 st.message[0] ? st.message : "no detail", (int)st.code,
			 st.code == GRPC_STATUS_UNAUTHENTICATED ? " - check the island token" : "",
			 "");
	/* Jobs in flight belong to the old session: the coordinator requeues
	 * them; stop them here. */
	struct ijob *jobs = take_all_jobs(is);
	while (jobs) {
		struct ijob *j = jobs;
		jobs = j->next;
		enclave_cancel(is, j->id, j->attempt);
		ijob_free(j);
	}
	return welcomed;
}

static uint32_t rand_u32(void)
{
	uint32_t v;
	if (RAND_bytes((uint8_t *)&v, sizeof v) != 1)
		v = (uint32_t)time_mono_ns();
	return v;
}

/* Connect to the first coordinator address that answers, in the order
 * configured, and run a session there. Each attempt has its own channel,
 * which this thread drives until it is ready (rpc_client_connect): a
 * connection nobody polls is completed only by gRPC's backup poller, and
 * a channel kept across failures would wait out its own backoff besides.
 * Returns whether a coordinator welcomed the island. */
static bool connect_once(struct island *is, bool *ret_connected)
{
	const struct island_config *cfg = is->cfg;
	*ret_connected = false;
	for (size_t i = 0; i < cfg->coordinator.n_addresses && !atomic_load(&is->stopping); i++) {
		const char *addr = cfg->coordinator.addresses[i];
		rpc_client *cl;
		if (rpc_client_new(addr, &is->copts, &cl) < 0) {
			log_error("bad coordinator address %s", addr);
			continue;
		}
		int e = rpc_client_connect(cl, (int)cfg->coordinator.connect_timeout_ms);
		if (e < 0) {
			log_debug("coordinator %s: %s", addr,
				  e == -ETIMEDOUT ? "no connection in time" : "connection refused");
			rpc_client_free(cl);
			continue;
		}
		pthread_mutex_lock(&is->mu);
		is->client = cl;
		is->address = addr;
		pthread_mutex_unlock(&is->mu);
		*ret_connected = true;
		bool welcomed = run_session(is);
		pthread_mutex_lock(&is->mu);
		is->client = NULL;
		pthread_mutex_unlock(&is->mu);
		rpc_client_free(cl);
		return welcomed;
	}
	return false;
}

void *conn_thread(void *arg)
{
	struct island *is = arg;
	int64_t min = is->cfg->coordinator.reconnect_min_ms, backoff = min;
	while (!atomic_load(&is->stopping)) {
		bool connected;
		bool welcomed = connect_once(is, &connected);
		if (atomic_load(&is->stopping))
			break;
		int64_t wait;
		if (welcomed) {
			/* A session that was up ended (its coordinator went away):
			 * try again at once, spread over a short moment so that a
			 * coordinator's islands do not all arrive together. */
			backoff = min;
			wait = (int64_t)(rand_u32() % (uint32_t)(min / 2 + 1));
		} else {
			/* Jitter between half and one and a half of the backoff. */
			wait = backoff / 2 + (int64_t)(rand_u32() % (uint32_t)(backoff + 1));
			backoff = backoff * 2 > is->cfg->coordinator.reconnect_max_ms
					  ? is->cfg->coordinator.reconnect_max_ms : backoff * 2;
		}
		if (!connected)
			log_debug("no coordinator answered; next round in %lld ms", (long long)wait);
		pthread_mutex_lock(&is->mu);
		int64_t until = time_mono_ms() + wait;
		while (!atomic_load(&is->stopping) && time_mono_ms() < until)
			time_cond_wait_ms(&is->cond, &is->mu, 50);
		pthread_mutex_unlock(&is->mu);
	}
	return NULL;
}

void *heartbeat_thread(void *arg)
{
	struct island *is = arg;
	int64_t last = 0;
	/* Wake often and send when due, so that a new interval from a Welcome
	 * (or a new session) takes effect at once. */
	while (!atomic_load(&is->stopping)) {
		pthread_mutex_lock(&is->mu);
		int64_t every = is->heartbeat_ms;
		bool up = is->stream && is->welcomed;
		uint32_t running = is->running;
		pthread_mutex_unlock(&is->mu);
		int64_t now = time_mono_ms();
		if (up && now - last >= every) {
			Atoll__V1__Heartbeat hb = ATOLL__V1__HEARTBEAT__INIT;
			hb.running = running;
			Atoll__V1__IslandMessage m = ATOLL__V1__ISLAND_MESSAGE__INIT;
			m.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_HEARTBEAT;
			m.heartbeat = &hb;
			send_current(is, &m);
			last = now;
		}
		time_sleep_ms(every < 500 ? every / 5 + 1 : 50);
	}
	return NULL;
}
