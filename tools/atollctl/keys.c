/* atollctl keys, encrypt, decrypt and run: the client side of confidential
 * jobs. Private keys live in a local keystore (one 0600 file per key in a
 * 0700 directory); the coordinator only ever sees public keys. Before
 * sealing input, atollctl verifies each island's evidence itself with the
 * TEE drivers and the policy file the client chose. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "atoll/v1/confidential.pb-c.h"
#include "atoll/v1/jobs.pb-c.h"
#include "crypto/envelope.h"
#include "ctl.h"
#include "json/json.h"
#include "pbjson/pbjson.h"
#include "client/seal.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"


/* Make a key pair here and register its public half. */
static int create_x25519(struct ctl *c, const char *label, struct cl_key *k)
{
	if (cl_key_generate(k) < 0)
		return ctl_fail("cannot generate a key");
	Atoll__V1__CreateKeyRequest req = ATOLL__V1__CREATE_KEY_REQUEST__INIT;
	req.algorithm = ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE;
	req.public_key.data = k->pub;
	req.public_key.len = 32;
	req.label = (char *)(label ? label : "");
	Atoll__V1__Key *key;
	if (ctl_call(c, "/atoll.v1.Confidential/CreateKey", &req.base, &atoll__v1__key__descriptor,
		     (ProtobufCMessage **)&key)) {
		cl_key_wipe(k);
		return 1;
	}
	if (strlen(key->key_id) >= sizeof k->key_id) {
		protobuf_c_message_free_unpacked(&key->base, NULL);
		cl_key_wipe(k);
		return ctl_fail("the coordinator gave a key id too long to keep: refused");
	}
	snprintf(k->key_id, sizeof k->key_id, "%s", key->key_id);
	k->algorithm = ATOLL__V1__KEY_ALGORITHM__KEY_ALGORITHM_X25519_HPKE;
	protobuf_c_message_free_unpacked(&key->base, NULL);
	const struct cl_keystore *ks;
	int e = ctl_keystore(c, &ks);
	if (e == 0)
		e = cl_key_save(ks, k);
	if (e == -EEXIST) {
		int rc = ctl_fail("the coordinator gave key id %s, which names a key already in "
				  "the keystore: refused, that key is kept", k->key_id);
		cl_key_wipe(k);
		return rc;
	}
	if (e < 0) {
		cl_key_wipe(k);
		return ctl_fail("cannot write the keystore: %s", strerror(-e));
	}
	return 0;
}

static int print_key(const struct cl_key *k)
{
	struct buf b = { 0 };
	struct json_writer w;
	jw_init(&w, &b);
	jw_object_begin(&w);
	jw_key(&w, "key_id");
	jw_string(&w, k->key_id);
	jw_key(&w, "public_key");
	jw_base64(&w, k->pub, 32);
	jw_object_end(&w);
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
	return 0;
}

int cmd_keys(struct ctl *c, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		printf("usage: atollctl keys create [--type x25519|paillier] [--bits N] [--label TEXT]\n"
		       "       atollctl keys list\n"
		       "create makes a key pair on this machine, registers the public key with\n"
		       "the coordinator and keeps the private key in the keystore (0600).\n");
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "list") == 0) {
		char dir[4096];
		if (keystore_dir_path(c, dir, sizeof dir) < 0)
			return ctl_fail("no keystore directory");
		DIR *d = opendir(dir);
		if (!d)
			return ctl_fail("cannot read %s: %s", dir, strerror(errno));
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t n = strlen(de->d_name);
			if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0)
				printf("%.*s\n", (int)(n - 5), de->d_name);
		}
		closedir(d);
		return 0;
	}
	if (strcmp(argv[1], "create") != 0)
		return ctl_usage("unknown keys command '%s'", argv[1]);
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ "bits", required_argument, NULL, 'b' },
		{ 0 },
	};
	const char *type = "x25519", *label = NULL;
	int bits = 3072;
	int o;
	/* Options follow the second word: parse argv[1..] as its own vector. */
	optind = 0;
	argc--;
	argv++;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': type = optarg; break;
		case 'l': label = optarg; break;
		case 'b': bits = atoi(optarg); break;
		default: return 2;
		}
	}
	if (strcmp(type, "paillier") == 0) {
		if (bits != 2048 && bits != 3072 && bits != 4096)
			return ctl_usage("--bits: 2048, 3072 (the default) or 4096");
		return he_key_create(c, bits, label, NULL, 0);
	}
	if (strcmp(type, "x25519") != 0)
		return ctl_usage("--type: x25519 or paillier");
	struct cl_key k;
	int rc = create_x25519(c, label, &k);
	if (rc)
		return rc;
	rc = print_key(&k);
	cl_key_wipe(&k);
	return rc;
}

