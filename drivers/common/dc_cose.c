/* CBOR screening and access on libcbor, and COSE_Sign1 parsing and
 * verification. */
#include "dc_cose.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "dc_util.h"
#include "dc_x509.h"

/* Walk one CBOR item, enforcing the screen. When out is non-NULL, also
 * copy the input there with every one-byte tag head 0xc6..0xd4 (tags
 * 6..20) rewritten to its two-byte form 0xd8 NN: libcbor 0.8 refuses the
 * short form of those tags, which COSE uses (17, 18). *ret_fix counts
 * such heads. */
static int scan(const uint8_t *data, size_t len, unsigned max_depth,
		uint8_t *out, size_t *ret_fix, atoll_err *err)
{
	uint64_t stack[DC_CBOR_MAX_DEPTH];
	unsigned depth = 0;
	size_t pos = 0, o = 0, fix = 0;

	if (max_depth > DC_CBOR_MAX_DEPTH)
		max_depth = DC_CBOR_MAX_DEPTH;
	if (len == 0)
		return dc_err(err, ATOLL_E_FORMAT, "CBOR: empty input");
	for (;;) {
		unsigned major, ai;
		uint64_t arg = 0, n_children = 0;
		size_t i, extra = 0, head_at = pos;

		if (pos >= len)
			return dc_err(err, ATOLL_E_FORMAT,
				      "CBOR: truncated at byte %zu", pos);
		major = data[pos] >> 5;
		ai = data[pos] & 31;
		pos++;
		if (ai < 24) {
			arg = ai;
		} else if (ai <= 27) {
			extra = (size_t)1 << (ai - 24);
			if (len - pos < extra)
				return dc_err(err, ATOLL_E_FORMAT,
					      "CBOR: truncated argument at byte %zu",
					      pos - 1);
			for (i = 0; i < extra; i++)
				arg = arg << 8 | data[pos + i];
			pos += extra;
		} else if (ai == 31) {
			return dc_err(err, ATOLL_E_FORMAT,
				      "CBOR: indefinite-length item at byte %zu",
				      pos - 1);
		} else {
			return dc_err(err, ATOLL_E_FORMAT,
				      "CBOR: reserved additional info at byte %zu",
				      pos - 1);
		}
		if (major == 6 && ai >= 6 && ai <= 20) {
			if (out) {
				out[o++] = 0xd8;
				out[o++] = (uint8_t)ai;
			}
			fix++;
		} else if (out) {
			memcpy(out + o, data + head_at, 1 + extra);
			o += 1 + extra;
		}
		switch (major) {
		case 2:
		case 3:
			if (arg > len - pos)
				return dc_err(err, ATOLL_E_FORMAT,
					      "CBOR: string of %llu bytes overruns "
					      "input at byte %zu",
					      (unsigned long long)arg, pos);
			if (out) {
				memcpy(out + o, data + pos, (size_t)arg);
				o += (size_t)arg;
			}
			pos += (size_t)arg;
			break;
		case 4:
			/* Each element takes at least one byte. */
			if (arg > len - pos)
				return dc_err(err, ATOLL_E_FORMAT,
					      "CBOR: array of %llu items overruns input",
					      (unsigned long long)arg);
			n_children = arg;
			break;
		case 5:
			if (arg > (len - pos) / 2)
				return dc_err(err, ATOLL_E_FORMAT,
					      "CBOR: map of %llu pairs overruns input",
					      (unsigned long long)arg);
			n_children = arg * 2;
			break;
		case 6:
			n_children = 1;
			break;
		default:
			break;
		}
		if (n_children > 0) {
			if (depth >= max_depth)
				return dc_err(err, ATOLL_E_FORMAT,
					      "CBOR: nested deeper than %u",
					      max_depth);
			stack[depth++] = n_children;
			continue;
		}
		/* An item is complete: close every container it completes. */
		for (;;) {
			if (depth == 0)
				goto done;
			if (--stack[depth - 1] > 0)
				break;
			depth--;
		}
	}
done:
	if (pos != len)
		return dc_err(err, ATOLL_E_FORMAT,
			      "CBOR: %zu trailing bytes after the item",
			      len - pos);
	if (ret_fix)
		*ret_fix = fix;
	return ATOLL_OK;
}

