/* The kernel's configfs-tsm report interface (Linux 6.7+,
 * Documentation/ABI/testing/configfs-tsm-report), shared by every
 * confidential-VM guest whose kernel provides it: creating an entry under
 * the report directory, checking which provider answers, writing the
 * report data to inblob and reading the evidence from outblob, with the
 * generation counter guarding against another writer of the entry. */
#ifndef ATOLL_DRVCOMMON_DC_TSM_H
#define ATOLL_DRVCOMMON_DC_TSM_H

#include <stddef.h>
#include <stdint.h>

#include "atoll/tee_driver.h"

#define DC_TSM_DIR "/sys/kernel/config/tsm/report"

/* Which provider answers in dir: a throwaway entry is made and removed.
 * ATOLL_OK with the name (e.g. "tdx_guest", "sev_guest",
 * "arm_cca_guest") in provider; ATOLL_E_UNAVAILABLE with the reason when
 * dir is missing or no entry can be made there. */
int dc_tsm_provider(const char *dir, char *provider, size_t size,
		    atoll_err *err);

/* One report: a fresh entry, its provider must be want_provider
 * (ATOLL_E_UNAVAILABLE otherwise; provider names are module names, so '-'
 * and '_' compare equal), inblob written, outblob read (at most max_out
 * bytes) between two equal generation reads (ATOLL_E_IO when they
 * differ), the entry removed. ATOLL_OK with a malloc'd *ret_out; else
 * ATOLL_E_IO / ATOLL_E_UNAVAILABLE / ATOLL_E_NOMEM with the reason. */
int dc_tsm_report(const char *dir, const char *want_provider,
		  const uint8_t *inblob, size_t inblob_len, size_t max_out,
		  uint8_t **ret_out, size_t *ret_out_len, atoll_err *err);

/* What some providers take or give besides inblob and outblob. */
struct dc_tsm_extra {
	unsigned privlevel; /* written to privlevel when not 0 (SEV-SNP VMPL) */
	size_t max_aux;     /* > 0: auxblob read too, at most this many bytes */
	uint8_t *aux;       /* out: malloc'd auxblob, NULL when absent */
	size_t aux_len;
};

/* dc_tsm_report with extra (may be NULL). An auxblob that cannot be read
 * is absent, not an error. */
int dc_tsm_report_extra(const char *dir, const char *want_provider,
			const uint8_t *inblob, size_t inblob_len,
			size_t max_out, struct dc_tsm_extra *extra,
			uint8_t **ret_out, size_t *ret_out_len,
			atoll_err *err);

#endif