/* ---- verifying islands and sealing ---- */

int seal_for_workload(struct ctl *c, const char *policy_path, const struct cl_key *k,
		      uint32_t workload_id, const uint8_t *pt, size_t len, struct buf *out,
		      struct buf *ids)
{
	if (!policy_path)
		return ctl_usage("a policy file is needed to decide which islands to trust "
				 "(--policy FILE or ATOLL_POLICY)");
	struct cl_trust *t;
	char err[4096];
	if (cl_trust_load(policy_path, &t, err, sizeof err) < 0)
		return ctl_fail("%s", err);
	Atoll__V1__ListAttestedIslandsRequest req = ATOLL__V1__LIST_ATTESTED_ISLANDS_REQUEST__INIT;
	req.workload_id = workload_id;
	Atoll__V1__ListAttestedIslandsResponse *resp = NULL;
	if (ctl_call(c, "/atoll.v1.Confidential/ListAttestedIslands", &req.base,
		     &atoll__v1__list_attested_islands_response__descriptor,
		     (ProtobufCMessage **)&resp)) {
		cl_trust_free(t);
		return 1;
	}
	const struct cl_keystore *ks;
	int e = ctl_keystore(c, &ks);
	if (e < 0)
		snprintf(err, sizeof err, "no keystore: %s", strerror(-e));
	else
		e = cl_seal_for_workload(ks, t, k, workload_id, resp, pt, len, out, ids, NULL, err,
					 sizeof err);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cl_trust_free(t);
	return e < 0 ? ctl_fail("%s", err) : 0;
}

/* The media type of a document from its magic bytes, or NULL. */
static const char *sniff_content_type(const uint8_t *d, size_t n)
{
	if (n >= 5 && memcmp(d, "%PDF-", 5) == 0)
		return "application/pdf";
	if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
		return "image/jpeg";
	if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
		return "image/tiff";
	if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6')
		return "image/x-portable-anymap";
	return NULL;
}

/* Where the input comes from: an argument (JSON, @FILE, -), --prompt, or
 * --file (a document, e.g. a scan for the ocr backend). */
struct input_src {
	const char *arg, *prompt, *file, *content_type;
};

/* --file: {"data": "<base64>", "content_type": "..."}. */
static int file_document(const struct input_src *src, struct buf *out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int e = fs_read_file(src->file, 256u << 20, &data, &len);
	if (e < 0)
		return ctl_fail("cannot read %s: %s", src->file, strerror(-e));
	const char *ct = src->content_type ? src->content_type : sniff_content_type(data, len);
	struct json_writer w;
	jw_init(&w, out);
	jw_object_begin(&w);
	jw_key(&w, "data");
	jw_base64(&w, data, len);
	if (ct) {
		jw_key(&w, "content_type");
		jw_string(&w, ct);
	}
	jw_object_end(&w);
	OPENSSL_cleanse(data, len);
	free(data);
	return w.error ? ctl_fail("out of memory") : 0;
}

/* The job input document from an argument or flags: the JSON a backend
 * reads, the same as a plain job's input. */
