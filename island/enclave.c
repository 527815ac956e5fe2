/* atoll-enclave: the enclave runtime. The only process of an island that
 * holds a job's plaintext and the enclave's private key.
 *
 * It loads the TEE collector driver (the one island.yaml names, or the one
 * that detects its TEE among the modules of the driver directory) and the
 * inference backends named in the `enclave` section of island.yaml, makes
 * an X25519 key pair, tells the host what it has (Ready), then serves
 * frames from the host: attestation
 * requests (evidence binding its public key to the coordinator's nonce),
 * jobs (each on its own thread) and cancellations. For TEE jobs it opens
 * the input envelope, runs the backend on the plaintext and seals every
 * output chunk to the client; the host only ever forwards ciphertext.
 *
 * The host reaches it on an inherited socket (--fd: a child on a
 * socketpair) or by connecting to it (--listen vsock:PORT | unix:PATH:
 * inside a TEE VM, a Nitro enclave or a container). A listening runtime
 * serves one host at a time, each connection in a fresh process with a
 * fresh key, as if the host had started it.
 *
 * A frame that does not parse ends the process: the host treats that like a
 * crash (hands the jobs back, starts or reconnects to a fresh enclave). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "atoll/enclave/v1/enclave.pb-c.h"
#include "config.h"
#include "crypto/envelope.h"
#include "frame.h"
#include "manifest.h"
#include "plugin/driver_set.h"
#include "plugin/plugin.h"
#include "transport.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_CHUNK (1u << 20)
#define MAX_JOBS 1024

struct ewl {
	uint32_t id;
	const struct loaded_backend *lb;
	void *ctx;
	uint32_t modes;
	bool available;
	char error[1024];
};

struct ejob {
	struct ejob *next;
	struct enclave *e;
	pthread_t th;
	char job_id[ENV_MAX_JOB_ID_LEN + 1];
	uint32_t attempt;
	uint32_t workload_id;
	uint32_t mode;
	uint8_t *input;
	size_t input_len;
	uint8_t client_pub[ENV_KEY_LEN];
	bool has_client_pub;
	int64_t deadline_ms;
	atomic_bool cancelled;
	uint64_t seq;
	env_output_sealer *sealer;
	struct ewl *wl;
};

struct enclave {
	struct island_config *cfg;
	int fd;
	pthread_mutex_t wmu; /* one frame at a time on fd */
	bool has_tee;
	/* The drivers loaded (the named one, or the one probing found) and
	 * the one in use. */
	struct driver_set drivers;
	const struct loaded_driver *drv;
	struct driver_probe *probes;
	size_t n_probes;
	char tee_error[1024];
	uint8_t priv[ENV_KEY_LEN], pub[ENV_KEY_LEN];
	/* What this enclave loaded, bound into every piece of evidence. */
	struct buf manifest;
	uint8_t manifest_digest[MANIFEST_SHA256_LEN];
	struct loaded_backend *backends;
	size_t n_backends;
	struct ewl *wls;
	size_t n_wls;
	pthread_mutex_t jmu;
	pthread_cond_t jcond;
	struct ejob *jobs;
	size_t n_jobs;
};

/* The bit of a mode the host sent; none for a number no mode has (a
 * shift by 32 or more is undefined). */
static uint32_t mode_bit(uint32_t mode)
{
	return mode <= ATOLL_MODE_HOMOMORPHIC ? ATOLL_MODE_BIT(mode) : 0;
}

static int send_msg(struct enclave *e, Atoll__Enclave__V1__EnclaveMessage *m)
{
	pthread_mutex_lock(&e->wmu);
	int r = frame_write(e->fd, &m->base);
	pthread_mutex_unlock(&e->wmu);
	return r;
}

static void send_done(struct ejob *j, bool ok, const char *error, uint64_t run_ms)
{
	Atoll__Enclave__V1__JobDone d = ATOLL__ENCLAVE__V1__JOB_DONE__INIT;
	d.job_id = j->job_id;
	d.attempt = j->attempt;
	d.ok = ok;
	d.error = (char *)(error ? error : "");
	d.chunks = j->seq;
	d.run_ms = run_ms;
	Atoll__Enclave__V1__EnclaveMessage m = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT;
	m.msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_DONE;
	m.done = &d;
	send_msg(j->e, &m);
}

