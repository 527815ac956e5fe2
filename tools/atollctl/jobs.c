/* atollctl job commands: submit, get, watch, list, cancel, usage, stats,
 * islands. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/v1/confidential.pb-c.h"
#include "atoll/v1/jobs.pb-c.h"
#include "crypto/envelope.h"
#include "ctl.h"
#include "json/json.h"
#include "pbjson/pbjson.h"
#include "util/timeutil.h"

static const char *state_name(Atoll__V1__JobState s)
{
	switch (s) {
	case ATOLL__V1__JOB_STATE__JOB_STATE_PENDING: return "pending";
	case ATOLL__V1__JOB_STATE__JOB_STATE_QUEUED: return "queued";
	case ATOLL__V1__JOB_STATE__JOB_STATE_RUNNING: return "running";
	case ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED: return "completed";
	case ATOLL__V1__JOB_STATE__JOB_STATE_FAILED: return "failed";
	case ATOLL__V1__JOB_STATE__JOB_STATE_CANCELLED: return "cancelled";
	default: return "unknown";
	}
}

static const char *mode_text(Atoll__V1__Mode m)
{
	switch (m) {
	case ATOLL__V1__MODE__MODE_PLAIN: return "plain";
	case ATOLL__V1__MODE__MODE_TEE: return "tee";
	case ATOLL__V1__MODE__MODE_HOMOMORPHIC: return "homomorphic";
	default: return "?";
	}
}

static void ts_text(const Google__Protobuf__Timestamp *ts, char *out, size_t size)
{
	if (!ts) {
		snprintf(out, size, "-");
		return;
	}
	time_rfc3339_format(ts->seconds * 1000 + ts->nanos / 1000000, out, size);
}

static bool final_state(Atoll__V1__JobState s)
{
	return s == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED ||
	       s == ATOLL__V1__JOB_STATE__JOB_STATE_FAILED ||
	       s == ATOLL__V1__JOB_STATE__JOB_STATE_CANCELLED;
}

static void print_job(const Atoll__V1__Job *j)
{
	char cr[40], st[40], co[40];
	ts_text(j->created_at, cr, sizeof cr);
	ts_text(j->started_at, st, sizeof st);
	ts_text(j->completed_at, co, sizeof co);
	printf("%s  %s  workload %u (%s)  %s%s\n", j->id, state_name(j->state), j->workload_id,
	       j->workload, mode_text(j->mode), j->confidential ? "  confidential" : "");
	printf("  created %s  started %s  completed %s\n", cr, st, co);
	printf("  island %s  attempts %u  duration %llu ms  credits %.6f\n",
	       j->island_id[0] ? j->island_id : "-", j->attempts,
	       (unsigned long long)j->duration_ms, j->credits_used);
	if (j->error[0])
		printf("  error: %s\n", j->error);
	if (j->output) {
		if (j->output->encrypted)
			printf("  output: %zu bytes sealed to %s (atollctl decrypt --job %s)\n",
			       j->output->ciphertext.len, j->output->key_id, j->id);
		else if (j->output->text[0])
			printf("  output: %s\n", j->output->text);
		else
			printf("  output: %zu bytes (binary)\n", j->output->data.len);
	}
}

static int show_job(struct ctl *c, const Atoll__V1__Job *j)
{
	if (c->json)
		return ctl_print_json(&j->base, false);
	print_job(j);
	return 0;
}

static int parse_features(const char *s, Atoll__V1__JobInput *in)
{
	size_t n = 1;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	in->features = calloc(n, sizeof *in->features);
	if (!in->features)
		return -ENOMEM;
	const char *p = s;
	for (size_t i = 0; i < n; i++) {
		char *end;
		in->features[i] = strtod(p, &end);
		if (end == p || (*end && *end != ','))
			return -EINVAL;
		p = end + 1;
	}
	in->n_features = n;
	return 0;
}

int cmd_submit(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "features", required_argument, NULL, 'f' },
		{ "input", required_argument, NULL, 'i' },
		{ "confidential", no_argument, NULL, 'c' },
		{ "key-id", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ "idempotency-key", required_argument, NULL, 'I' },
		{ "wait", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long workload = -1;
	const char *prompt = NULL, *features = NULL, *input = NULL, *key_id = NULL, *idem = NULL;
	bool confidential = false, wait = false;
	long timeout = -1;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'w': workload = atol(optarg); break;
		case 'p': prompt = optarg; break;
		case 'f': features = optarg; break;
		case 'i': input = optarg; break;
		case 'c': confidential = true; break;
		case 'k': key_id = optarg; break;
		case 't': timeout = atol(optarg); break;
		case 'I': idem = optarg; break;
		case 'W': wait = true; break;
		case 'h':
			printf("usage: atollctl submit [BODY|@FILE|-] [--workload ID] [--prompt TEXT |\n"
			       "         --features 1,2,3 | --input JOBINPUT_JSON] [--confidential]\n"
			       "         [--key-id ck_...] [--timeout SECONDS] [--idempotency-key K]\n"
			       "         [--wait]\n"
			       "BODY is a SubmitJobRequest in JSON, e.g.\n"
			       "  '{\"workload_id\": 42, \"input\": {\"prompt\": \"Hello\"}}'\n"
			       "Flags fill in or override its fields. --wait watches the job to its end.\n");
			return 0;
		default: return 2;
		}
	}
	struct buf body = { 0 };
	if (optind < argc && ctl_read_arg(argv[optind], &body) < 0)
		return ctl_fail("cannot read %s", argv[optind]);
	Atoll__V1__SubmitJobRequest *req = NULL;
	char err[512];
	const char *text = body.len ? buf_cstr(&body) : "{}";
	if (pbjson_read(&atoll__v1__submit_job_request__descriptor, text, strlen(text), 0,
			(ProtobufCMessage **)&req, err, sizeof err) < 0) {
		buf_free(&body);
		return ctl_fail("the job body is not a SubmitJobRequest: %s", err);
	}
	buf_free(&body);
	int rc = 1;
	if (workload >= 0)
		req->workload_id = (uint32_t)workload;
	if (confidential)
		req->confidential = true;
	if (timeout >= 0)
		req->timeout_seconds = (uint32_t)timeout;
	if (key_id) {
		free(req->encryption_key_id == protobuf_c_empty_string ? NULL : req->encryption_key_id);
		req->encryption_key_id = strdup(key_id);
	}
	if (idem) {
		free(req->idempotency_key == protobuf_c_empty_string ? NULL : req->idempotency_key);
		req->idempotency_key = strdup(idem);
	}
	if (input || prompt || features) {
		if (req->input)
			protobuf_c_message_free_unpacked(&req->input->base, NULL);
		req->input = NULL;
		if (input) {
			if (pbjson_read(&atoll__v1__job_input__descriptor, input, strlen(input), 0,
					(ProtobufCMessage **)&req->input, err, sizeof err) < 0) {
				ctl_fail("--input is not a JobInput: %s", err);
				goto out;
			}
		} else {
			req->input = malloc(sizeof *req->input);
			if (!req->input)
				goto out;
			atoll__v1__job_input__init(req->input);
			if (prompt)
				req->input->prompt = strdup(prompt);
			if (features && parse_features(features, req->input) < 0) {
				ctl_fail("--features must be numbers separated by commas");
				goto out;
			}
		}
	}
	if (!req->workload_id) {
		ctl_usage("a workload is needed (--workload ID or \"workload_id\" in the body)");
		rc = 2;
		goto out;
	}
	Atoll__V1__Job *job;
	if (ctl_call(c, "/atoll.v1.Jobs/SubmitJob", &req->base, &atoll__v1__job__descriptor,
		     (ProtobufCMessage **)&job))
		goto out;
	/* An input sealed here: remember the job it became. */
	struct cl_sealed rec;
	int bound = job_bind_sealed(c, req->input, job->id, &rec);
	if (bound < 0 && bound != -ENOENT) {
		protobuf_c_message_free_unpacked(&job->base, NULL);
		goto out;
	}
	if (wait) {
		char id[64];
		snprintf(id, sizeof id, "%s", job->id);
		protobuf_c_message_free_unpacked(&job->base, NULL);
		if (!c->json)
			fprintf(stderr, "submitted %s\n", id);
		struct cl_key k = { 0 };
		int e = bound == 0 ? keystore_load(c, rec.key_id, &k) : -ENOENT;
		rc = watch_job(c, id, e == 0 ? &rec : NULL, e == 0 ? &k : NULL, false);
		cl_key_wipe(&k);
		goto out;
	}
	rc = show_job(c, job);
	protobuf_c_message_free_unpacked(&job->base, NULL);