static int input_document(const struct input_src *src, struct buf *out)
{
	Atoll__V1__JobInput *in = NULL;
	struct buf raw = { 0 };
	char err[512];
	if (!!src->arg + !!src->prompt + !!src->file > 1)
		return ctl_usage("give one input: a JSON job input, --prompt or --file");
	if (src->content_type && !src->file)
		return ctl_usage("--content-type goes with --file");
	if (src->file)
		return file_document(src, out);
	if (src->prompt) {
		struct json_writer w;
		jw_init(&w, out);
		jw_object_begin(&w);
		jw_key(&w, "prompt");
		jw_string(&w, src->prompt);
		jw_object_end(&w);
		return w.error ? ctl_fail("out of memory") : 0;
	}
	const char *arg = src->arg;
	if (!arg)
		return ctl_usage("the input is needed: a JSON job input such as "
				 "'{\"prompt\": \"...\"}' (or @FILE, -), --prompt TEXT or --file PATH");
	if (ctl_read_arg(arg, &raw) < 0)
		return ctl_fail("cannot read %s", arg);
	const char *text = buf_cstr(&raw);
	int r = pbjson_read(&atoll__v1__job_input__descriptor, text, raw.len, 0,
			    (ProtobufCMessage **)&in, err, sizeof err);
	buf_free(&raw);
	if (r < 0)
		return ctl_fail("the input is not a job input: %s", err);
	if (in->encrypted || in->ciphertext.len || in->homomorphic) {
		protobuf_c_message_free_unpacked(&in->base, NULL);
		return ctl_fail("the input to encrypt must be plain (prompt, features, record or data)");
	}
	r = pbjson_write(&in->base, PBJSON_ORIGINAL_NAMES, out);
	protobuf_c_message_free_unpacked(&in->base, NULL);
	return r < 0 ? ctl_fail("cannot encode the input") : 0;
}

struct he_opts {
	bool he, aggregate;
	long scale_bits, records;
	const char *classes;
};

static int parse_common(int argc, char **argv, const char **key_id, long *workload,
			const char **policy, struct input_src *src, bool *confidential,
			long *timeout, struct he_opts *he, const char *help)
{
	static const struct option opts[] = {
		{ "he", no_argument, NULL, 'H' },
		{ "scale-bits", required_argument, NULL, 'S' },
		{ "records", required_argument, NULL, 'R' },
		{ "classes", required_argument, NULL, 'L' },
		{ "aggregate", no_argument, NULL, 'A' },
		{ "key-id", required_argument, NULL, 'k' },
		{ "workload", required_argument, NULL, 'w' },
		{ "policy", required_argument, NULL, 'P' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "content-type", required_argument, NULL, 'T' },
		{ "confidential", no_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k': *key_id = optarg; break;
		case 'w': *workload = atol(optarg); break;
		case 'P': *policy = optarg; break;
		case 'p': src->prompt = optarg; break;
		case 'f': src->file = optarg; break;
		case 'T': src->content_type = optarg; break;
		case 'c': *confidential = true; break;
		case 't': *timeout = atol(optarg); break;
		case 'H': he->he = true; break;
		case 'S': he->scale_bits = atol(optarg); break;
		case 'R': he->records = atol(optarg); break;
		case 'L': he->classes = optarg; break;
		case 'A': he->aggregate = true; break;
		case 'h': printf("%s", help); return -1;
		default: return 2;
		}
	}
	if (optind < argc)
		src->arg = argv[optind++];
	if (optind < argc)
		return ctl_usage("unexpected argument '%s'", argv[optind]);
	return 0;
}

