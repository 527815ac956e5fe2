/* The Arm PSA TEE driver: verification of PSA initial attestation tokens
 * (PSA_IOT_PROFILE_1 and the PSA 2.0 / RFC 9783 profiles), COSE_Sign1
 * signed by a device IAK whose public key is configured per instance id,
 * into normalized claims. On the device, tokens come from its secure
 * firmware; Linux has no standard interface for that, so the island side
 * runs an operator's token provider program (token_command) that asks the
 * firmware's initial attestation service for a token over a challenge. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atoll/tee_driver.h"
#include "dc_cose.h"
#include "dc_driver.h"
#include "dc_util.h"
#include "dc_x509.h"
#include "psa_common.h"

/* Claim keys of one profile. */
struct psa_keys {
	int64_t profile, nonce, instance_id, impl_id, lifecycle, client_id,
		boot_seed, cert_ref, sw_components, no_sw, verif_service;
};

/* PSA 2.0.0 (draft-tschofenig-rats-psa-token, RFC 9783). */
static const struct psa_keys keys_v2 = {
	.profile = 265, .nonce = 10, .instance_id = 256, .impl_id = 2396,
	.lifecycle = 2395, .client_id = 2394, .boot_seed = 2397,
	.cert_ref = 2398, .sw_components = 2399, .no_sw = 0,
	.verif_service = 2400,
};

/* PSA_IOT_PROFILE_1 (the original EAT-based keys -75000 ...). */
static const struct psa_keys keys_iot1 = {
	.profile = -75000, .nonce = -75008, .instance_id = -75009,
	.impl_id = -75003, .lifecycle = -75002, .client_id = -75001,
	.boot_seed = -75004, .cert_ref = -75005, .sw_components = -75006,
	.no_sw = -75007, .verif_service = -75010,
};

static int psa_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	static const char *const collect_keys[] = { "token_command",
						    "token_timeout_ms", NULL };

	return psa_ctx_new("iak_keys", collect_keys, config, n_config, ret_ctx,
			   err);
}

struct psa_token {
	const char *profile;
	size_t profile_len;
	bool iot1;
	const uint8_t *nonce, *instance_id, *impl_id, *boot_seed;
	size_t nonce_len, boot_seed_len;
	uint64_t lifecycle;
	int64_t client_id;
	const char *cert_ref, *verif_service;
	size_t cert_ref_len, verif_service_len;
	struct psa_sw sw[PSA_MAX_SW];
	size_t n_sw;
};

