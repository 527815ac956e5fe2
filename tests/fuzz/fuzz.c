/* The shared part of the fuzz targets (fuzz.h): libFuzzer's initialize
 * hook with the seed-writing mode, seed files, blob splitting, fixed
 * OpenSSL randomness, and the target's temporary files. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "util/fsutil.h"

static const char *seed_dir;
static int n_seeds;

void fuzz_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static void mkdirs(const char *path)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			fuzz_die("cannot create %s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		fuzz_die("cannot create %s: %s", p, strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("ATOLL_FUZZ_SEEDS");

	/* The helpers that read samples look there; a run outside ctest
	 * finds the folders this build was configured with. */
	setenv("ATOLL_SHARED_DIR", ATOLL_FUZZ_SHARED_DIR, 0);
	setenv("ATOLL_SOURCE_DIR", ATOLL_FUZZ_SOURCE_DIR, 0);
	fuzz_setup();
	if (!dir || !*dir)
		return 0;
	mkdirs(dir);
	seed_dir = dir;
	fuzz_seeds();
	printf("%d seeds written to %s\n", n_seeds, dir);
	/* A target without seeds would start from nothing: that is a bug. */
	exit(n_seeds > 0 ? 0 : 1);
}

void fuzz_seed(const char *name, const void *data, size_t len)
{
	char path[4096];
	int r;

	if (!seed_dir || !data)
		return;
	snprintf(path, sizeof(path), "%s/%s", seed_dir, name);
	r = fs_write_atomic(path, data, len, 0644);
	if (r < 0) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(-r));
		exit(1);
	}
	n_seeds++;
}

void fuzz_seed_tagged(const char *name, uint8_t tag, const void *data,
		      size_t len)
{
	uint8_t *b;

	if (!seed_dir || !data)
		return;
	b = malloc(len + 1);
	if (!b)
		fuzz_die("out of memory");
	b[0] = tag;
	if (len)
		memcpy(b + 1, data, len);
	fuzz_seed(name, b, len + 1);
	free(b);
}

void fuzz_seed_blobs(const char *name, const atoll_blob *blobs, size_t n)
{
	size_t total = 0, off = 0;
	uint8_t *b;

	if (!seed_dir)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!blobs[i].data)
			return;
		total += blobs[i].len + FUZZ_SEP_LEN;
	}
	b = malloc(total + 1);
	if (!b)
		fuzz_die("out of memory");
	for (size_t i = 0; i < n; i++) {
		if (i) {
			memcpy(b + off, FUZZ_SEP, FUZZ_SEP_LEN);
			off += FUZZ_SEP_LEN;
		}
		memcpy(b + off, blobs[i].data, blobs[i].len);
		off += blobs[i].len;
	}
	fuzz_seed(name, b, off);
	free(b);
}

uint8_t *fuzz_read_file(const char *path, size_t *ret_len)
{
	uint8_t *data;
	size_t len;

	if (fs_read_file(path, 16u << 20, &data, &len) < 0)
		return NULL;
	*ret_len = len;
	return data;
}

uint8_t *fuzz_read_evidence(const char *rel, size_t *ret_len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/evidence/%s",
		 getenv("ATOLL_SHARED_DIR"), rel);
	return fuzz_read_file(path, ret_len);
}

const char *fuzz_source_dir(void)
{
	return getenv("ATOLL_SOURCE_DIR");
}

size_t fuzz_split(const uint8_t *data, size_t size, atoll_blob *ret,
		  size_t max)
{
	size_t n = 0;

	while (n + 1 < max) {
		const uint8_t *sep = memmem(data, size, FUZZ_SEP, FUZZ_SEP_LEN);

		if (!sep)
			break;
		ret[n].data = data;
		ret[n].len = (size_t)(sep - data);
		n++;
		size -= (size_t)(sep - data) + FUZZ_SEP_LEN;
		data = sep + FUZZ_SEP_LEN;
	}
	ret[n].data = data;
	ret[n].len = size;
	return n + 1;
}

/* SHA-256 in counter mode over the label: deterministic, and plenty for
 * test keys and signature nonces. */
static uint8_t rand_key[32];
static uint64_t rand_ctr;

static int rand_bytes(unsigned char *out, int num)
{
	while (num > 0) {
		uint8_t in[40], block[32];
		int k = num < 32 ? num : 32;

		memcpy(in, rand_key, 32);
		for (int i = 0; i < 8; i++)
			in[32 + i] = (uint8_t)(rand_ctr >> (8 * i));
		rand_ctr++;
		SHA256(in, sizeof(in), block);
		memcpy(out, block, (size_t)k);
		out += k;
		num -= k;
	}
	return 1;
}

static int rand_seed(const void *buf, int num)
{
	return 1;
}

static int rand_add(const void *buf, int num, double entropy)
{
	return 1;
}

static int rand_status(void)
{
	return 1;
}

static const RAND_METHOD fixed_rand = {
	rand_seed, rand_bytes, NULL, rand_add, rand_bytes, rand_status,
};

void fuzz_rand_fix(const char *label)
{
	SHA256((const uint8_t *)label, strlen(label), rand_key);
	rand_ctr = 0;
	if (!RAND_set_rand_method(&fixed_rand))
		fuzz_die("cannot fix OpenSSL's randomness");
}

void fuzz_rand_restore(void)
{
	RAND_set_rand_method(NULL);
}

static char tmpdir[4096];

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void rm_tmpdir(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0])
		return tmpdir;
	snprintf(tmpdir, sizeof(tmpdir), "%s/atoll-fuzz-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		fuzz_die("mkdtemp %s: %s", tmpdir, strerror(errno));
	atexit(rm_tmpdir);
	return tmpdir;
}

const char *fuzz_tmpfile(const char *name, const void *data, size_t len,
			 unsigned mode)
{
	static char path[4096];
	const uint8_t *p = data;
	int fd;

	/* Written in place, without fsync: targets rewrite files per input. */
	snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0 || fchmod(fd, (mode_t)mode) < 0)
		fuzz_die("cannot write %s: %s", path, strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, p + off, len - off);

		if (w < 0)
			fuzz_die("cannot write %s: %s", path, strerror(errno));
		off += (size_t)w;
	}
	close(fd);
	return path;
}

static int mem_fd = -1;

int fuzz_memfd(const void *data, size_t len)
{
	const uint8_t *p = data;

	if (mem_fd < 0 && (mem_fd = memfd_create("atoll-fuzz", MFD_CLOEXEC)) < 0)
		fuzz_die("memfd_create: %s", strerror(errno));
	if (ftruncate(mem_fd, 0) < 0)
		fuzz_die("ftruncate: %s", strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t w = pwrite(mem_fd, p + off, len - off, (off_t)off);

		if (w < 0)
			fuzz_die("pwrite: %s", strerror(errno));
		off += (size_t)w;
	}
	if (lseek(mem_fd, 0, SEEK_SET) < 0)
		fuzz_die("lseek: %s", strerror(errno));
	return mem_fd;
}

const char *fuzz_memfd_path(void)
{
	static char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", mem_fd);
	return path;
}