int cmd_encrypt(struct ctl *c, int argc, char **argv)
{
	const char *key_id = NULL, *policy = getenv("ATOLL_POLICY");
	struct input_src src = { 0 };
	long workload = 0, timeout = 0;
	bool conf = false;
	struct he_opts he = { .scale_bits = 40 };
	int r = parse_common(argc, argv, &key_id, &workload, &policy, &src, &conf, &timeout,
			     &he,
			     "usage: atollctl encrypt --key-id ck_... --workload ID --policy FILE\n"
			     "                        (JOB_INPUT_JSON | @FILE | - | --prompt TEXT |\n"
			     "                         --file DOCUMENT [--content-type TYPE])\n"
			     "       atollctl encrypt --he --key-id ck_... [--scale-bits 40]\n"
			     "                        [--records N] '{\"features\": [...]}'\n"
			     "Seals the input to every island serving the workload whose evidence\n"
			     "passes YOUR policy file, and prints a job input to submit. With --he,\n"
			     "encrypts the features under your Paillier key instead (no TEE needed).\n");
	if (r)
		return r < 0 ? 0 : r;
	if (he.he) {
		if (!key_id || !src.arg)
			return ctl_usage("--he needs --key-id and the features");
		struct buf doc = { 0 };
		int rc = he_encrypt_input(c, key_id, src.arg, (uint32_t)he.records,
					  (unsigned)he.scale_bits, &doc);
		if (!rc)
			printf("%s\n", buf_cstr(&doc));
		buf_free(&doc);
		return rc;
	}
	if (!key_id || workload <= 0)
		return ctl_usage("--key-id and --workload are needed");
	struct cl_key k;
	if ((r = keystore_load(c, key_id, &k)) < 0)
		return ctl_fail("key %s is not in the local keystore: %s", key_id, strerror(-r));
	struct buf doc = { 0 }, env = { 0 }, ids = { 0 };
	int rc = input_document(&src, &doc);
	if (!rc)
		rc = seal_for_workload(c, policy, &k, (uint32_t)workload, doc.data, doc.len, &env, &ids);
	if (!rc) {
		struct buf b = { 0 };
		struct json_writer w;
		jw_init(&w, &b);
		jw_object_begin(&w);
		jw_key(&w, "encrypted");
		jw_bool(&w, true);
		jw_key(&w, "key_id");
		jw_string(&w, k.key_id);
		jw_key(&w, "ciphertext");
		jw_base64(&w, env.data, env.len);
		jw_object_end(&w);
		/* stdout is a job input as is; the recipients go to stderr. */
		fprintf(stderr, "sealed to %s\n", buf_cstr(&ids));
		printf("%s\n", buf_cstr(&b));
		buf_free(&b);
	}
	buf_free(&doc);
	buf_free(&env);
	buf_free(&ids);
	cl_key_wipe(&k);
	return rc;
}

static int fetch_job(struct ctl *c, const char *id, Atoll__V1__Job **ret)
{
	Atoll__V1__GetJobRequest req = ATOLL__V1__GET_JOB_REQUEST__INIT;
	req.job_id = (char *)id;
	return ctl_call(c, "/atoll.v1.Jobs/GetJob", &req.base, &atoll__v1__job__descriptor,
			(ProtobufCMessage **)ret);
}

static void print_plaintext(struct ctl *c, const struct buf *pt)
{
	if (c->json) {
		Atoll__V1__DecryptResponse r = ATOLL__V1__DECRYPT_RESPONSE__INIT;
		r.plaintext.data = pt->data;
		r.plaintext.len = pt->len;
		char *text = strndup(pt->len ? (const char *)pt->data : "", pt->len);
		r.text = text && strlen(text) == pt->len ? text : "";
		ctl_print_json(&r.base, false);
		free(text);
		return;
	}
	if (pt->len) {
		fwrite(pt->data, 1, pt->len, stdout);
		if (pt->data[pt->len - 1] != '\n')
			putchar('\n');
	}
}

