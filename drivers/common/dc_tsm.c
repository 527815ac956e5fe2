/* configfs-tsm reports. */
#include "dc_tsm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dc_util.h"

/* Read at most max bytes of dir/name; *ret is NUL-terminated. */
static int read_attr(const char *dir, const char *name, size_t max,
		     uint8_t **ret, size_t *ret_len)
{
	char path[600];
	uint8_t *buf;
	size_t len = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < max) {
		ssize_t n = read(fd, buf + len, max - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			close(fd);
			free(buf);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* A short text attribute, trailing newline removed. */
static int read_text(const char *dir, const char *name, char *out,
		     size_t size)
{
	uint8_t *d;
	size_t len;
	int r = read_attr(dir, name, size - 1, &d, &len);

	if (r < 0)
		return r;
	while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == ' '))
		len--;
	memcpy(out, d, len);
	out[len] = 0;
	free(d);
	return 0;
}

static int write_attr(const char *dir, const char *name, const uint8_t *data,
		      size_t len)
{
	char path[600];
	size_t done = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;

			close(fd);
			return e;
		}
		done += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* A fresh entry name: several drivers (and instances) may share dir. */
static int make_entry(const char *dir, char *entry, size_t size,
		      atoll_err *err)
{
	static atomic_uint seq;
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "no configfs-tsm report interface: %s does not "
			      "exist (Linux 6.7+ with CONFIG_TSM_REPORTS, configfs "
			      "mounted on /sys/kernel/config)", dir);
	snprintf(entry, size, "%s/atoll-%ld-%u", dir, (long)getpid(),
		 atomic_fetch_add(&seq, 1));
	if (mkdir(entry, 0700) < 0)
		return dc_err(err, errno == EACCES || errno == EPERM ||
					   errno == EROFS ?
					   ATOLL_E_UNAVAILABLE :
					   ATOLL_E_IO,
			      "cannot create a report entry in %s: %s", dir,
			      strerror(errno));
	return ATOLL_OK;
}

int dc_tsm_provider(const char *dir, char *provider, size_t size,
		    atoll_err *err)
{
	char entry[512];
	int r = make_entry(dir, entry, sizeof(entry), err), e;

	if (r != ATOLL_OK)
		return r;
	e = read_text(entry, "provider", provider, size);
	rmdir(entry);
	if (e < 0)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "%s/provider: %s", entry, strerror(-e));
	return ATOLL_OK;
}

/* Provider names are kernel module names: '-' and '_' are one. */
static bool provider_is(const char *prov, const char *want)
{
	for (; *prov && *want; prov++, want++)
		if (*prov != *want && !(strchr("-_", *prov) && strchr("-_", *want)))
			return false;
	return *prov == *want;
}

int dc_tsm_report(const char *dir, const char *want_provider,
		  const uint8_t *inblob, size_t inblob_len, size_t max_out,
		  uint8_t **ret_out, size_t *ret_out_len, atoll_err *err)
{
	return dc_tsm_report_extra(dir, want_provider, inblob, inblob_len,
				   max_out, NULL, ret_out, ret_out_len, err);
}

int dc_tsm_report_extra(const char *dir, const char *want_provider,
			const uint8_t *inblob, size_t inblob_len,
			size_t max_out, struct dc_tsm_extra *extra,
			uint8_t **ret_out, size_t *ret_out_len,
			atoll_err *err)
{
	char entry[512], prov[64], g1[32], g2[32], lvl[16];
	uint8_t *out = NULL;
	size_t len = 0;
	int r, e;

	if (extra) {
		extra->aux = NULL;
		extra->aux_len = 0;
	}
	r = make_entry(dir, entry, sizeof(entry), err);
	if (r != ATOLL_OK)
		return r;
	if ((e = read_text(entry, "provider", prov, sizeof(prov))) < 0) {
		r = dc_err(err, ATOLL_E_IO, "%s/provider: %s", entry,
			   strerror(-e));
		goto out;
	}
	if (!provider_is(prov, want_provider)) {
		r = dc_err(err, ATOLL_E_UNAVAILABLE,
			   "the configfs-tsm provider is '%s', not %s", prov,
			   want_provider);
		goto out;
	}
	if (extra && extra->privlevel) {
		snprintf(lvl, sizeof(lvl), "%u", extra->privlevel);
		if ((e = write_attr(entry, "privlevel", (const uint8_t *)lvl,
				    strlen(lvl))) < 0) {
			r = dc_err(err, ATOLL_E_IO, "%s/privlevel: %s", entry,
				   strerror(-e));
			goto out;
		}
	}
	if ((e = write_attr(entry, "inblob", inblob, inblob_len)) < 0) {
		r = dc_err(err, ATOLL_E_IO, "%s/inblob: %s", entry,
			   strerror(-e));
		goto out;
	}
	if ((e = read_text(entry, "generation", g1, sizeof(g1))) < 0 ||
	    (e = read_attr(entry, "outblob", max_out, &out, &len)) < 0) {
		r = dc_err(err, ATOLL_E_IO,
			   "%s: reading the report: %s (does the host answer "
			   "report requests? TDX needs its quote generation "
			   "service)", entry, strerror(-e));
		goto out;
	}
	if (extra && extra->max_aux &&
	    read_attr(entry, "auxblob", extra->max_aux, &extra->aux,
		      &extra->aux_len) < 0) {
		extra->aux = NULL;
		extra->aux_len = 0;
	}
	if ((e = read_text(entry, "generation", g2, sizeof(g2))) < 0) {
		r = dc_err(err, ATOLL_E_IO, "%s: reading the report: %s", entry,
			   strerror(-e));
		goto out;
	}
	/* Another writer between our inblob and outblob would change the
	 * generation: the report would not be ours. */
	if (strcmp(g1, g2) != 0) {
		r = dc_err(err, ATOLL_E_IO, "%s changed while it was read",
			   entry);
		goto out;
	}
	if (len == 0 || len == max_out) {
		r = dc_err(err, ATOLL_E_IO, "%s/outblob is %s", entry,
			   len ? "over the size limit" : "empty");
		goto out;
	}
	*ret_out = out;
	*ret_out_len = len;
	out = NULL;
	r = ATOLL_OK;
out:
	free(out);
	if (r != ATOLL_OK && extra) {
		free(extra->aux);
		extra->aux = NULL;
		extra->aux_len = 0;
	}
	rmdir(entry);
	return r;
}
