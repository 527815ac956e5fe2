/* Paillier key files: JSON documents holding base64 big-endian numbers
 * (format in docs/homomorphic.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "he/paillier.h"
#include "json/json.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/errmsg.h"

#define PUB_TYPE "atoll-paillier-public-key"
#define PRIV_TYPE "atoll-paillier-private-key"
#define KEYFILE_VERSION 1
#define MAX_KEYFILE (64u << 10)

/* Append "name": base64(v) to the writer; the byte copy is wiped. */
static int put_bn(struct json_writer *w, const char *name, const BIGNUM *v)
{
	int len = BN_num_bytes(v);
	uint8_t *bytes = malloc(len > 0 ? (size_t)len : 1);
	if (!bytes)
		return -ENOMEM;
	BN_bn2bin(v, bytes);
	jw_key(w, name);
	jw_base64(w, bytes, (size_t)len);
	OPENSSL_cleanse(bytes, (size_t)len);
	free(bytes);
	return 0;
}

/* A private key file is only ever created (fs_write_new): a key id that
 * names an existing one must not replace, and so destroy, that key. */
static int write_key(const char *type, const BIGNUM *n, const BIGNUM *p,
		     const BIGNUM *q, const char *path, mode_t mode)
{
	struct buf out = { 0 };
	struct json_writer w;
	jw_init(&w, &out);
	jw_object_begin(&w);
	jw_key(&w, "type");
	jw_string(&w, type);
	jw_key(&w, "version");
	jw_int(&w, KEYFILE_VERSION);
	jw_key(&w, "bits");
	jw_int(&w, BN_num_bits(n));
	int r = put_bn(&w, "n", n);
	if (r == 0 && p)
		r = put_bn(&w, "p", p);
	if (r == 0 && q)
		r = put_bn(&w, "q", q);
	jw_object_end(&w);
	if (r == 0)
		r = w.error;
	if (r == 0)
		r = buf_putc(&out, '\n');
	if (r == 0)
		r = p ? fs_write_new(path, out.data, out.len, mode)
		      : fs_write_atomic(path, out.data, out.len, mode);
	buf_free(&out);
	return r;
}

int paillier_pub_save(const struct paillier_pub *pk, const char *path)
{
	return write_key(PUB_TYPE, pk->n, NULL, NULL, path, 0644);
}

int paillier_priv_save(const struct paillier_priv *k, const char *path)
{
	return write_key(PRIV_TYPE, k->pub.n, k->p, k->q, path, 0600);
}

/* Decode the base64 member `name` of obj into a new BIGNUM. */
static int get_bn(const json_value *obj, const char *name, BIGNUM **ret,
		  const char *path, char *err, size_t err_size)
{
	size_t len;
	const char *s = json_string(json_get(obj, name), &len);
	if (!s || len == 0) {
		err_buf_setf(err, err_size, "%s: '%s' is missing or not a string", path, name);
		return -EBADMSG;
	}
	uint8_t *bytes = malloc(len * 3 / 4 + 3);
	if (!bytes)
		return -ENOMEM;
	long n = enc_base64_decode(s, len, bytes);
	int r = 0;
	if (n <= 0) {
		err_buf_setf(err, err_size, "%s: '%s' is not base64", path, name);
		r = -EBADMSG;
	} else if (!(*ret = BN_bin2bn(bytes, (int)n, NULL))) {
		r = -ENOMEM;
	}
	OPENSSL_cleanse(bytes, len * 3 / 4 + 3);
	free(bytes);
	return r;
}

