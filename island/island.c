/* atoll-island: the island host daemon. Untrusted by design: it moves bytes
 * between the coordinator (one long-lived bidirectional gRPC stream that it
 * dials out) and its enclave runtime (a child process on a socketpair, or a
 * runtime listening on vsock or a Unix socket), and never loads a driver or
 * a backend or holds a confidential job's plaintext.
 *
 * Threads: the main thread waits for signals; a connection thread dials,
 * says Hello and reads the coordinator's messages; an enclave thread reads
 * the enclave's frames; a heartbeat thread keeps the stream alive. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "atoll/enclave/v1/enclave.pb-c.h"
#include "atoll/v1/islands.pb-c.h"
#include "config.h"
#include "frame.h"
#include "held.h"
#include "rpc/client.h"
#include "transport.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_JOB_ID HELD_MAX_ID

struct island {
	struct island_config *cfg;
	const char *config_path;
	/* A channel per connection attempt, to the address tried (see
	 * conn_thread); NULL between sessions. */
	rpc_client *client;
	const char *address;
	struct rpc_client_opts copts;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* The current coordinator stream (NULL while disconnected). */
	rpc_stream *stream;
	pthread_mutex_t send_mu;
	bool welcomed;
	int64_t heartbeat_ms;

	/* The enclave. */
	pid_t enclave_pid;
	int enclave_fd;
	pthread_mutex_t enclave_wmu;
	Atoll__Enclave__V1__Ready *ready;
	bool enclave_alive;
	uint64_t enclave_generation;

	struct ijob *jobs;
	uint32_t running;
	int wake_fd; /* eventfd: a job was assigned, its JobStarted comes due */
	atomic_bool draining;
	atomic_bool stopping;
};

/* ---- coordinator stream ---- */

/* Send on the current stream, if any. The stream outlives the send: the
 * connection thread frees it only after clearing the pointer and then
 * taking send_mu once. */
static void send_current(struct island *is, Atoll__V1__IslandMessage *m)
{
	pthread_mutex_lock(&is->send_mu);
	pthread_mutex_lock(&is->mu);
	rpc_stream *s = is->stream;
	pthread_mutex_unlock(&is->mu);
	if (s)
		rpc_stream_send(s, &m->base);
	pthread_mutex_unlock(&is->send_mu);
}

static void hand_back(struct island *is, const char *job_id, uint32_t attempt, const char *why)
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

/* ---- enclave ---- */

static int enclave_send(struct island *is, Atoll__Enclave__V1__HostMessage *m)
{
	pthread_mutex_lock(&is->enclave_wmu);
	int r = is->enclave_fd >= 0 ? frame_write(is->enclave_fd, &m->base) : -EPIPE;
	pthread_mutex_unlock(&is->enclave_wmu);
	return r;
}

