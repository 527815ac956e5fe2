/* A minimal DER reader and the parser of the PCK certificate's SGX
 * extension (OID 1.2.840.113741.1.13.1): PPID, the TCB (16 component SVNs,
 * PCESVN, CPUSVN), PCE-ID, FMSPC and SGX type. */
#include <errno.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "dcap.h"

/* DER body of OID 1.2.840.113741.1.13.1. */
static const uint8_t oid_sgx[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8,
				   0x4d, 0x01, 0x0d, 0x01 };

enum {
	TAG_INTEGER = 0x02,
	TAG_OCTET_STRING = 0x04,
	TAG_OID = 0x06,
	TAG_ENUMERATED = 0x0a,
	TAG_SEQUENCE = 0x30,
};

int der_read(struct der *in, uint8_t *ret_tag, struct der *ret_val)
{
	size_t i = 0, n;

	if (in->len < 2)
		return -EBADMSG;
	uint8_t tag = in->p[i++];
	/* High tag numbers never occur in what we read. */
	if ((tag & 0x1f) == 0x1f)
		return -EBADMSG;
	uint8_t l = in->p[i++];
	if (l < 0x80) {
		n = l;
	} else {
		size_t k = l & 0x7f;
		/* Indefinite lengths are BER, not DER; 4 bytes is plenty. */
		if (k == 0 || k > 4 || in->len - i < k)
			return -EBADMSG;
		n = 0;
		for (size_t j = 0; j < k; j++)
			n = n << 8 | in->p[i++];
		if (n < 0x80)
			return -EBADMSG;
	}
	if (in->len - i < n)
		return -EBADMSG;
	*ret_tag = tag;
	ret_val->p = in->p + i;
	ret_val->len = n;
	in->p += i + n;
	in->len -= i + n;
	return 0;
}

/* A non-negative INTEGER no larger than max. */
static int der_uint(const struct der *v, uint32_t max, uint32_t *ret)
{
	uint32_t x = 0;

	if (v->len == 0 || v->len > 5 || (v->p[0] & 0x80))
		return -EBADMSG;
	for (size_t i = 0; i < v->len; i++)
		x = x << 8 | v->p[i];
	if (v->len == 5 && v->p[0] != 0)
		return -EBADMSG;
	if (x > max)
		return -ERANGE;
	*ret = x;
	return 0;
}

/* The OID is oid_sgx followed by the given arcs (each below 128). */
static int oid_arc(const struct der *oid, size_t depth, const uint8_t **ret)
{
	if (oid->len != sizeof(oid_sgx) + depth ||
	    memcmp(oid->p, oid_sgx, sizeof(oid_sgx)) != 0)
		return -ENOENT;
	*ret = oid->p + sizeof(oid_sgx);
	return 0;
}

static int octets(const struct der *v, uint8_t tag, uint8_t *out, size_t n)
{
	if (tag != TAG_OCTET_STRING || v->len != n)
		return -EBADMSG;
	memcpy(out, v->p, n);
	return 0;
}

/* Split SEQUENCE { OID, value } into its two parts. */
static int pair(struct der *seq, struct der *ret_oid, uint8_t *ret_tag,
		struct der *ret_val)
{
	uint8_t tag;
	struct der item, body;

	if (der_read(seq, &tag, &item) < 0 || tag != TAG_SEQUENCE)
		return -EBADMSG;
	body = item;
	if (der_read(&body, &tag, ret_oid) < 0 || tag != TAG_OID)
		return -EBADMSG;
	if (der_read(&body, ret_tag, ret_val) < 0 || body.len != 0)
		return -EBADMSG;
	return 0;
}