out:
	protobuf_c_message_free_unpacked(&req->base, NULL);
	return rc;
}

static int one_id(int argc, char **argv, const char *what)
{
	if (argc == 2 && argv[1][0] != '-')
		return 0;
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: atollctl %s JOB_ID\n", what);
		return -1;
	}
	return ctl_usage("usage: atollctl %s JOB_ID", what);
}

int cmd_get(struct ctl *c, int argc, char **argv)
{
	int r = one_id(argc, argv, "get");
	if (r)
		return r < 0 ? 0 : r;
	Atoll__V1__GetJobRequest req = ATOLL__V1__GET_JOB_REQUEST__INIT;
	req.job_id = argv[1];
	Atoll__V1__Job *job;
	if (ctl_call(c, "/atoll.v1.Jobs/GetJob", &req.base, &atoll__v1__job__descriptor,
		     (ProtobufCMessage **)&job))
		return 1;
	r = show_job(c, job);
	protobuf_c_message_free_unpacked(&job->base, NULL);
	return r;
}

/* Live output: plain chunks are written as they come. The output of a
 * job whose input this client sealed is opened record by record against
 * the local record; a chunk with seq 0 starts a new attempt's stream. */
struct live {
	const struct cl_sealed *rec; /* NULL: not sealed here */
	const struct cl_key *k;
	struct cl_live open; /* the sealed stream, when rec */
	int last_byte; /* of what went to stdout, -1 for nothing */
	bool saw_chunks;
};