int dc_cbor_check(const uint8_t *data, size_t len, unsigned max_depth,
		  atoll_err *err)
{
	return scan(data, len, max_depth, NULL, NULL, err);
}

int dc_cbor_decode(const uint8_t *data, size_t len, cbor_item_t **ret,
		   atoll_err *err)
{
	struct cbor_load_result res;
	cbor_item_t *item;
	uint8_t *fixed = NULL;
	size_t n_fix = 0;
	int r;

	r = scan(data, len, DC_CBOR_MAX_DEPTH, NULL, &n_fix, err);
	if (r != ATOLL_OK)
		return r;
	if (n_fix) {
		fixed = malloc(len + n_fix);
		if (!fixed)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		scan(data, len, DC_CBOR_MAX_DEPTH, fixed, NULL, NULL);
		data = fixed;
		len += n_fix;
	}
	item = cbor_load(data, len, &res);
	free(fixed);
	if (!item) {
		if (res.error.code == CBOR_ERR_MEMERROR)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		return dc_err(err, ATOLL_E_FORMAT,
			      "CBOR: does not decode (error %d at byte %zu)",
			      (int)res.error.code, res.error.position);
	}
	if (res.read != len) {
		cbor_decref(&item);
		return dc_err(err, ATOLL_E_FORMAT, "CBOR: trailing bytes");
	}
	*ret = item;
	return ATOLL_OK;
}

bool dc_cbor_int(const cbor_item_t *item, int64_t *ret)
{
	uint64_t v;

	if (!item)
		return false;
	if (cbor_isa_uint(item)) {
		v = cbor_get_int(item);
		if (v > INT64_MAX)
			return false;
		*ret = (int64_t)v;
		return true;
	}
	if (cbor_isa_negint(item)) {
		v = cbor_get_int(item);
		if (v > INT64_MAX)
			return false;
		*ret = -1 - (int64_t)v;
		return true;
	}
	return false;
}

static const cbor_item_t *map_find(const cbor_item_t *map, bool by_int,
				   int64_t ikey, const char *skey,
				   bool *ret_dup)
{
	struct cbor_pair *pairs;
	const cbor_item_t *found = NULL;
	size_t i, n, slen = skey ? strlen(skey) : 0;

	if (ret_dup)
		*ret_dup = false;
	if (!map || !cbor_isa_map(map))
		return NULL;
	pairs = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (i = 0; i < n; i++) {
		bool match;

		if (by_int) {
			int64_t k;

			match = dc_cbor_int(pairs[i].key, &k) && k == ikey;
		} else {
			const char *k;
			size_t klen;

			match = dc_cbor_text(pairs[i].key, &k, &klen) &&
				klen == slen && memcmp(k, skey, slen) == 0;
		}
		if (!match)
			continue;
		if (found) {
			if (ret_dup)
				*ret_dup = true;
			return found;
		}
		found = pairs[i].value;
	}
	return found;
}

const cbor_item_t *dc_cbor_map_int(const cbor_item_t *map, int64_t key,
				   bool *ret_dup)
{
	return map_find(map, true, key, NULL, ret_dup);
}

const cbor_item_t *dc_cbor_map_str(const cbor_item_t *map, const char *key,
				   bool *ret_dup)
{
	return map_find(map, false, 0, key, ret_dup);
}

bool dc_cbor_is_null(const cbor_item_t *item)
{
	return item && cbor_isa_float_ctrl(item) &&
	       cbor_float_get_width(item) == CBOR_FLOAT_0 &&
	       cbor_ctrl_value(item) == CBOR_CTRL_NULL;
}

bool dc_cbor_bytes(const cbor_item_t *item, const uint8_t **ret,
		   size_t *ret_len)
{
	if (!item || !cbor_isa_bytestring(item) ||
	    !cbor_bytestring_is_definite(item))
		return false;
	*ret = cbor_bytestring_handle(item);
	*ret_len = cbor_bytestring_length(item);
	return true;
}

bool dc_cbor_text(const cbor_item_t *item, const char **ret, size_t *ret_len)
{
	if (!item || !cbor_isa_string(item) || !cbor_string_is_definite(item))
		return false;
	*ret = (const char *)cbor_string_handle(item);
	*ret_len = cbor_string_length(item);
	return true;
}

