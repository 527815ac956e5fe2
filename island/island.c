/* atoll-island: the island host daemon. Untrusted by design: it moves bytes
 * between the coordinator (one long-lived bidirectional gRPC stream that it
 * dials out) and its enclave runtime (a child process on a socketpair, or a
 * runtime listening on vsock or a Unix socket), and never loads a driver or
 * a backend or holds a confidential job's plaintext.
 *
 * Threads: the main thread waits for signals; a connection thread dials,
 * says Hello and reads the coordinator's messages; an enclave thread reads
 * the enclave's frames; a heartbeat thread keeps the stream alive.
 *
 * This file owns the job list and the output held back for it (held.h),
 * the enclave thread and what the enclave says, shutdown, --detect and
 * main; session.c the coordinator session, link.c the enclave runtime. */
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
#include <unistd.h>

#include <grpc/grpc.h>
#include <openssl/crypto.h>

#include "atoll/enclave/v1/enclave.pb-c.h"
#include "atoll/v1/islands.pb-c.h"
#include "frame.h"
#include "island.h"
#include "link.h"
#include "session.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ---- the job list ---- */

struct ijob *take_job(struct island *is, const char *id, uint32_t attempt)
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
struct ijob *take_all_jobs(struct island *is)
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
