/* Parsers of Intel's TCB Info (v2 SGX, v3 SGX and TDX) and enclave
 * identity (QE, TD_QE; v2) JSON bodies into typed structures, with every
 * field checked for type, length and range. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"
#include "json/json.h"
#include "util/enc.h"
#include "util/timeutil.h"

static const char *const status_names[] = {
	[DCAP_TCB_UP_TO_DATE] = "UpToDate",
	[DCAP_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
	[DCAP_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
	[DCAP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] =
		"ConfigurationAndSWHardeningNeeded",
	[DCAP_TCB_OUT_OF_DATE] = "OutOfDate",
	[DCAP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] =
		"OutOfDateConfigurationNeeded",
	[DCAP_TCB_REVOKED] = "Revoked",
	[DCAP_TCB_TD_RELAUNCH_ADVISED] = "TDRelaunchAdvised",
	[DCAP_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED] =
		"TDRelaunchAdvisedConfigurationNeeded",
};

#define N_STATUS (sizeof(status_names) / sizeof(*status_names))

const char *dcap_tcb_status_name(enum dcap_tcb_status s)
{
	return (size_t)s < N_STATUS ? status_names[s] : "?";
}

int dcap_tcb_status_parse(const char *s, enum dcap_tcb_status *ret)
{
	for (size_t i = 0; i < N_STATUS; i++)
		if (strcmp(s, status_names[i]) == 0) {
			*ret = (enum dcap_tcb_status)i;
			return 0;
		}
	return -EINVAL;
}

/* Field readers: each reports "<what>.<key>: problem". */
struct ctx {
	const char *what;
	atoll_err *err;
};

static int bad(struct ctx *c, const char *key, const char *why)
{
	return dc_err(c->err, ATOLL_E_FORMAT, "%s: %s %s", c->what, key, why);
}

static int get_uint(struct ctx *c, const json_value *o, const char *key,
		    uint64_t max, uint64_t *ret)
{
	const json_value *v = json_get(o, key);
	uint64_t x;

	if (!v || json_type_of(v) != JSON_NUMBER || json_uint64(v, &x) < 0)
		return bad(c, key, "is missing or not an unsigned integer");
	if (x > max)
		return bad(c, key, "is out of range");
	*ret = x;
	return ATOLL_OK;
}

static int get_hex(struct ctx *c, const json_value *o, const char *key,
		   uint8_t *out, size_t n)
{
	const json_value *v = json_get(o, key);
	size_t len;
	const char *s = v ? json_string(v, &len) : NULL;

	if (!s || len != 2 * n || enc_hex_decode(s, len, out) < 0)
		return bad(c, key, "is missing or not the expected hex string");
	return ATOLL_OK;
}

static int get_time(struct ctx *c, const json_value *o, const char *key,
		    int64_t *ret)
{
	const json_value *v = json_get(o, key);
	const char *s = v ? json_string(v, NULL) : NULL;
	int64_t ms;

	if (!s || time_rfc3339_parse(s, &ms) < 0)
		return bad(c, key, "is missing or not an RFC 3339 time");
	*ret = ms / 1000;
	return ATOLL_OK;
}

static int get_id(struct ctx *c, const json_value *o, char *out, size_t n,
		  bool required)
{
	const json_value *v = json_get(o, "id");
	size_t len;
	const char *s = v ? json_string(v, &len) : NULL;

	if (!v && !required) {
		out[0] = '\0';
		return ATOLL_OK;
	}
	if (!s || len == 0 || len >= n || strlen(s) != len)
		return bad(c, "id", "is missing or not a short string");
	memcpy(out, s, len + 1);
	return ATOLL_OK;
}

static int get_status(struct ctx *c, const json_value *lvl,
		      enum dcap_tcb_status *ret)
{
	const json_value *v = json_get(lvl, "tcbStatus");
	const char *s = v ? json_string(v, NULL) : NULL;

	if (!s || dcap_tcb_status_parse(s, ret) < 0)
		return bad(c, "tcbStatus", "is missing or unknown");
	return ATOLL_OK;
}

static int get_advisories(struct ctx *c, const json_value *lvl,
			  const json_value **ret)
{
	const json_value *v = json_get(lvl, "advisoryIDs");

	*ret = NULL;
	if (!v)
		return ATOLL_OK;
	if (json_type_of(v) != JSON_ARRAY)
		return bad(c, "advisoryIDs", "is not an array");
	for (size_t i = 0; i < json_count(v); i++) {
		size_t len;
		const char *s = json_string(json_at(v, i), &len);
		/* They become one comma-separated claim. */
		if (!s || len == 0 || len > 64 || strlen(s) != len ||
		    strchr(s, ','))
			return bad(c, "advisoryIDs", "holds a malformed id");
	}
	*ret = v;
	return ATOLL_OK;
}

