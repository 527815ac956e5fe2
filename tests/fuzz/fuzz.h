/* What every libFuzzer target of tests/fuzz shares: one setup call before
 * the first input, a seed-writing mode, OpenSSL randomness fixed to a label
 * (so that keys, certificates and signatures made by the test generators
 * are the same in every process), inputs as files, and inputs holding
 * several blobs.
 *
 * A target defines LLVMFuzzerTestOneInput(), fuzz_setup() and
 * fuzz_seeds(). Run with ATOLL_FUZZ_SEEDS=<dir> in the environment, the
 * target writes its seed corpus into <dir> and exits instead of fuzzing. */
#ifndef ATOLL_TESTS_FUZZ_FUZZ_H
#define ATOLL_TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/tee_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Defined by each target: build what inputs are checked against (keys,
 * driver instances) before the first input or seed. Abort on failure: a
 * run without it tests nothing. */
void fuzz_setup(void);
/* Defined by each target: write its seeds with the fuzz_seed*() calls. */
void fuzz_seeds(void);

/* Print why and abort (a finding, or a harness that cannot start). */
__attribute__((noreturn, format(printf, 1, 2))) void fuzz_die(const char *fmt,
							      ...);

/* ---- seeds ---- */

/* Write one seed named name (exits the process when it cannot). Seeds
 * are only written in seed mode; NULL data is skipped. */
void fuzz_seed(const char *name, const void *data, size_t len);
/* The same with a first byte (the targets that pick a parser by it). */
void fuzz_seed_tagged(const char *name, uint8_t tag, const void *data,
		      size_t len);
/* Blobs joined with FUZZ_SEP (see fuzz_split()). */
void fuzz_seed_blobs(const char *name, const atoll_blob *blobs, size_t n);
/* Read a whole file, or NULL (*ret_len untouched) when it is missing. */
uint8_t *fuzz_read_file(const char *path, size_t *ret_len);
/* $ATOLL_SHARED_DIR/evidence/<rel>, read whole; NULL when absent. */
uint8_t *fuzz_read_evidence(const char *rel, size_t *ret_len);
/* The checkout ($ATOLL_SOURCE_DIR, else where this build came from), for
 * example configs. */
const char *fuzz_source_dir(void);

/* ---- inputs of several blobs ---- */

/* Separates the blobs of one input: a string no evidence format uses, so
 * that mutations inside a blob leave the others in place. It is in the
 * targets' dictionaries. */
#define FUZZ_SEP "\n=atoll-fuzz-blob=\n"
#define FUZZ_SEP_LEN (sizeof(FUZZ_SEP) - 1)
#define FUZZ_MAX_BLOBS 16

/* Split data at each FUZZ_SEP into at most max blobs (the last takes the
 * rest). Returns how many. */
size_t fuzz_split(const uint8_t *data, size_t size, atoll_blob *ret,
		  size_t max);

/* ---- fixed randomness ---- */

/* From now until fuzz_rand_restore(), OpenSSL's random bytes are a fixed
 * function of label and of how many were drawn. */
void fuzz_rand_fix(const char *label);
void fuzz_rand_restore(void);

/* ---- files ---- */

/* A private directory for files the target needs (keys, configs),
 * removed at exit. */
const char *fuzz_tmpdir(void);
/* Write <tmpdir>/<name> with the given mode and return its path, in
 * static storage that the next call overwrites. */
const char *fuzz_tmpfile(const char *name, const void *data, size_t len,
			 unsigned mode);
/* An in-memory file holding data, for parsers that read descriptors or
 * paths: the descriptor is at offset 0; /proc/self/fd/<fd> names it.
 * Reused between calls; never closed by the caller. */
int fuzz_memfd(const void *data, size_t len);
const char *fuzz_memfd_path(void);

#endif
