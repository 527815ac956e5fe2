/* YAML configuration files on libyaml's parser events. */
#include "config/cfg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "util/enc.h"
#include "util/fsutil.h"

#define MAX_DEPTH 64
#define MAX_FILE (4 << 20)

void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		ynode_free(n->items[i]);
		if (n->keys)
			ynode_free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->scalar);
	free(n);
}

int cfg_error(struct cfg *c, const struct ynode *n, const char *path, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (n && path && *path)
		snprintf(c->err, sizeof c->err, "%s:%d:%d: %s: %s", c->file, n->line, n->col, path, what);
	else if (n)
		snprintf(c->err, sizeof c->err, "%s:%d:%d: %s", c->file, n->line, n->col, what);
	else if (path && *path)
		snprintf(c->err, sizeof c->err, "%s: %s: %s", c->file, path, what);
	else
		snprintf(c->err, sizeof c->err, "%s: %s", c->file, what);
	return -EINVAL;
}

static struct ynode *node_new(enum ynode_type t, const yaml_mark_t *m)
{
	struct ynode *n = calloc(1, sizeof *n);
	if (n) {
		n->type = t;
		n->line = (int)m->line + 1;
		n->col = (int)m->column + 1;
	}
	return n;
}

static int node_push(struct ynode *parent, struct ynode *key, struct ynode *val)
{
	struct ynode **items = realloc(parent->items, (parent->n + 1) * sizeof *items);
	if (!items)
		return -ENOMEM;
	parent->items = items;
	if (parent->type == YNODE_MAP) {
		struct ynode **keys = realloc(parent->keys, (parent->n + 1) * sizeof *keys);
		if (!keys)
			return -ENOMEM;
		parent->keys = keys;
		keys[parent->n] = key;
	}
	items[parent->n++] = val;
	return 0;
}

struct loader {
	struct cfg *c;
	yaml_parser_t p;
	yaml_event_t ev;
	bool have_ev;
};

static int next_event(struct loader *l)
{
	if (l->have_ev)
		yaml_event_delete(&l->ev);
	l->have_ev = false;
	if (!yaml_parser_parse(&l->p, &l->ev)) {
		struct ynode at = { .line = (int)l->p.problem_mark.line + 1,
				    .col = (int)l->p.problem_mark.column + 1 };
		return cfg_error(l->c, &at, NULL, "YAML syntax error: %s%s%s",
				 l->p.problem ? l->p.problem : "unknown problem",
				 l->p.context ? " " : "", l->p.context ? l->p.context : "");
	}
	l->have_ev = true;
	return 0;
}

static int parse_node(struct loader *l, int depth, struct ynode **ret);

/* Parse the node whose first event is current. */
static int parse_node(struct loader *l, int depth, struct ynode **ret)
{
	yaml_event_t *ev = &l->ev;
	struct ynode at = { .line = (int)ev->start_mark.line + 1,
			    .col = (int)ev->start_mark.column + 1 };
	if (depth > MAX_DEPTH)
		return cfg_error(l->c, &at, NULL, "nesting deeper than %d levels", MAX_DEPTH);
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return cfg_error(l->c, &at, NULL, "YAML aliases are not supported");
	case YAML_SCALAR_EVENT: {
		if (ev->data.scalar.anchor)
			return cfg_error(l->c, &at, NULL, "YAML anchors are not supported");
		struct ynode *n = node_new(YNODE_SCALAR, &ev->start_mark);
		if (!n)
			return -ENOMEM;
		n->scalar = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (!n->scalar) {
			ynode_free(n);
			return -ENOMEM;
		}
		if (strlen(n->scalar) != ev->data.scalar.length) {
			ynode_free(n);
			return cfg_error(l->c, &at, NULL, "NUL byte in scalar");
		}
		*ret = n;
		return 0;
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		if ((map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor))
			return cfg_error(l->c, &at, NULL, "YAML anchors are not supported");
		struct ynode *n = node_new(map ? YNODE_MAP : YNODE_SEQ, &ev->start_mark);
		if (!n)
			return -ENOMEM;
		for (;;) {
			int e = next_event(l);
			if (e < 0) {
				ynode_free(n);
				return e;
			}
			if (l->ev.type == (map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT))
				break;
			struct ynode *key = NULL, *val = NULL;
			if (map) {
				if (l->ev.type != YAML_SCALAR_EVENT) {
					struct ynode kat = { .line = (int)l->ev.start_mark.line + 1,
							     .col = (int)l->ev.start_mark.column + 1 };
					ynode_free(n);
					return cfg_error(l->c, &kat, NULL, "mapping keys must be scalars");
				}
				if ((e = parse_node(l, depth + 1, &key)) < 0 ||
				    (e = next_event(l)) < 0) {
					ynode_free(key);
					ynode_free(n);
					return e;
				}
			}
			if ((e = parse_node(l, depth + 1, &val)) < 0 ||
			    (e = node_push(n, key, val)) < 0) {
				ynode_free(key);
				ynode_free(val);
				ynode_free(n);
				return e;
			}
		}
		*ret = n;
		return 0;
	}
	default:
		return cfg_error(l->c, &at, NULL, "unexpected YAML event");
	}
}

