/* Sealed outputs opened against the local record, as a stream of chunks
 * or whole. */
#include "client/output.h"

#include <string.h>

int cl_live_chunk(struct cl_live *lv, uint64_t seq, const uint8_t *p, size_t left,
		  struct buf *pt, bool *ret_restarted)
{
	*ret_restarted = false;
	if (seq == 0) {
		/* A new attempt's stream: its header comes first. */
		if (lv->opener && env_output_opener_done(lv->opener) != ENV_OK)
			*ret_restarted = true;
		lv->opener = env_output_opener_free(lv->opener);
		lv->broken = false;
		lv->refused = CL_LIVE_OK;
		size_t n;
		struct env_output_expect want = cl_sealed_expect(lv->rec);
		int r = env_output_record_len(p, left, true, &n);
		if (r == ENV_OK)
			r = env_output_opener_new(lv->k->priv, p, n, &want, &lv->opener);
		if (r != ENV_OK) {
			lv->broken = true;
			lv->refused = CL_LIVE_HEADER;
			return r;
		}
		if (env_output_opener_info(lv->opener)->attempt < lv->attempt) {
			/* An earlier attempt's stream replayed: refused. */
			lv->opener = env_output_opener_free(lv->opener);
			lv->broken = true;
			lv->refused = CL_LIVE_ATTEMPT;
			return ENV_E_ORDER;
		}
		lv->attempt = env_output_opener_info(lv->opener)->attempt;
		p += n;
		left -= n;
	}
	if (lv->broken)
		return ENV_OK; /* refused already */
	while (left) {
		size_t n;
		bool final;
		int r = lv->opener ? env_output_record_len(p, left, false, &n) : ENV_E_UNFINISHED;
		if (r == ENV_OK)
			r = env_output_open(lv->opener, p, n, pt, &final);
		if (r != ENV_OK) {
			lv->broken = true;
			lv->refused = CL_LIVE_CHUNK;
			return r;
		}
		p += n;
		left -= n;
	}
	return ENV_OK;
}

int cl_live_result(const struct cl_live *lv, const char **ret_code, const char **ret_msg)
{
	*ret_code = *ret_msg = "";
	if (!lv->opener || lv->broken)
		return ENV_E_UNFINISHED;
	return env_output_opener_result(lv->opener, ret_code, ret_msg);
}

void cl_live_clear(struct cl_live *lv)
{
	lv->opener = env_output_opener_free(lv->opener);
}

int cl_open_output(const struct cl_sealed *rec, const struct cl_key *k, const uint8_t *ct,
		   size_t len, struct buf *pt, struct buf *ret_error)
{
	struct env_output_expect want = cl_sealed_expect(rec);
	return env_open_output(k->priv, ct, len, &want, pt, ret_error);
}