/* Read path and check its type, version and bits against n. */
static int read_key(const char *path, const char *type, json_value **ret_root,
		    char *err, size_t err_size)
{
	uint8_t *data;
	size_t len;
	int r = fs_read_file(path, MAX_KEYFILE, &data, &len);
	if (r < 0) {
		err_buf_setf(err, err_size, "%s: %s", path, strerror(-r));
		return r;
	}
	char jerr[128];
	json_value *root = NULL;
	r = json_parse((const char *)data, len, &root, jerr, sizeof jerr);
	OPENSSL_cleanse(data, len);
	free(data);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		err_buf_setf(err, err_size, "%s: not JSON: %s", path, jerr);
		return -EBADMSG;
	}
	const char *t = json_string(json_get(root, "type"), NULL);
	int64_t version = 0;
	if (!t || strcmp(t, type) != 0) {
		err_buf_setf(err, err_size, "%s: not a %s file (type '%s')", path, type,
			    t ? t : "");
		r = -EBADMSG;
	} else if (json_int64(json_get(root, "version"), &version) < 0 ||
		   version != KEYFILE_VERSION) {
		err_buf_setf(err, err_size, "%s: unsupported key file version", path);
		r = -EBADMSG;
	}
	if (r < 0) {
		json_free(root);
		return r;
	}
	*ret_root = root;
	return 0;
}

static int check_bits(const json_value *root, const BIGNUM *n, const char *path,
		      char *err, size_t err_size)
{
	int64_t bits;
	if (json_int64(json_get(root, "bits"), &bits) < 0 || bits != BN_num_bits(n)) {
		err_buf_setf(err, err_size, "%s: 'bits' does not match n (%d bits)", path,
			    BN_num_bits(n));
		return -EBADMSG;
	}
	return 0;
}

int paillier_pub_load(const char *path, int min_bits, struct paillier_pub **ret_pub,
		      char *err, size_t err_size)
{
	json_value *root;
	int r = read_key(path, PUB_TYPE, &root, err, err_size);
	if (r < 0)
		return r;
	BIGNUM *n = NULL;
	if ((r = get_bn(root, "n", &n, path, err, err_size)) < 0 ||
	    (r = check_bits(root, n, path, err, err_size)) < 0)
		goto done_root;
	int len = BN_num_bytes(n);
	uint8_t *bytes = malloc((size_t)len);
	if (!bytes) {
		r = -ENOMEM;
		goto done_root;
	}
	BN_bn2bin(n, bytes);
	r = paillier_pub_from_bytes(bytes, (size_t)len, min_bits, ret_pub);
	free(bytes);
	if (r == -EINVAL) {
		err_buf_setf(err, err_size, "%s: n is not an odd number of %d..%d bits", path,
			    min_bits < 512 ? 512 : min_bits, PAILLIER_MAX_BITS);
		r = -EBADMSG;
	}

done_root:
	BN_free(n);
	json_free(root);
	return r;
}

int paillier_priv_load(const char *path, int min_bits, struct paillier_priv **ret_key,
		       char *err, size_t err_size)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		err_buf_setf(err, err_size, "%s: %s", path, strerror(e));
		return -e;
	}
	if (st.st_mode & 077) {
		err_buf_setf(err, err_size,
			    "%s: private key is accessible to group or others (mode %04o); chmod 600",
			    path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	json_value *root;
	int r = read_key(path, PRIV_TYPE, &root, err, err_size);
	if (r < 0)
		return r;
	BIGNUM *n = NULL, *p = NULL, *q = NULL, *pq = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	if (!pq || !ctx) {
		r = -ENOMEM;
		goto done_root;
	}
	if ((r = get_bn(root, "n", &n, path, err, err_size)) < 0 ||
	    (r = get_bn(root, "p", &p, path, err, err_size)) < 0 ||
	    (r = get_bn(root, "q", &q, path, err, err_size)) < 0 ||
	    (r = check_bits(root, n, path, err, err_size)) < 0)
		goto done_root;
	if (!BN_mul(pq, p, q, ctx)) {
		r = -ENOMEM;
		goto done_root;
	}
	if (BN_cmp(pq, n) != 0) {
		err_buf_setf(err, err_size, "%s: n is not p*q", path);
		r = -EBADMSG;
		goto done_root;
	}
	r = paillier_priv_from_primes(p, q, min_bits, ret_key);
	if (r == -EINVAL) {
		err_buf_setf(err, err_size,
			    "%s: not a usable key (primes, size of at least %d bits)", path,
			    min_bits < 512 ? 512 : min_bits);
		r = -EBADMSG;
	}

done_root:
	BN_free(n);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(pq);
	BN_CTX_free(ctx);
	json_free(root);
	return r;
}