void dc_cose_sign1_clear(struct dc_cose_sign1 *m)
{
	if (m->protected_map)
		cbor_decref(&m->protected_map);
	if (m->root)
		cbor_decref(&m->root);
	memset(m, 0, sizeof(*m));
}

int dc_cose_sign1_parse(const uint8_t *data, size_t len,
			struct dc_cose_sign1 *m, atoll_err *err)
{
	struct dc_cose_sign1 t = { 0 };
	cbor_item_t *arr, **elems;
	const cbor_item_t *a;
	bool dup;
	int r;

	r = dc_cbor_decode(data, len, &t.root, err);
	if (r != ATOLL_OK)
		return r;
	arr = t.root;
	if (cbor_isa_tag(arr)) {
		cbor_item_t *inner;

		t.tag = cbor_tag_value(arr);
		if (t.tag == DC_COSE_TAG_MAC0) {
			r = dc_err(err, ATOLL_E_UNSUPPORTED,
				   "COSE_Mac0 (tag 17) messages need a symmetric "
				   "key and are not supported");
			goto out_fail;
		}
		if (t.tag != DC_COSE_TAG_SIGN1) {
			r = dc_err(err, ATOLL_E_FORMAT,
				   "CBOR tag %llu is not COSE_Sign1 (18)",
				   (unsigned long long)t.tag);
			goto out_fail;
		}
		/* The tag keeps its own reference; drop the one returned. */
		inner = cbor_tag_item(arr);
		arr = inner;
		cbor_decref(&inner);
	}
	if (!cbor_isa_array(arr) || cbor_array_size(arr) != 4) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 is not an array of 4 items");
		goto out_fail;
	}
	elems = cbor_array_handle(arr);
	if (!dc_cbor_bytes(elems[0], &t.protected_raw, &t.protected_len)) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 protected header is not a byte string");
		goto out_fail;
	}
	if (!cbor_isa_map(elems[1])) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 unprotected header is not a map");
		goto out_fail;
	}
	t.unprotected = elems[1];
	if (dc_cbor_is_null(elems[2])) {
		r = dc_err(err, ATOLL_E_UNSUPPORTED,
			   "COSE_Sign1 with a detached payload is not supported");
		goto out_fail;
	}
	if (!dc_cbor_bytes(elems[2], &t.payload, &t.payload_len)) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 payload is not a byte string");
		goto out_fail;
	}
	if (!dc_cbor_bytes(elems[3], &t.signature, &t.signature_len)) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 signature is not a byte string");
		goto out_fail;
	}
	if (t.protected_len == 0) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 has an empty protected header (no "
			   "algorithm)");
		goto out_fail;
	}
	r = dc_cbor_decode(t.protected_raw, t.protected_len, &t.protected_map,
			   err);
	if (r != ATOLL_OK) {
		r = dc_err_prefix(err, ATOLL_E_FORMAT, "protected header");
		goto out_fail;
	}
	if (!cbor_isa_map(t.protected_map)) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 protected header is not a map");
		goto out_fail;
	}
	a = dc_cbor_map_int(t.protected_map, 1, &dup);
	if (!a || dup || !dc_cbor_int(a, &t.alg)) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 protected header has no single integer "
			   "algorithm (label 1)");
		goto out_fail;
	}
	if (dc_cbor_map_int(t.unprotected, 1, NULL)) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "COSE_Sign1 algorithm also in the unprotected header");
		goto out_fail;
	}
	/* Critical headers we would have to understand: none are. */
	if (dc_cbor_map_int(t.protected_map, 2, NULL)) {
		r = dc_err(err, ATOLL_E_UNSUPPORTED,
			   "COSE_Sign1 lists critical headers (label 2)");
		goto out_fail;
	}
	*m = t;
	return ATOLL_OK;
out_fail:
	dc_cose_sign1_clear(&t);
	return r;
}

