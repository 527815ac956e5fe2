/* Internal interface of the SEV-SNP driver: the attestation report layout,
 * the driver context and the island-side collector. */
#ifndef ATOLL_DRIVERS_SNP_H
#define ATOLL_DRIVERS_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoll/tee_driver.h"
#include "dc_driver.h"
#include "dc_x509.h"

/* ATTESTATION_REPORT (AMD SEV-SNP ABI spec, table "ATTESTATION_REPORT
 * Structure"), little-endian. */
#define SNP_REPORT_SIZE 0x4a0
#define SNP_SIGNED_SIZE 0x2a0
#define SNP_OFF_VERSION 0x00
#define SNP_OFF_GUEST_SVN 0x04
#define SNP_OFF_POLICY 0x08
#define SNP_OFF_FAMILY_ID 0x10
#define SNP_OFF_IMAGE_ID 0x20
#define SNP_OFF_VMPL 0x30
#define SNP_OFF_SIG_ALGO 0x34
#define SNP_OFF_CURRENT_TCB 0x38
#define SNP_OFF_PLATFORM_INFO 0x40
#define SNP_OFF_KEY_INFO 0x48
#define SNP_OFF_REPORT_DATA 0x50
#define SNP_OFF_MEASUREMENT 0x90
#define SNP_OFF_HOST_DATA 0xc0
#define SNP_OFF_ID_KEY_DIGEST 0xe0
#define SNP_OFF_AUTHOR_KEY_DIGEST 0x110
#define SNP_OFF_REPORT_ID 0x140
#define SNP_OFF_REPORT_ID_MA 0x160
#define SNP_OFF_REPORTED_TCB 0x180
#define SNP_OFF_CPUID_FAM 0x188
#define SNP_OFF_CPUID_MOD 0x189
#define SNP_OFF_CPUID_STEP 0x18a
#define SNP_OFF_CHIP_ID 0x1a0
#define SNP_OFF_COMMITTED_TCB 0x1e0
#define SNP_OFF_CURRENT_BUILD 0x1e8
#define SNP_OFF_COMMITTED_BUILD 0x1ec
#define SNP_OFF_LAUNCH_TCB 0x1f0
#define SNP_OFF_SIGNATURE 0x2a0

#define SNP_POLICY_SMT (1ull << 16)
#define SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SNP_POLICY_DEBUG (1ull << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ull << 20)

/* Report versions whose layout this driver knows: 2 (the original), 3
 * (adds CPUID family/model/stepping in reserved bytes), 4 and 5 (fill
 * further reserved bytes after the fields read here). */
#define SNP_VERSION_MIN 2
#define SNP_VERSION_MAX 5

#define SNP_KEY_VCEK 0
#define SNP_KEY_VLEK 1
#define SNP_KEY_NONE 7

struct snp_ctx {
	/* The ARK pins (ark_fingerprints), `certs` and the chain cache. */
	struct dc_chain_conf chain;
	char device[256];
	char tsm_dir[256];
	uint32_t vmpl;
};

/* Split an extended-report certificate table into its entries and add
 * each to c. ATOLL_OK, ATOLL_E_FORMAT (a table whose entries overrun it),
 * or 1 when the blob is not a certificate table at all. */
int snp_cert_table_add(struct dc_collateral *c, const uint8_t *data,
		       size_t len, atoll_err *err);

int snp_detect(void *ctx, atoll_err *err);
int snp_collect(void *ctx, const uint8_t *report_data,
		atoll_evidence **ret_evidence, atoll_err *err);
void snp_evidence_free(void *ctx, atoll_evidence *evidence);

#endif
