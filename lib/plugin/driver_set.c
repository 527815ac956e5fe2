/* Loading configured TEE drivers as one set. */
#include "plugin/driver_set.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int driver_set_load(const struct plugin_cfg *cfgs, size_t n, struct driver_set *out, char *err,
		    size_t err_size)
{
	struct driver_set s = { calloc(n + 1, sizeof *s.d), 0 };
	if (!s.d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct plugin_cfg *pc = &cfgs[i];
		int e = plugin_load_driver(pc->path, pc->name, pc->config, pc->n_config, s.d, s.n,
					   &s.d[s.n], err, err_size);
		if (e < 0) {
			driver_set_unload(&s);
			return e;
		}
		s.n++;
	}
	*out = s;
	return 0;
}

const struct loaded_driver *driver_set_find(const struct driver_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->d[i].name, name) == 0)
			return &s->d[i];
	return NULL;
}

void driver_set_unload(struct driver_set *s)
{
	for (size_t i = s->n; i-- > 0;)
		plugin_unload_driver(&s->d[i]);
	free(s->d);
	s->d = NULL;
	s->n = 0;
}

int driver_set_probe(const struct plugin_cfg *cfgs, size_t n, struct driver_probe *probes,
		     struct driver_set *found)
{
	struct driver_set s = { calloc(n + 1, sizeof *s.d), 0 };
	if (!s.d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct plugin_cfg *pc = &cfgs[i];
		struct driver_probe *p = &probes[i];
		memset(p, 0, sizeof *p);
		snprintf(p->name, sizeof p->name, "%s", pc->name);
		snprintf(p->path, sizeof p->path, "%s", pc->path);
		struct loaded_driver ld = { 0 };
		if (plugin_load_driver(pc->path, pc->name, pc->config, pc->n_config, s.d, s.n, &ld,
				       p->reason, sizeof p->reason) < 0) {
			p->status = ATOLL_E_CONFIG;
			continue;
		}
		if (!plugin_driver_can_collect(&ld)) {
			p->status = ATOLL_E_UNSUPPORTED;
			snprintf(p->reason, sizeof p->reason,
				 "verify only: the driver cannot produce evidence");
			plugin_unload_driver(&ld);
			continue;
		}
		atoll_err e = { "" };
		p->status = plugin_driver_detect(&ld, &e);
		if (p->status != ATOLL_OK) {
			snprintf(p->reason, sizeof p->reason, "%s",
				 e.msg[0] ? e.msg : atoll_status_name(p->status));
			plugin_unload_driver(&ld);
			continue;
		}
		s.d[s.n++] = ld;
	}
	*found = s;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void driver_set_paths_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int driver_set_dir(const char *dir, char ***ret_paths, size_t *ret_n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **paths = NULL;
	size_t n = 0, cap = 0;
	int e = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 4 || de->d_name[0] == '.' || strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		char *path;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			e = -ENOMEM;
			break;
		}
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			char **np = realloc(paths, cap * sizeof *np);
			if (!np) {
				free(path);
				e = -ENOMEM;
				break;
			}
			paths = np;
		}
		paths[n++] = path;
	}
	closedir(d);
	if (e < 0) {
		driver_set_paths_free(paths, n);
		return e;
	}
	if (n)
		qsort(paths, n, sizeof *paths, by_name);
	*ret_paths = paths;
	*ret_n = n;
	return 0;
}