static int send_chunk(struct ejob *j, const uint8_t *data, size_t len)
{
	Atoll__Enclave__V1__JobOutput o = ATOLL__ENCLAVE__V1__JOB_OUTPUT__INIT;
	o.job_id = j->job_id;
	o.attempt = j->attempt;
	o.seq = j->seq++;
	o.data.data = (uint8_t *)data;
	o.data.len = len;
	Atoll__Enclave__V1__EnclaveMessage m = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT;
	m.msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_OUTPUT;
	m.output = &o;
	return send_msg(j->e, &m) == 0 ? ATOLL_OK : ATOLL_E_IO;
}

static int io_cancelled(void *host)
{
	struct ejob *j = host;
	return atomic_load(&j->cancelled) || (j->deadline_ms && time_now_ms() > j->deadline_ms);
}

/* Backend output: forwarded as is for plain and homomorphic jobs, sealed
 * to the client for TEE jobs. */
static int io_emit(void *host, const uint8_t *data, size_t len)
{
	struct ejob *j = host;
	if (io_cancelled(j))
		return ATOLL_E_CANCELLED;
	if (len > MAX_CHUNK)
		return ATOLL_E_INVALID_ARGUMENT;
	if (!j->sealer)
		return send_chunk(j, data, len);
	struct buf rec = { 0 };
	if (env_output_seal(j->sealer, data, len, &rec) != ENV_OK) {
		buf_free(&rec);
		return ATOLL_E_CRYPTO;
	}
	int r = send_chunk(j, rec.data, rec.len);
	buf_free(&rec);
	return r;
}

/* Open a TEE job's envelope and start its sealed output stream. */
static int open_tee_input(struct ejob *j, struct buf *pt, char *err, size_t err_size)
{
	struct enclave *e = j->e;
	struct env_input_info info;
	int r = env_open_input(j->input, j->input_len, j->workload_id, e->priv, e->pub, &info, pt);
	if (r != ENV_OK) {
		snprintf(err, err_size, "cannot open the input envelope: %s", env_strerror(r));
		return -1;
	}
	if (j->has_client_pub && CRYPTO_memcmp(j->client_pub, info.client_pub, ENV_KEY_LEN) != 0) {
		snprintf(err, err_size,
			 "the coordinator's client key differs from the one sealed in the envelope");
		return -1;
	}
	struct buf hdr = { 0 };
	r = env_output_sealer_new(info.aead_id, info.client_pub, e->priv, e->pub, j->job_id,
				  j->workload_id, info.envelope_id, j->attempt, &j->sealer, &hdr);
	if (r != ENV_OK) {
		buf_free(&hdr);
		snprintf(err, err_size, "cannot start the sealed output: %s", env_strerror(r));
		return -1;
	}
	r = send_chunk(j, hdr.data, hdr.len);
	buf_free(&hdr);
	if (r != ATOLL_OK) {
		snprintf(err, err_size, "host pipe closed");
		return -1;
	}
	return 0;
}

static void job_free(struct ejob *j)
{
	if (j->input) {
		OPENSSL_cleanse(j->input, j->input_len);
		free(j->input);
	}
	env_output_sealer_free(j->sealer);
	free(j);
}

/* The closed code that stands in clear for a TEE job's error. */
static const char *error_code(int status, bool deadline)
{
	switch (status) {
	case ATOLL_E_CANCELLED: return deadline ? "deadline" : "cancelled";
	case ATOLL_E_FORMAT:
	case ATOLL_E_INVALID_ARGUMENT: return "invalid_input";
	case ATOLL_E_CRYPTO: return "crypto";
	default: return "backend_error";
	}
}

/* End a TEE job's stream with its error sealed to the client; what goes
 * to the host (and so to logs, the store and GetJob) is the code alone. */
static void seal_error(struct ejob *j, const char *code, const char *msg, char *err,
		       size_t err_size)
{
	struct buf rec = { 0 };
	if (env_output_fail(j->sealer, code, msg, &rec) == ENV_OK &&
	    send_chunk(j, rec.data, rec.len) == ATOLL_OK)
		snprintf(err, err_size, "%s (details sealed for the client)", code);
	else
		snprintf(err, err_size, "%s (the sealed details could not be sent)", code);
	buf_free(&rec);
}

