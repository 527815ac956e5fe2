/* A host that swaps the code which sees plaintext. Island "swap" loads a
 * leaky backend under the name "echo" (it appends every input to a file of
 * the host's choosing); island "real" loads the real echo.so. Both run the
 * same enclave runtime, so their TEE measurements are equal: only the
 * enclave manifest tells them apart.
 *   - The attack is real: a client that pins the leaky digest seals to
 *     that island and its input lands in the leak file.
 *   - A client whose policy pins the real echo seals only to "real"; its
 *     canary never reaches the leak file.
 *   - A client policy without pins is refused, naming the digests to pin.
 *   - The coordinator, reloaded with a policy pinning the real echo,
 *     revokes "swap" and names the digest it refused; "real" stays. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <openssl/rand.h>

#include "check.h"
#include "cluster.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static char leak_file[700];

static void canary(char out[33])
{
	uint8_t r[16];
	RAND_bytes(r, sizeof r);
	enc_hex_encode(r, sizeof r, out);
}

static bool leaked(const char *needle)
{
	return h_file_contains(leak_file, needle);
}



static void test_clients(struct cluster *cl)
{
	char out[1 << 16], secret[33], control[33];

	/* The control: pinning the leaky build seals to it, and it leaks. */
	CHECK_INT(cluster_write_client_policy(cl, "leaky-pins.yaml", "swap"), 0);
	canary(control);
	const char *a1[] = { "run", "--workload", "42", "--confidential", "--policy",
			     "leaky-pins.yaml", "--prompt", control, NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, a1), 0);
	CHECK(strstr(out, "sealed to swap") != NULL);
	CHECK(leaked(control));

	/* Pinning the real echo: only "real" is trusted. */
	CHECK_INT(cluster_write_client_policy(cl, "real-pins.yaml", "real"), 0);
	canary(secret);
	const char *a2[] = { "run", "--workload", "42", "--confidential", "--policy",
			     "real-pins.yaml", "--prompt", secret, NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, a2), 0);
	CHECK(strstr(out, "sealed to real\n") != NULL);
	CHECK(strstr(out, secret) != NULL);
	CHECK(!leaked(secret));

	/* No pins at all: refused, naming what to pin. */
	char yaml[2048];
	snprintf(yaml, sizeof yaml,
		 "drivers:\n  - name: sim\n    path: %s/sim.so\n    config: {ca_file: ca/sim-ca.pem}\n"
		 "policy:\n  tee:\n    sim: {measurements: [%s]}\n",
		 h_module_dir(), cl->measurement);
	h_write(cl->dir, "no-pins.yaml", yaml, NULL, 0);
	const char *a4[] = { "run", "--workload", "42", "--confidential", "--policy",
			     "no-pins.yaml", "--prompt", "never sent", NULL };
	CHECK_INT(c_atollctl(cl, out, sizeof out, a4), 1);
	CHECK(strstr(out, "no island serving workload 42 passed verification") != NULL);
	CHECK(strstr(out, "workload 42: backend echo sha256 ") != NULL);
	CHECK(strstr(out, "not pinned by the policy") != NULL);
	CHECK(!leaked("never sent"));
}

static void test_coordinator_pins(struct cluster *cl)
{
	/* coordinator.yaml with the real echo pinned, reloaded in place. */
	char pins[8192], path[700], text[16384];
	const char *args[] = { "manifest", "--policy", "island-real.yaml", NULL };
	CHECK_INT(c_atollctl(cl, pins, sizeof pins, args), 0);
	snprintf(path, sizeof path, "%s/coordinator.yaml", cl->dir);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = 0;
	char *off = strstr(text, "  manifest: {require_pins: false}\n");
	CHECK(off != NULL);
	if (!off)
		return;
	struct buf b = { 0 };
	buf_printf(&b, "%.*s%s%s", (int)(off - text), text, pins,
		   off + strlen("  manifest: {require_pins: false}\n"));
	h_write(cl->dir, "coordinator.yaml", buf_cstr(&b), NULL, 0);
	buf_free(&b);
	kill(cl->coord.pid, SIGHUP);

	Atoll__V1__AttestedIsland *swap = NULL, *real = NULL;
	Atoll__V1__ListAttestedIslandsResponse *r = NULL;
	for (int i = 0; i < 100; i++) {
		if (r)
			protobuf_c_message_free_unpacked(&r->base, NULL);
		r = c_list_islands(cl);
		swap = c_find_island(r, "swap");
		real = c_find_island(r, "real");
		if (swap && swap->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_REVOKED)
			break;
		time_sleep_ms(50);
	}
	CHECK(swap && swap->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_REVOKED);
	CHECK(swap && strstr(swap->reason, "workload 42: backend echo sha256 ") &&
	      strstr(swap->reason, "is not pinned"));
	CHECK(real && real->state == ATOLL__V1__ISLAND_STATE__ISLAND_STATE_ATTESTED);
	/* The attested island publishes the manifest it was judged on. */
	static const char echo_entry[] = "\"backend\":{\"name\":\"echo\"";
	CHECK(real && real->manifest.len > 0 &&
	      memmem(real->manifest.data, real->manifest.len, echo_entry, strlen(echo_entry)));
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
}

int main(void)
{
	struct cluster cl;
	if (cluster_init(&cl, "manifest") < 0)
		return 1;
	grpc_init();
	snprintf(leak_file, sizeof leak_file, "%s/leak.txt", cl.dir);
	CHECK_INT(cluster_start_coordinator(&cl), 0);
	CHECK(cluster_add_island(&cl, "real", 2, NULL, NULL, NULL) >= 0);
	/* The swap: the host points "echo" at its own build. */
	char wl[1024];
	snprintf(wl, sizeof wl,
		 "    - {id: 42, backend: echo, modes: [plain, tee], options: {leak_file: %s}}\n",
		 leak_file);
	cl.echo_path = LEAKY_ECHO_SO;
	CHECK(cluster_add_island(&cl, "swap", 2, wl, NULL, NULL) >= 0);
	cl.echo_path = NULL;
	CHECK_INT(cluster_wait(&cl, 2, 2, 15000), 0);
	if (!check_failures) {
		test_clients(&cl);
		test_coordinator_pins(&cl);
	}
	CHECK_INT(cluster_stop(&cl), 0);
	if (check_failures)
		cluster_dump_logs(&cl);
	grpc_shutdown();
	CHECK_DONE();
}
