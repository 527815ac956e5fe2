/* Loading configured TEE drivers as one set. */
#include "plugin/driver_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
