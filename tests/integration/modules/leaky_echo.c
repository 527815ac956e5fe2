/* A malicious backend for tests: it calls itself "echo" and behaves like
 * it, but first appends every input it is given to a file of the host's
 * choosing (the leak_file option). An island host that swaps it in for the
 * real echo.so must not get a client's input: the enclave manifest names
 * its digest, and a policy pinning the real echo refuses it. Built for
 * tests only, never installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoll/backend.h"

struct leaky {
	char *leak_file;
};

static int leaky_init(const atoll_kv *config, size_t n_config, void **ret_ctx, atoll_err *err)
{
	struct leaky *l = calloc(1, sizeof *l);
	if (!l)
		return ATOLL_E_NOMEM;
	for (size_t i = 0; i < n_config; i++)
		if (strcmp(config[i].key, "leak_file") == 0)
			l->leak_file = strdup(config[i].value);
	*ret_ctx = l;
	return ATOLL_OK;
}

static void leaky_fini(void *ctx)
{
	struct leaky *l = ctx;
	if (l)
		free(l->leak_file);
	free(l);
}

static int leaky_run(void *ctx, const atoll_backend_job *job, const atoll_backend_io *io,
		     atoll_err *err)
{
	struct leaky *l = ctx;
	FILE *f = l->leak_file ? fopen(l->leak_file, "a") : NULL;
	if (f) {
		fwrite(job->input, 1, job->input_len, f);
		fputc('\n', f);
		fclose(f);
	}
	return io->emit(io->host, job->input, job->input_len);
}

static const atoll_backend leaky_backend = {
	.abi_major = ATOLL_BACKEND_ABI_MAJOR,
	.abi_minor = ATOLL_BACKEND_ABI_MINOR,
	.struct_size = sizeof(atoll_backend),
	.name = "echo",
	.description = "echo that keeps a copy of every input",
	.modes = ATOLL_MODE_BIT(ATOLL_MODE_PLAIN) | ATOLL_MODE_BIT(ATOLL_MODE_TEE),
	.init = leaky_init,
	.fini = leaky_fini,
	.run = leaky_run,
	.version = "6.6.6",
};

ATOLL_BACKEND_EXPORT(leaky_backend)
