/* YAML configuration files: a node tree with positions, and typed readers
 * that report errors as "file:line:column: key.path: what".
 *
 * A schema is written as code: a reader walks a mapping with
 * cfg_check_keys() (unknown or duplicate keys are errors) and reads each
 * value with the typed getters. The first error stops the load; the
 * context keeps its message. */
#ifndef ATOLL_CONFIG_CFG_H
#define ATOLL_CONFIG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ynode_type { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode {
	enum ynode_type type;
	int line, col;          /* 1-based position of the node */
	char *scalar;           /* YNODE_SCALAR */
	bool plain;             /* scalar written without quotes */
	size_t n;               /* items of a sequence / pairs of a map */
	struct ynode **items;   /* values */
	struct ynode **keys;    /* map keys (scalars), parallel to items */
};

struct cfg {
	const char *file;   /* as shown in messages */
	char dir[4096];     /* directory of the file, for relative paths */
	char err[1024];
};

/* Parse a YAML file (one document; anchors and aliases refused). */
int cfg_load(struct cfg *c, const char *path, struct ynode **ret);
int cfg_load_string(struct cfg *c, const char *name, const char *text, size_t len,
		    struct ynode **ret);
void ynode_free(struct ynode *n);

/* Record an error at node n (or the file when n is NULL). Returns -EINVAL. */
int cfg_error(struct cfg *c, const struct ynode *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* n must be a mapping whose keys are all in `allowed` (NULL-terminated),
 * each once. */
int cfg_check_keys(struct cfg *c, const struct ynode *n, const char *path,
		   const char *const *allowed);
/* n must be a sequence. */
int cfg_check_seq(struct cfg *c, const struct ynode *n, const char *path);
/* map[key] must be a sequence; allocate a zeroed array of its length + 1
 * elements of elem_size bytes into *ret_array. Returns 1 with *ret_seq
 * set, 0 when the key is absent and not required, or <0 with the error. */
int cfg_seq_alloc(struct cfg *c, const struct ynode *map, const char *path, const char *key,
		  bool required, size_t elem_size, const struct ynode **ret_seq, void **ret_array);
/* Value under key, or NULL. */
const struct ynode *cfg_get(const struct ynode *map, const char *key);
/* "path.key" / "path[i]" into out. */
void cfg_path(char *out, size_t size, const char *path, const char *key);
void cfg_path_index(char *out, size_t size, const char *path, size_t i);

/* Typed getters for map[key]. When the key is absent: error if required,
 * else *out keeps its (default) value and 0 is returned. */
int cfg_str(struct cfg *c, const struct ynode *map, const char *path,
	    const char *key, bool required, char **out);
/* A file path, made absolute against the config file's directory. */
int cfg_path_value(struct cfg *c, const struct ynode *map, const char *path,
		   const char *key, bool required, char **out);
int cfg_uint(struct cfg *c, const struct ynode *map, const char *path,
	     const char *key, bool required, uint64_t min, uint64_t max, uint64_t *out);
int cfg_double(struct cfg *c, const struct ynode *map, const char *path,
	       const char *key, bool required, double min, double max, double *out);
int cfg_bool(struct cfg *c, const struct ynode *map, const char *path,
	     const char *key, bool required, bool *out);
/* Durations: "250ms", "5s", "10m", "2h", or a bare number of seconds. */
int cfg_duration_ms(struct cfg *c, const struct ynode *map, const char *path,
		    const char *key, bool required, int64_t min_ms, int64_t max_ms,
		    int64_t *out);
/* A sequence of scalars (also accepts one scalar) into a NULL-terminated
 * malloc'd array of strings. */
int cfg_str_list(struct cfg *c, const struct ynode *map, const char *path,
		 const char *key, bool required, char ***out, size_t *ret_n);
/* Hex string of exactly want_len bytes (any length when want_len == 0,
 * then *ret_len says). */
int cfg_hex(struct cfg *c, const struct ynode *n, const char *path,
	    uint8_t *out, size_t want_len, size_t max_len, size_t *ret_len);
void cfg_str_list_free(char **list);

#endif
