/* bench_crypto: prints HPKE, raw AEAD and input-envelope throughput on this
 * machine. Figures only, no assertions. Usage: bench_crypto [seconds per
 * figure, default 1]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/envelope.h"
#include "crypto/hpke.h"
#include "util/buf.h"
#include "util/timeutil.h"

static double budget_s = 1.0;

struct meter {
	int64_t start;
	unsigned long iters;
};

static void meter_start(struct meter *m)
{
	m->start = time_mono_ns();
	m->iters = 0;
}

/* True while the time budget lasts; checks the clock every few rounds. */
static int meter_more(struct meter *m)
{
	if (m->iters % 8 == 0 && time_mono_ns() - m->start >= (int64_t)(budget_s * 1e9))
		return 0;
	m->iters++;
	return 1;
}

static double meter_rate(const struct meter *m)
{
	double s = (double)(time_mono_ns() - m->start) / 1e9;
	return s > 0 ? (double)m->iters / s : 0;
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "bench_crypto: %s failed\n", what);
	exit(1);
}

static void bench_hpke(uint16_t aead, const char *name)
{
	uint8_t sk[32], pk[32], enc[32], msg[1024];
	static const uint8_t info[] = "bench";
	struct buf ct = { 0 }, pt = { 0 };
	struct meter m;

	RAND_bytes(msg, sizeof msg);
	if (x25519_keygen(sk, pk) < 0)
		die("keygen");
	/* Sender: setup + one seal; receiver: setup + one open of it. */
	meter_start(&m);
	while (meter_more(&m)) {
		hpke_ctx *s = NULL;
		buf_reset(&ct);
		if (hpke_setup_base_s(aead, pk, info, sizeof info, enc, &s) < 0 ||
		    hpke_seal(s, NULL, 0, msg, sizeof msg, &ct) < 0)
			die("hpke setup+seal");
		hpke_ctx_free(s);
	}
	double senders = meter_rate(&m);
	meter_start(&m);
	while (meter_more(&m)) {
		hpke_ctx *r = NULL;
		buf_reset(&pt);
		if (hpke_setup_base_r(aead, enc, sk, info, sizeof info, &r) < 0 ||
		    hpke_open(r, NULL, 0, ct.data, ct.len, &pt) < 0)
			die("hpke setup+open");
		hpke_ctx_free(r);
	}
	printf("hpke %-18s setup+seal 1KiB: %8.0f /s, setup+open 1KiB: %8.0f /s\n",
	       name, senders, meter_rate(&m));

	hpke_ctx *s = NULL, *r = NULL;
	if (hpke_setup_base_s(aead, pk, info, sizeof info, enc, &s) < 0 ||
	    hpke_setup_base_r(aead, enc, sk, info, sizeof info, &r) < 0)
		die("hpke setup");
	meter_start(&m);
	while (meter_more(&m)) {
		buf_reset(&ct);
		if (hpke_seal(s, NULL, 0, msg, sizeof msg, &ct) < 0)
			die("hpke seal");
	}
	double seals = meter_rate(&m);
	/* Opening needs the matching sequence: open the receiver's first
	 * record again and again, rewinding the receiver only. */
	hpke_ctx_free(s);
	s = NULL;
	hpke_ctx_free(r);
	r = NULL;
	buf_reset(&ct);
	if (hpke_setup_base_s(aead, pk, info, sizeof info, enc, &s) < 0 ||
	    hpke_setup_base_r(aead, enc, sk, info, sizeof info, &r) < 0 ||
	    hpke_seal(s, NULL, 0, msg, sizeof msg, &ct) < 0)
		die("hpke setup");
	meter_start(&m);
	while (meter_more(&m)) {
		buf_reset(&pt);
		if (hpke_ctx_set_seq(r, 0) < 0 ||
		    hpke_open(r, NULL, 0, ct.data, ct.len, &pt) < 0)
			die("hpke open");
	}
	printf("hpke %-18s seal 1KiB (no setup): %10.0f /s (%7.1f MB/s), "
	       "open: %10.0f /s\n",
	       name, seals, seals * 1024 / 1e6, meter_rate(&m));
	hpke_ctx_free(s);
	hpke_ctx_free(r);
	buf_free(&ct);
	buf_free(&pt);
}

static void bench_evp(const char *cipher_name, size_t size)
{
	uint8_t key[32], iv[12] = { 0 }, tag[16];
	uint8_t *in = malloc(size), *out = malloc(size);
	struct meter m;
	int n;

	if (!in || !out)
		die("malloc");
	RAND_bytes(key, sizeof key);
	memset(in, 0x5a, size);
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, cipher_name, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!c || !ctx || EVP_EncryptInit_ex2(ctx, c, key, iv, NULL) != 1)
		die(cipher_name);
	meter_start(&m);
	while (meter_more(&m)) {
		iv[11]++;
		if (EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL) != 1 ||
		    EVP_EncryptUpdate(ctx, out, &n, in, (int)size) != 1 ||
		    EVP_EncryptFinal_ex(ctx, out, &n) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
			die(cipher_name);
	}
	printf("evp  %-18s %7zu-byte buffers: %10.1f MB/s\n", cipher_name, size,
	       meter_rate(&m) * (double)size / 1e6);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
	free(in);
	free(out);
}

static void bench_envelope(size_t size)
{
	uint8_t sk[3][32], pk[3][32], client_sk[32], client_pk[32];
	uint8_t *msg = malloc(size);
	struct buf env = { 0 }, pt = { 0 };
	struct meter m;

	if (!msg)
		die("malloc");
	RAND_bytes(msg, (int)size);
	for (int i = 0; i < 3; i++)
		if (x25519_keygen(sk[i], pk[i]) < 0)
			die("keygen");
	if (x25519_keygen(client_sk, client_pk) < 0)
		die("keygen");
	for (size_t n = 1; n <= 3; n += 2) {
		meter_start(&m);
		while (meter_more(&m)) {
			buf_reset(&env);
			if (env_seal_input(HPKE_AEAD_AES_256_GCM, 1, client_pk,
					   (const uint8_t (*)[32])pk, n, msg, size,
					   &env) < 0)
				die("env_seal_input");
		}
		double seals = meter_rate(&m);
		meter_start(&m);
		while (meter_more(&m)) {
			buf_reset(&pt);
			if (env_open_input(env.data, env.len, 1, sk[n - 1], pk[n - 1],
					   NULL, &pt) < 0)
				die("env_open_input");
		}
		printf("input envelope AES-256-GCM %2zu KiB, %zu recipient(s): seal "
		       "%8.0f /s, open %8.0f /s\n",
		       size / 1024, n, seals, meter_rate(&m));
	}
	free(msg);
	buf_free(&env);
	buf_free(&pt);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		budget_s = atof(argv[1]);
		if (budget_s <= 0) {
			fprintf(stderr, "usage: %s [seconds per figure]\n", argv[0]);
			return 2;
		}
	}
	bench_hpke(HPKE_AEAD_AES_128_GCM, "AES-128-GCM");
	bench_hpke(HPKE_AEAD_AES_256_GCM, "AES-256-GCM");
	bench_hpke(HPKE_AEAD_CHACHA20_POLY1305, "ChaCha20-Poly1305");
	bench_evp("AES-256-GCM", 16 * 1024);
	bench_evp("AES-256-GCM", 1024 * 1024);
	bench_evp("ChaCha20-Poly1305", 16 * 1024);
	bench_evp("ChaCha20-Poly1305", 1024 * 1024);
	bench_envelope(1024);
	bench_envelope(64 * 1024);
	return 0;
}