static void *job_thread(void *arg)
{
	struct ejob *j = arg;
	struct enclave *e = j->e;
	int64_t t0 = time_mono_ms();
	char err[1536] = "";
	bool ok = false;
	struct buf pt = { 0 };
	const uint8_t *in = j->input;
	size_t in_len = j->input_len;

	if (!j->wl || !j->wl->available) {
		snprintf(err, sizeof err, "workload %u is not available on this island%s%s",
			 j->workload_id, j->wl ? ": " : "", j->wl ? j->wl->error : "");
		goto done;
	}
	if (!(j->wl->modes & mode_bit(j->mode))) {
		snprintf(err, sizeof err, "workload %u does not run in %s mode here", j->workload_id,
			 atoll_mode_name(j->mode));
		goto done;
	}
	if (j->mode == ATOLL_MODE_TEE) {
		if (!e->has_tee) {
			snprintf(err, sizeof err, "this island has no TEE");
			goto done;
		}
		if (open_tee_input(j, &pt, err, sizeof err) < 0)
			goto done;
		in = pt.data ? pt.data : (const uint8_t *)"";
		in_len = pt.len;
	}
	atoll_backend_job job = {
		.struct_size = sizeof job,
		.job_id = j->job_id,
		.workload_id = j->workload_id,
		.mode = j->mode,
		.input = in,
		.input_len = in_len,
	};
	atoll_backend_io io = {
		.struct_size = sizeof io,
		.host = j,
		.emit = io_emit,
		.cancelled = io_cancelled,
	};
	atoll_err be = { "" };
	int r = j->wl->lb->b->run(j->wl->ctx, &job, &io, &be);
	if (r == ATOLL_OK && io_cancelled(j))
		r = ATOLL_E_CANCELLED;
	if (r != ATOLL_OK) {
		bool deadline = j->deadline_ms && time_now_ms() > j->deadline_ms;
		char msg[1200];
		if (r == ATOLL_E_CANCELLED)
			snprintf(msg, sizeof msg, "cancelled%s", deadline ? ": deadline passed" : "");
		else
			snprintf(msg, sizeof msg, "%s: %s", atoll_status_name(r),
				 be.msg[0] ? be.msg : "backend failed");
		/* A backend's message may quote the input: in TEE mode only
		 * the client reads it. */
		if (j->sealer)
			seal_error(j, error_code(r, deadline), msg, err, sizeof err);
		else
			snprintf(err, sizeof err, "%s", msg);
		OPENSSL_cleanse(msg, sizeof msg);
		OPENSSL_cleanse(&be, sizeof be);
		goto done;
	}
	if (j->sealer) {
		struct buf rec = { 0 };
		if (env_output_finish(j->sealer, &rec) != ENV_OK ||
		    send_chunk(j, rec.data, rec.len) != ATOLL_OK) {
			buf_free(&rec);
			snprintf(err, sizeof err, "cannot finish the sealed output");
			goto done;
		}
		buf_free(&rec);
	}
	ok = true;
done:
	buf_free(&pt); /* wiped */
	send_done(j, ok, ok ? NULL : err, (uint64_t)(time_mono_ms() - t0));
	pthread_mutex_lock(&e->jmu);
	for (struct ejob **pp = &e->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	e->n_jobs--;
	pthread_cond_broadcast(&e->jcond);
	pthread_mutex_unlock(&e->jmu);
	job_free(j);
	return NULL;
}

/* The entry serving a workload in a mode, else any entry of the workload
 * (for its error message), else NULL. */
static struct ewl *find_wl(struct enclave *e, uint32_t id, uint32_t mode)
{
	struct ewl *any = NULL;
	for (size_t i = 0; i < e->n_wls; i++) {
		if (e->wls[i].id != id)
			continue;
		if (e->wls[i].modes & mode_bit(mode))
			return &e->wls[i];
		any = &e->wls[i];
	}
	return any;
}

static void start_job(struct enclave *e, const Atoll__Enclave__V1__RunJob *rj)
{
	struct ejob *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->e = e;
	snprintf(j->job_id, sizeof j->job_id, "%s", rj->job_id);
	j->attempt = rj->attempt;
	j->workload_id = rj->workload_id;
	j->mode = (uint32_t)rj->mode;
	j->deadline_ms = rj->deadline_ms;
	j->wl = find_wl(e, rj->workload_id, (uint32_t)rj->mode);
	if (rj->client_public_key.len == ENV_KEY_LEN) {
		memcpy(j->client_pub, rj->client_public_key.data, ENV_KEY_LEN);
		j->has_client_pub = true;
	}
	j->input = malloc(rj->input.len + 1);
	if (!j->input) {
		free(j);
		return;
	}
	if (rj->input.len)
		memcpy(j->input, rj->input.data, rj->input.len);
	j->input_len = rj->input.len;
	pthread_mutex_lock(&e->jmu);
	if (e->n_jobs >= MAX_JOBS) {
		pthread_mutex_unlock(&e->jmu);
		send_done(j, false, "enclave is at its job limit", 0);
		job_free(j);
		return;
	}
	j->next = e->jobs;
	e->jobs = j;
	e->n_jobs++;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&j->th, &attr, job_thread, j) != 0) {
		e->jobs = j->next;
		e->n_jobs--;
		pthread_mutex_unlock(&e->jmu);
		send_done(j, false, "cannot start a job thread", 0);
		job_free(j);
		pthread_attr_destroy(&attr);
		return;
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_unlock(&e->jmu);
}

