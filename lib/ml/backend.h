/* The body of the linear and mlp backends (include/atoll/backend.h): the
 * two plugins differ only in the model kind they accept. */
#ifndef ATOLL_ML_BACKEND_H
#define ATOLL_ML_BACKEND_H

#include <stddef.h>

#include "atoll/backend.h"
#include "ml/model.h"

/* init(): config must hold "model" (a model file of the given kind) and
 * nothing else. */
int ml_backend_init(enum ml_kind kind, const atoll_kv *config, size_t n_config,
		    void **ret_ctx, atoll_err *err);
void ml_backend_fini(void *ctx);
int ml_backend_run(void *ctx, const atoll_backend_job *job,
		   const atoll_backend_io *io, atoll_err *err);

/* Send out through io->emit in chunks the ABI allows (at most 1 MiB).
 * Returns an atoll_status. */
int ml_backend_emit(const atoll_backend_io *io, const uint8_t *data, size_t len);

#endif