/* Start a child runtime on a socketpair: its end of the pair is fd 3. */
static int spawn_child(struct island *is, int *ret_fd, pid_t *ret_pid, char *err, size_t err_size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, err_size, "socketpair: %s", strerror(errno));
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		snprintf(err, err_size, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		/* The enclave gets fd 3; everything else closes on exec. */
		if (dup2(sv[1], 3) < 0)
			_exit(126);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		char *argv[] = { is->cfg->enclave.path, "--config", (char *)is->config_path,
				 "--fd", "3", NULL };
		execv(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	*ret_fd = sv[0];
	*ret_pid = pid;
	return 0;
}

/* Start (child) or reach (vsock, unix) the enclave runtime and wait for
 * its Ready, all within enclave.start_timeout. */
static int start_enclave(struct island *is, char *err, size_t err_size)
{
	const struct island_config *c = is->cfg;
	char where[200];
	pid_t pid = 0;
	int fd = -1, e;
	if (c->enclave.transport == TRANSPORT_CHILD) {
		snprintf(where, sizeof where, "%s", c->enclave.path);
		e = spawn_child(is, &fd, &pid, err, err_size);
	} else {
		transport_describe(&c->enclave.addr, where, sizeof where);
		e = transport_connect(&c->enclave.addr, c->enclave.start_timeout_ms, &fd, err,
				      err_size);
	}
	if (e < 0)
		return e;
	int sv[2] = { fd, -1 };
	/* Wait for Ready, bounded by enclave.start_timeout. */
	struct timeval tv = { .tv_sec = is->cfg->enclave.start_timeout_ms / 1000,
			      .tv_usec = (is->cfg->enclave.start_timeout_ms % 1000) * 1000 };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ProtobufCMessage *pm = NULL;
	int r = frame_read(sv[0], &atoll__enclave__v1__enclave_message__descriptor,
			   is->cfg->enclave.max_frame_bytes, &pm);
	struct timeval none = { 0, 0 };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
	Atoll__Enclave__V1__EnclaveMessage *em = (void *)pm;
	bool bad = r < 0 || em->msg_case != ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY;
	if (bad)
		snprintf(err, err_size, "the enclave runtime at %s did not become ready: %s", where,
			 r == -EAGAIN ? "timed out" : r < 0 ? "it exited or sent garbage"
							   : "unexpected first message");
	/* Both ends enforce one limit, whatever the transport. */
	else if (em->ready->max_frame_bytes != c->enclave.max_frame_bytes)
		bad = snprintf(err, err_size,
			       "the enclave runtime at %s uses max_frame_bytes %u, this host %u: "
			       "set the same enclave.max_frame_bytes on both", where,
			       em->ready->max_frame_bytes, c->enclave.max_frame_bytes) >= 0;
	if (bad) {
		if (pm)
			protobuf_c_message_free_unpacked(pm, NULL);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		close(sv[0]);
		return -EPROTO;
	}
	pthread_mutex_lock(&is->mu);
	if (is->ready)
		protobuf_c_message_free_unpacked(&is->ready->base, NULL);
	/* Keep the Ready message: detach it from the envelope message. */
	is->ready = em->ready;
	em->ready = NULL;
	em->msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG__NOT_SET;
	protobuf_c_message_free_unpacked(pm, NULL);
	is->enclave_pid = pid;
	is->enclave_fd = sv[0];
	is->enclave_alive = true;
	is->enclave_generation++;
	pthread_mutex_unlock(&is->mu);
	char pidtxt[32] = "";
	if (pid > 0)
		snprintf(pidtxt, sizeof pidtxt, ", pid %d", (int)pid);
	log_info("enclave ready (%s%s, tee %s%s%s)", where, pidtxt,
		 is->ready->tee_type[0] ? is->ready->tee_type : "none",
		 is->ready->tee_type[0] ? "" : ": ", is->ready->tee_type[0] ? "" : is->ready->tee_error);
	for (size_t i = 0; i < is->ready->n_workloads; i++) {
		Atoll__Enclave__V1__Workload *w = is->ready->workloads[i];
		if (!w->available)
			log_error("workload %u unavailable: %s", w->workload_id, w->error);
	}
	return 0;
}

static void stop_enclave(struct island *is)
{
	pthread_mutex_lock(&is->enclave_wmu);
	if (is->enclave_fd >= 0) {
		shutdown(is->enclave_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&is->enclave_wmu);
	if (is->enclave_pid > 0) {
		for (int i = 0; i < 100; i++) {
			if (waitpid(is->enclave_pid, NULL, WNOHANG) == is->enclave_pid) {
				is->enclave_pid = 0;
				break;
			}
			time_sleep_ms(20);
		}
		if (is->enclave_pid > 0) {
			kill(is->enclave_pid, SIGKILL);
			waitpid(is->enclave_pid, NULL, 0);
			is->enclave_pid = 0;
		}
	}
}

static struct ijob *take_job(struct island *is, const char *id, uint32_t attempt)
{
	for (struct ijob **pp = &is->jobs; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0 && (*pp)->attempt == attempt) {
			struct ijob *j = *pp;
			*pp = j->next;
			is->running--;
			pthread_cond_broadcast(&is->cond);
			return j;
		}
	return NULL;
}

static struct ijob *find_job(struct island *is, const char *id, uint32_t attempt)
{
	for (struct ijob *j = is->jobs; j; j = j->next)
		if (strcmp(j->id, id) == 0 && j->attempt == attempt)
			return j;
	return NULL;
}

/* Send what is due of what the jobs hold (all of it with force): a
 * JobStarted not sent yet, then the held output. Runs on the enclave
 * thread, which alone sends a job's events, so they stay in order. */
static void flush_held(struct island *is, int64_t now, bool force)
{
	struct due {
		struct due *next;
		char id[MAX_JOB_ID + 1];
		uint32_t attempt;
		bool start;
		uint64_t seq;
		ProtobufCBinaryData *chunks;
		size_t n;
	} *list = NULL;
	pthread_mutex_lock(&is->mu);
	for (struct ijob *j = is->jobs; j; j = j->next) {
		bool out = j->n_chunks && (force || ijob_output_due(j, now));
		bool start = !j->started_sent && (out || force || now >= ijob_due_ms(j));
		struct due *d = (out || start) ? calloc(1, sizeof *d) : NULL;
		if (!d)
			continue;
		snprintf(d->id, sizeof d->id, "%s", j->id);
		d->attempt = j->attempt;
		d->start = start;
		j->started_sent = true;
		d->seq = j->next_seq;
		if (out) {
			d->chunks = ijob_take(j, &d->n);
			j->next_seq += d->n;
		}
		d->next = list;
		list = d;
	}
	pthread_mutex_unlock(&is->mu);
	while (list) {
		struct due *d = list;
		list = d->next;
		Atoll__V1__IslandMessage m = ATOLL__V1__ISLAND_MESSAGE__INIT;
		if (d->start) {
			Atoll__V1__JobStarted st = ATOLL__V1__JOB_STARTED__INIT;
			st.job_id = d->id;
			st.attempt = d->attempt;
			m.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_STARTED;
			m.started = &st;
			send_current(is, &m);
		}
		for (size_t i = 0; i < d->n; i++) {
			Atoll__V1__IslandOutput o = ATOLL__V1__ISLAND_OUTPUT__INIT;
			o.job_id = d->id;
			o.attempt = d->attempt;
			o.seq = d->seq + i;
			o.data = d->chunks[i];
			m.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_OUTPUT;
			m.output = &o;
			send_current(is, &m);
		}
		ijob_chunks_free(d->chunks, d->n);
		free(d);
	}
}

/* When the next held event is due, INT64_MAX for none. */
static int64_t next_due(struct island *is)
{
	int64_t due = INT64_MAX;
	pthread_mutex_lock(&is->mu);
	for (struct ijob *j = is->jobs; j; j = j->next) {
		int64_t d = ijob_due_ms(j);
		if (d < due)
			due = d;
	}
	pthread_mutex_unlock(&is->mu);
	return due;
}

static void on_enclave_msg(struct island *is, Atoll__Enclave__V1__EnclaveMessage *em)
{
	Atoll__V1__IslandMessage m = ATOLL__V1__ISLAND_MESSAGE__INIT;
	switch (em->msg_case) {
	case ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_ATTEST: {
		Atoll__Enclave__V1__AttestResult *ar = em->attest;
		if (!ar->ok) {
			log_error("cannot produce evidence: %s", ar->error);
			return;
		}
		Atoll__V1__Evidence ev = ATOLL__V1__EVIDENCE__INIT;
		ev.nonce = ar->nonce;
		ev.tee_type = ar->tee_type;
		ev.evidence = ar->evidence;
		ev.n_collateral = ar->n_collateral;
		ev.collateral = ar->collateral;
		ev.manifest = ar->manifest;
		pthread_mutex_lock(&is->mu);
		ev.enclave_public_key = is->ready->enclave_public_key;
		pthread_mutex_unlock(&is->mu);
		m.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_EVIDENCE;
		m.evidence = &ev;
		send_current(is, &m);
		return;
	}
	case ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_OUTPUT: {
		/* Held back a little (held.h); a job we do not hold (cancelled
		 * meanwhile) gets nothing. */
		int64_t now = time_mono_ms();
		pthread_mutex_lock(&is->mu);
		struct ijob *j = find_job(is, em->output->job_id, em->output->attempt);
		bool flush = false;
		if (j && ijob_hold(j, em->output->data.data, em->output->data.len, now) < 0)
			log_error("out of memory holding output of %s", j->id);
		else if (j)
			flush = ijob_output_due(j, now);
		pthread_mutex_unlock(&is->mu);
		if (flush)
			flush_held(is, now, false);
		return;
	}
	case ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_DONE: {
		Atoll__Enclave__V1__JobDone *d = em->done;
		pthread_mutex_lock(&is->mu);
		struct ijob *j = take_job(is, d->job_id, d->attempt);
		pthread_mutex_unlock(&is->mu);
		if (!j)
			return; /* handed back or cancelled meanwhile */
		/* One message for what was held back and the end. */
		Atoll__V1__JobResult r = ATOLL__V1__JOB_RESULT__INIT;
		r.job_id = d->job_id;
		r.attempt = d->attempt;
		r.ok = d->ok;
		r.error = d->error;
		r.chunks = d->chunks;
		r.run_ms = d->run_ms;
		r.output = ijob_take(j, &r.n_output);
		r.includes_start = !j->started_sent;
		m.msg_case = ATOLL__V1__ISLAND_MESSAGE__MSG_RESULT;
		m.result = &r;
		send_current(is, &m);
		ijob_chunks_free(r.output, r.n_output);
		ijob_free(j);
		if (!d->ok)
			log_info("job %s attempt %u failed: %s", d->job_id, d->attempt, d->error);
		return;
	}
	default:
		log_warn("unexpected message from the enclave");
		return;
	}
}

/* Detach the in-flight jobs (the caller frees them) and wake waiters. */
static struct ijob *take_all_jobs(struct island *is)
{
	pthread_mutex_lock(&is->mu);
	struct ijob *jobs = is->jobs;
	is->jobs = NULL;
	is->running = 0;
	pthread_cond_broadcast(&is->cond);
	pthread_mutex_unlock(&is->mu);
	return jobs;
}

/* Hand every in-flight job back (the enclave is gone or we stop). */
static void hand_back_all(struct island *is, const char *why)
{
	struct ijob *jobs = take_all_jobs(is);
	while (jobs) {
		struct ijob *j = jobs;
		jobs = j->next;
		hand_back(is, j->id, j->attempt, why);
		ijob_free(j);
	}
}

static void cancel_stream(struct island *is)
{
	pthread_mutex_lock(&is->mu);
	if (is->stream)
		rpc_stream_cancel(is->stream);
	pthread_mutex_unlock(&is->mu);
}

static void *enclave_thread(void *arg)
{
	struct island *is = arg;
	for (;;) {
		/* Wait for the enclave, until something held is due, or for a
		 * new job (whose JobStarted comes due). */
		int64_t due = next_due(is);
		int64_t wait = due == INT64_MAX ? 1000 : due - time_mono_ms();
		if (wait <= 0) {
			flush_held(is, time_mono_ms(), false);
			continue;
		}
		struct pollfd pfd[2] = { { .fd = is->enclave_fd, .events = POLLIN },
					 { .fd = is->wake_fd, .events = POLLIN } };
		int n = poll(pfd, 2, (int)(wait < 1000 ? wait : 1000));
		if (n > 0 && (pfd[1].revents & POLLIN)) {
			uint64_t v;
			if (read(is->wake_fd, &v, sizeof v) < 0) {
				/* nothing to drain */
			}
		}
		if (n <= 0 || !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ProtobufCMessage *pm = NULL;
		int r = frame_read(is->enclave_fd, &atoll__enclave__v1__enclave_message__descriptor,
				   is->cfg->enclave.max_frame_bytes, &pm);
		if (r < 0) {
			if (atomic_load(&is->stopping))
				return NULL;
			log_error("enclave pipe: %s; restarting the enclave",
				  r == -EPIPE ? "the enclave exited" : r == -EBADMSG ? "garbage frame"
				  : r == -EMSGSIZE ? "frame over the limit" : strerror(-r));
			pthread_mutex_lock(&is->mu);
			is->enclave_alive = false;
			pthread_mutex_unlock(&is->mu);
			hand_back_all(is, "the island's enclave exited");
			stop_enclave(is);
			pthread_mutex_lock(&is->enclave_wmu);
			close(is->enclave_fd);
			is->enclave_fd = -1;
			pthread_mutex_unlock(&is->enclave_wmu);
			char err[512];
			while (!atomic_load(&is->stopping) && start_enclave(is, err, sizeof err) < 0) {
				log_error("%s", err);
				time_sleep_ms(1000);
			}
			/* The enclave key changed: start a fresh session. */
			cancel_stream(is);
			continue;
		}
		on_enclave_msg(is, (Atoll__Enclave__V1__EnclaveMessage *)pm);
		protobuf_c_message_free_unpacked(pm, NULL);
	}
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

/* Tell the enclave to stop one attempt. */
static void enclave_cancel(struct island *is, char *job_id, uint32_t attempt)
{
	Atoll__Enclave__V1__CancelJob cj = ATOLL__ENCLAVE__V1__CANCEL_JOB__INIT;
	cj.job_id = job_id;
	cj.attempt = attempt;
	Atoll__Enclave__V1__HostMessage hm = ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT;
	hm.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_CANCEL;
	hm.cancel = &cj;
	enclave_send(is, &hm);
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

static void *conn_thread(void *arg)
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

static void *heartbeat_thread(void *arg)
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

/* SIGTERM: take no new jobs, let running ones finish for up to the grace
 * period, hand back the rest. */
static void drain(struct island *is)
{
	atomic_store(&is->draining, true);
	int64_t until = time_mono_ms() + is->cfg->shutdown_grace_ms;
	pthread_mutex_lock(&is->mu);
	if (is->running)
		log_info("draining: %u job(s) running, up to %lld ms", is->running,
			 (long long)is->cfg->shutdown_grace_ms);
	while (is->running && time_mono_ms() < until && is->stream) {
		time_cond_wait_ms(&is->cond, &is->mu, 50);
	}
	pthread_mutex_unlock(&is->mu);
	hand_back_all(is, "the island is shutting down");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: atoll-island --config island.yaml\n"
		   "       atoll-island --check-config island.yaml\n"
		   "       atoll-island --detect [--config island.yaml]\n"
		   "--detect starts (or reaches) the enclave runtime as a real start would,\n"
		   "prints what each TEE driver found and exits 0 only when the enclave has\n"
		   "a TEE. The config defaults to " ATOLL_SYSCONF_DIR "/island.yaml.\n");
}

/* --detect: the enclave's driver choice, as its Ready reports it. */
static int detect(struct island *is)
{
	char err[1024];
	if (start_enclave(is, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	const Atoll__Enclave__V1__Ready *rd = is->ready;
	for (size_t i = 0; i < rd->n_probes; i++) {
		const Atoll__Enclave__V1__TeeProbe *p = rd->probes[i];
		printf("%-10s %s%s%s\n", p->driver, p->found ? "found" : "not found",
		       p->found ? "" : ": ", p->found ? "" : p->reason);
	}
	if (rd->tee_type[0])
		printf("TEE: %s\n", rd->tee_type);
	else
		printf("no TEE: %s\n", rd->tee_error);
	int rc = rd->tee_type[0] ? 0 : 1;
	atomic_store(&is->stopping, true);
	stop_enclave(is);
	close(is->enclave_fd);
	protobuf_c_message_free_unpacked(&is->ready->base, NULL);
	island_config_free(is->cfg);
	return rc;
}

int main(int argc, char **argv)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "detect", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *check = NULL;
	bool detect_only = false;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'C': check = optarg; break;
		case 'd': detect_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (detect_only && !config && !check)
		config = ATOLL_SYSCONF_DIR "/island.yaml";
	if (!config == !check || (detect_only && check)) {
		usage(stderr);
		return 2;
	}
	char err[1024];
	struct island is = { .config_path = config ? config : check, .enclave_fd = -1 };
	if (island_config_load(is.config_path, ISLAND_CFG_HOST, &is.cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (detect_only) {
		/* The table goes to stdout; the runtime's own log only says
		 * what went wrong (unless the operator asks for more). */
		setenv("ATOLL_LOG_LEVEL", "error", 0);
		log_init("island", LOG_WARN);
		pthread_mutex_init(&is.mu, NULL);
		pthread_mutex_init(&is.enclave_wmu, NULL);
		return detect(&is);
	}
	if (check) {
		printf("%s: ok\n", check);
		island_config_free(is.cfg);
		return 0;
	}
	log_init("island", LOG_INFO);
	pthread_mutex_init(&is.mu, NULL);
	pthread_cond_init(&is.cond, NULL);
	pthread_mutex_init(&is.send_mu, NULL);
	pthread_mutex_init(&is.enclave_wmu, NULL);
	is.heartbeat_ms = 5000;
	if (start_enclave(&is, err, sizeof err) < 0) {
		log_error("%s", err);
		island_config_free(is.cfg);
		return 1;
	}
	grpc_init();
	struct rpc_client_opts copts = {
		.keepalive_time_ms = 30000,
		.keepalive_timeout_ms = 10000,
		.initial_reconnect_ms = (int)is.cfg->coordinator.reconnect_min_ms,
		.max_reconnect_ms = (int)is.cfg->coordinator.reconnect_max_ms,
		.connect_timeout_ms = (int)is.cfg->coordinator.connect_timeout_ms,
		.own_connection = true,
	};
	char *ca = NULL, *cert = NULL, *key = NULL;
	size_t len;
	if (is.cfg->coordinator.tls_ca) {
		if (fs_read_file(is.cfg->coordinator.tls_ca, 1 << 20, (uint8_t **)&ca, &len) < 0 ||
		    (is.cfg->coordinator.tls_cert &&
		     fs_read_file(is.cfg->coordinator.tls_cert, 1 << 20, (uint8_t **)&cert, &len) < 0) ||
		    (is.cfg->coordinator.tls_key &&
		     fs_read_file(is.cfg->coordinator.tls_key, 1 << 20, (uint8_t **)&key, &len) < 0)) {
			log_error("cannot read the TLS files named in coordinator.tls");
			return 1;
		}
		copts.tls_ca_pem = ca;
		copts.tls_cert_pem = cert;
		copts.tls_key_pem = key;
		copts.tls_server_name = is.cfg->coordinator.tls_server_name;
	}
	is.copts = copts;
	pthread_t conn, encl, hb;
	is.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (is.wake_fd < 0) {
		log_error("eventfd: %s", strerror(errno));
		return 1;
	}
	pthread_create(&encl, NULL, enclave_thread, &is);
	pthread_create(&conn, NULL, conn_thread, &is);
	pthread_create(&hb, NULL, heartbeat_thread, &is);
	log_info("island %s: %u slot(s), coordinator %s%s", is.cfg->id, is.cfg->slots,
		 is.cfg->coordinator.address,
		 is.cfg->coordinator.n_addresses > 1 ? " (then the other addresses in order)" : "");

	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0 || sig == SIGHUP)
			continue;
		log_info("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	drain(&is);
	atomic_store(&is.stopping, true);
	pthread_mutex_lock(&is.mu);
	pthread_cond_broadcast(&is.cond);
	pthread_mutex_unlock(&is.mu);
	cancel_stream(&is);
	pthread_join(conn, NULL);
	pthread_join(hb, NULL);
	stop_enclave(&is);
	pthread_join(encl, NULL);
	if (is.enclave_fd >= 0)
		close(is.enclave_fd);
	grpc_shutdown();
	if (is.ready)
		protobuf_c_message_free_unpacked(&is.ready->base, NULL);
	island_config_free(is.cfg);
	free(ca);
	free(cert);
	if (key) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	log_info("stopped");
	return 0;
}
