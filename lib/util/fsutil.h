/* Whole-file reads and atomic writes. */
#ifndef ATOLL_UTIL_FSUTIL_H
#define ATOLL_UTIL_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read a whole file of at most max bytes into a malloc'd buffer with a NUL
 * after the data. 0, -errno, or -EFBIG when it is larger than max. */
int fs_read_file(const char *path, size_t max, uint8_t **ret_data, size_t *ret_len);
/* Write data to path via a temporary file, fsync and rename, with the given
 * mode (e.g. 0600 for keys). 0 or -errno. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* The same for a file that must not exist yet (keys, bindings): the
 * complete file appears under path, or -EEXIST and what is there stays. */
int fs_write_new(const char *path, const void *data, size_t len, mode_t mode);
/* Directory part of a path into out ("." when none). */
void fs_dirname(const char *path, char *out, size_t out_size);

#endif