/* 16 SVNs from v3's [{"svn": n}, ...] arrays. */
static int get_components(struct ctx *c, const json_value *tcb,
			  const char *key, uint8_t out[16])
{
	const json_value *a = json_get(tcb, key);

	if (!a || json_type_of(a) != JSON_ARRAY || json_count(a) != 16)
		return bad(c, key, "is not an array of 16 components");
	for (size_t i = 0; i < 16; i++) {
		uint64_t x;
		int r = get_uint(c, json_at(a, i), "svn", 255, &x);
		if (r != ATOLL_OK)
			return r;
		out[i] = (uint8_t)x;
	}
	return ATOLL_OK;
}

static int parse_isv_levels(struct ctx *c, const json_value *o,
			    struct dcap_isv_level **ret, size_t *ret_n)
{
	const json_value *a = json_get(o, "tcbLevels");
	struct dcap_isv_level *lv;
	size_t n;

	if (!a || json_type_of(a) != JSON_ARRAY || json_count(a) == 0)
		return bad(c, "tcbLevels", "is missing or empty");
	n = json_count(a);
	lv = calloc(n, sizeof(*lv));
	if (!lv)
		return dc_err(c->err, ATOLL_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_value *l = json_at(a, i), *tcb = json_get(l, "tcb");
		uint64_t x = 0;
		int r = ATOLL_OK;
		if (!tcb || json_type_of(tcb) != JSON_OBJECT)
			r = bad(c, "tcbLevels[].tcb", "is missing");
		if (r == ATOLL_OK)
			r = get_uint(c, tcb, "isvsvn", 65535, &x);
		if (r == ATOLL_OK)
			r = get_status(c, l, &lv[i].status);
		if (r == ATOLL_OK)
			r = get_time(c, l, "tcbDate", &lv[i].tcb_date);
		if (r == ATOLL_OK)
			r = get_advisories(c, l, &lv[i].advisories);
		if (r != ATOLL_OK) {
			free(lv);
			return r;
		}
		lv[i].isvsvn = (uint16_t)x;
	}
	*ret = lv;
	*ret_n = n;
	return ATOLL_OK;
}

static int cmp_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* Intel orders levels highest first: component SVNs lexicographically,
 * then PCESVN, then the TDX components (all zero in SGX documents).
 * Document order breaks ties, as the first of equal levels is the one
 * Intel keeps. */
static int level_cmp(const void *pa, const void *pb)
{
	const struct dcap_tcb_level *a = pa, *b = pb;
	int r = cmp_bytes(b->sgx, a->sgx, 16);

	if (r == 0)
		r = (b->pcesvn > a->pcesvn) - (b->pcesvn < a->pcesvn);
	if (r == 0)
		r = cmp_bytes(b->tdx, a->tdx, 16);
	if (r == 0)
		r = (a->order > b->order) - (a->order < b->order);
	return r;
}

static int parse_levels(struct ctx *c, struct dcap_tcb_info *ti,
			const json_value *body)
{
	const json_value *a = json_get(body, "tcbLevels");
	bool tdx = strcmp(ti->id, "TDX") == 0;
	size_t n;

	if (!a || json_type_of(a) != JSON_ARRAY || json_count(a) == 0)
		return bad(c, "tcbLevels", "is missing or empty");
	n = json_count(a);
	ti->levels = calloc(n, sizeof(*ti->levels));
	if (!ti->levels)
		return dc_err(c->err, ATOLL_E_NOMEM, "out of memory");
	ti->n_levels = n;
	for (size_t i = 0; i < n; i++) {
		struct dcap_tcb_level *lv = &ti->levels[i];
		const json_value *l = json_at(a, i), *tcb = json_get(l, "tcb");
		uint64_t x;
		int r;

		lv->order = i;
		if (!tcb || json_type_of(tcb) != JSON_OBJECT)
			return bad(c, "tcbLevels[].tcb", "is missing");
		if (ti->version == 2) {
			for (int k = 0; k < 16; k++) {
				char key[20];
				snprintf(key, sizeof(key), "sgxtcbcomp%02dsvn", k + 1);
				r = get_uint(c, tcb, key, 255, &x);
				if (r != ATOLL_OK)
					return r;
				lv->sgx[k] = (uint8_t)x;
			}
		} else {
			r = get_components(c, tcb, "sgxtcbcomponents", lv->sgx);
			if (r != ATOLL_OK)
				return r;
			if (tdx) {
				r = get_components(c, tcb, "tdxtcbcomponents",
						   lv->tdx);
				if (r != ATOLL_OK)
					return r;
			}
		}
		r = get_uint(c, tcb, "pcesvn", 65535, &x);
		if (r != ATOLL_OK)
			return r;
		lv->pcesvn = (uint16_t)x;
		if ((r = get_status(c, l, &lv->status)) != ATOLL_OK ||
		    (r = get_time(c, l, "tcbDate", &lv->tcb_date)) != ATOLL_OK ||
		    (r = get_advisories(c, l, &lv->advisories)) != ATOLL_OK)
			return r;
	}
	return ATOLL_OK;
}