static void cancel_job(struct enclave *e, const Atoll__Enclave__V1__CancelJob *cj)
{
	pthread_mutex_lock(&e->jmu);
	for (struct ejob *j = e->jobs; j; j = j->next)
		if (strcmp(j->job_id, cj->job_id) == 0 && j->attempt == cj->attempt) {
			atomic_store(&j->cancelled, true);
			if (j->wl)
				plugin_backend_cancel(j->wl->lb, j->wl->ctx, j->job_id);
		}
	pthread_mutex_unlock(&e->jmu);
}

static void attest(struct enclave *e, const Atoll__Enclave__V1__AttestRequest *ar)
{
	Atoll__Enclave__V1__AttestResult res = ATOLL__ENCLAVE__V1__ATTEST_RESULT__INIT;
	Atoll__Enclave__V1__EnclaveMessage m = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT;
	m.msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_ATTEST;
	m.attest = &res;
	res.nonce = ar->nonce;
	char err[1280];
	atoll_evidence *ev = NULL;
	ProtobufCBinaryData *coll = NULL;
	if (!e->has_tee) {
		snprintf(err, sizeof err, "no TEE: %s", e->tee_error);
		res.error = err;
		send_msg(e, &m);
		return;
	}
	res.tee_type = (char *)e->drv->d->name;
	uint8_t rd[ENV_REPORT_DATA_LEN];
	if (env_report_data(ar->nonce.data, ar->nonce.len, e->pub, e->manifest_digest, rd) !=
	    ENV_OK) {
		res.error = "cannot compute report data";
		send_msg(e, &m);
		return;
	}
	atoll_err ae = { "" };
	int r = plugin_driver_collect(e->drv, rd, &ev, &ae);
	if (r != ATOLL_OK) {
		snprintf(err, sizeof err, "collect failed (%s): %s", atoll_status_name(r), ae.msg);
		res.error = err;
		send_msg(e, &m);
		return;
	}
	coll = calloc(ev->n_collateral + 1, sizeof *coll);
	if (coll) {
		for (size_t i = 0; i < ev->n_collateral; i++) {
			coll[i].data = (uint8_t *)ev->collateral[i].data;
			coll[i].len = ev->collateral[i].len;
		}
		res.n_collateral = ev->n_collateral;
		res.collateral = coll;
	}
	res.ok = true;
	res.evidence.data = ev->data;
	res.evidence.len = ev->len;
	res.manifest.data = e->manifest.data;
	res.manifest.len = e->manifest.len;
	send_msg(e, &m);
	free(coll);
	plugin_driver_evidence_free(e->drv, ev);
}

/* Hash what was loaded: the runtime itself, the driver, and each available
 * workload's backend and models. Without a manifest there is nothing an
 * attestation could vouch for, so the TEE is given up. */
static int build_manifest(struct enclave *e)
{
	bool *include = calloc(e->n_wls + 1, sizeof *include);
	if (!include)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_wls; i++)
		include[i] = e->wls[i].available;
	struct manifest m = { 0 };
	char err[1024] = "";
	int r = island_manifest(e->cfg, "/proc/self/exe", e->has_tee ? e->drv->name : NULL,
				e->has_tee ? e->drv->path : NULL, include, &m, err, sizeof err);
	if (r == 0)
		r = manifest_encode(&m, &e->manifest);
	manifest_clear(&m);
	free(include);
	if (r < 0) {
		snprintf(e->tee_error, sizeof e->tee_error, "cannot build the enclave manifest: %.980s",
			 err[0] ? err : strerror(-r));
		log_error("%s", e->tee_error);
		e->has_tee = false;
		return 0;
	}
	manifest_digest(e->manifest.data, e->manifest.len, e->manifest_digest);
	return 0;
}