int cmd_decrypt(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-id", required_argument, NULL, 'k' },
		{ "job", required_argument, NULL, 'j' },
		{ "ciphertext", required_argument, NULL, 'x' },
		{ "he", no_argument, NULL, 'H' },
		{ "classes", required_argument, NULL, 'L' },
		{ "aggregate", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *key_id = NULL, *job_id = NULL, *ct_arg = NULL, *classes = NULL;
	bool he = false, aggregate = false;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k': key_id = optarg; break;
		case 'j': job_id = optarg; break;
		case 'x': ct_arg = optarg; break;
		case 'H': he = true; break;
		case 'L': classes = optarg; break;
		case 'A': aggregate = true; break;
		case 'h':
			printf("usage: atollctl decrypt --job JOB_ID [--key-id ck_...]\n"
			       "                        [--ciphertext BASE64|@FILE]\n"
			       "       atollctl decrypt --he --job JOB_ID [--key-id ck_...]\n"
			       "                        [--classes NAME,NAME... | --aggregate]\n"
			       "Opens the job's sealed output (fetched from the coordinator unless\n"
			       "given) with the local private key. With --he, decrypts a homomorphic\n"
			       "job's scores and prints the label and probability (or sums and\n"
			       "means with --aggregate).\n");
			return 0;
		default: return 2;
		}
	}
	if (!job_id)
		return ctl_usage("--job is needed (the output is bound to its job)");
	if (he)
		return he_decrypt_job(c, job_id, key_id, classes, aggregate);
	/* What to expect comes from the local record of what was sealed:
	 * never from the coordinator's account of the job. */
	struct cl_sealed rec;
	struct cl_key k = { 0 };
	Atoll__V1__Job *job = NULL;
	struct buf pt = { 0 }, raw = { 0 };
	uint8_t *ctbuf = NULL;
	int rc = 1;
	int e = job_sealed_here(c, job_id, &rec, &k);
	if (e == -ENOKEY)
		return 1;
	if (e < 0) {
		/* Sealed here but submitted by another tool: bind the record on
		 * first use, if the job's envelope is one of ours. */
		if (fetch_job(c, job_id, &job))
			return 1;
		if (job->input_envelope_id.len != ENV_ID_LEN ||
		    sealed_load(c, job->input_envelope_id.data, &rec) < 0) {
			ctl_fail("the input of job %s was not sealed with this keystore: nothing "
				 "to check its output against",
				 job_id);
			goto out;
		}
		if ((e = sealed_bind_job(c, &rec, job_id)) < 0) {
			ctl_fail(e == -EEXIST ? "the input of job %s was submitted as job %s: refused"
					      : "cannot record job %s in the keystore (%s)",
				 job_id, e == -EEXIST ? rec.job_id : strerror(-e));
			goto out;
		}
		if ((e = keystore_load(c, rec.key_id, &k)) < 0) {
			ctl_fail("key %s is not in the local keystore: %s", rec.key_id, strerror(-e));
			goto out;
		}
	}
	if (key_id && strcmp(key_id, rec.key_id) != 0) {
		ctl_fail("job %s was sealed to key %s, not %s", job_id, rec.key_id, key_id);
		goto out;
	}
	Atoll__V1__JobOutput given = ATOLL__V1__JOB_OUTPUT__INIT;
	const Atoll__V1__JobOutput *out_msg = &given;
	if (ct_arg) {
		if (ctl_read_arg(ct_arg, &raw) < 0) {
			ctl_fail("cannot read %s", ct_arg);
			goto out;
		}
		ctbuf = malloc(raw.len + 3);
		long n = ctbuf ? enc_base64_decode((char *)raw.data, raw.len, ctbuf) : -1;
		if (n < 0) {
			ctl_fail("--ciphertext is not base64");
			goto out;
		}
		given.encrypted = true;
		given.ciphertext.data = ctbuf;
		given.ciphertext.len = (size_t)n;
	} else {
		if (!job && fetch_job(c, job_id, &job))
			goto out;
		out_msg = job->output;
	}
	if (c->json) {
		struct env_output_expect want = cl_sealed_expect(&rec);
		struct buf err = { 0 };
		e = out_msg && out_msg->encrypted ? env_open_output(k.priv, out_msg->ciphertext.data, out_msg->ciphertext.len,
							&want, &pt, &err)
				      : ENV_E_INVALID;
		if (e == ENV_OK)
			print_plaintext(c, &pt);
		else
			ctl_fail("cannot open the output of %s: %s%s%s", job_id,
				 env_strerror(e), err.len ? ": " : "", buf_cstr(&err));
		buf_free(&err);
		rc = e == ENV_OK ? 0 : 1;
	} else {
		rc = job_open_output(&rec, &k, out_msg, &pt);
	}