static void out_write(struct live *lv, const uint8_t *p, size_t n)
{
	if (!n)
		return;
	fwrite(p, 1, n, stdout);
	fflush(stdout);
	lv->last_byte = p[n - 1];
}

static void live_sealed(struct live *lv, const char *job_id, const Atoll__V1__OutputChunk *ch)
{
	struct buf pt = { 0 };
	bool restarted;
	int r = cl_live_chunk(&lv->open, ch->seq, ch->data.data, ch->data.len, &pt, &restarted);
	if (restarted)
		fprintf(stderr, "[%s] the job was retried: its output starts again\n", job_id);
	out_write(lv, pt.data, pt.len);
	buf_free(&pt);
	if (r == ENV_OK)
		return;
	switch (lv->open.refused) {
	case CL_LIVE_HEADER:
		fprintf(stderr, "atollctl: sealed output refused: %s\n", env_strerror(r));
		break;
	case CL_LIVE_ATTEMPT:
		fprintf(stderr, "atollctl: sealed output of an earlier attempt refused\n");
		break;
	case CL_LIVE_CHUNK:
	case CL_LIVE_OK:
		fprintf(stderr, "atollctl: sealed output chunk refused: %s\n", env_strerror(r));
		break;
	}
}

static void live_chunk(struct ctl *c, struct live *lv, const char *job_id,
		       const Atoll__V1__OutputChunk *ch)
{
	lv->saw_chunks = true;
	if (c->json) {
		ctl_print_json(&ch->base, false);
		return;
	}
	if (lv->rec)
		live_sealed(lv, job_id, ch);
	else
		out_write(lv, ch->data.data, ch->data.len);
}

