/* Whole-file reads and atomic writes. */
#include "util/fsutil.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_read_file(const char *path, size_t max, uint8_t **ret_data, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	uint8_t *p = malloc(cap + 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	size_t len = 0;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(p);
				close(fd);
				return -EFBIG;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			uint8_t *np = realloc(p, ncap + 1);
			if (!np) {
				free(p);
				close(fd);
				return -ENOMEM;
			}
			p = np;
			cap = ncap;
		}
		ssize_t n = read(fd, p + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(p);
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max) {
		free(p);
		return -EFBIG;
	}
	p[len] = 0;
	*ret_data = p;
	*ret_len = len;
	return 0;
}

void fs_dirname(const char *path, char *out, size_t out_size)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(out, out_size, ".");
		return;
	}
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	snprintf(out, out_size, "%.*s", (int)n, path);
}

/* Write a temporary file beside path, then rename it over path, or with
 * exclusive link it there only when nothing is there. */
static int write_via_tmp(const char *path, const void *data, size_t len, mode_t mode,
			 bool exclusive)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	const uint8_t *p = data;
	size_t off = 0;
	int r = 0;
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && !exclusive && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0 || exclusive) {
		if (r == 0 && link(tmp, path) < 0)
			r = -errno;
		unlink(tmp);
	}
	return r;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_via_tmp(path, data, len, mode, false);
}

int fs_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_via_tmp(path, data, len, mode, true);
}