int cfg_load_string(struct cfg *c, const char *name, const char *text, size_t len,
		    struct ynode **ret)
{
	struct loader l = { .c = c };
	struct ynode *root = NULL;
	int e;
	c->file = name;
	c->err[0] = 0;
	if (!yaml_parser_initialize(&l.p))
		return -ENOMEM;
	yaml_parser_set_input_string(&l.p, (const unsigned char *)text, len);
	/* STREAM-START, then DOCUMENT-START or STREAM-END (empty file). */
	if ((e = next_event(&l)) < 0 || (e = next_event(&l)) < 0)
		goto out;
	if (l.ev.type == YAML_STREAM_END_EVENT) {
		e = cfg_error(c, NULL, NULL, "the file is empty");
		goto out;
	}
	if ((e = next_event(&l)) < 0 || (e = parse_node(&l, 0, &root)) < 0)
		goto out;
	if ((e = next_event(&l)) < 0)
		goto out;
	/* DOCUMENT-END, then STREAM-END: a second document is an error. */
	if ((e = next_event(&l)) < 0)
		goto out;
	if (l.ev.type != YAML_STREAM_END_EVENT) {
		struct ynode at = { .line = (int)l.ev.start_mark.line + 1,
				    .col = (int)l.ev.start_mark.column + 1 };
		e = cfg_error(c, &at, NULL, "only one YAML document is allowed");
		goto out;
	}
	*ret = root;
	root = NULL;
out:
	ynode_free(root);
	if (l.have_ev)
		yaml_event_delete(&l.ev);
	yaml_parser_delete(&l.p);
	return e;
}

int cfg_load(struct cfg *c, const char *path, struct ynode **ret)
{
	uint8_t *data;
	size_t len;
	const char *base = strrchr(path, '/');
	c->file = base ? base + 1 : path;
	fs_dirname(path, c->dir, sizeof c->dir);
	int e = fs_read_file(path, MAX_FILE, &data, &len);
	if (e < 0) {
		snprintf(c->err, sizeof c->err, "%s: cannot read: %s", path,
			 e == -EFBIG ? "larger than 4 MiB" : strerror(-e));
		return e;
	}
	e = cfg_load_string(c, c->file, (const char *)data, len, ret);
	free(data);
	return e;
}

void cfg_path(char *out, size_t size, const char *path, const char *key)
{
	snprintf(out, size, "%s%s%s", path, *path ? "." : "", key);
}

void cfg_path_index(char *out, size_t size, const char *path, size_t i)
{
	snprintf(out, size, "%s[%zu]", path, i);
}

static const char *type_name(const struct ynode *n)
{
	switch (n->type) {
	case YNODE_SCALAR: return "a scalar";
	case YNODE_MAP: return "a mapping";
	case YNODE_SEQ: return "a sequence";
	}
	return "?";
}

int cfg_check_keys(struct cfg *c, const struct ynode *n, const char *path,
		   const char *const *allowed)
{
	if (n->type != YNODE_MAP)
		return cfg_error(c, n, path, "expected a mapping, found %s", type_name(n));
	for (size_t i = 0; i < n->n; i++) {
		const char *k = n->keys[i]->scalar;
		char p[512];
		cfg_path(p, sizeof p, path, k);
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, k) == 0)
				ok = true;
		if (!ok)
			return cfg_error(c, n->keys[i], p, "unknown key");
		for (size_t j = 0; j < i; j++)
			if (strcmp(n->keys[j]->scalar, k) == 0)
				return cfg_error(c, n->keys[i], p,
						 "duplicate key (first at line %d)", n->keys[j]->line);
	}
	return 0;
}