/* Open a job's whole sealed output against the local record; prints the
 * plaintext, or the job's sealed error. 0 when the job succeeded. */
static int open_sealed(const struct cl_sealed *rec, const struct cl_key *k,
		       const uint8_t *ct, size_t len, struct buf *pt)
{
	struct buf err = { 0 };
	int e = cl_open_output(rec, k, ct, len, pt, &err);
	if (e == ENV_E_JOB_FAILED)
		ctl_fail("job %s failed: %s", rec->job_id, buf_cstr(&err));
	else if (e != ENV_OK)
		ctl_fail("cannot open the output of %s: %s", rec->job_id, env_strerror(e));
	buf_free(&err);
	return e == ENV_OK ? 0 : 1;
}

int job_open_output(const struct cl_sealed *rec, const struct cl_key *k,
		    const Atoll__V1__JobOutput *o, struct buf *pt)
{
	if (!o || !o->encrypted)
		return ctl_fail("the coordinator returned %s for job %s, whose input was sealed "
				"here: refused",
				o ? "plain output" : "no output", rec->job_id);
	int rc = open_sealed(rec, k, o->ciphertext.data, o->ciphertext.len, pt);
	if (pt->len) {
		fwrite(pt->data, 1, pt->len, stdout);
		if (pt->data[pt->len - 1] != '\n')
			putchar('\n');
	}
	return rc;
}

static void print_plain_output(const Atoll__V1__JobOutput *o)
{
	if (o->text[0])
		printf("%s%s", o->text, o->text[strlen(o->text) - 1] == '\n' ? "" : "\n");
	else if (o->data.len)
		fwrite(o->data.data, 1, o->data.len, stdout);
}