static int parse_token(const cbor_item_t *map, struct psa_token *t,
		       atoll_err *err)
{
	const struct psa_keys *k;
	const cbor_item_t *v;
	int status = ATOLL_OK, r;

	memset(t, 0, sizeof(*t));
	if (!cbor_isa_map(map))
		return dc_err(err, ATOLL_E_FORMAT, "claims are not a map");
	/* The profile claim names the key set; without it, the keys in use
	 * tell (IoT-1 keys are all <= -75000). */
	if (dc_cbor_map_int(map, keys_v2.profile, NULL)) {
		k = &keys_v2;
	} else if (dc_cbor_map_int(map, keys_iot1.profile, NULL) ||
		   dc_cbor_map_int(map, keys_iot1.nonce, NULL)) {
		k = &keys_iot1;
	} else {
		k = &keys_v2;
	}
	t->iot1 = k == &keys_iot1;
	r = psa_get_text(map, k->profile, "profile", false, &t->profile,
		     &t->profile_len, err);
	if (r != ATOLL_OK)
		return r;
	if (t->profile) {
		bool ok = t->iot1 ? psa_text_is(t->profile, t->profile_len,
					    "PSA_IOT_PROFILE_1") :
				    psa_text_is(t->profile, t->profile_len,
					    "http://arm.com/psa/2.0.0") ||
					    psa_text_is(t->profile, t->profile_len,
						    "tag:psacertified.org,2023:psa#tfm") ||
					    psa_text_is(t->profile, t->profile_len,
						    "tag:psacertified.org,2019:psa#legacy");

		if (!ok)
			return dc_err(err, ATOLL_E_FORMAT,
				      "unknown profile '%.*s'",
				      (int)(t->profile_len > 64 ? 64 :
								  t->profile_len),
				      t->profile);
	} else {
		t->profile = t->iot1 ? "PSA_IOT_PROFILE_1" :
				       "http://arm.com/psa/2.0.0";
		t->profile_len = strlen(t->profile);
	}
	r = psa_get_bytes(map, k->nonce, "challenge", true, 32, 64, &t->nonce,
		      &t->nonce_len, err);
	if (r == ATOLL_OK && t->nonce_len != 32 && t->nonce_len != 48 &&
	    t->nonce_len != 64)
		r = dc_err(err, ATOLL_E_FORMAT,
			   "challenge is %zu bytes, not 32, 48 or 64",
			   t->nonce_len);
	if (r != ATOLL_OK)
		return r;
	{
		size_t n;

		r = psa_get_bytes(map, k->instance_id, "instance id", true,
			      PSA_INSTANCE_ID_LEN, PSA_INSTANCE_ID_LEN,
			      &t->instance_id, &n, err);
		if (r != ATOLL_OK)
			return r;
		if (t->instance_id[0] != 0x01)
			return dc_err(err, ATOLL_E_FORMAT,
				      "instance id type 0x%02x is not RAND (0x01)",
				      t->instance_id[0]);
		r = psa_get_bytes(map, k->impl_id, "implementation id", true, 32,
			      32, &t->impl_id, &n, err);
		if (r != ATOLL_OK)
			return r;
	}
	v = psa_get(map, k->lifecycle, "security lifecycle", true, err, &status);
	if (!v)
		return status;
	if (!cbor_isa_uint(v) || (t->lifecycle = cbor_get_int(v)) > 0xffff)
		return dc_err(err, ATOLL_E_FORMAT,
			      "security lifecycle is not a 16-bit unsigned integer");
	v = psa_get(map, k->client_id, "client id", true, err, &status);
	if (!v)
		return status;
	if (!dc_cbor_int(v, &t->client_id) || t->client_id < INT32_MIN ||
	    t->client_id > INT32_MAX)
		return dc_err(err, ATOLL_E_FORMAT,
			      "client id is not a 32-bit integer");
	/* RFC 9783 made the boot seed optional. */
	r = psa_get_bytes(map, k->boot_seed, "boot seed", false, 8, 32,
		      &t->boot_seed, &t->boot_seed_len, err);
	if (r == ATOLL_OK)
		r = psa_get_text(map, k->cert_ref, "certification reference", false,
			     &t->cert_ref, &t->cert_ref_len, err);
	if (r == ATOLL_OK)
		r = psa_get_text(map, k->verif_service, "verification service",
			     false, &t->verif_service, &t->verif_service_len,
			     err);
	if (r != ATOLL_OK)
		return r;
	v = psa_get(map, k->sw_components, "software components", false, err,
		&status);
	if (status != ATOLL_OK)
		return status;
	if (v)
		return psa_parse_sw(v, true, t->sw, &t->n_sw, err);
	/* IoT-1 may state instead that there are no measurements. */
	if (t->iot1 && dc_cbor_map_int(map, k->no_sw, NULL))
		return ATOLL_OK;
	return dc_err(err, ATOLL_E_FORMAT, "software components are missing");
}

