/* The keystore's files: key pairs as JSON (base64 halves, checked to
 * match on load), written atomically with mode 0600. */
#include "client/keystore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "json/json.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

/* atoll.v1.KeyAlgorithm.KEY_ALGORITHM_X25519_HPKE */
#define ALG_X25519 1

int cl_keystore_open(const char *dir, struct cl_keystore *ks)
{
	if (dir) {
		snprintf(ks->dir, sizeof ks->dir, "%s", dir);
	} else {
		const char *home = getenv("HOME");
		if (!home)
			return -ENOENT;
		snprintf(ks->dir, sizeof ks->dir, "%s/.atoll", home);
		mkdir(ks->dir, 0700);
		snprintf(ks->dir, sizeof ks->dir, "%s/.atoll/keys", home);
	}
	if (mkdir(ks->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

bool cl_id_ok(const char *id, size_t max)
{
	size_t n = strlen(id);
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-'))
			return false;
	return true;
}

void cl_key_wipe(struct cl_key *k)
{
	OPENSSL_cleanse(k, sizeof *k);
}

int cl_key_generate(struct cl_key *k)
{
	memset(k, 0, sizeof *k);
	k->algorithm = ALG_X25519;
	return x25519_keygen(k->priv, k->pub) == 0 ? 0 : -EIO;
}

int cl_key_save(const struct cl_keystore *ks, const struct cl_key *k)
{
	char path[4200];
	/* Key ids come from the coordinator: never let one steer the path. */
	if (!cl_id_ok(k->key_id, sizeof k->key_id))
		return -EINVAL;
	snprintf(path, sizeof path, "%s/%s.json", ks->dir, k->key_id);
	struct buf b = { 0 };
	struct json_writer w;
	char ts[40];
	time_rfc3339_format(time_now_ms(), ts, sizeof ts);
	jw_init(&w, &b);
	jw_object_begin(&w);
	jw_key(&w, "key_id");
	jw_string(&w, k->key_id);
	jw_key(&w, "algorithm");
	jw_string(&w, "x25519-hpke");
	jw_key(&w, "public_key");
	jw_base64(&w, k->pub, 32);
	jw_key(&w, "private_key");
	jw_base64(&w, k->priv, 32);
	jw_key(&w, "created_at");
	jw_string(&w, ts);
	jw_object_end(&w);
	buf_putc(&b, '\n');
	/* Created, never replaced: a key id the coordinator repeats must not
	 * destroy the key already under it. */
	int e = w.error ? w.error : fs_write_new(path, b.data, b.len, 0600);
	buf_free(&b); /* wiped */
	return e;
}

int cl_key_load(const struct cl_keystore *ks, const char *key_id, struct cl_key *out)
{
	char path[4200];
	if (!cl_id_ok(key_id, sizeof out->key_id))
		return -EINVAL;
	snprintf(path, sizeof path, "%s/%s.json", ks->dir, key_id);
	uint8_t *data;
	size_t len;
	int e = fs_read_file(path, 1 << 16, &data, &len);
	if (e < 0)
		return e;
	json_value *v = NULL;
	char err[128];
	e = json_parse((char *)data, len, &v, err, sizeof err);
	OPENSSL_cleanse(data, len);
	free(data);
	if (e < 0)
		return -EBADMSG;
	const char *pub = json_string(json_get(v, "public_key"), NULL);
	const char *priv = json_string(json_get(v, "private_key"), NULL);
	uint8_t tmp[48];
	e = -EBADMSG;
	memset(out, 0, sizeof *out);
	snprintf(out->key_id, sizeof out->key_id, "%s", key_id);
	out->algorithm = ALG_X25519;
	if (pub && priv && strlen(pub) <= 64 && strlen(priv) <= 64 &&
	    enc_base64_decode(pub, strlen(pub), tmp) == 32) {
		memcpy(out->pub, tmp, 32);
		if (enc_base64_decode(priv, strlen(priv), tmp) == 32) {
			memcpy(out->priv, tmp, 32);
			uint8_t check[32];
			/* A file whose halves do not match is corrupt. */
			if (x25519_public_from_private(out->priv, check) == 0 &&
			    CRYPTO_memcmp(check, out->pub, 32) == 0)
				e = 0;
		}
	}
	OPENSSL_cleanse(tmp, sizeof tmp);
	/* The base64 private key in the parsed tree, before it is freed. */
	if (priv)
		OPENSSL_cleanse((char *)priv, strlen(priv));
	json_free(v);
	if (e < 0)
		cl_key_wipe(out);
	return e;
}

int cl_paillier_path(const struct cl_keystore *ks, const char *key_id, char *out, size_t size)
{
	if (!cl_id_ok(key_id, 64))
		return -EINVAL;
	snprintf(out, size, "%s/%s.paillier.json", ks->dir, key_id);
	return 0;
}