int watch_job(struct ctl *c, const char *job_id, const struct cl_sealed *rec,
	      const struct cl_key *k, bool quiet_state)
{
	Atoll__V1__WatchJobRequest req = ATOLL__V1__WATCH_JOB_REQUEST__INIT;
	req.job_id = (char *)job_id;
	rpc_stream *s;
	if (ctl_stream(c, "/atoll.v1.Jobs/WatchJob", &req.base, &s))
		return 1;
	struct live lv = { .rec = rec && k ? rec : NULL, .k = k, .last_byte = -1 };
	lv.open.rec = lv.rec;
	lv.open.k = k;
	int rc = 1;
	bool refused = false;
	Atoll__V1__JobState last = ATOLL__V1__JOB_STATE__JOB_STATE_UNSPECIFIED;
	Atoll__V1__Job *final_job = NULL;
	while (!refused) {
		Atoll__V1__JobEvent *ev = NULL;
		int r = rpc_stream_recv(s, &atoll__v1__job_event__descriptor, (ProtobufCMessage **)&ev);
		if (r <= 0)
			break;
		if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_JOB) {
			Atoll__V1__Job *j = ev->job;
			/* What was sealed here is decrypted whatever the
			 * coordinator says; it may not pass it off as plain. */
			if (lv.rec && (j->mode != ATOLL__V1__MODE__MODE_TEE || strcmp(j->id, job_id))) {
				ctl_fail("the coordinator reports job %s as %s, but its input was "
					 "sealed here: refused",
					 j->id, mode_text(j->mode));
				refused = true;
			}
			if (c->json)
				ctl_print_json(&j->base, false);
			else if (!quiet_state && j->state != last) {
				/* Keep streamed output and state lines apart. */
				if (lv.last_byte >= 0 && lv.last_byte != '\n') {
					putchar('\n');
					fflush(stdout);
					lv.last_byte = '\n';
				}
				fprintf(stderr, "[%s] %s%s%s\n", job_id, state_name(j->state),
					j->error[0] ? ": " : "", j->error);
			}
			last = j->state;
			if (final_state(j->state)) {
				if (final_job)
					protobuf_c_message_free_unpacked(&final_job->base, NULL);
				final_job = j;
				ev->job = NULL;
				ev->event_case = ATOLL__V1__JOB_EVENT__EVENT__NOT_SET;
			}
		} else if (ev->event_case == ATOLL__V1__JOB_EVENT__EVENT_CHUNK) {
			live_chunk(c, &lv, job_id, ev->chunk);
		}
		protobuf_c_message_free_unpacked(&ev->base, NULL);
	}
	if (refused)
		rpc_stream_cancel(s);
	if (lv.last_byte >= 0 && lv.last_byte != '\n')
		putchar('\n');
	struct rpc_status st;
	rpc_stream_finish(s, &st);
	if (refused) {
		rc = 1;
	} else if (st.code != GRPC_STATUS_OK) {
		ctl_fail("WatchJob: %s", st.message[0] ? st.message : "stream failed");
	} else if (final_job && c->json) {
		rc = final_job->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED ? 0 : 1;
	} else if (final_job && lv.rec && !lv.saw_chunks) {
		/* The job ended before the watch began: its whole output. */
		struct buf pt = { 0 };
		rc = final_job->output || final_job->state ==
						  ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED
			     ? job_open_output(lv.rec, k, final_job->output, &pt)
			     : 1;
		buf_free(&pt);
	} else if (final_job && lv.rec) {
		/* Sealed output must have ended with its final record; a
		 * failed job's error is sealed in it. */
		const char *code, *msg;
		int e = cl_live_result(&lv.open, &code, &msg);
		if (e == ENV_E_JOB_FAILED)
			ctl_fail("job %s failed: %s: %s", job_id, code, msg);
		else if (e != ENV_OK && final_job->state ==
						ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED)
			ctl_fail("the sealed output of %s did not open completely", job_id);
		rc = e == ENV_OK && final_job->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED
			     ? 0
			     : 1;
	} else if (final_job) {
		rc = final_job->state == ATOLL__V1__JOB_STATE__JOB_STATE_COMPLETED ? 0 : 1;
		if (rc == 0 && !lv.saw_chunks && final_job->output && !final_job->output->encrypted)
			print_plain_output(final_job->output);
	}
	if (final_job)
		protobuf_c_message_free_unpacked(&final_job->base, NULL);
	cl_live_clear(&lv.open);
	return rc;
}

/* The local record and key of a job this client sealed, if any. */
int job_sealed_here(struct ctl *c, const char *job_id, struct cl_sealed *rec,
		    struct cl_key *k)
{
	int e = sealed_find_job(c, job_id, rec);
	if (e < 0)
		return e;
	if ((e = keystore_load(c, rec->key_id, k)) < 0) {
		ctl_fail("job %s was sealed here with key %s, which is not in the keystore: %s",
			 job_id, rec->key_id, strerror(-e));
		return -ENOKEY;
	}
	return 0;
}

int job_bind_sealed(struct ctl *c, const Atoll__V1__JobInput *in, const char *job_id,
		    struct cl_sealed *rec)
{
	struct env_input_info info;
	if (!in || !in->encrypted ||
	    env_inspect_input(in->ciphertext.data, in->ciphertext.len, &info) != ENV_OK)
		return -ENOENT;
	int e = sealed_load(c, info.envelope_id, rec);
	if (e < 0)
		return e;
	if ((e = sealed_bind_job(c, rec, job_id)) == -EEXIST)
		ctl_fail("this input was already submitted as job %s; its outputs belong to that job",
			 rec->job_id);
	else if (e < 0)
		ctl_fail("cannot record job %s in the keystore: %s", job_id, strerror(-e));
	return e;
}

int cmd_watch(struct ctl *c, int argc, char **argv)
{
	int r = one_id(argc, argv, "watch");
	if (r)
		return r < 0 ? 0 : r;
	struct cl_sealed rec;
	struct cl_key k = { 0 };
	int e = job_sealed_here(c, argv[1], &rec, &k);
	if (e == -ENOKEY)
		return 1;
	r = watch_job(c, argv[1], e == 0 ? &rec : NULL, e == 0 ? &k : NULL, false);
	cl_key_wipe(&k);
	return r;
}