static int parse_tcb(struct der tcb, struct dcap_pck_ext *e, atoll_err *err)
{
	uint32_t have = 0;

	while (tcb.len > 0) {
		struct der oid, val;
		const uint8_t *arc;
		uint8_t tag;
		uint32_t x;

		if (pair(&tcb, &oid, &tag, &val) < 0)
			return dc_err(err, ATOLL_E_FORMAT,
				      "PCK SGX extension: malformed TCB entry");
		if (oid_arc(&oid, 2, &arc) < 0 || arc[0] != 2)
			continue;
		uint8_t k = arc[1];
		if (k >= 1 && k <= 16) {
			if (tag != TAG_INTEGER || der_uint(&val, 255, &x) < 0)
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: bad TCB component %u",
					      k);
			e->comp_svn[k - 1] = (uint8_t)x;
		} else if (k == 17) {
			if (tag != TAG_INTEGER || der_uint(&val, 65535, &x) < 0)
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: bad PCESVN");
			e->pcesvn = (uint16_t)x;
		} else if (k == 18) {
			if (octets(&val, tag, e->cpusvn, 16) < 0)
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: bad CPUSVN");
		} else {
			continue;
		}
		if (have & (1u << k))
			return dc_err(err, ATOLL_E_FORMAT,
				      "PCK SGX extension: TCB entry %u repeated",
				      k);
		have |= 1u << k;
	}
	/* Components 1..16 and PCESVN are needed for TCB matching. */
	if ((have & 0x3fffe) != 0x3fffe)
		return dc_err(err, ATOLL_E_FORMAT,
			      "PCK SGX extension: TCB lacks component SVNs or PCESVN");
	return ATOLL_OK;
}

int dcap_pck_ext_parse(const uint8_t *data, size_t len,
		       struct dcap_pck_ext *ret, atoll_err *err)
{
	struct dcap_pck_ext e = { .sgx_type = -1 };
	struct der in = { data, len }, seq;
	unsigned have = 0;
	uint8_t tag;
	int r;

	if (der_read(&in, &tag, &seq) < 0 || tag != TAG_SEQUENCE || in.len != 0)
		return dc_err(err, ATOLL_E_FORMAT,
			      "PCK SGX extension is not one DER SEQUENCE");
	while (seq.len > 0) {
		struct der oid, val;
		const uint8_t *arc;
		uint32_t x;

		if (pair(&seq, &oid, &tag, &val) < 0)
			return dc_err(err, ATOLL_E_FORMAT,
				      "PCK SGX extension: malformed entry");
		if (oid_arc(&oid, 1, &arc) < 0)
			continue;
		switch (arc[0]) {
		case 1:
			if (octets(&val, tag, e.ppid, 16) < 0)
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: bad PPID");
			e.has_ppid = true;
			break;
		case 2:
			if (tag != TAG_SEQUENCE)
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: TCB is not a SEQUENCE");
			r = parse_tcb(val, &e, err);
			if (r != ATOLL_OK)
				return r;
			break;
		case 3:
			if (octets(&val, tag, e.pceid, 2) < 0)
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: bad PCE-ID");
			break;
		case 4:
			if (octets(&val, tag, e.fmspc, 6) < 0)
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: bad FMSPC");
			break;
		case 5:
			if (tag != TAG_ENUMERATED || der_uint(&val, 255, &x) < 0)
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: bad SGX type");
			e.sgx_type = (int)x;
			break;
		default:
			continue;
		}
		if (arc[0] < 32) {
			if (have & (1u << arc[0]))
				return dc_err(err, ATOLL_E_FORMAT,
					      "PCK SGX extension: entry %u repeated",
					      arc[0]);
			have |= 1u << arc[0];
		}
	}
	if (!(have & (1u << 2)) || !(have & (1u << 3)) || !(have & (1u << 4)))
		return dc_err(err, ATOLL_E_FORMAT,
			      "PCK SGX extension lacks %s",
			      !(have & (1u << 2)) ? "the TCB" :
			      !(have & (1u << 3)) ? "the PCE-ID" : "the FMSPC");
	*ret = e;
	return ATOLL_OK;
}

int dcap_pck_ext_from_cert(X509 *cert, struct dcap_pck_ext *ret,
			   atoll_err *err)
{
	int n = X509_get_ext_count(cert);

	for (int i = 0; i < n; i++) {
		X509_EXTENSION *ext = X509_get_ext(cert, i);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
		const unsigned char *op = OBJ_get0_data(obj);
		size_t olen = OBJ_length(obj);

		if (!op || olen != sizeof(oid_sgx) ||
		    memcmp(op, oid_sgx, sizeof(oid_sgx)) != 0)
			continue;
		const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(ext);
		return dcap_pck_ext_parse(ASN1_STRING_get0_data(os),
					  (size_t)ASN1_STRING_length(os), ret,
					  err);
	}
	return dc_err(err, ATOLL_E_FORMAT,
		      "PCK certificate has no SGX extension (1.2.840.113741.1.13.1)");
}