out:
	free(ctbuf);
	buf_free(&raw);
	buf_free(&pt);
	cl_key_wipe(&k);
	if (job)
		protobuf_c_message_free_unpacked(&job->base, NULL);
	return rc;
}

static int run_homomorphic(struct ctl *c, uint32_t workload, const char *key_id, const char *arg,
			   const struct he_opts *he, uint32_t timeout)
{
	char made[64] = "";
	if (!arg)
		return ctl_usage("--he needs the features: '{\"features\": [...]}'");
	if (!key_id) {
		int rc = he_key_create(c, 3072, "atollctl run --he", made, sizeof made);
		if (rc)
			return rc;
		key_id = made;
		fprintf(stderr, "created key %s\n", key_id);
	}
	struct buf doc = { 0 };
	int rc = he_encrypt_input(c, key_id, arg, (uint32_t)he->records, (unsigned)he->scale_bits, &doc);
	if (rc)
		return rc;
	Atoll__V1__JobInput *in = NULL;
	char err[256];
	if (pbjson_read(&atoll__v1__job_input__descriptor, buf_cstr(&doc), doc.len, 0,
			(ProtobufCMessage **)&in, err, sizeof err) < 0) {
		buf_free(&doc);
		return ctl_fail("%s", err);
	}
	buf_free(&doc);
	Atoll__V1__SubmitJobRequest req = ATOLL__V1__SUBMIT_JOB_REQUEST__INIT;
	req.workload_id = workload;
	req.mode = ATOLL__V1__MODE__MODE_HOMOMORPHIC;
	req.confidential = true;
	req.timeout_seconds = timeout;
	req.input = in;
	Atoll__V1__Job *job = NULL;
	rc = ctl_call(c, "/atoll.v1.Jobs/SubmitJob", &req.base, &atoll__v1__job__descriptor,
		      (ProtobufCMessage **)&job);
	protobuf_c_message_free_unpacked(&in->base, NULL);
	if (rc)
		return rc;
	fprintf(stderr, "submitted %s\n", job->id);
	char id[64];
	snprintf(id, sizeof id, "%s", job->id);
	protobuf_c_message_free_unpacked(&job->base, NULL);
	rc = watch_job(c, id, NULL, NULL, false);
	if (rc)
		return rc;
	return he_decrypt_job(c, id, key_id, he->classes, he->aggregate);
}