static int parse_module(struct ctx *c, const json_value *o, uint8_t mrsigner[48],
			uint8_t attr[8], uint8_t mask[8])
{
	int r;

	if ((r = get_hex(c, o, "mrsigner", mrsigner, 48)) != ATOLL_OK ||
	    (r = get_hex(c, o, "attributes", attr, 8)) != ATOLL_OK ||
	    (r = get_hex(c, o, "attributesMask", mask, 8)) != ATOLL_OK)
		return r;
	return ATOLL_OK;
}

static int parse_modules(struct ctx *c, struct dcap_tcb_info *ti,
			 const json_value *body)
{
	const json_value *m = json_get(body, "tdxModule");
	const json_value *ids = json_get(body, "tdxModuleIdentities");
	int r;

	if (!m || json_type_of(m) != JSON_OBJECT)
		return bad(c, "tdxModule", "is missing");
	r = parse_module(c, m, ti->module_mrsigner, ti->module_attributes,
			 ti->module_attributes_mask);
	if (r != ATOLL_OK)
		return r;
	ti->has_tdx_module = true;
	if (!ids)
		return ATOLL_OK;
	if (json_type_of(ids) != JSON_ARRAY)
		return bad(c, "tdxModuleIdentities", "is not an array");
	ti->n_modules = json_count(ids);
	ti->modules = calloc(ti->n_modules ? ti->n_modules : 1,
			     sizeof(*ti->modules));
	if (!ti->modules)
		return dc_err(c->err, ATOLL_E_NOMEM, "out of memory");
	for (size_t i = 0; i < ti->n_modules; i++) {
		struct dcap_module_identity *mi = &ti->modules[i];
		const json_value *o = json_at(ids, i);
		if ((r = get_id(c, o, mi->id, sizeof(mi->id), true)) != ATOLL_OK ||
		    (r = parse_module(c, o, mi->mrsigner, mi->attributes,
				      mi->attributes_mask)) != ATOLL_OK ||
		    (r = parse_isv_levels(c, o, &mi->levels, &mi->n_levels)) !=
			    ATOLL_OK)
			return r;
	}
	return ATOLL_OK;
}

int dcap_tcb_info_parse(const char *body, size_t len,
			struct dcap_tcb_info *ret, atoll_err *err)
{
	struct dcap_tcb_info ti = { 0 };
	struct ctx c = { "TCB Info", err };
	char perr[128];
	uint64_t x;
	int r;

