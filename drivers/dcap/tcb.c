/* Intel's TCB status evaluation (the QVL's TCB level check): the QE report
 * against its QE Identity, the platform TCB level chosen by the PCK's
 * component SVNs and PCESVN (and for TDX by TEE_TCB_SVN), the TDX module
 * identity, the TD 1.5 relaunch rule, and the convergence of the platform
 * status with the module's and the QE's. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dcap.h"
#include "json/json.h"
#include "util/buf.h"
#include "util/enc.h"

static const struct dcap_isv_level *isv_match(const struct dcap_isv_level *lv,
					      size_t n, uint16_t svn)
{
	const struct dcap_isv_level *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (lv[i].isvsvn <= svn && (!best || lv[i].isvsvn > best->isvsvn))
			best = &lv[i];
	return best;
}

static uint16_t isv_lowest(const struct dcap_isv_level *lv, size_t n)
{
	uint16_t m = UINT16_MAX;

	for (size_t i = 0; i < n; i++)
		if (lv[i].isvsvn < m)
			m = lv[i].isvsvn;
	return m;
}

int dcap_qe_identity_check(const struct dcap_qe_identity *qi,
			   const uint8_t *rep, struct dcap_isv_level *ret,
			   atoll_err *err)
{
	char a[65], b[65];
	uint16_t prod = dcap_le16(rep + SGXR_ISV_PROD_ID);
	uint16_t svn = dcap_le16(rep + SGXR_ISV_SVN);

	if (memcmp(rep + SGXR_MRSIGNER, qi->mrsigner, 32) != 0) {
		enc_hex_encode(rep + SGXR_MRSIGNER, 32, a);
		enc_hex_encode(qi->mrsigner, 32, b);
		return dc_err(err, ATOLL_E_TCB,
			      "QE MRSIGNER %s != %s Identity mrsigner %s", a,
			      qi->id, b);
	}
	if (prod != qi->isvprodid)
		return dc_err(err, ATOLL_E_TCB,
			      "QE ISVPRODID %u != %s Identity isvprodid %u", prod,
			      qi->id, qi->isvprodid);
	for (int i = 0; i < 4; i++)
		if ((rep[SGXR_MISCSELECT + i] & qi->miscselect_mask[i]) !=
		    (qi->miscselect[i] & qi->miscselect_mask[i]))
			return dc_err(err, ATOLL_E_TCB,
				      "QE MISCSELECT does not match the %s Identity under its mask",
				      qi->id);
	for (int i = 0; i < 16; i++)
		if ((rep[SGXR_ATTRIBUTES + i] & qi->attributes_mask[i]) !=
		    (qi->attributes[i] & qi->attributes_mask[i])) {
			enc_hex_encode(rep + SGXR_ATTRIBUTES, 16, a);
			return dc_err(err, ATOLL_E_TCB,
				      "QE ATTRIBUTES %s do not match the %s Identity under its mask",
				      a, qi->id);
		}
	const struct dcap_isv_level *lv = isv_match(qi->levels, qi->n_levels, svn);
	if (!lv)
		return dc_err(err, ATOLL_E_TCB,
			      "QE ISVSVN %u is below every %s Identity level (lowest %u)",
			      svn, qi->id, isv_lowest(qi->levels, qi->n_levels));
	*ret = *lv;
	return ATOLL_OK;
}

static bool config_needed(enum dcap_tcb_status s)
{
	return s == DCAP_TCB_CONFIGURATION_NEEDED ||
	       s == DCAP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED ||
	       s == DCAP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED ||
	       s == DCAP_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED;
}

/* Fold a component's status (QE or TDX module) into the platform's: a
 * revoked component revokes, an outdated one makes the platform outdated
 * while keeping "configuration needed". */
