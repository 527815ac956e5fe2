/* atollctl operator commands: hash-key, sim (CA, island keys,
 * measurements), and verify (offline evidence verification). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "ctl.h"
#include "json/json.h"
#include "attest/verifier.h"
#include "simtool.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define MAX_EVIDENCE (16u << 20)
#define MAX_COLLATERAL 256

int cmd_hash_key(struct ctl *c, int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		printf("usage: atollctl hash-key SECRET\n"
		       "Prints the SHA-256 digest (hex) that coordinator.yaml stores for an API\n"
		       "key (tenants[].api_key_sha256) or island token "
		       "(islands.tokens[].token_sha256).\n");
		return argc == 2 ? 0 : 2;
	}
	uint8_t d[32];
	char hex[65];
	SHA256((const uint8_t *)argv[1], strlen(argv[1]), d);
	enc_hex_encode(d, 32, hex);
	printf("%s\n", hex);
	return 0;
}

int cmd_sim(struct ctl *c, int argc, char **argv)
{
	static const char help[] =
		"usage: atollctl sim ca --dir DIR [--name NAME] [--days N]\n"
		"       atollctl sim island-key --ca-dir DIR --name NAME --out DIR [--days N]\n"
		"       atollctl sim measure FILE\n"
		"The sim TEE is for development: a CA you make certifies island keys that\n"
		"sign sim reports. measure prints a runtime's measurement for policies.\n";
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		printf("%s", help);
		return argc < 2 ? 2 : 0;
	}
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "ca-dir", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ "days", required_argument, NULL, 'D' },
		{ 0 },
	};
	const char *dir = NULL, *ca_dir = NULL, *name = NULL, *out = NULL;
	int days = 365, o;
	const char *sub = argv[1];
	/* Options follow the second word: parse argv[1..] as its own vector. */
	optind = 0;
	argc--;
	argv++;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'c': ca_dir = optarg; break;
		case 'n': name = optarg; break;
		case 'o': out = optarg; break;
		case 'D': days = atoi(optarg); break;
		default: return 2;
		}
	}
	char err[512];
	if (strcmp(sub, "ca") == 0) {
		if (!dir)
			return ctl_usage("sim ca needs --dir");
		if (simtool_make_ca(dir, name ? name : "Atoll sim root CA", days, err, sizeof err) < 0)
			return ctl_fail("%s", err);
		printf("%s/%s\n", dir, SIMTOOL_CA_CERT);
		return 0;
	}
	if (strcmp(sub, "island-key") == 0) {
		if (!ca_dir || !name || !out)
			return ctl_usage("sim island-key needs --ca-dir, --name and --out");
		if (simtool_make_island_key(ca_dir, name, days, out, err, sizeof err) < 0)
			return ctl_fail("%s", err);
		printf("%s/%s.pem\n%s/%s.key\n", out, name, out, name);
		return 0;
	}
	if (strcmp(sub, "measure") == 0) {
		if (optind != argc - 1)
			return ctl_usage("usage: atollctl sim measure FILE");
		char hex[SIMTOOL_MEASUREMENT_HEX];
		if (simtool_measure(argv[optind], hex, err, sizeof err) < 0)
			return ctl_fail("%s", err);
		printf("%s\n", hex);
		return 0;
	}
	return ctl_usage("unknown sim command '%s'", sub);
}

/* ---- verify ---- */

/* Evidence files come as raw bytes, base64 or hex text: decide by content. */
static int decode_evidence(uint8_t *data, size_t *len)
{
	size_t n = 0;
	bool hex = true, b64 = true;
	for (size_t i = 0; i < *len; i++) {
		uint8_t ch = data[i];
		if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t')
			continue;
		bool is_hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			      (ch >= 'A' && ch <= 'F');
		bool is_b64 = is_hex || (ch >= 'g' && ch <= 'z') || (ch >= 'G' && ch <= 'Z') ||
			      ch == '+' || ch == '/' || ch == '=' || ch == '-' || ch == '_';
		hex &= is_hex;
		b64 &= is_b64;
		data[n++] = ch;
	}
	if (!n || (!hex && !b64))
		return 0; /* binary: keep as is (the caller kept the original) */
	if (hex && n % 2 == 0 && enc_hex_decode((char *)data, n, data) == 0) {
		*len = n / 2;
		return 1;
	}
	if (b64) {
		uint8_t *tmp = malloc(n);
		long m = tmp ? enc_base64_decode((char *)data, n, tmp) : -1;
		if (m > 0) {
			memcpy(data, tmp, (size_t)m);
			free(tmp);
			*len = (size_t)m;
			return 1;
		}
		free(tmp);
	}
	return -EINVAL;
}

static int read_evidence(const char *path, uint8_t **ret, size_t *ret_len)
{
	uint8_t *data;
	size_t len;
	int e = fs_read_file(path, MAX_EVIDENCE, &data, &len);
	if (e < 0)
		return e;
	uint8_t *copy = malloc(len + 1);
	if (!copy) {
		free(data);
		return -ENOMEM;
	}
	memcpy(copy, data, len);
	size_t n = len;
	e = decode_evidence(copy, &n);
	if (e == 1) {
		free(data);
		*ret = copy;
		*ret_len = n;
	} else {
		free(copy);
		*ret = data;
		*ret_len = len;
	}
	return 0;
}