int cmd_list(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "workload", required_argument, NULL, 'w' },
		{ "page-size", required_argument, NULL, 'n' },
		{ "page-token", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	Atoll__V1__ListJobsRequest req = ATOLL__V1__LIST_JOBS_REQUEST__INIT;
	bool all = false;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': {
			bool ok = false;
			for (int s = 1; s <= 6; s++)
				if (strcmp(optarg, state_name((Atoll__V1__JobState)s)) == 0) {
					req.state = (Atoll__V1__JobState)s;
					ok = true;
				}
			if (!ok)
				return ctl_usage("--state: pending, queued, running, completed, failed "
						 "or cancelled");
			break;
		}
		case 'w': req.workload_id = (uint32_t)atol(optarg); break;
		case 'n': req.page_size = (uint32_t)atol(optarg); break;
		case 'p': req.page_token = optarg; break;
		case 'a': all = true; break;
		case 'h':
			printf("usage: atollctl list [--state S] [--workload ID] [--page-size N]\n"
			       "                     [--page-token T] [--all]\n");
			return 0;
		default: return 2;
		}
	}
	char token[64] = "";
	int pages = 0;
	for (;;) {
		Atoll__V1__ListJobsResponse *resp;
		if (ctl_call(c, "/atoll.v1.Jobs/ListJobs", &req.base,
			     &atoll__v1__list_jobs_response__descriptor, (ProtobufCMessage **)&resp))
			return 1;
		if (c->json) {
			ctl_print_json(&resp->base, false);
		} else {
			if (!pages)
				printf("%-30s %-10s %-9s %-12s %s\n", "JOB", "STATE", "WORKLOAD", "MODE",
				       "CREATED");
			for (size_t i = 0; i < resp->n_jobs; i++) {
				char cr[40];
				ts_text(resp->jobs[i]->created_at, cr, sizeof cr);
				printf("%-30s %-10s %-9u %-12s %s\n", resp->jobs[i]->id,
				       state_name(resp->jobs[i]->state), resp->jobs[i]->workload_id,
				       mode_text(resp->jobs[i]->mode), cr);
			}
		}
		pages++;
		snprintf(token, sizeof token, "%s", resp->next_page_token);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (!token[0])
			break;
		if (!all) {
			if (!c->json)
				printf("(more: --page-token %s, or --all)\n", token);
			break;
		}
		req.page_token = token;
	}
	return 0;
}

int cmd_cancel(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	Atoll__V1__CancelJobRequest req = ATOLL__V1__CANCEL_JOB_REQUEST__INIT;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': req.reason = optarg; break;
		case 'h': printf("usage: atollctl cancel JOB_ID [--reason TEXT]\n"); return 0;
		default: return 2;
		}
	}
	if (optind != argc - 1)
		return ctl_usage("usage: atollctl cancel JOB_ID [--reason TEXT]");
	req.job_id = argv[optind];
	Atoll__V1__Job *job;
	if (ctl_call(c, "/atoll.v1.Jobs/CancelJob", &req.base, &atoll__v1__job__descriptor,
		     (ProtobufCMessage **)&job))
		return 1;
	int r = show_job(c, job);
	protobuf_c_message_free_unpacked(&job->base, NULL);
	return r;
}

