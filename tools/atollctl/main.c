/* atollctl: the command line client. Global options, dispatch, and the
 * helpers every subcommand shares. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "ctl.h"
#include "pbjson/pbjson.h"
#include "rpc/status.h"
#include "util/fsutil.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: atollctl [global options] COMMAND [options]\n"
		"\n"
		"Jobs:\n"
		"  submit [BODY|@FILE|-]    submit a job (seed-style JSON body and/or flags)\n"
		"  get JOB_ID               show a job\n"
		"  watch JOB_ID             stream a job's output and state until it ends\n"
		"  list                     list your jobs, newest first\n"
		"  cancel JOB_ID            cancel a job\n"
		"  usage                    credits used\n"
		"Confidential computing (keys stay on this machine):\n"
		"  keys create|list         make a key pair and register its public key\n"
		"  encrypt                  seal input to islands that pass YOUR policy\n"
		"  decrypt                  open a job's sealed output\n"
		"  run                      encrypt, submit, watch and decrypt in one go\n"
		"  islands                  attested islands with their evidence\n"
		"  stats                    attested islands by TEE type\n"
		"  verify                   check TEE evidence offline\n"
		"  manifest ISLAND_YAML     the enclave manifest to pin, computed offline\n"
		"Operators:\n"
		"  hash-key SECRET          SHA-256 of an API key or island token, for configs\n"
		"  sim ca|island-key|measure  keys and measurements for the sim TEE\n"
		"\n"
		"Global options (environment in brackets):\n"
		"  --addr HOST:PORT         coordinator [ATOLL_ADDR] (default 127.0.0.1:7443)\n"
		"  --api-key KEY            API key [ATOLL_API_KEY]\n"
		"  --keystore DIR           local keys [ATOLL_KEYSTORE] (default ~/.atoll/keys)\n"
		"  --json                   print JSON instead of text\n"
		"  --timeout SECONDS        per call (default 30)\n"
		"  --tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME]\n"
		"\n"
		"Run 'atollctl COMMAND --help' for a command's options.\n");
}

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("atollctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

int ctl_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("atollctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

static char *read_pem(const char *path)
{
	uint8_t *data;
	size_t len;
	return fs_read_file(path, 1 << 20, &data, &len) < 0 ? NULL : (char *)data;
}

rpc_client *ctl_client(struct ctl *c)
{
	if (c->client)
		return c->client;
	struct rpc_client_opts o = { 0 };
	char *ca = NULL, *cert = NULL, *key = NULL;
	if (c->tls_ca) {
		ca = read_pem(c->tls_ca);
		cert = c->tls_cert ? read_pem(c->tls_cert) : NULL;
		key = c->tls_key ? read_pem(c->tls_key) : NULL;
		if (!ca || (c->tls_cert && !cert) || (c->tls_key && !key)) {
			ctl_fail("cannot read the TLS files");
			exit(1);
		}
		o.tls_ca_pem = ca;
		o.tls_cert_pem = cert;
		o.tls_key_pem = key;
		o.tls_server_name = c->tls_server_name;
	}
	if (rpc_client_new(c->addr, &o, &c->client) < 0) {
		ctl_fail("bad coordinator address '%s'", c->addr);
		exit(1);
	}
	free(ca);
	free(cert);
	free(key);
	return c->client;
}

static const struct rpc_md *auth_md(struct ctl *c, size_t *n)
{
	static struct rpc_md md[1];
	if (!c->api_key || !*c->api_key) {
		*n = 0;
		return NULL;
	}
	snprintf(c->auth, sizeof c->auth, "Bearer %s", c->api_key);
	md[0] = (struct rpc_md){ "authorization", c->auth };
	*n = 1;
	return md;
}

int ctl_call(struct ctl *c, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret)
{
	size_t n;
	const struct rpc_md *md = auth_md(c, &n);
	struct rpc_status st;
	*ret = NULL;
	int r = rpc_unary(ctl_client(c), method, req, resp_desc, md, n, c->timeout_ms, ret, &st);
	if (r < 0)
		return ctl_fail("%s: %s", method, strerror(-r));
	if (st.code != GRPC_STATUS_OK) {
		if (*ret)
			protobuf_c_message_free_unpacked(*ret, NULL);
		*ret = NULL;
		if (st.code == GRPC_STATUS_UNAVAILABLE && !st.message[0])
			return ctl_fail("cannot reach the coordinator at %s", c->addr);
		return ctl_fail("%s: %s%s%s", method + 1, rpc_status_name(st.code),
				st.message[0] ? ": " : "", st.message);
	}
	return 0;
}

int ctl_stream(struct ctl *c, const char *method, const ProtobufCMessage *req, rpc_stream **ret)
{
	size_t n;
	const struct rpc_md *md = auth_md(c, &n);
	int r = rpc_stream_open(ctl_client(c), method, req, md, n, 0, false, ret);
	if (r < 0)
		return ctl_fail("%s: %s", method, strerror(-r));
	return 0;
}

int ctl_print_json(const ProtobufCMessage *m, bool emit_defaults)
{
	struct buf b = { 0 };
	unsigned flags = PBJSON_ORIGINAL_NAMES | PBJSON_PRETTY | (emit_defaults ? PBJSON_EMIT_DEFAULTS : 0);
	int r = pbjson_write(m, flags, &b);
	if (r < 0) {
		buf_free(&b);
		return ctl_fail("cannot print %s as JSON: %s", m->descriptor->name, strerror(-r));
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	return 0;
}

int ctl_read_arg(const char *arg, struct buf *out)
{
	if (strcmp(arg, "-") == 0) {
		char chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
			if (buf_append(out, chunk, n) < 0)
				return -ENOMEM;
		return ferror(stdin) ? -EIO : 0;
	}
	if (arg[0] == '@') {
		uint8_t *data;
		size_t len;
		int r = fs_read_file(arg + 1, 256u << 20, &data, &len);
		if (r < 0)
			return r;
		r = buf_append(out, data, len);
		free(data);
		return r;
	}
	return buf_puts(out, arg);
}

static const struct {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	bool needs_grpc;
} COMMANDS[] = {
	{ "submit", cmd_submit, true },     { "get", cmd_get, true },
	{ "watch", cmd_watch, true },       { "list", cmd_list, true },
	{ "cancel", cmd_cancel, true },     { "stats", cmd_stats, true },
	{ "usage", cmd_usage, true },       { "islands", cmd_islands, true },
	{ "keys", cmd_keys, true },         { "encrypt", cmd_encrypt, true },
	{ "decrypt", cmd_decrypt, true },   { "run", cmd_run, true },
	{ "hash-key", cmd_hash_key, false }, { "sim", cmd_sim, false },
	{ "verify", cmd_verify, false }, { "manifest", cmd_manifest, false },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "api-key", required_argument, NULL, 'k' },
		{ "keystore", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "tls-ca", required_argument, NULL, 'C' },
		{ "tls-cert", required_argument, NULL, 'E' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-server-name", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctl c = { 0 };
	c.addr = getenv("ATOLL_ADDR") ? getenv("ATOLL_ADDR") : "127.0.0.1:7443";
	c.api_key = getenv("ATOLL_API_KEY");
	c.keystore = getenv("ATOLL_KEYSTORE");
	c.timeout_ms = 30000;
	int o;
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 'a': c.addr = optarg; break;
		case 'k': c.api_key = optarg; break;
		case 's': c.keystore = optarg; break;
		case 'j': c.json = true; break;
		case 't': c.timeout_ms = (int64_t)(atof(optarg) * 1000); break;
		case 'C': c.tls_ca = optarg; break;
		case 'E': c.tls_cert = optarg; break;
		case 'K': c.tls_key = optarg; break;
		case 'N': c.tls_server_name = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
		if (strcmp(COMMANDS[i].name, name) != 0)
			continue;
		if (COMMANDS[i].needs_grpc)
			grpc_init();
		/* Subcommands parse their own options from their name on. */
		int sub_argc = argc - optind;
		char **sub_argv = argv + optind;
		optind = 0; /* glibc: a full restart of getopt for the new vector */
		int rc = COMMANDS[i].fn(&c, sub_argc, sub_argv);
		fflush(stdout);
		if (COMMANDS[i].needs_grpc) {
			rpc_client_free(c.client);
			grpc_shutdown();
		}
		return rc;
	}
	return ctl_usage("unknown command '%s' (see atollctl --help)", name);
}
