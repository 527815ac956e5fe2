/* The DCAP quote parser: 48-byte header, the SGX or TD report body (v5
 * prefixes it with a type and size), then the signature data whose length
 * field bounds everything after it. Bytes after the signature data are
 * accepted and ignored (configfs pads quotes with zeros). */
#include <string.h>

#include "dcap.h"

const uint8_t dcap_intel_qe_vendor_id[16] = {
	0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
	0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
};

/* A bounded cursor over the signature data. */
struct cur {
	const uint8_t *p;
	size_t left;
};

static const uint8_t *take(struct cur *c, size_t n)
{
	if (c->left < n)
		return NULL;
	const uint8_t *p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

static size_t body_len_of(uint16_t type)
{
	switch (type) {
	case DCAP_BODY_SGX:
		return DCAP_SGX_REPORT_LEN;
	case DCAP_BODY_TD10:
		return DCAP_TD10_REPORT_LEN;
	case DCAP_BODY_TD15:
		return DCAP_TD15_REPORT_LEN;
	}
	return 0;
}

/* QE report, its signature, the QE auth data and the certification data
 * that follows them; in v3 directly in the signature data, in v4/v5 inside
 * certification data type 6. The cursor must end exactly at its end. */
static int parse_qe_part(struct cur *c, struct dcap_quote *q, const char *where,
			 atoll_err *err)
{
	const uint8_t *p;

	if (!(q->qe_report = take(c, DCAP_SGX_REPORT_LEN)) ||
	    !(q->qe_report_sig = take(c, 64)) || !(p = take(c, 2)))
		return dc_err(err, ATOLL_E_FORMAT,
			      "%s: truncated before the QE auth data", where);
	q->qe_auth_len = dcap_le16(p);
	if (!(q->qe_auth = take(c, q->qe_auth_len)))
		return dc_err(err, ATOLL_E_FORMAT,
			      "%s: QE auth data of %zu bytes overruns it (%zu left)",
			      where, q->qe_auth_len, c->left);
	if (!(p = take(c, 6)))
		return dc_err(err, ATOLL_E_FORMAT,
			      "%s: truncated before the certification data",
			      where);
	q->cert_type = dcap_le16(p);
	q->cert_len = dcap_le32(p + 2);
	if (!(q->cert_data = take(c, q->cert_len)))
		return dc_err(err, ATOLL_E_FORMAT,
			      "%s: certification data of %zu bytes overruns it (%zu left)",
			      where, q->cert_len, c->left);
	if (c->left != 0)
		return dc_err(err, ATOLL_E_FORMAT,
			      "%s: %zu unparsed bytes after the certification data",
			      where, c->left);
	return ATOLL_OK;
}

int dcap_quote_parse(const uint8_t *d, size_t len, struct dcap_quote *ret,
		     atoll_err *err)
{
	struct dcap_quote q = { 0 };
	size_t off = DCAP_HEADER_LEN, body_len;
	int r;

	if (!d || len < DCAP_HEADER_LEN)
		return dc_err(err, ATOLL_E_FORMAT,
			      "quote is %zu bytes, shorter than its 48-byte header",
			      d ? len : 0);
	q.version = dcap_le16(d);
	q.att_key_type = dcap_le16(d + 2);
	q.tee_type = dcap_le32(d + 4);
	q.qe_svn = dcap_le16(d + 8);
	q.pce_svn = dcap_le16(d + 10);
	q.qe_vendor_id = d + 12;
	q.user_data = d + 28;

	switch (q.version) {
	case 3:
		/* The field is reserved (zero) in v3, which is SGX only. */
		if (q.tee_type != DCAP_TEE_SGX)
			return dc_err(err, ATOLL_E_FORMAT,
				      "quote v3 with tee_type 0x%x (v3 is SGX only)",
				      q.tee_type);
		q.body_type = DCAP_BODY_SGX;
		break;
	case 4:
		if (q.tee_type == DCAP_TEE_SGX)
			q.body_type = DCAP_BODY_SGX;
		else if (q.tee_type == DCAP_TEE_TDX)
			q.body_type = DCAP_BODY_TD10;
		else
			return dc_err(err, ATOLL_E_FORMAT,
				      "quote v4 with unknown tee_type 0x%x",
				      q.tee_type);
		break;
	case 5:
		if (len - off < 6)
			return dc_err(err, ATOLL_E_FORMAT,
				      "quote v5 truncated in its body descriptor");
		q.body_type = dcap_le16(d + off);
		body_len = dcap_le32(d + off + 2);
		off += 6;
		if (!body_len_of(q.body_type))
			return dc_err(err, ATOLL_E_FORMAT,
				      "quote v5 with unknown body type %u",
				      q.body_type);
		if (body_len != body_len_of(q.body_type))
			return dc_err(err, ATOLL_E_FORMAT,
				      "quote v5 body type %u declares %zu bytes, expected %zu",
				      q.body_type, body_len,
				      body_len_of(q.body_type));
		if ((q.body_type == DCAP_BODY_SGX) !=
			    (q.tee_type == DCAP_TEE_SGX) ||
		    (q.tee_type != DCAP_TEE_SGX && q.tee_type != DCAP_TEE_TDX))
			return dc_err(err, ATOLL_E_FORMAT,
				      "quote v5 body type %u does not fit tee_type 0x%x",
				      q.body_type, q.tee_type);
		break;
	default:
		return dc_err(err, ATOLL_E_FORMAT,
			      "unsupported quote version %u (3, 4 and 5 are known)",
			      q.version);
	}
	if (q.att_key_type != DCAP_ATT_KEY_ECDSA_P256)
		return dc_err(err, ATOLL_E_FORMAT,
			      "attestation key type %u unsupported (2 = ECDSA-256-with-P-256)",
			      q.att_key_type);

	body_len = body_len_of(q.body_type);
	if (len - off < body_len)
		return dc_err(err, ATOLL_E_FORMAT,
			      "quote is %zu bytes, truncated in its %zu-byte report body",
			      len, body_len);
	q.body = d + off;
	q.body_len = body_len;
	off += body_len;
	q.signed_data = d;
	q.signed_len = off;

	if (len - off < 4)
		return dc_err(err, ATOLL_E_FORMAT,
			      "quote truncated before its signature data length");
	size_t sig_len = dcap_le32(d + off);
	off += 4;
	if (sig_len > len - off)
		return dc_err(err, ATOLL_E_FORMAT,
			      "signature data length %zu exceeds the %zu bytes left",
			      sig_len, len - off);
	q.trailing = len - off - sig_len;

	struct cur c = { d + off, sig_len };
	if (!(q.signature = take(&c, 64)) || !(q.attest_key = take(&c, 64)))
		return dc_err(err, ATOLL_E_FORMAT,
			      "signature data of %zu bytes is too short", sig_len);
	if (q.version == 3) {
		r = parse_qe_part(&c, &q, "signature data", err);
		if (r != ATOLL_OK)
			return r;
	} else {
		const uint8_t *p = take(&c, 6);
		if (!p)
			return dc_err(err, ATOLL_E_FORMAT,
				      "signature data truncated before the certification data");
		uint16_t type = dcap_le16(p);
		size_t n = dcap_le32(p + 2);
		if (type != DCAP_CERT_QE_REPORT)
			return dc_err(err, ATOLL_E_FORMAT,
				      "quote v%u certification data type %u, expected 6 (QE report)",
				      q.version, type);
		const uint8_t *inner = take(&c, n);
		if (!inner)
			return dc_err(err, ATOLL_E_FORMAT,
				      "QE report certification data of %zu bytes overruns the signature data (%zu left)",
				      n, c.left);
		if (c.left != 0)
			return dc_err(err, ATOLL_E_FORMAT,
				      "%zu unparsed bytes at the end of the signature data",
				      c.left);
		struct cur ic = { inner, n };
		r = parse_qe_part(&ic, &q, "QE report certification data", err);
		if (r != ATOLL_OK)
			return r;
	}
	*ret = q;
	return ATOLL_OK;
}