int cmd_stats(struct ctl *c, int argc, char **argv)
{
	if (argc > 1)
		return strcmp(argv[1], "--help") == 0 ? (printf("usage: atollctl stats\n"), 0)
						       : ctl_usage("usage: atollctl stats");
	Atoll__V1__GetStatsRequest req = ATOLL__V1__GET_STATS_REQUEST__INIT;
	Atoll__V1__Stats *s;
	if (ctl_call(c, "/atoll.v1.Confidential/GetStats", &req.base, &atoll__v1__stats__descriptor,
		     (ProtobufCMessage **)&s))
		return 1;
	int r = 0;
	if (c->json) {
		r = ctl_print_json(&s->base, true);
	} else {
		printf("attested hosts: %u (connected %u, unattested %u, revoked %u)\n",
		       s->attested_hosts, s->connected_hosts, s->unattested_hosts, s->revoked_hosts);
		for (size_t i = 0; i < s->n_tee_types; i++)
			printf("  %-10s %u attested\n", s->tee_types[i]->key, s->tee_types[i]->value);
		printf("slots: %u busy of %u\n", s->busy_slots, s->slots);
	}
	protobuf_c_message_free_unpacked(&s->base, NULL);
	return r;
}

int cmd_usage(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	Atoll__V1__GetUsageRequest req = ATOLL__V1__GET_USAGE_REQUEST__INIT;
	Google__Protobuf__Timestamp since;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': {
			int64_t ms;
			if (time_rfc3339_parse(optarg, &ms) < 0)
				return ctl_usage("--since needs an RFC 3339 time, e.g. 2026-01-02T00:00:00Z");
			google__protobuf__timestamp__init(&since);
			since.seconds = ms / 1000;
			since.nanos = (int32_t)(ms % 1000) * 1000000;
			req.since = &since;
			break;
		}
		case 'h': printf("usage: atollctl usage [--since RFC3339]\n"); return 0;
		default: return 2;
		}
	}
	Atoll__V1__Usage *u;
	if (ctl_call(c, "/atoll.v1.Jobs/GetUsage", &req.base, &atoll__v1__usage__descriptor,
		     (ProtobufCMessage **)&u))
		return 1;
	int r = 0;
	if (c->json) {
		r = ctl_print_json(&u->base, true);
	} else {
		printf("tenant %s: %llu billed job(s), %.6f credits\n", u->tenant,
		       (unsigned long long)u->jobs, u->credits_used);
		for (size_t i = 0; i < u->n_workloads; i++)
			printf("  workload %u (%s): %llu job(s), %llu confidential, %.6f credits\n",
			       u->workloads[i]->workload_id, u->workloads[i]->workload,
			       (unsigned long long)u->workloads[i]->jobs,
			       (unsigned long long)u->workloads[i]->confidential_jobs,
			       u->workloads[i]->credits_used);
	}
	protobuf_c_message_free_unpacked(&u->base, NULL);
	return r;
}

int cmd_islands(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "workload", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	Atoll__V1__ListAttestedIslandsRequest req = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': req.include_unattested = true; break;
		case 'w': req.workload_id = (uint32_t)atol(optarg); break;
		case 'h': printf("usage: atollctl islands [--all] [--workload ID]\n"); return 0;
		default: return 2;
		}
	}
	Atoll__V1__ListAttestedIslandsResponse *resp;
	if (ctl_call(c, "/atoll.v1.Confidential/ListAttestedIslands", &req.base,
		     &atoll__v1__list_attested_islands_response__descriptor,
		     (ProtobufCMessage **)&resp))
		return 1;
	int r = 0;
	if (c->json) {
		r = ctl_print_json(&resp->base, false);
	} else {
		static const char *states[] = { "?", "unattested", "attested", "revoked", "gone" };
		for (size_t i = 0; i < resp->n_islands; i++) {
			Atoll__V1__AttestedIsland *a = resp->islands[i];
			printf("%s  %s  tee %s%s%s\n", a->island_id,
			       a->state < 5 ? states[a->state] : "?",
			       a->tee_type[0] ? a->tee_type : "none", a->reason[0] ? "  reason: " : "",
			       a->reason);
			for (size_t k = 0; k < a->n_claims; k++)
				printf("    %s: %s\n", a->claims[k]->key, a->claims[k]->value);
		}
		if (!resp->n_islands)
			printf("no %sislands\n", req.include_unattested ? "" : "attested ");
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}