static void use_driver(struct enclave *e, const struct loaded_driver *ld)
{
	char line[1200];
	plugin_driver_describe(ld, line, sizeof line);
	log_info("%s", line);
	e->drv = ld;
	e->has_tee = true;
}

/* Probe every module of the driver directory; use the one that finds
 * its TEE. None or several: no TEE, and tee_error says what each said. */
static void probe_drivers(struct enclave *e)
{
	const struct island_config *c = e->cfg;
	const char *dir = c->enclave.driver_dir;
	char **paths = NULL;
	size_t n = 0;
	int r = driver_set_dir(dir, &paths, &n);
	if (r < 0 || n == 0) {
		snprintf(e->tee_error, sizeof e->tee_error, "no driver modules in %s%s%s", dir,
			 r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		log_warn("%s", e->tee_error);
		driver_set_paths_free(paths, n);
		return;
	}
	struct plugin_cfg *cfgs = calloc(n, sizeof *cfgs);
	char (*names)[64] = calloc(n, sizeof *names);
	e->probes = calloc(n, sizeof *e->probes);
	if (!cfgs || !names || !e->probes) {
		snprintf(e->tee_error, sizeof e->tee_error, "out of memory while probing drivers");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(paths[i], '/') + 1;
		snprintf(names[i], sizeof names[i], "%.*s", (int)(strlen(base) - 3), base);
		const struct island_driver_config *dc = island_driver_config(c, names[i]);
		cfgs[i].name = names[i];
		cfgs[i].path = paths[i];
		if (dc) {
			cfgs[i].config = dc->config;
			cfgs[i].n_config = dc->n_config;
		}
	}
	if (driver_set_probe(cfgs, n, e->probes, &e->drivers) < 0) {
		snprintf(e->tee_error, sizeof e->tee_error, "out of memory while probing drivers");
		goto out;
	}
	e->n_probes = n;
	struct buf why = { 0 }, found = { 0 };
	for (size_t i = 0; i < n; i++) {
		const struct driver_probe *p = &e->probes[i];
		if (p->status == ATOLL_OK) {
			log_info("probe %s: found", p->name);
			buf_printf(&found, "%s%s", found.len ? ", " : "", p->name);
		} else {
			log_info("probe %s: not found: %s", p->name, p->reason);
			buf_printf(&why, "%s%s: %s", why.len ? "; " : "", p->name, p->reason);
		}
	}
	if (e->drivers.n == 1) {
		log_info("TEE detected: %s", e->drivers.d[0].name);
		use_driver(e, &e->drivers.d[0]);
	} else if (e->drivers.n == 0) {
		snprintf(e->tee_error, sizeof e->tee_error, "nothing detected by the drivers in %s: %s",
			 dir, buf_cstr(&why));
		log_warn("%s", e->tee_error);
	} else {
		/* Guessing could attest the wrong thing: the operator names it. */
		snprintf(e->tee_error, sizeof e->tee_error,
			 "several TEEs detected (%s): name one in enclave.driver", buf_cstr(&found));
		log_error("%s", e->tee_error);
		driver_set_unload(&e->drivers);
	}
	buf_free(&why);
	buf_free(&found);
out:
	free(cfgs);
	free(names);
	driver_set_paths_free(paths, n);
}

static void choose_driver(struct enclave *e)
{
	const struct island_config *c = e->cfg;
	if (c->enclave.no_tee) {
		snprintf(e->tee_error, sizeof e->tee_error, "enclave.driver is none");
		return;
	}
	if (!c->enclave.has_driver) {
		probe_drivers(e);
		return;
	}
	char derr[1024];
	const struct plugin_cfg *pc = &c->enclave.driver;
	if (driver_set_load(pc, 1, &e->drivers, derr, sizeof derr) < 0) {
		snprintf(e->tee_error, sizeof e->tee_error, "%.1000s", derr);
		log_error("%s", derr);
		return;
	}
	atoll_err ae = { "" };
	int r = plugin_driver_detect(&e->drivers.d[0], &ae);
	if (r != ATOLL_OK) {
		char line[1200];
		plugin_driver_describe(&e->drivers.d[0], line, sizeof line);
		log_info("%s", line);
		snprintf(e->tee_error, sizeof e->tee_error, "%.64s: detect: %.900s", pc->name,
			 ae.msg[0] ? ae.msg : atoll_status_name(r));
		log_warn("%s", e->tee_error);
		return;
	}
	use_driver(e, &e->drivers.d[0]);
}

static int load_everything(struct enclave *e, char *err, size_t err_size)
{
	struct island_config *c = e->cfg;
	if (x25519_keygen(e->priv, e->pub) != 0) {
		snprintf(err, err_size, "cannot make the enclave key pair");
		return -EIO;
	}
	choose_driver(e);
	e->backends = calloc(c->enclave.n_backends + 1, sizeof *e->backends);
	e->wls = calloc(c->enclave.n_workloads + 1, sizeof *e->wls);
	if (!e->backends || !e->wls)
		return -ENOMEM;
	/* A backend that fails to load makes its workloads unavailable; the
	 * island still serves the others. */
	char (*berr)[1024] = calloc(c->enclave.n_backends + 1, sizeof *berr);
	if (!berr)
		return -ENOMEM;
	for (size_t i = 0; i < c->enclave.n_backends; i++) {
		const struct plugin_cfg *pc = &c->enclave.backends[i];
		if (plugin_load_backend(pc->path, &e->backends[i], berr[i], sizeof berr[i]) < 0)
			log_error("%s", berr[i]);
		else if (strcmp(e->backends[i].b->name, pc->name) != 0) {
			snprintf(berr[i], sizeof berr[i], "backend in [%s] is named '%s', config says '%s'",
				 pc->path, e->backends[i].b->name, pc->name);
			log_error("%s", berr[i]);
			plugin_unload_backend(&e->backends[i]);
		} else {
			char line[1200];
			plugin_backend_describe(&e->backends[i], line, sizeof line);
			log_info("%s", line);
		}
	}
	e->n_backends = c->enclave.n_backends;
	for (size_t i = 0; i < c->enclave.n_workloads; i++) {
		const struct island_workload *w = &c->enclave.workloads[i];
		struct ewl *wl = &e->wls[i];
		wl->id = w->id;
		size_t bi = 0;
		while (strcmp(c->enclave.backends[bi].name, w->backend) != 0)
			bi++; /* config validation guarantees a match */
		wl->lb = &e->backends[bi];
		wl->modes = w->modes;
		e->n_wls = i + 1;
		if (!wl->lb->b) {
			snprintf(wl->error, sizeof wl->error, "backend unavailable: %.990s", berr[bi]);
			continue;
		}
		if ((w->modes & ~wl->lb->b->modes) != 0) {
			snprintf(wl->error, sizeof wl->error,
				 "backend '%s' cannot run every mode configured for workload %u",
				 w->backend, w->id);
			log_error("%s", wl->error);
			continue;
		}
		atoll_kv kv[129];
		size_t n = 0;
		for (size_t k = 0; k < w->n_models && n < 64; k++)
			kv[n++] = (atoll_kv){ "model", w->models[k] };
		for (size_t k = 0; k < w->n_options && n < 128; k++)
			kv[n++] = w->options[k];
		char ierr[1024];
		if (plugin_backend_init(wl->lb, kv, n, &wl->ctx, ierr, sizeof ierr) < 0) {
			snprintf(wl->error, sizeof wl->error, "%.1000s", ierr);
			log_error("workload %u: %s", w->id, ierr);
			continue;
		}
		wl->available = true;
	}
	free(berr);
	return build_manifest(e);
}

static int send_ready(struct enclave *e)
{
	Atoll__Enclave__V1__Ready rd = ATOLL__ENCLAVE__V1__READY__INIT;
	rd.tee_type = e->has_tee ? (char *)e->drv->d->name : "";
	rd.tee_error = e->has_tee ? "" : e->tee_error;
	rd.enclave_public_key.data = e->pub;
	rd.enclave_public_key.len = ENV_KEY_LEN;
	rd.version = ATOLL_VERSION;
	rd.max_frame_bytes = e->cfg->enclave.max_frame_bytes;
	Atoll__Enclave__V1__Workload *ws = calloc(e->n_wls + 1, sizeof *ws);
	Atoll__Enclave__V1__Workload **wp = calloc(e->n_wls + 1, sizeof *wp);
	Atoll__V1__Mode(*modes)[3] = calloc(e->n_wls + 1, sizeof *modes);
	Atoll__Enclave__V1__TeeProbe *ps = calloc(e->n_probes + 1, sizeof *ps);
	Atoll__Enclave__V1__TeeProbe **pp = calloc(e->n_probes + 1, sizeof *pp);
	if (!ws || !wp || !modes || !ps || !pp) {
		free(ws);
		free(wp);
		free(modes);
		free(ps);
		free(pp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < e->n_probes; i++) {
		atoll__enclave__v1__tee_probe__init(&ps[i]);
		ps[i].driver = e->probes[i].name;
		ps[i].path = e->probes[i].path;
		ps[i].found = e->probes[i].status == ATOLL_OK;
		ps[i].reason = e->probes[i].reason;
		pp[i] = &ps[i];
	}
	rd.n_probes = e->n_probes;
	rd.probes = pp;
	for (size_t i = 0; i < e->n_wls; i++) {
		struct ewl *wl = &e->wls[i];
		atoll__enclave__v1__workload__init(&ws[i]);
		ws[i].workload_id = wl->id;
		ws[i].backend = wl->lb->b ? (char *)wl->lb->b->name : "";
		ws[i].available = wl->available;
		ws[i].error = wl->error;
		size_t n = 0;
		for (uint32_t m = ATOLL_MODE_PLAIN; m <= ATOLL_MODE_HOMOMORPHIC; m++)
			if (wl->modes & ATOLL_MODE_BIT(m))
				modes[i][n++] = (Atoll__V1__Mode)m;
		ws[i].n_modes = n;
		ws[i].modes = modes[i];
		wp[i] = &ws[i];
	}
	rd.n_workloads = e->n_wls;
	rd.workloads = wp;
	Atoll__Enclave__V1__EnclaveMessage m = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__INIT;
	m.msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY;
	m.ready = &rd;
	int r = send_msg(e, &m);
	free(ws);
	free(wp);
	free(modes);
	free(ps);
	free(pp);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: atoll-enclave --config island.yaml --fd N\n"
		   "       atoll-enclave --config island.yaml --listen vsock:PORT | unix:PATH\n"
		   "       atoll-enclave --config island.yaml --detect\n"
		   "Speaks the framed protocol of docs/enclave-protocol.md with the island\n"
		   "host: on file descriptor N (a child started by atoll-island), or on\n"
		   "each connection to a listening socket (a runtime in a TEE VM, a Nitro\n"
		   "enclave or a container). --detect prints what each TEE driver finds here\n"
		   "and exits 0 when the enclave has a TEE.\n");
}

/* Serve one host on fd until it closes the pipe or sends garbage. Exit
 * status: 0 at a clean end, 1 when the runtime cannot start, 3 on a bad
 * frame. */
static int serve(const char *config, int fd)
{
	struct enclave e = { .fd = fd };
	pthread_mutex_init(&e.wmu, NULL);
	pthread_mutex_init(&e.jmu, NULL);
	pthread_cond_init(&e.jcond, NULL);
	char err[1024] = "";
	if (island_config_load(config, ISLAND_CFG_ENCLAVE, &e.cfg, err, sizeof err) < 0) {
		log_error("%s", err);
		close(fd);
		return 1;
	}
	int rc = 0;
	if (load_everything(&e, err, sizeof err) < 0 || send_ready(&e) < 0) {
		log_error("cannot start: %s", err[0] ? err : "host pipe closed");
		rc = 1;
		goto out;
	}
	for (;;) {
		ProtobufCMessage *pm = NULL;
		int r = frame_read(fd, &atoll__enclave__v1__host_message__descriptor,
				   e.cfg->enclave.max_frame_bytes, &pm);
		if (r == -EPIPE)
			break; /* the host closed the pipe: stop */
		if (r < 0) {
			log_error("bad frame from host: %s; closing the pipe",
				  r == -EMSGSIZE ? "length over the frame limit"
				  : r == -EBADMSG ? "truncated or malformed message" : strerror(-r));
			rc = 3;
			break;
		}
		Atoll__Enclave__V1__HostMessage *hm = (void *)pm;
		switch (hm->msg_case) {
		case ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_ATTEST:
			attest(&e, hm->attest);
			break;
		case ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_RUN:
			start_job(&e, hm->run);
			break;
		case ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_CANCEL:
			cancel_job(&e, hm->cancel);
			break;
		default:
			log_error("bad frame from host: empty message; closing the pipe");
			rc = 3;
			break;
		}
		protobuf_c_message_free_unpacked(pm, NULL);
		if (rc)
			break;
	}
out:
	/* Stop running jobs and wait for their threads before unloading. */
	pthread_mutex_lock(&e.jmu);
	for (struct ejob *j = e.jobs; j; j = j->next)
		atomic_store(&j->cancelled, true);
	while (e.n_jobs)
		pthread_cond_wait(&e.jcond, &e.jmu);
	pthread_mutex_unlock(&e.jmu);
	for (size_t i = 0; i < e.n_wls; i++)
		if (e.wls[i].ctx)
			e.wls[i].lb->b->fini(e.wls[i].ctx);
	for (size_t i = 0; i < e.n_backends; i++)
		plugin_unload_backend(&e.backends[i]);
	driver_set_unload(&e.drivers);
	free(e.probes);
	free(e.backends);
	free(e.wls);
	buf_free(&e.manifest);
	OPENSSL_cleanse(e.priv, sizeof e.priv);
	island_config_free(e.cfg);
	close(fd);
	return rc;
}

/* --detect: the driver choice of a real start, printed. */
static int detect(const char *config)
{
	struct enclave e = { .fd = -1 };
	char err[1024] = "";
	if (island_config_load(config, ISLAND_CFG_ENCLAVE, &e.cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	choose_driver(&e);
	for (size_t i = 0; i < e.n_probes; i++)
		printf("%-10s %s%s%s\n", e.probes[i].name,
		       e.probes[i].status == ATOLL_OK ? "found" : "not found",
		       e.probes[i].status == ATOLL_OK ? "" : ": ",
		       e.probes[i].status == ATOLL_OK ? "" : e.probes[i].reason);
	if (e.has_tee)
		printf("TEE: %s (%s)\n", e.drv->d->name, e.drv->path);
	else
		printf("no TEE: %s\n", e.tee_error);
	int rc = e.has_tee ? 0 : 1;
	driver_set_unload(&e.drivers);
	free(e.probes);
	island_config_free(e.cfg);
	return rc;
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* --listen: accept hosts one after another; each connection is served by
 * a fresh child process, so that every host gets a fresh key and a
 * runtime in a known state, as a child runtime would be. */
static int listen_loop(const char *config, const char *spec)
{
	struct transport_addr a;
	char err[1024];
	if (transport_parse(spec, &a, err, sizeof err) < 0) {
		log_error("--listen %s", err);
		return 2;
	}
	struct island_config *ic = NULL;
	if (island_config_load(config, ISLAND_CFG_ENCLAVE, &ic, err, sizeof err) < 0) {
		log_error("%s", err);
		return 1;
	}
	island_config_free(ic);
	int lfd;
	if (transport_listen(&a, &lfd, err, sizeof err) < 0) {
		log_error("%s", err);
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	char where[160];
	transport_describe(&a, where, sizeof where);
	log_info("listening on %s", where);
	while (!stop_signal) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				log_error("accept on %s: %s", where, strerror(errno));
			continue;
		}
		pid_t pid = fork();
		if (pid < 0) {
			log_error("fork: %s", strerror(errno));
			close(fd);
			continue;
		}
		if (pid == 0) {
			close(lfd);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			_exit(serve(config, fd));
		}
		close(fd);
		log_info("host connected (pid %d serves it)", (int)pid);
		int st = 0;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			if (stop_signal)
				kill(pid, SIGTERM);
		if (WIFEXITED(st))
			log_info("host disconnected (exit %d)", WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			log_warn("the runtime serving the host died of signal %d", WTERMSIG(st));
	}
	close(lfd);
	if (a.kind == TRANSPORT_UNIX)
		unlink(a.path);
	log_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "fd", required_argument, NULL, 'f' },
		{ "listen", required_argument, NULL, 'l' },
		{ "detect", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *listen_spec = NULL;
	bool detect_only = false;
	int fd = -1, o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'f': fd = atoi(optarg); break;
		case 'l': listen_spec = optarg; break;
		case 'd': detect_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config || (fd >= 0) + (listen_spec != NULL) + detect_only != 1) {
		usage(stderr);
		return 2;
	}
	log_init("enclave", LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	/* Jobs run one per thread and the island's slots are its parallelism;
	 * OpenMP teams inside a backend (Tesseract's LSTM) would only
	 * oversubscribe the cores, and spin. Read by libgomp when a backend
	 * that needs it is loaded, below; an operator's own value wins. */
	setenv("OMP_THREAD_LIMIT", "1", 0);
	if (detect_only)
		return detect(config);
	if (listen_spec)
		return listen_loop(config, listen_spec);
	return serve(config, fd);
}