int cfg_check_seq(struct cfg *c, const struct ynode *n, const char *path)
{
	if (n->type != YNODE_SEQ)
		return cfg_error(c, n, path, "expected a sequence, found %s", type_name(n));
	return 0;
}

int cfg_seq_alloc(struct cfg *c, const struct ynode *map, const char *path, const char *key,
		  bool required, size_t elem_size, const struct ynode **ret_seq, void **ret_array)
{
	char p[512];
	cfg_path(p, sizeof p, path, key);
	const struct ynode *n = cfg_get(map, key);
	if (!n)
		return required ? cfg_error(c, map, p, "required key is missing") : 0;
	int e = cfg_check_seq(c, n, p);
	if (e < 0)
		return e;
	void *a = calloc(n->n + 1, elem_size);
	if (!a)
		return -ENOMEM;
	*ret_seq = n;
	*ret_array = a;
	return 1;
}

const struct ynode *cfg_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->scalar, key) == 0)
			return map->items[i];
	return NULL;
}

/* Fetch map[key] as a scalar. 1 found, 0 absent (ok), <0 error. */
static int scalar_at(struct cfg *c, const struct ynode *map, const char *path,
		     const char *key, bool required, const struct ynode **ret, char *p,
		     size_t psize)
{
	cfg_path(p, psize, path, key);
	const struct ynode *n = cfg_get(map, key);
	if (!n) {
		if (required)
			return cfg_error(c, map, p, "required key is missing");
		return 0;
	}
	if (n->type != YNODE_SCALAR)
		return cfg_error(c, n, p, "expected a scalar, found %s", type_name(n));
	*ret = n;
	return 1;
}

int cfg_str(struct cfg *c, const struct ynode *map, const char *path,
	    const char *key, bool required, char **out)
{
	const struct ynode *n;
	char p[512];
	int r = scalar_at(c, map, path, key, required, &n, p, sizeof p);
	if (r <= 0)
		return r;
	if (n->plain && (n->scalar[0] == 0 || strcmp(n->scalar, "~") == 0 ||
			 strcmp(n->scalar, "null") == 0))
		return cfg_error(c, n, p, "expected a value, found null");
	char *s = strdup(n->scalar);
	if (!s)
		return -ENOMEM;
	free(*out);
	*out = s;
	return 0;
}

int cfg_path_value(struct cfg *c, const struct ynode *map, const char *path,
		   const char *key, bool required, char **out)
{
	char *s = NULL;
	int r = cfg_str(c, map, path, key, required, &s);
	if (r < 0 || !s)
		return r;
	if (s[0] == '/') {
		free(*out);
		*out = s;
		return 0;
	}
	char *abs;
	int n = asprintf(&abs, "%s/%s", c->dir, s);
	free(s);
	if (n < 0)
		return -ENOMEM;
	free(*out);
	*out = abs;
	return 0;
}