static enum dcap_tcb_status converge(enum dcap_tcb_status tcb,
				     enum dcap_tcb_status part)
{
	if (part == DCAP_TCB_REVOKED)
		return DCAP_TCB_REVOKED;
	if (part != DCAP_TCB_UP_TO_DATE) {
		if (tcb == DCAP_TCB_UP_TO_DATE ||
		    tcb == DCAP_TCB_SW_HARDENING_NEEDED)
			return DCAP_TCB_OUT_OF_DATE;
		if (tcb == DCAP_TCB_CONFIGURATION_NEEDED ||
		    tcb == DCAP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
			return DCAP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
	}
	return tcb;
}

static const struct dcap_module_identity *
find_module(const struct dcap_tcb_info *ti, uint8_t version)
{
	char want[8];

	snprintf(want, sizeof(want), "TDX_%02X", version);
	for (size_t i = 0; i < ti->n_modules; i++)
		if (strcasecmp(ti->modules[i].id, want) == 0)
			return &ti->modules[i];
	return NULL;
}

static void svn_list(const uint8_t *v, char *out, size_t n)
{
	size_t k = 0;

	for (int i = 0; i < 16 && k < n; i++)
		k += (size_t)snprintf(out + k, n - k, "%s%u", i ? "," : "", v[i]);
}

static int add_advisories(struct buf *b, const json_value *a)
{
	for (size_t i = 0; a && i < json_count(a); i++) {
		const char *id = json_string(json_at(a, i), NULL);
		size_t len = strlen(id);
		const char *p = b->len ? buf_cstr(b) : "";
		bool seen = false;

		if (!p)
			return -1;
		/* Dedupe: the list is short. */
		while (*p && !seen) {
			const char *comma = strchr(p, ',');
			size_t l = comma ? (size_t)(comma - p) : strlen(p);
			seen = l == len && memcmp(p, id, len) == 0;
			p = comma ? comma + 1 : p + l;
		}
		if (seen)
			continue;
		if ((b->len && buf_putc(b, ',') < 0) || buf_puts(b, id) < 0)
			return -1;
	}
	return 0;
}

/* The TDX module checks: MRSIGNERSEAM and SEAMATTRIBUTES against the
 * module (or module identity) of the TCB Info, then the module's level. */
static int check_module(const struct dcap_tcb_info *ti,
			const struct dcap_quote *q,
			const struct dcap_isv_level **ret_level, atoll_err *err)
{
	const uint8_t *tee = q->body + TDR_TEE_TCB_SVN;
	const uint8_t *mrsigner = ti->module_mrsigner;
	const uint8_t *attr = ti->module_attributes;
	const uint8_t *mask = ti->module_attributes_mask;
	const struct dcap_module_identity *mi = NULL;
	char a[97], b[97];

	*ret_level = NULL;
	if (tee[1] > 0) {
		mi = find_module(ti, tee[1]);
		if (!mi)
			return dc_err(err, ATOLL_E_TCB,
				      "TDX module version %u has no TDX_%02X identity in the TCB Info",
				      tee[1], tee[1]);
		mrsigner = mi->mrsigner;
		attr = mi->attributes;
		mask = mi->attributes_mask;
	}
	if (memcmp(q->body + TDR_MRSIGNERSEAM, mrsigner, 48) != 0) {
		enc_hex_encode(q->body + TDR_MRSIGNERSEAM, 48, a);
		enc_hex_encode(mrsigner, 48, b);
		return dc_err(err, ATOLL_E_TCB,
			      "MRSIGNERSEAM %s != TCB Info TDX module mrsigner %s",
			      a, b);
	}
	for (int i = 0; i < 8; i++)
		if ((q->body[TDR_SEAM_ATTRIBUTES + i] & mask[i]) !=
			    (attr[i] & mask[i]) ||
		    (q->body[TDR_SEAM_ATTRIBUTES + i] & ~mask[i]))
			return dc_err(err, ATOLL_E_TCB,
				      "SEAMATTRIBUTES do not match the TCB Info TDX module");
	if (!mi)
		return ATOLL_OK;
	*ret_level = isv_match(mi->levels, mi->n_levels, tee[0]);
	if (!*ret_level)
		return dc_err(err, ATOLL_E_TCB,
			      "TDX module ISVSVN %u is below every %s level (lowest %u)",
			      tee[0], mi->id, isv_lowest(mi->levels, mi->n_levels));
	return ATOLL_OK;
}

/* TD 1.5: a TD running on an outdated module that has since been updated
 * in place (TEE_TCB_SVN2) only needs a relaunch. */
static int relaunch(const struct dcap_tcb_info *ti, const struct dcap_quote *q,
		    const struct dcap_isv_level *qe, enum dcap_tcb_status sgx,
		    enum dcap_tcb_status tdx, enum dcap_tcb_status *st,
		    atoll_err *err)
{
	const uint8_t *svn2 = q->body + TDR_TEE_TCB_SVN2;
	const struct dcap_tcb_level *latest = &ti->levels[0];
	bool ok;

	if (qe && qe->status != DCAP_TCB_UP_TO_DATE)
		return ATOLL_OK;
	if (sgx != DCAP_TCB_UP_TO_DATE && sgx != DCAP_TCB_SW_HARDENING_NEEDED &&
	    sgx != DCAP_TCB_CONFIGURATION_NEEDED &&
	    sgx != DCAP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
		return ATOLL_OK;
	if (tdx != DCAP_TCB_OUT_OF_DATE &&
	    tdx != DCAP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)
		return ATOLL_OK;
	if (svn2[1] == 0) {
		ok = svn2[0] >= latest->tdx[0] && svn2[2] >= latest->tdx[2];
	} else {
		const struct dcap_module_identity *mi = find_module(ti, svn2[1]);
		if (!mi)
			return dc_err(err, ATOLL_E_TCB,
				      "TEE_TCB_SVN2 module version %u has no TDX_%02X identity in the TCB Info",
				      svn2[1], svn2[1]);
		uint16_t top = 0;
		for (size_t i = 0; i < mi->n_levels; i++)
			if (mi->levels[i].isvsvn > top)
				top = mi->levels[i].isvsvn;
		ok = svn2[0] >= top && svn2[2] >= latest->tdx[2];
	}
	if (ok)
		*st = config_needed(sgx) || config_needed(tdx) ?
			      DCAP_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED :
			      DCAP_TCB_TD_RELAUNCH_ADVISED;
	return ATOLL_OK;
}

int dcap_tcb_evaluate(const struct dcap_tcb_info *ti,
		      const struct dcap_isv_level *qe,
		      const struct dcap_quote *q,
		      const struct dcap_pck_ext *pck, struct dcap_tcb_eval *ret,
		      atoll_err *err)
{
	bool tdx = q->tee_type == DCAP_TEE_TDX;
	const uint8_t *tee = tdx ? q->body + TDR_TEE_TCB_SVN : NULL;
	const struct dcap_isv_level *module = NULL;
	const struct dcap_tcb_level *sgx_lv = NULL, *tdx_lv = NULL, *chosen;
	struct dcap_tcb_eval e = { 0 };
	struct buf adv = { 0 };
	char a[80], b[80];
	int r;

	if (tdx ? strcmp(ti->id, "TDX") != 0 :
		  (ti->id[0] && strcmp(ti->id, "SGX") != 0))
		return dc_err(err, ATOLL_E_TCB,
			      "TCB Info is for %s, the quote is %s",
			      ti->id[0] ? ti->id : "SGX", tdx ? "TDX" : "SGX");
	if (memcmp(ti->fmspc, pck->fmspc, 6) != 0) {
		enc_hex_encode(ti->fmspc, 6, a);
		enc_hex_encode(pck->fmspc, 6, b);
		return dc_err(err, ATOLL_E_TCB,
			      "TCB Info is for FMSPC %s, the PCK certificate has %s",
			      a, b);
	}
	if (memcmp(ti->pceid, pck->pceid, 2) != 0) {
		enc_hex_encode(ti->pceid, 2, a);
		enc_hex_encode(pck->pceid, 2, b);
		return dc_err(err, ATOLL_E_TCB,
			      "TCB Info is for PCE-ID %s, the PCK certificate has %s",
			      a, b);
	}
	if (tdx) {
		r = check_module(ti, q, &module, err);
		if (r != ATOLL_OK)
			return r;
	}

	for (size_t i = 0; i < ti->n_levels; i++) {
		const struct dcap_tcb_level *lv = &ti->levels[i];
		bool met = pck->pcesvn >= lv->pcesvn;

		for (int k = 0; k < 16 && met; k++)
			met = pck->comp_svn[k] >= lv->sgx[k];
		if (!met)
			continue;
		if (!tdx) {
			sgx_lv = lv;
			break;
		}
		if (!sgx_lv)
			sgx_lv = lv;
		/* With a module identity, SVN bytes 0-1 are the module's and
		 * were judged by its own levels. */
		for (int k = tee[1] > 0 ? 2 : 0; k < 16 && met; k++)
			met = tee[k] >= lv->tdx[k];
		if (met) {
			tdx_lv = lv;
			break;
		}
	}
	enc_hex_encode(pck->fmspc, 6, b);
	if (!sgx_lv) {
		svn_list(pck->comp_svn, a, sizeof(a));
		return dc_err(err, ATOLL_E_TCB,
			      "TCB level not supported: no level of the TCB Info for FMSPC %s is met by PCK component SVNs [%s] and PCESVN %u",
			      b, a, pck->pcesvn);
	}
	if (tdx && !tdx_lv) {
		svn_list(tee, a, sizeof(a));
		return dc_err(err, ATOLL_E_TCB,
			      "TCB level not supported: no level of the TCB Info for FMSPC %s is met by TEE_TCB_SVN [%s]",
			      b, a);
	}

	chosen = tdx ? tdx_lv : sgx_lv;
	e.platform_status = chosen->status;
	e.status = chosen->status;
	if (module) {
		e.has_module = true;
		e.module_status = module->status;
		e.status = converge(e.status, module->status);
	}
	if (tdx && q->body_type == DCAP_BODY_TD15 && module &&
	    module->status == DCAP_TCB_OUT_OF_DATE) {
		r = relaunch(ti, q, qe, sgx_lv->status, e.status, &e.status, err);
		if (r != ATOLL_OK)
			return r;
	}
	if (qe) {
		e.has_qe = true;
		e.qe_status = qe->status;
		e.status = converge(e.status, qe->status);
	}
	e.tcb_date = chosen->tcb_date;
	e.eval_num = ti->eval_num;
	if (add_advisories(&adv, chosen->advisories) < 0 ||
	    (module && add_advisories(&adv, module->advisories) < 0) ||
	    (qe && add_advisories(&adv, qe->advisories) < 0) ||
	    !buf_cstr(&adv)) {
		buf_free(&adv);
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	e.advisories = (char *)buf_steal(&adv, NULL);
	*ret = e;
	return ATOLL_OK;
}

void dcap_tcb_eval_done(struct dcap_tcb_eval *e)
{
	if (!e)
		return;
	free(e->advisories);
	e->advisories = NULL;
}