static int build_claims(const struct psa_token *t, atoll_claims **ret)
{
	struct dc_claims *c = dc_claims_new("psa");
	atoll_claims *pub;
	const char *state = psa_lifecycle_state(t->lifecycle);
	uint8_t digest[32];
	char num[24];
	int r = 0;

	if (!c)
		return -ENOMEM;
	pub = dc_claims_pub(c);
	if (t->n_sw) {
		r |= psa_sw_digest(t->sw, t->n_sw, digest);
		r |= dc_claims_set_measurement(c, digest, sizeof(digest));
	}
	r |= dc_claims_set_signer(c, t->impl_id, 32);
	r |= dc_claims_set_report_data(c, t->nonce, t->nonce_len);
	/* Only a secured device keeps its debug ports shut; every other
	 * lifecycle state counts as debuggable. */
	pub->debug = strcmp(state, "secured") != 0;
	r |= dc_claims_add_string(c, "profile", t->profile, t->profile_len);
	r |= dc_claims_add_bytes(c, "instance_id", t->instance_id,
				 PSA_INSTANCE_ID_LEN);
	r |= dc_claims_add_bytes(c, "implementation_id", t->impl_id, 32);
	r |= dc_claims_add_uint(c, "lifecycle", t->lifecycle);
	r |= dc_claims_add_string(c, "lifecycle_state", state, strlen(state));
	snprintf(num, sizeof(num), "%" PRId64, t->client_id);
	r |= dc_claims_add_string(c, "client_id", num, strlen(num));
	if (t->boot_seed)
		r |= dc_claims_add_bytes(c, "boot_seed", t->boot_seed,
					 t->boot_seed_len);
	if (t->cert_ref)
		r |= dc_claims_add_string(c, "certification_reference",
					  t->cert_ref, t->cert_ref_len);
	if (t->verif_service)
		r |= dc_claims_add_string(c, "verification_service",
					  t->verif_service,
					  t->verif_service_len);
	r |= psa_claims_add_sw(c, t->sw, t->n_sw);
	if (r) {
		dc_claims_free(pub);
		return -ENOMEM;
	}
	*ret = pub;
	return 0;
}

static int psa_verify(void *vctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	const struct psa_keyset *iaks = &((const struct psa_ctx *)vctx)->keys;
	struct dc_cose_sign1 m = { 0 };
	cbor_item_t *payload = NULL;
	struct psa_token *t = NULL;
	EVP_PKEY *key = NULL;
	char hex[80];
	int status;

	status = dc_verify_args_check(args, ret_claims, err);
	if (status != ATOLL_OK)
		return status;
	if (args->evidence_len > PSA_MAX_TOKEN)
		return dc_err(err, ATOLL_E_FORMAT, "token is %zu bytes, limit %u",
			      args->evidence_len, PSA_MAX_TOKEN);
	status = dc_cose_sign1_parse(args->evidence, args->evidence_len, &m,
				     err);
	if (status != ATOLL_OK)
		return status;
	status = dc_cbor_decode(m.payload, m.payload_len, &payload, err);
	if (status != ATOLL_OK) {
		dc_err_prefix(err, status, "claims");
		goto out_free;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	status = parse_token(payload, t, err);
	if (status != ATOLL_OK)
		goto out_free;
	key = psa_keyset_find(iaks, t->instance_id);
	if (!key) {
		dc_hex_short(t->instance_id, PSA_INSTANCE_ID_LEN, 33, hex,
			     sizeof(hex));
		status = dc_err(err, ATOLL_E_CHAIN,
				"no IAK configured for instance id %s", hex);
		goto out_free;
	}
	status = dc_cose_sign1_verify(&m, key, err);
	if (status != ATOLL_OK)
		goto out_free;
	if (args->expected_report_data &&
	    (args->expected_report_data_len != t->nonce_len ||
	     !dc_ct_equal(args->expected_report_data, t->nonce,
			  t->nonce_len))) {
		status = dc_err(err, ATOLL_E_BINDING,
				"challenge differs from the expected report data");
		goto out_free;
	}
	if (build_claims(t, ret_claims) < 0) {
		status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out_free;
	}
	status = ATOLL_OK;
out_free:
	free(t);
	if (payload)
		cbor_decref(&payload);
	dc_cose_sign1_clear(&m);
	return status;
}

static int psa_detect(void *vctx, atoll_err *err)
{
	const struct psa_ctx *c = vctx;

	if (!c->token_command[0])
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "no token provider: set token_command to the "
			      "program that asks the device's attestation "
			      "service for a token");
	if (access(c->token_command, X_OK) != 0)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "token provider %s: %s", c->token_command,
			      strerror(errno));
	return ATOLL_OK;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the provider with the challenge as hex; its stdout (at most
 * PSA_MAX_TOKEN bytes) is the token. */