size_t dc_cbor_head(uint8_t *out, unsigned major, uint64_t arg)
{
	uint8_t mt = (uint8_t)(major << 5);
	size_t n, i;

	if (arg < 24) {
		out[0] = mt | (uint8_t)arg;
		return 1;
	}
	if (arg <= 0xff) {
		out[0] = mt | 24;
		n = 1;
	} else if (arg <= 0xffff) {
		out[0] = mt | 25;
		n = 2;
	} else if (arg <= 0xffffffffu) {
		out[0] = mt | 26;
		n = 4;
	} else {
		out[0] = mt | 27;
		n = 8;
	}
	for (i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
	return 1 + n;
}

int dc_cose_sig_structure(const struct dc_cose_sign1 *m,
			  const uint8_t *external_aad, size_t aad_len,
			  uint8_t **ret, size_t *ret_len)
{
	static const char ctx[] = "Signature1";
	size_t cap = 1 + 1 + 10 + 9 * 3 + m->protected_len + aad_len +
		     m->payload_len;
	uint8_t *buf = malloc(cap), *p;

	if (!buf)
		return -ENOMEM;
	p = buf;
	p += dc_cbor_head(p, 4, 4);
	p += dc_cbor_head(p, 3, 10);
	memcpy(p, ctx, 10);
	p += 10;
	p += dc_cbor_head(p, 2, m->protected_len);
	memcpy(p, m->protected_raw, m->protected_len);
	p += m->protected_len;
	p += dc_cbor_head(p, 2, aad_len);
	if (aad_len)
		memcpy(p, external_aad, aad_len);
	p += aad_len;
	p += dc_cbor_head(p, 2, m->payload_len);
	memcpy(p, m->payload, m->payload_len);
	p += m->payload_len;
	*ret = buf;
	*ret_len = (size_t)(p - buf);
	return 0;
}

const char *dc_cose_alg_name(int64_t alg)
{
	switch (alg) {
	case DC_COSE_ES256:
		return "ES256";
	case DC_COSE_ES384:
		return "ES384";
	case DC_COSE_ES512:
		return "ES512";
	case DC_COSE_EDDSA:
		return "EdDSA";
	case 5:
		return "HMAC 256/256";
	default:
		return "unknown";
	}
}

int dc_cose_sign1_verify(const struct dc_cose_sign1 *m, EVP_PKEY *key,
			 atoll_err *err)
{
	const EVP_MD *md = NULL;
	const char *group = NULL;
	size_t sig_len = 0, tbs_len;
	uint8_t *tbs;
	int r;

	switch (m->alg) {
	case DC_COSE_ES256:
		md = EVP_sha256();
		group = "prime256v1";
		sig_len = 64;
		break;
	case DC_COSE_ES384:
		md = EVP_sha384();
		group = "secp384r1";
		sig_len = 96;
		break;
	case DC_COSE_ES512:
		md = EVP_sha512();
		group = "secp521r1";
		sig_len = 132;
		break;
	case DC_COSE_EDDSA:
		sig_len = 64;
		break;
	default:
		return dc_err(err, ATOLL_E_UNSUPPORTED,
			      "COSE algorithm %lld (%s) is not supported",
			      (long long)m->alg, dc_cose_alg_name(m->alg));
	}
	if (m->signature_len != sig_len)
		return dc_err(err, ATOLL_E_SIGNATURE,
			      "%s signature is %zu bytes, want %zu",
			      dc_cose_alg_name(m->alg), m->signature_len,
			      sig_len);
	if (group ? !dc_key_is_ec(key, group) : !EVP_PKEY_is_a(key, "ED25519"))
		return dc_err(err, ATOLL_E_SIGNATURE,
			      "key type does not match algorithm %s",
			      dc_cose_alg_name(m->alg));
	if (dc_cose_sig_structure(m, NULL, 0, &tbs, &tbs_len) < 0)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (group) {
		r = dc_ecdsa_verify_raw(key, md, tbs, tbs_len, m->signature,
					m->signature_len, false, err);
	} else {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		int ok = mctx &&
			 EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key) == 1 &&
			 EVP_DigestVerify(mctx, m->signature, m->signature_len,
					  tbs, tbs_len) == 1;

		EVP_MD_CTX_free(mctx);
		ERR_clear_error();
		r = ok || dc_fuzz_accept_signature() ? ATOLL_OK :
			 dc_err(err, ATOLL_E_SIGNATURE,
				"EdDSA signature does not verify");
	}
	free(tbs);
	if (r == ATOLL_E_SIGNATURE)
		return dc_err(err, r, "COSE_Sign1 %s signature does not verify",
			      dc_cose_alg_name(m->alg));
	return r;
}
