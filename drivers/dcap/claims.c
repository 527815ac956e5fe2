/* Building atoll_claims for the sgx and tdx drivers: one allocation that
 * owns copies of every byte string, released by dcap_claims_free(); and
 * the drivers' verify() from the quote to its claims. */
#include <stdlib.h>
#include <string.h>

#include "dcap.h"

#define MAX_EXTRA 64
#define MAX_ALLOCS 80

struct dcap_claims {
	atoll_claims pub; /* first, so the public pointer finds the rest */
	atoll_claim extra[MAX_EXTRA];
	void *allocs[MAX_ALLOCS];
	size_t n_allocs;
	bool failed;
};

static void *keep(struct dcap_claims *c, const void *p, size_t n, bool nul)
{
	uint8_t *d;

	if (c->failed || c->n_allocs == MAX_ALLOCS) {
		c->failed = true;
		return NULL;
	}
	d = malloc(n + (nul ? 1 : 0) + (n == 0));
	if (!d) {
		c->failed = true;
		return NULL;
	}
	if (n)
		memcpy(d, p, n);
	if (nul)
		d[n] = 0;
	c->allocs[c->n_allocs++] = d;
	return d;
}

struct dcap_claims *dcap_claims_new(const char *tee_type)
{
	struct dcap_claims *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pub.struct_size = sizeof(atoll_claims);
	c->pub.tee_type = keep(c, tee_type, strlen(tee_type), true);
	c->pub.extra = c->extra;
	return c;
}

static atoll_claim *slot(struct dcap_claims *c, const char *name, uint32_t type)
{
	if (c->failed || c->pub.n_extra == MAX_EXTRA) {
		c->failed = true;
		return NULL;
	}
	atoll_claim *cl = &c->extra[c->pub.n_extra++];
	*cl = (atoll_claim){ .name = name, .type = type };
	return cl;
}

void dcap_claims_bytes(struct dcap_claims *c, const char *name,
		       const uint8_t *p, size_t n)
{
	atoll_claim *cl = slot(c, name, ATOLL_CLAIM_BYTES);

	if (cl) {
		cl->bytes = keep(c, p, n, false);
		cl->len = n;
	}
}

void dcap_claims_string(struct dcap_claims *c, const char *name,
			const char *s)
{
	atoll_claim *cl = slot(c, name, ATOLL_CLAIM_STRING);

	if (cl) {
		cl->bytes = keep(c, s, strlen(s), true);
		cl->len = strlen(s);
	}
}

void dcap_claims_uint(struct dcap_claims *c, const char *name, uint64_t v)
{
	atoll_claim *cl = slot(c, name, ATOLL_CLAIM_UINT);

	if (cl)
		cl->u64 = v;
}

void dcap_claims_bool(struct dcap_claims *c, const char *name, bool v)
{
	atoll_claim *cl = slot(c, name, ATOLL_CLAIM_BOOL);

	if (cl)
		cl->u64 = v ? 1 : 0;
}

void dcap_claims_set(struct dcap_claims *c, const uint8_t *measurement,
		     size_t measurement_len, const uint8_t *signer,
		     size_t signer_len, const uint8_t *report_data,
		     size_t report_data_len)
{
	c->pub.measurement = keep(c, measurement, measurement_len, false);
	c->pub.measurement_len = measurement_len;
	c->pub.signer = keep(c, signer, signer_len, false);
	c->pub.signer_len = signer_len;
	c->pub.report_data = keep(c, report_data, report_data_len, false);
	c->pub.report_data_len = report_data_len;
}

atoll_claims *dcap_claims_pub(struct dcap_claims *c)
{
	return &c->pub;
}

void dcap_claims_common(struct dcap_claims *c, const struct dcap_result *r)
{
	const struct dcap_quote *q = &r->quote;

	dcap_claims_uint(c, "quote_version", q->version);
	dcap_claims_uint(c, "qe_svn", q->qe_svn);
	dcap_claims_uint(c, "pce_svn", q->pce_svn);
	dcap_claims_bytes(c, "qe_vendor_id", q->qe_vendor_id, 16);
	dcap_claims_uint(c, "qe_isv_svn",
			 dcap_le16(q->qe_report + SGXR_ISV_SVN));
	dcap_claims_bytes(c, "fmspc", r->pck.fmspc, 6);
	dcap_claims_bytes(c, "pce_id", r->pck.pceid, 2);
	dcap_claims_bytes(c, "pck_tcb_components", r->pck.comp_svn, 16);
	dcap_claims_uint(c, "pck_pcesvn", r->pck.pcesvn);
	dcap_claims_bytes(c, "pck_cpusvn", r->pck.cpusvn, 16);
	if (r->pck.has_ppid)
		dcap_claims_bytes(c, "ppid", r->pck.ppid, 16);
	if (r->pck.sgx_type >= 0)
		dcap_claims_uint(c, "sgx_type", (uint64_t)r->pck.sgx_type);
	if (r->has_tcb) {
		const char *s = dcap_tcb_status_name(r->tcb.status);
		c->pub.tcb_status = keep(c, s, strlen(s), true);
		dcap_claims_string(c, "tcb_status", s);
		dcap_claims_string(c, "platform_tcb_status",
				   dcap_tcb_status_name(r->tcb.platform_status));
		if (r->tcb.has_module)
			dcap_claims_string(c, "tdx_module_tcb_status",
					   dcap_tcb_status_name(r->tcb.module_status));
		dcap_claims_string(c, "advisory_ids", r->tcb.advisories);
		dcap_claims_uint(c, "tcb_date", (uint64_t)r->tcb.tcb_date);
		dcap_claims_uint(c, "tcb_eval_data_number", r->tcb.eval_num);
	}
	if (r->has_qe_status)
		dcap_claims_string(c, "qe_tcb_status",
				   dcap_tcb_status_name(r->qe_status));
	c->pub.not_before = r->not_before == INT64_MIN ? 0 : r->not_before;
	c->pub.not_after = r->not_after == INT64_MAX ? 0 : r->not_after;
}

int dcap_claims_finish(struct dcap_claims *c, atoll_claims **ret,
		       atoll_err *err)
{
	if (!c)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	if (c->failed) {
		dcap_claims_free(&c->pub);
		return dc_err(err, ATOLL_E_NOMEM,
			      "out of memory building claims");
	}
	*ret = &c->pub;
	return ATOLL_OK;
}

void dcap_claims_free(atoll_claims *claims)
{
	struct dcap_claims *c = (struct dcap_claims *)claims;

	if (!c)
		return;
	for (size_t i = 0; i < c->n_allocs; i++)
		free(c->allocs[i]);
	free(c);
}

int dcap_driver_verify(const struct dcap_verifier *v, uint32_t tee,
		       const char *tee_type, dcap_body_claims_fn body,
		       const atoll_verify_args *args, atoll_claims **ret_claims,
		       atoll_err *err)
{
	struct dcap_result res;
	struct dcap_claims *cl;
	int r;

	if (!v || !ret_claims)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "verify: bad arguments");
	r = dcap_verify(v, tee, args, &res, err);
	if (r != ATOLL_OK)
		return r;
	cl = dcap_claims_new(tee_type);
	if (cl) {
		body(cl, &res);
		dcap_claims_common(cl, &res);
	}
	dcap_result_done(&res);
	return dcap_claims_finish(cl, ret_claims, err);
}

void dcap_driver_claims_free(void *ctx, atoll_claims *claims)
{
	dcap_claims_free(claims);
}