int cfg_uint(struct cfg *c, const struct ynode *map, const char *path,
	     const char *key, bool required, uint64_t min, uint64_t max, uint64_t *out)
{
	const struct ynode *n;
	char p[512];
	int r = scalar_at(c, map, path, key, required, &n, p, sizeof p);
	if (r <= 0)
		return r;
	const char *s = n->scalar;
	uint64_t v = 0;
	if (!*s || !n->plain)
		return cfg_error(c, n, p, "expected an integer, found '%s'", s);
	for (; *s; s++) {
		if (*s == '_')
			continue;
		if (*s < '0' || *s > '9')
			return cfg_error(c, n, p, "expected an integer, found '%s'", n->scalar);
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return cfg_error(c, n, p, "integer too large");
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return cfg_error(c, n, p, "%llu is out of range %llu..%llu",
				 (unsigned long long)v, (unsigned long long)min,
				 (unsigned long long)max);
	*out = v;
	return 0;
}

int cfg_double(struct cfg *c, const struct ynode *map, const char *path,
	       const char *key, bool required, double min, double max, double *out)
{
	const struct ynode *n;
	char p[512];
	int r = scalar_at(c, map, path, key, required, &n, p, sizeof p);
	if (r <= 0)
		return r;
	char *end;
	errno = 0;
	double v = strtod(n->scalar, &end);
	if (!n->plain || !*n->scalar || *end || errno || !isfinite(v))
		return cfg_error(c, n, p, "expected a number, found '%s'", n->scalar);
	if (v < min || v > max)
		return cfg_error(c, n, p, "%g is out of range %g..%g", v, min, max);
	*out = v;
	return 0;
}

int cfg_bool(struct cfg *c, const struct ynode *map, const char *path,
	     const char *key, bool required, bool *out)
{
	const struct ynode *n;
	char p[512];
	int r = scalar_at(c, map, path, key, required, &n, p, sizeof p);
	if (r <= 0)
		return r;
	if (n->plain && strcmp(n->scalar, "true") == 0)
		*out = true;
	else if (n->plain && strcmp(n->scalar, "false") == 0)
		*out = false;
	else
		return cfg_error(c, n, p, "expected true or false, found '%s'", n->scalar);
	return 0;
}

int cfg_duration_ms(struct cfg *c, const struct ynode *map, const char *path,
		    const char *key, bool required, int64_t min_ms, int64_t max_ms,
		    int64_t *out)
{
	const struct ynode *n;
	char p[512];
	int r = scalar_at(c, map, path, key, required, &n, p, sizeof p);
	if (r <= 0)
		return r;
	const char *s = n->scalar;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	double mult;
	if (end == s || errno || v < 0)
		goto bad;
	if (*end == 0 || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else
		goto bad;
	double ms = v * mult;
	if (ms > 9e15)
		goto bad;
	if (ms < (double)min_ms || ms > (double)max_ms)
		return cfg_error(c, n, p, "%s is out of range %lldms..%lldms", s,
				 (long long)min_ms, (long long)max_ms);
	*out = (int64_t)llround(ms);
	return 0;
bad:
	return cfg_error(c, n, p, "expected a duration like 250ms, 5s, 10m or 2h, found '%s'", s);
}

void cfg_str_list_free(char **list)
{
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

int cfg_str_list(struct cfg *c, const struct ynode *map, const char *path,
		 const char *key, bool required, char ***out, size_t *ret_n)
{
	char p[512];
	cfg_path(p, sizeof p, path, key);
	const struct ynode *n = cfg_get(map, key);
	if (!n) {
		if (required)
			return cfg_error(c, map, p, "required key is missing");
		return 0;
	}
	size_t count = n->type == YNODE_SEQ ? n->n : 1;
	if (n->type == YNODE_MAP)
		return cfg_error(c, n, p, "expected a list of strings, found a mapping");
	char **list = calloc(count + 1, sizeof *list);
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const struct ynode *item = n->type == YNODE_SEQ ? n->items[i] : n;
		if (item->type != YNODE_SCALAR) {
			char pi[512];
			cfg_path_index(pi, sizeof pi, p, i);
			cfg_str_list_free(list);
			return cfg_error(c, item, pi, "expected a string, found %s", type_name(item));
		}
		if (!(list[i] = strdup(item->scalar))) {
			cfg_str_list_free(list);
			return -ENOMEM;
		}
	}
	cfg_str_list_free(*out);
	*out = list;
	if (ret_n)
		*ret_n = count;
	return 0;
}

int cfg_hex(struct cfg *c, const struct ynode *n, const char *path,
	    uint8_t *out, size_t want_len, size_t max_len, size_t *ret_len)
{
	if (n->type != YNODE_SCALAR)
		return cfg_error(c, n, path, "expected a hex string, found %s", type_name(n));
	size_t len = strlen(n->scalar);
	if (want_len && len != 2 * want_len)
		return cfg_error(c, n, path, "expected %zu hex digits, found %zu", 2 * want_len, len);
	if (len % 2 || len / 2 > max_len)
		return cfg_error(c, n, path, "expected at most %zu bytes of hex", max_len);
	if (enc_hex_decode(n->scalar, len, out) < 0)
		return cfg_error(c, n, path, "not a hex string: '%s'", n->scalar);
	if (ret_len)
		*ret_len = len / 2;
	return 0;
}