int cmd_run(struct ctl *c, int argc, char **argv)
{
	const char *key_id = NULL, *policy = getenv("ATOLL_POLICY");
	struct input_src src = { 0 };
	long workload = 0, timeout = 0;
	bool conf = false;
	struct he_opts he = { .scale_bits = 40 };
	int r = parse_common(argc, argv, &key_id, &workload, &policy, &src, &conf, &timeout,
			     &he,
			     "usage: atollctl run --workload ID [--confidential --policy FILE\n"
			     "                    [--key-id ck_...]] [--timeout SECONDS]\n"
			     "                    (JOB_INPUT_JSON | @FILE | - | --prompt TEXT |\n"
			     "                     --file DOCUMENT [--content-type TYPE])\n"
			     "       atollctl run --workload ID --he [--key-id ck_...] [--classes A,B]\n"
			     "                    [--aggregate] [--records N] '{\"features\": [...]}'\n"
			     "Confidential: makes (or uses) a local key, verifies the islands' evidence\n"
			     "against your policy, seals the input, submits, streams and decrypts.\n"
			     "--file sends a document (an image or a PDF for the ocr backend) as the\n"
			     "input's data, its content type taken from its first bytes.\n"
			     "Homomorphic (--he): encrypts the features under a local Paillier key,\n"
			     "submits in MODE_HOMOMORPHIC, decrypts the answer.\n");
	if (r)
		return r < 0 ? 0 : r;
	if (workload <= 0)
		return ctl_usage("--workload is needed");
	if (he.he)
		return run_homomorphic(c, (uint32_t)workload, key_id, src.arg, &he, (uint32_t)timeout);
	struct buf doc = { 0 }, env = { 0 }, ids = { 0 };
	struct cl_key k = { 0 };
	Atoll__V1__SubmitJobRequest req = ATOLL__V1__SUBMIT_JOB_REQUEST__INIT;
	Atoll__V1__JobInput in = ATOLL__V1__JOB_INPUT__INIT;
	Atoll__V1__Job *job = NULL;
	int rc = input_document(&src, &doc);
	if (rc)
		goto out;
	req.workload_id = (uint32_t)workload;
	req.timeout_seconds = (uint32_t)timeout;
	req.input = &in;
	if (conf) {
		if (key_id) {
			if ((r = keystore_load(c, key_id, &k)) < 0) {
				rc = ctl_fail("key %s is not in the local keystore: %s", key_id,
					      strerror(-r));
				goto out;
			}
		} else if ((rc = create_x25519(c, "atollctl run", &k))) {
			goto out;
		} else {
			fprintf(stderr, "created key %s\n", k.key_id);
		}
		if ((rc = seal_for_workload(c, policy, &k, (uint32_t)workload, doc.data, doc.len, &env,
					    &ids)))
			goto out;
		fprintf(stderr, "sealed to %s\n", buf_cstr(&ids));
		req.confidential = true;
		req.encryption_key_id = k.key_id;
		in.encrypted = true;
		in.key_id = k.key_id;
		in.ciphertext.data = env.data;
		in.ciphertext.len = env.len;
	} else {
		/* The same document a confidential run would seal, sent plain. */
		Atoll__V1__JobInput *parsed = NULL;
		char err[256];
		if (pbjson_read(&atoll__v1__job_input__descriptor, buf_cstr(&doc), doc.len, 0,
				(ProtobufCMessage **)&parsed, err, sizeof err) < 0) {
			rc = ctl_fail("%s", err);
			goto out;
		}
		req.input = parsed;
	}
	rc = ctl_call(c, "/atoll.v1.Jobs/SubmitJob", &req.base, &atoll__v1__job__descriptor,
		      (ProtobufCMessage **)&job);
	if (!conf)
		protobuf_c_message_free_unpacked(&req.input->base, NULL);
	if (rc)
		goto out;
	fprintf(stderr, "submitted %s\n", job->id);
	struct cl_sealed rec;
	if (conf) {
		/* The coordinator must report the envelope this client sealed. */
		struct env_input_info info;
		env_inspect_input(env.data, env.len, &info);
		if (job->input_envelope_id.len != ENV_ID_LEN ||
		    memcmp(job->input_envelope_id.data, info.envelope_id, ENV_ID_LEN) != 0) {
			rc = ctl_fail("the coordinator reports another input than the one sealed");
			goto out;
		}
		if (job_bind_sealed(c, &in, job->id, &rec) < 0) {
			rc = 1;
			goto out;
		}
	}
	rc = watch_job(c, job->id, conf ? &rec : NULL, conf ? &k : NULL, false);
out:
	if (job)
		protobuf_c_message_free_unpacked(&job->base, NULL);
	buf_free(&doc);
	buf_free(&env);
	buf_free(&ids);
	cl_key_wipe(&k);
	return rc;
}