	if (json_parse(body, len, &ti.doc, perr, sizeof(perr)) < 0)
		return dc_err(err, ATOLL_E_FORMAT, "TCB Info: JSON %s", perr);
	const json_value *o = ti.doc;
	if (json_type_of(o) != JSON_OBJECT) {
		r = bad(&c, "body", "is not an object");
		goto fail;
	}
	if ((r = get_uint(&c, o, "version", 3, &x)) != ATOLL_OK)
		goto fail;
	ti.version = (int)x;
	if (ti.version < 2) {
		r = bad(&c, "version", "is not 2 or 3");
		goto fail;
	}
	if ((r = get_id(&c, o, ti.id, sizeof(ti.id), ti.version >= 3)) != ATOLL_OK)
		goto fail;
	if (ti.version >= 3 && strcmp(ti.id, "SGX") != 0 &&
	    strcmp(ti.id, "TDX") != 0) {
		r = bad(&c, "id", "is neither SGX nor TDX");
		goto fail;
	}
	if (ti.version == 2 && ti.id[0] && strcmp(ti.id, "SGX") != 0) {
		r = bad(&c, "id", "is not SGX in a version 2 document");
		goto fail;
	}
	if ((r = get_time(&c, o, "issueDate", &ti.issue_date)) != ATOLL_OK ||
	    (r = get_time(&c, o, "nextUpdate", &ti.next_update)) != ATOLL_OK ||
	    (r = get_hex(&c, o, "fmspc", ti.fmspc, 6)) != ATOLL_OK ||
	    (r = get_hex(&c, o, "pceId", ti.pceid, 2)) != ATOLL_OK ||
	    (r = get_uint(&c, o, "tcbEvaluationDataNumber", UINT32_MAX,
			  &ti.eval_num)) != ATOLL_OK)
		goto fail;
	if (json_get(o, "tcbType")) {
		/* Type 0 is the only one defined: the PCK's 16 component
		 * SVNs in order. */
		if ((r = get_uint(&c, o, "tcbType", 0, &x)) != ATOLL_OK)
			goto fail;
	}
	if ((r = parse_levels(&c, &ti, o)) != ATOLL_OK)
		goto fail;
	if (strcmp(ti.id, "TDX") == 0 &&
	    (r = parse_modules(&c, &ti, o)) != ATOLL_OK)
		goto fail;
	qsort(ti.levels, ti.n_levels, sizeof(*ti.levels), level_cmp);
	*ret = ti;
	return ATOLL_OK;
fail:
	dcap_tcb_info_done(&ti);
	return r;
}

void dcap_tcb_info_done(struct dcap_tcb_info *ti)
{
	if (!ti)
		return;
	for (size_t i = 0; i < ti->n_modules; i++)
		free(ti->modules[i].levels);
	free(ti->modules);
	free(ti->levels);
	json_free(ti->doc);
	*ti = (struct dcap_tcb_info){ 0 };
}

int dcap_qe_identity_parse(const char *body, size_t len,
			   struct dcap_qe_identity *ret, atoll_err *err)
{
	struct dcap_qe_identity qi = { 0 };
	struct ctx c = { "QE Identity", err };
	char perr[128];
	uint64_t x;
	int r;

	if (json_parse(body, len, &qi.doc, perr, sizeof(perr)) < 0)
		return dc_err(err, ATOLL_E_FORMAT, "QE Identity: JSON %s", perr);
	const json_value *o = qi.doc;
	if (json_type_of(o) != JSON_OBJECT) {
		r = bad(&c, "body", "is not an object");
		goto fail;
	}
	if ((r = get_id(&c, o, qi.id, sizeof(qi.id), true)) != ATOLL_OK ||
	    (r = get_uint(&c, o, "version", 2, &x)) != ATOLL_OK)
		goto fail;
	qi.version = (int)x;
	if (qi.version != 2) {
		r = bad(&c, "version", "is not 2");
		goto fail;
	}
	if ((r = get_time(&c, o, "issueDate", &qi.issue_date)) != ATOLL_OK ||
	    (r = get_time(&c, o, "nextUpdate", &qi.next_update)) != ATOLL_OK ||
	    (r = get_uint(&c, o, "tcbEvaluationDataNumber", UINT32_MAX,
			  &qi.eval_num)) != ATOLL_OK ||
	    (r = get_hex(&c, o, "miscselect", qi.miscselect, 4)) != ATOLL_OK ||
	    (r = get_hex(&c, o, "miscselectMask", qi.miscselect_mask, 4)) !=
		    ATOLL_OK ||
	    (r = get_hex(&c, o, "attributes", qi.attributes, 16)) != ATOLL_OK ||
	    (r = get_hex(&c, o, "attributesMask", qi.attributes_mask, 16)) !=
		    ATOLL_OK ||
	    (r = get_hex(&c, o, "mrsigner", qi.mrsigner, 32)) != ATOLL_OK ||
	    (r = get_uint(&c, o, "isvprodid", 65535, &x)) != ATOLL_OK)
		goto fail;
	qi.isvprodid = (uint16_t)x;
	if ((r = parse_isv_levels(&c, o, &qi.levels, &qi.n_levels)) != ATOLL_OK)
		goto fail;
	*ret = qi;
	return ATOLL_OK;
fail:
	dcap_qe_identity_done(&qi);
	return r;
}

void dcap_qe_identity_done(struct dcap_qe_identity *qi)
{
	if (!qi)
		return;
	free(qi->levels);
	json_free(qi->doc);
	*qi = (struct dcap_qe_identity){ 0 };
}