static int run_provider(const struct psa_ctx *c, const uint8_t *challenge,
			uint8_t **ret, size_t *ret_len, atoll_err *err)
{
	char hex[2 * ATOLL_REPORT_DATA_LEN + 1];
	int pfd[2], st = 0, r = ATOLL_OK;
	size_t len = 0;
	uint8_t *buf;
	pid_t pid;

	for (int i = 0; i < ATOLL_REPORT_DATA_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", challenge[i]);
	buf = malloc(PSA_MAX_TOKEN + 1);
	if (!buf)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(buf);
		return dc_err(err, ATOLL_E_IO, "pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		free(buf);
		return dc_err(err, ATOLL_E_IO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		char *argv[] = { (char *)c->token_command, hex, NULL };
		int devnull = open("/dev/null", O_RDONLY);

		if (dup2(pfd[1], 1) < 0 || devnull < 0 || dup2(devnull, 0) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	int64_t until = mono_ms() + c->token_timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int64_t left = until - mono_ms();
		ssize_t n;

		if (left <= 0) {
			r = dc_err(err, ATOLL_E_IO,
				   "token provider %s: no token within %lld ms",
				   c->token_command,
				   (long long)c->token_timeout_ms);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			r = dc_err(err, ATOLL_E_IO, "poll: %s", strerror(errno));
			kill(pid, SIGKILL);
			break;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(pfd[0], buf + len, PSA_MAX_TOKEN + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len > PSA_MAX_TOKEN) {
			r = dc_err(err, ATOLL_E_IO,
				   "token provider %s: more than %u bytes",
				   c->token_command, PSA_MAX_TOKEN);
			kill(pid, SIGKILL);
			break;
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r == ATOLL_OK && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		r = dc_err(err, ATOLL_E_IO, "token provider %s %s %d",
			   c->token_command,
			   WIFEXITED(st) ? "exited with status" :
					   "was killed by signal",
			   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	if (r == ATOLL_OK && len == 0)
		r = dc_err(err, ATOLL_E_IO, "token provider %s wrote no token",
			   c->token_command);
	if (r != ATOLL_OK) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return ATOLL_OK;
}

static int psa_collect(void *vctx, const uint8_t *report_data,
		       atoll_evidence **ret_evidence, atoll_err *err)
{
	const struct psa_ctx *c = vctx;
	struct dc_cose_sign1 m = { 0 };
	cbor_item_t *payload = NULL;
	struct psa_token *t = NULL;
	uint8_t *tok = NULL;
	size_t len = 0;
	int r;

	if (!c || !report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "collect: bad arguments");
	r = psa_detect(vctx, err);
	if (r != ATOLL_OK)
		return r;
	r = run_provider(c, report_data, &tok, &len, err);
	if (r != ATOLL_OK)
		return r;
	/* The challenge must be the report data, whole: a provider that
	 * truncated it to 32 bytes would bind less than the coordinator
	 * asked for. */
	t = malloc(sizeof(*t));
	r = t ? dc_cose_sign1_parse(tok, len, &m, err) : ATOLL_E_NOMEM;
	if (r == ATOLL_OK)
		r = dc_cbor_decode(m.payload, m.payload_len, &payload, err);
	if (r == ATOLL_OK)
		r = parse_token(payload, t, err);
	if (r != ATOLL_OK) {
		dc_err_prefix(err, ATOLL_E_IO, "the provider's token");
		r = ATOLL_E_IO;
	} else if (t->nonce_len != ATOLL_REPORT_DATA_LEN ||
		   !dc_ct_equal(t->nonce, report_data, ATOLL_REPORT_DATA_LEN)) {
		r = dc_err(err, ATOLL_E_BINDING,
			   "the provider's token does not carry the report "
			   "data as its challenge");
	}
	free(t);
	if (payload)
		cbor_decref(&payload);
	dc_cose_sign1_clear(&m);
	if (r != ATOLL_OK) {
		free(tok);
		return r;
	}
	return dc_driver_evidence_new(tok, len, ret_evidence, err);
}

static const atoll_tee_driver psa_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "psa",
	.description = "Arm PSA initial attestation tokens (IoT-1, 2.0); collect via a token provider",
	.init = psa_init,
	.fini = psa_ctx_free,
	.detect = psa_detect,
	.collect = psa_collect,
	.evidence_free = dc_driver_evidence_free,
	.verify = psa_verify,
	.claims_free = dc_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(psa_driver)
