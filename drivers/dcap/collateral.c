/* Collateral recognized by content, never by name or position: PEM and
 * DER certificates and CRLs, Intel PCS JSON documents whose signature
 * covers the exact bytes of their "tcbInfo" / "enclaveIdentity" member,
 * bare signed bodies with detached 64-byte signatures, and bundles that
 * carry the same pieces as hex and PEM string fields. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "dcap.h"
#include "json/json.h"
#include "util/enc.h"

/* Cap on one blob: real collateral is a few tens of kilobytes. */
#define MAX_BLOB (4u << 20)

static bool ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && ws(s[i]))
		i++;
	return i;
}

static int skip_string(const char *s, size_t n, size_t *i)
{
	size_t j = *i;

	if (j >= n || s[j] != '"')
		return -EBADMSG;
	for (j++; j < n; j++) {
		if (s[j] == '\\') {
			j++;
		} else if (s[j] == '"') {
			*i = j + 1;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Skip one value. The text was validated by json_parse() first, so this
 * only has to find where the value ends. */
static int skip_value(const char *s, size_t n, size_t *i)
{
	size_t j = *i;
	int depth = 0;

	if (j >= n)
		return -EBADMSG;
	if (s[j] == '"')
		return skip_string(s, n, i);
	if (s[j] != '{' && s[j] != '[') {
		while (j < n && !ws(s[j]) && s[j] != ',' && s[j] != '}' &&
		       s[j] != ']')
			j++;
		*i = j;
		return 0;
	}
	while (j < n) {
		char c = s[j];
		if (c == '"') {
			if (skip_string(s, n, &j) < 0)
				return -EBADMSG;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		j++;
		if (depth == 0) {
			*i = j;
			return 0;
		}
	}
	return -EBADMSG;
}

/* The raw bytes of the value of a top-level member. The parser refuses
 * duplicate keys, so the span and the parsed document agree. */
static int member_span(const char *s, size_t n, const char *key,
		       size_t *ret_off, size_t *ret_len)
{
	size_t i = skip_ws(s, n, 0), klen = strlen(key);

	if (i >= n || s[i] != '{')
		return -EBADMSG;
	i++;
	for (;;) {
		i = skip_ws(s, n, i);
		if (i < n && s[i] == '}')
			return -ENOENT;
		size_t kstart = i;
		if (skip_string(s, n, &i) < 0)
			return -EBADMSG;
		bool match = i - kstart == klen + 2 &&
			     memcmp(s + kstart + 1, key, klen) == 0;
		i = skip_ws(s, n, i);
		if (i >= n || s[i] != ':')
			return -EBADMSG;
		i = skip_ws(s, n, i + 1);
		size_t vstart = i;
		if (skip_value(s, n, &i) < 0)
			return -EBADMSG;
		if (match) {
			*ret_off = vstart;
			*ret_len = i - vstart;
			return 0;
		}
		i = skip_ws(s, n, i);
		if (i < n && s[i] == ',')
			i++;
		else
			return -ENOENT;
	}
}

static int add_item(struct dcap_collateral *c, const struct dcap_json_item *it)
{
	struct dcap_json_item *p =
		realloc(c->items, (c->n_items + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->items = p;
	c->items[c->n_items++] = *it;
	return 0;
}

static int add_sig(struct dcap_collateral *c, const uint8_t sig[64])
{
	uint8_t(*p)[64] = realloc(c->sigs, (c->n_sigs + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->sigs = p;
	memcpy(c->sigs[c->n_sigs++], sig, 64);
	return 0;
}

static int add_crl_der(struct dcap_collateral *c, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);

	if (!crl || p != der + len) {
		X509_CRL_free(crl);
		ERR_clear_error();
		return -EBADMSG;
	}
	if (!sk_X509_CRL_push(c->crls, crl)) {
		X509_CRL_free(crl);
		return -ENOMEM;
	}
	return 0;
}

static int hex_sig(const char *s, size_t len, uint8_t out[64])
{
	if (len != 128)
		return -EINVAL;
	return enc_hex_decode(s, len, out);
}

struct pem_load {
	struct dcap_x509_cache *xc;
	struct dcap_collateral *c;
	size_t idx;
	atoll_err *err;
};

static int pem_item(void *userdata, const char *name, const uint8_t *der,
		    size_t len)
{
	struct pem_load *pl = userdata;
	int r = ATOLL_OK;

	if (strcmp(name, "CERTIFICATE") == 0) {
		X509 *x = dcap_x509_parse(pl->xc, der, len);
		if (!x)
			r = dc_err(pl->err, ATOLL_E_FORMAT,
				   "collateral[%zu]: PEM certificate does not parse",
				   pl->idx);
		else if (dcap_certs_add(pl->c->certs, x) < 0)
			r = dc_err(pl->err, ATOLL_E_NOMEM, "out of memory");
		X509_free(x);
	} else if (strcmp(name, "X509 CRL") == 0) {
		int e = add_crl_der(pl->c, der, len);
		if (e == -ENOMEM)
			r = dc_err(pl->err, ATOLL_E_NOMEM, "out of memory");
		else if (e < 0)
			r = dc_err(pl->err, ATOLL_E_FORMAT,
				   "collateral[%zu]: PEM CRL does not parse",
				   pl->idx);
	}
	return r;
}

/* Certificates and CRLs of a PEM text; other block types are ignored. */
static int load_pem(struct dcap_x509_cache *xc, struct dcap_collateral *c,
		    const uint8_t *data, size_t len, size_t idx, atoll_err *err)
{
	struct pem_load pl = { xc, c, idx, err };
	int r = dcap_pem_each(data, len, pem_item, &pl);

	if (r == -ENOMEM)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (r == -EBADMSG)
		return dc_err(err, ATOLL_E_FORMAT,
			      "collateral[%zu]: malformed PEM", idx);
	return r;
}

/* A signed body held as an unescaped JSON string: keep a copy. */
static int bundle_body(struct dcap_collateral *c, const json_value *doc,
		       const char *body_key, const char *sig_key,
		       enum dcap_json_kind kind, size_t idx, atoll_err *err)
{
	const json_value *b = json_get(doc, body_key), *s = json_get(doc, sig_key);
	struct dcap_json_item it = { .kind = kind, .index = idx };
	size_t blen, slen;
	const char *bs, *ss;

	if (!b)
		return ATOLL_OK;
	bs = json_string(b, &blen);
	ss = s ? json_string(s, &slen) : NULL;
	if (!bs || !ss || hex_sig(ss, slen, it.sig) < 0)
		return dc_err(err, ATOLL_E_FORMAT,
			      "collateral[%zu]: %s needs a string body and a 128-hex-digit %s",
			      idx, body_key, sig_key);
	it.has_sig = true;
	it.owned = malloc(blen + 1);
	if (!it.owned)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	memcpy(it.owned, bs, blen + 1);
	it.body = it.owned;
	it.body_len = blen;
	if (add_item(c, &it) < 0) {
		free(it.owned);
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	return ATOLL_OK;
}

static int load_bundle(struct dcap_x509_cache *xc, struct dcap_collateral *c,
		       const json_value *doc, size_t idx, atoll_err *err)
{
	static const char *const chains[] = {
		"tcb_info_issuer_chain", "qe_identity_issuer_chain",
		"pck_crl_issuer_chain", "pck_certificate_chain",
	};
	static const char *const crls[] = { "root_ca_crl", "pck_crl" };
	int r;

	for (size_t i = 0; i < sizeof(chains) / sizeof(*chains); i++) {
		const json_value *v = json_get(doc, chains[i]);
		size_t len;
		const char *s = v ? json_string(v, &len) : NULL;
		if (!v)
			continue;
		if (!s)
			return dc_err(err, ATOLL_E_FORMAT,
				      "collateral[%zu]: %s is not a string", idx,
				      chains[i]);
		r = dcap_certs_load(xc, (const uint8_t *)s, len, c->certs, err);
		if (r != ATOLL_OK)
			return r;
	}
	for (size_t i = 0; i < sizeof(crls) / sizeof(*crls); i++) {
		const json_value *v = json_get(doc, crls[i]);
		size_t len;
		const char *s = v ? json_string(v, &len) : NULL;
		if (!v)
			continue;
		if (!s || len % 2 || len / 2 > MAX_BLOB)
			return dc_err(err, ATOLL_E_FORMAT,
				      "collateral[%zu]: %s is not a hex string",
				      idx, crls[i]);
		uint8_t *der = malloc(len / 2 + 1);
		if (!der)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		int e = enc_hex_decode(s, len, der) < 0 ? -EBADMSG :
						      add_crl_der(c, der, len / 2);
		free(der);
		if (e == -ENOMEM)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		if (e < 0)
			return dc_err(err, ATOLL_E_FORMAT,
				      "collateral[%zu]: %s is not a hex DER CRL",
				      idx, crls[i]);
	}
	r = bundle_body(c, doc, "tcb_info", "tcb_info_signature",
			DCAP_JSON_TCB_INFO, idx, err);
	if (r != ATOLL_OK)
		return r;
	return bundle_body(c, doc, "qe_identity", "qe_identity_signature",
			   DCAP_JSON_IDENTITY, idx, err);
}

static int load_json(struct dcap_x509_cache *xc, struct dcap_collateral *c,
		     const char *s, size_t len, size_t idx, atoll_err *err)
{
	json_value *doc = NULL;
	char perr[128];
	int r = ATOLL_OK;

	if (json_parse(s, len, &doc, perr, sizeof(perr)) < 0)
		return dc_err(err, ATOLL_E_FORMAT, "collateral[%zu]: JSON %s",
			      idx, perr);
	if (json_type_of(doc) != JSON_OBJECT) {
		r = dc_err(err, ATOLL_E_FORMAT,
			   "collateral[%zu]: JSON is not an object", idx);
		goto out;
	}
	static const struct {
		const char *key;
		enum dcap_json_kind kind;
	} pcs[] = {
		{ "tcbInfo", DCAP_JSON_TCB_INFO },
		{ "enclaveIdentity", DCAP_JSON_IDENTITY },
	};
	for (size_t i = 0; i < 2; i++) {
		const json_value *body = json_get(doc, pcs[i].key);
		const json_value *sig = json_get(doc, "signature");
		struct dcap_json_item it = { .kind = pcs[i].kind, .index = idx };
		size_t off, blen, slen;
		const char *ss;

		if (!body)
			continue;
		ss = sig ? json_string(sig, &slen) : NULL;
		if (json_type_of(body) != JSON_OBJECT || !ss ||
		    hex_sig(ss, slen, it.sig) < 0 ||
		    member_span(s, len, pcs[i].key, &off, &blen) < 0) {
			r = dc_err(err, ATOLL_E_FORMAT,
				   "collateral[%zu]: %s needs an object and a 128-hex-digit signature",
				   idx, pcs[i].key);
			goto out;
		}
		it.has_sig = true;
		it.body = s + off;
		it.body_len = blen;
		if (add_item(c, &it) < 0)
			r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out;
	}
	if (json_get(doc, "tcb_info") || json_get(doc, "qe_identity") ||
	    json_get(doc, "pck_crl") || json_get(doc, "root_ca_crl")) {
		r = load_bundle(xc, c, doc, idx, err);
		goto out;
	}
	if (json_get(doc, "tcbLevels")) {
		struct dcap_json_item it = {
			.kind = json_get(doc, "fmspc") ? DCAP_JSON_TCB_INFO :
							 DCAP_JSON_IDENTITY,
			.body = s,
			.body_len = len,
			.index = idx,
		};
		if (add_item(c, &it) < 0)
			r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out;
	}
	r = dc_err(err, ATOLL_E_FORMAT,
		   "collateral[%zu]: JSON is neither TCB Info nor an enclave identity",
		   idx);
out:
	json_free(doc);
	return r;
}

static int load_der(struct dcap_x509_cache *xc, struct dcap_collateral *c,
		    const uint8_t *d, size_t len)
{
	STACK_OF(X509) *tmp = sk_X509_new_null();
	int r = -EBADMSG;

	if (!tmp)
		return -ENOMEM;
	if (dcap_certs_load(xc, d, len, tmp, NULL) == ATOLL_OK) {
		r = 0;
		for (int i = 0; i < sk_X509_num(tmp); i++)
			if (dcap_certs_add(c->certs, sk_X509_value(tmp, i)) < 0)
				r = -ENOMEM;
	} else {
		r = add_crl_der(c, d, len);
	}
	sk_X509_pop_free(tmp, X509_free);
	return r;
}

static int load_blob(struct dcap_x509_cache *xc, struct dcap_collateral *c,
		     const uint8_t *d, size_t len, size_t idx, atoll_err *err)
{
	size_t i = 0;
	int e;

	if (!d || len == 0)
		return dc_err(err, ATOLL_E_FORMAT, "collateral[%zu] is empty",
			      idx);
	if (len > MAX_BLOB)
		return dc_err(err, ATOLL_E_FORMAT,
			      "collateral[%zu] is %zu bytes, over the %u limit",
			      idx, len, MAX_BLOB);
	while (i < len && ws((char)d[i]))
		i++;
	if (len - i >= 10 && memcmp(d + i, "-----BEGIN", 10) == 0)
		return load_pem(xc, c, d, len, idx, err);
	if (i < len && d[i] == '{')
		return load_json(xc, c, (const char *)d, len, idx, err);
	if (d[0] == 0x30) {
		e = load_der(xc, c, d, len);
		if (e == -ENOMEM)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		if (e == 0)
			return ATOLL_OK;
	}
	if (len == 64) {
		if (add_sig(c, d) < 0)
			return dc_err(err, ATOLL_E_NOMEM, "out of memory");
		return ATOLL_OK;
	}
	return dc_err(err, ATOLL_E_FORMAT,
		      "collateral[%zu] (%zu bytes) is not a certificate, CRL, TCB Info, QE Identity or signature",
		      idx, len);
}

int dcap_collateral_load(struct dcap_x509_cache *xc, const atoll_blob *blobs,
			 size_t n, struct dcap_collateral *ret, atoll_err *err)
{
	struct dcap_collateral c = { 0 };
	int r;

	c.certs = sk_X509_new_null();
	c.crls = sk_X509_CRL_new_null();
	if (!c.certs || !c.crls) {
		dcap_collateral_done(&c);
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		r = load_blob(xc, &c, blobs[i].data, blobs[i].len, i, err);
		if (r != ATOLL_OK) {
			dcap_collateral_done(&c);
			return r;
		}
	}
	*ret = c;
	return ATOLL_OK;
}

void dcap_collateral_done(struct dcap_collateral *c)
{
	if (!c)
		return;
	sk_X509_pop_free(c->certs, X509_free);
	sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
	for (size_t i = 0; i < c->n_items; i++)
		free(c->items[i].owned);
	free(c->items);
	free(c->sigs);
	*c = (struct dcap_collateral){ 0 };
}