struct collateral {
	atoll_blob blobs[MAX_COLLATERAL];
	uint8_t *owned[MAX_COLLATERAL];
	size_t n;
};

static int read_collateral(const char *dir, struct collateral *col)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	int e = 0;
	while ((de = readdir(d)) && col->n < MAX_COLLATERAL) {
		char path[PATH_MAX];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		uint8_t *data;
		size_t len;
		if ((e = fs_read_file(path, MAX_EVIDENCE, &data, &len)) < 0)
			break;
		col->owned[col->n] = data;
		col->blobs[col->n] = (atoll_blob){ data, len };
		col->n++;
	}
	closedir(d);
	return e;
}

/* The driver .so for a TEE: $ATOLL_MODULE_DIR, then next to this program
 * in a build tree, then the installed location. */
static int find_driver(const char *tee, char *out, size_t size)
{
	const char *env = getenv("ATOLL_MODULE_DIR");
	char exe[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n < 0)
		n = 0;
	exe[n] = 0;
	fs_dirname(exe, dir, sizeof dir);
	const char *fmts[] = { "%s/%s.so", "%s/../modules/%s.so", "%s/../lib/atoll/drivers/%s.so" };
	const char *bases[] = { env, dir, dir };
	for (int i = 0; i < 3; i++) {
		if (!bases[i])
			continue;
		snprintf(out, size, fmts[i], bases[i], tee);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static void write_claims(struct json_writer *w, const atoll_claims *cl)
{
	jw_key(w, "claims");
	jw_object_begin(w);
	jw_key(w, "tee_type");
	jw_string(w, cl->tee_type ? cl->tee_type : "");
	jw_key(w, "measurement");
	jw_hex(w, cl->measurement, cl->measurement_len);
	jw_key(w, "signer");
	jw_hex(w, cl->signer, cl->signer_len);
	jw_key(w, "debug");
	jw_bool(w, cl->debug != 0);
	jw_key(w, "svn");
	jw_uint(w, cl->svn);
	jw_key(w, "tcb");
	jw_uint(w, cl->tcb);
	if (cl->tcb_status) {
		jw_key(w, "tcb_status");
		jw_string(w, cl->tcb_status);
	}
	jw_key(w, "report_data");
	jw_hex(w, cl->report_data, cl->report_data_len);
	char ts[40];
	if (cl->issued_at) {
		time_rfc3339_format(cl->issued_at * 1000, ts, sizeof ts);
		jw_key(w, "issued_at");
		jw_string(w, ts);
	}
	if (cl->not_before) {
		time_rfc3339_format(cl->not_before * 1000, ts, sizeof ts);
		jw_key(w, "not_before");
		jw_string(w, ts);
	}
	if (cl->not_after) {
		time_rfc3339_format(cl->not_after * 1000, ts, sizeof ts);
		jw_key(w, "not_after");
		jw_string(w, ts);
	}
	for (size_t i = 0; i < cl->n_extra; i++) {
		const atoll_claim *x = &cl->extra[i];
		if (!x->name)
			continue;
		jw_key(w, x->name);
		switch (x->type) {
		case ATOLL_CLAIM_UINT: jw_uint(w, x->u64); break;
		case ATOLL_CLAIM_BOOL: jw_bool(w, x->u64 != 0); break;
		case ATOLL_CLAIM_STRING: jw_stringn(w, (const char *)x->bytes, x->len); break;
		default: jw_hex(w, x->bytes, x->len); break;
		}
	}
	jw_object_end(w);
}

int cmd_verify(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tee", required_argument, NULL, 't' },
		{ "evidence", required_argument, NULL, 'e' },
		{ "at", required_argument, NULL, 'a' },
		{ "collateral", required_argument, NULL, 'C' },
		{ "policy", required_argument, NULL, 'p' },
		{ "driver", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "report-data", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *tee = NULL, *evidence = NULL, *at = NULL, *coll_dir = NULL, *policy = NULL,
		   *driver = NULL, *rd_hex = NULL;
	atoll_kv kv[32];
	char *kvbuf[32];
	size_t n_kv = 0;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': tee = optarg; break;
		case 'e': evidence = optarg; break;
		case 'a': at = optarg; break;
		case 'C': coll_dir = optarg; break;
		case 'p': policy = optarg; break;
		case 'd': driver = optarg; break;
		case 'r': rd_hex = optarg; break;
		case 'c': {
			char *eq = strchr(optarg, '=');
			if (!eq || n_kv == 32)
				return ctl_usage("--config takes KEY=VALUE");
			kvbuf[n_kv] = strndup(optarg, (size_t)(eq - optarg));
			kv[n_kv] = (atoll_kv){ kvbuf[n_kv], eq + 1 };
			n_kv++;
			break;
		}
		case 'h':
			printf("usage: atollctl verify --tee TYPE --evidence FILE [--at RFC3339]\n"
			       "                       [--collateral DIR] [--policy FILE]\n"
			       "                       [--driver PATH] [--config KEY=VALUE]...\n"
			       "                       [--report-data HEX]\n"
			       "Verifies evidence (raw, base64 or hex) with the TEE's driver as of --at\n"
			       "(default now), with every file of --collateral DIR offered to it\n"
			       "(certificates, CRLs, TCB info...: recognized by content). Without\n"
			       "--policy the safe default applies: debug refused, any measurement,\n"
			       "TCB status UpToDate/SWHardeningNeeded/ConfigurationNeeded/\n"
			       "ConfigurationAndSWHardeningNeeded, and for sgx and tdx a TCB status\n"
			       "is required (their drivers give one only with collateral: pass\n"
			       "--collateral, or a policy with require_tcb_status: false). Prints\n"
			       "the verdict and claims as JSON; exits 0 only when evidence and\n"
			       "policy pass.\n");
			return 0;
		default: return 2;
		}
	}
	if (!tee || !evidence)
		return ctl_usage("verify needs --tee and --evidence");
	int64_t at_ms = time_now_ms();
	if (at && time_rfc3339_parse(at, &at_ms) < 0)
		return ctl_usage("--at needs an RFC 3339 time, e.g. 2025-06-01T00:00:00Z");
	uint8_t rd[64];
	if (rd_hex && (strlen(rd_hex) != 128 || enc_hex_decode(rd_hex, 128, rd) < 0))
		return ctl_usage("--report-data needs 64 bytes of hex");

	int rc = 1;
	char err[1024];
	struct attest_config *pol = NULL;
	struct attest_verifier v = { 0 };
	struct collateral col = { .n = 0 };
	uint8_t *ev = NULL;
	size_t ev_len = 0;
	/* The driver stanza: the policy file's for this TEE unless --driver or
	 * --config says otherwise, else one made from the flags. */
	struct plugin_cfg flags_pc = { .name = (char *)tee, .config = kv, .n_config = n_kv };
	const struct plugin_cfg *pc = NULL;
	if (policy) {
		if (attest_config_load(policy, &pol, err, sizeof err) < 0) {
			ctl_fail("%s", err);
			goto out;
		}
		if (!attest_policy_for(&pol->policy, tee)) {
			ctl_fail("%s has no policy for TEE '%s'", policy, tee);
			goto out;
		}
		for (size_t i = 0; i < pol->n_drivers && !driver && !n_kv; i++)
			if (strcmp(pol->drivers[i].name, tee) == 0)
				pc = &pol->drivers[i];
	}
	char path[PATH_MAX];
	if (!pc) {
		if (!driver) {
			if (find_driver(tee, path, sizeof path) < 0) {
				ctl_fail("no driver for TEE '%s' (set ATOLL_MODULE_DIR or --driver)", tee);
				goto out;
			}
			driver = path;
		}
		flags_pc.path = (char *)driver;
		pc = &flags_pc;
	}
	if (attest_verifier_load(pc, 1, &v, err, sizeof err) < 0) {
		ctl_fail("%s", err);
		goto out;
	}
	int e = read_evidence(evidence, &ev, &ev_len);
	if (e < 0) {
		ctl_fail("cannot read %s: %s", evidence, strerror(-e));
		goto out;
	}
	if (coll_dir && (e = read_collateral(coll_dir, &col)) < 0) {
		ctl_fail("cannot read %s: %s", coll_dir, strerror(-e));
		goto out;
	}
	struct attest_input in = {
		.tee = tee,
		.evidence = ev,
		.evidence_len = ev_len,
		.collateral = col.blobs,
		.n_collateral = col.n,
		.report_data = rd_hex ? rd : NULL,
		.at_ms = at_ms,
	};
	struct attest_verdict vd;
	bool pass = attest_judge(&v, pol ? &pol->policy : NULL, &in, &vd) == 0;
	struct buf out_json = { 0 };
	struct json_writer w;
	jw_init(&w, &out_json);
	jw_object_begin(&w);
	jw_key(&w, "tee");
	jw_string(&w, tee);
	char ts[40];
	time_rfc3339_format(at_ms, ts, sizeof ts);
	jw_key(&w, "verified_at");
	jw_string(&w, ts);
	jw_key(&w, "verdict");
	jw_string(&w, pass ? "pass" : "fail");
	if (!pass) {
		jw_key(&w, "error_class");
		jw_string(&w, attest_status_class(vd.status));
		jw_key(&w, "error");
		jw_string(&w, vd.why);
	}
	if (vd.claims)
		write_claims(&w, vd.claims);
	attest_verdict_clear(&vd);
	jw_object_end(&w);
	printf("%s\n", buf_cstr(&out_json));
	buf_free(&out_json);
	rc = pass ? 0 : 1;
out:
	for (size_t i = 0; i < col.n; i++)
		free(col.owned[i]);
	free(ev);
	attest_verifier_unload(&v);
	attest_config_free(pol);
	for (size_t i = 0; i < n_kv; i++)
		free(kvbuf[i]);
	return rc;
}
