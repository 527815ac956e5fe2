/* SEV-SNP island side: find the guest interface (configfs-tsm or
 * /dev/sev-guest), fetch an attestation report binding report_data, and
 * split the host-provided certificate table into collateral. The
 * certificate table parser is also used by verify(). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sev-guest.h>

#include "dc_tsm.h"
#include "dc_util.h"
#include "snp.h"

/* GUIDs of the GHCB extended-report certificate table (GHCB spec, "SNP
 * Extended Guest Request"), in RFC 4122 byte order. */
static const uint8_t known_guids[][16] = {
	/* ARK  c0b406a4-a803-4952-9743-3fb6014cd0ae */
	{ 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f,
	  0xb6, 0x01, 0x4c, 0xd0, 0xae },
	/* ASK  4ab7b379-bbac-4fe4-a02f-05aef327c782 */
	{ 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05,
	  0xae, 0xf3, 0x27, 0xc7, 0x82 },
	/* VCEK 63da758d-e664-4564-adc5-f4b93be8accd */
	{ 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4,
	  0xb9, 0x3b, 0xe8, 0xac, 0xcd },
	/* VLEK a8074bc2-a25a-483e-aae6-39c045a0b8a1 */
	{ 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39,
	  0xc0, 0x45, 0xa0, 0xb8, 0xa1 },
	/* CRL  92f81bc3-5811-4d3d-97ff-d19f88dc67ea */
	{ 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1,
	  0x9f, 0x88, 0xdc, 0x67, 0xea },
};

#define TABLE_ENTRY 24
#define TABLE_MAX_ENTRIES 64

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Some producers write GUIDs in the mixed-endian (Microsoft) layout. */
static bool guid_known(const uint8_t *g)
{
	size_t i;

	for (i = 0; i < sizeof(known_guids) / sizeof(known_guids[0]); i++) {
		const uint8_t *k = known_guids[i];
		uint8_t m[16] = { k[3], k[2], k[1], k[0], k[5], k[4], k[7], k[6] };

		memcpy(m + 8, k + 8, 8);
		if (memcmp(g, k, 16) == 0 || memcmp(g, m, 16) == 0)
			return true;
	}
	return false;
}

/* Walk the table: fn(entry bytes) for each entry. 1 when the blob is not
 * a table, ATOLL_E_FORMAT when it is one but malformed. */
static int table_walk(const uint8_t *data, size_t len,
		      int (*fn)(const uint8_t *, size_t, void *), void *ud,
		      atoll_err *err)
{
	size_t i, n_entries = 0;

	if (len < TABLE_ENTRY || !guid_known(data))
		return 1;
	for (i = 0;; i++) {
		const uint8_t *e = data + i * TABLE_ENTRY;
		uint32_t off, elen;
		int r;

		if (i >= TABLE_MAX_ENTRIES)
			return dc_err(err, ATOLL_E_FORMAT,
				      "more than %d entries", TABLE_MAX_ENTRIES);
		if ((i + 1) * TABLE_ENTRY > len)
			return dc_err(err, ATOLL_E_FORMAT,
				      "entry %zu overruns the %zu-byte table", i,
				      len);
		if (dc_all_zero(e, 16))
			break;
		off = le32(e + 16);
		elen = le32(e + 20);
		if (elen == 0 || off > len || elen > len - off ||
		    off < (i + 1) * TABLE_ENTRY)
			return dc_err(err, ATOLL_E_FORMAT,
				      "entry %zu (offset %u, length %u) lies "
				      "outside the %zu-byte table",
				      i, off, elen, len);
		r = fn(data + off, elen, ud);
		if (r != ATOLL_OK)
			return r;
		n_entries++;
	}
	if (n_entries == 0)
		return dc_err(err, ATOLL_E_FORMAT, "table has no entries");
	return ATOLL_OK;
}

struct add_ud {
	struct dc_collateral *c;
	atoll_err *err;
};

static int add_entry(const uint8_t *p, size_t n, void *ud)
{
	struct add_ud *a = ud;

	return dc_collateral_add(a->c, p, n, a->err);
}

int snp_cert_table_add(struct dc_collateral *c, const uint8_t *data,
		       size_t len, atoll_err *err)
{
	struct add_ud a = { c, err };

	return table_walk(data, len, add_entry, &a, err);
}

struct evidence_build {
	atoll_evidence *ev;
	atoll_err *err;
};

static int push_collateral(const uint8_t *p, size_t n, void *ud)
{
	struct evidence_build *b = ud;
	atoll_blob *nb;
	uint8_t *copy;

	nb = realloc(b->ev->collateral,
		     (b->ev->n_collateral + 1) * sizeof(*nb));
	if (!nb)
		return dc_err(b->err, ATOLL_E_NOMEM, "out of memory");
	b->ev->collateral = nb;
	copy = malloc(n);
	if (!copy)
		return dc_err(b->err, ATOLL_E_NOMEM, "out of memory");
	memcpy(copy, p, n);
	nb[b->ev->n_collateral].data = copy;
	nb[b->ev->n_collateral].len = n;
	b->ev->n_collateral++;
	return ATOLL_OK;
}

void snp_evidence_free(void *ctx, atoll_evidence *ev)
{
	size_t i;

	if (!ev)
		return;
	for (i = 0; i < ev->n_collateral; i++)
		free((void *)ev->collateral[i].data);
	free(ev->collateral);
	free(ev->data);
	free(ev);
}

/* Evidence from a report and an optional certificate table. */
static int make_evidence(const uint8_t *report, const uint8_t *table,
			 size_t table_len, atoll_evidence **ret,
			 atoll_err *err)
{
	atoll_evidence *ev = calloc(1, sizeof(*ev));
	struct evidence_build b = { ev, err };
	int r;

	if (!ev || !(ev->data = malloc(SNP_REPORT_SIZE))) {
		free(ev);
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	}
	ev->struct_size = sizeof(*ev);
	memcpy(ev->data, report, SNP_REPORT_SIZE);
	ev->len = SNP_REPORT_SIZE;
	if (table && table_len && !dc_all_zero(table, table_len)) {
		r = table_walk(table, table_len, push_collateral, &b, err);
		if (r != ATOLL_OK && r != 1) {
			snp_evidence_free(NULL, ev);
			return dc_err_prefix(err, r, "host certificate table");
		}
	}
	*ret = ev;
	return ATOLL_OK;
}

/* The report through configfs-tsm (dc_tsm), with the host's certificate
 * table from auxblob when it gives one. */
static int collect_tsm(struct snp_ctx *ctx, const uint8_t *report_data,
		       atoll_evidence **ret, atoll_err *err)
{
	struct dc_tsm_extra extra = { .privlevel = ctx->vmpl, .max_aux = 65536 };
	uint8_t *out = NULL;
	size_t out_len = 0;
	int status;

	status = dc_tsm_report_extra(ctx->tsm_dir, "sev_guest", report_data, 64,
				     8192, &extra, &out, &out_len, err);
	if (status != ATOLL_OK)
		return status;
	if (out_len < SNP_REPORT_SIZE)
		status = dc_err(err, ATOLL_E_IO,
				"configfs-tsm outblob is %zu bytes, want %u",
				out_len, SNP_REPORT_SIZE);
	else
		status = make_evidence(out, extra.aux, extra.aux_len, ret, err);
	free(out);
	free(extra.aux);
	return status;
}

/* MSG_REPORT_RSP: status, report size, 24 reserved bytes, report. */
static int parse_report_rsp(const uint8_t *rsp, const uint8_t **ret,
			    atoll_err *err)
{
	uint32_t st = le32(rsp), size = le32(rsp + 4);

	if (st != 0)
		return dc_err(err, ATOLL_E_IO, "SNP firmware status 0x%x", st);
	if (size != SNP_REPORT_SIZE)
		return dc_err(err, ATOLL_E_IO, "SNP report size %u, want %u",
			      size, SNP_REPORT_SIZE);
	*ret = rsp + 0x20;
	return ATOLL_OK;
}

static int collect_ioctl(struct snp_ctx *ctx, const uint8_t *report_data,
			 atoll_evidence **ret, atoll_err *err)
{
	struct snp_ext_report_req ext;
	struct snp_report_resp resp;
	struct snp_guest_request_ioctl io;
	const uint8_t *report;
	uint8_t *certs = NULL;
	size_t certs_len = 4 * 4096;
	int fd, r, attempt, status;

	fd = open(ctx->device, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return dc_err(err, errno == ENOENT ? ATOLL_E_UNAVAILABLE :
						     ATOLL_E_IO,
			      "open %s: %s", ctx->device, strerror(errno));
	/* Extended report first (it returns the host's certificates);
	 * when the host has none to give, a plain report. */
	for (attempt = 0; attempt < 2; attempt++) {
		free(certs);
		certs = aligned_alloc(4096, certs_len);
		if (!certs) {
			status = dc_err(err, ATOLL_E_NOMEM, "out of memory");
			goto out_close;
		}
		memset(certs, 0, certs_len);
		memset(&ext, 0, sizeof(ext));
		memcpy(ext.data.user_data, report_data, 64);
		ext.data.vmpl = ctx->vmpl;
		ext.certs_address = (uint64_t)(uintptr_t)certs;
		ext.certs_len = (uint32_t)certs_len;
		memset(&resp, 0, sizeof(resp));
		memset(&io, 0, sizeof(io));
		io.msg_version = 1;
		io.req_data = (uint64_t)(uintptr_t)&ext;
		io.resp_data = (uint64_t)(uintptr_t)&resp;
		r = ioctl(fd, SNP_GET_EXT_REPORT, &io);
		if (r == 0)
			break;
		if (io.vmm_error == SNP_GUEST_VMM_ERR_INVALID_LEN &&
		    ext.certs_len > certs_len && ext.certs_len <= (1u << 20)) {
			certs_len = (ext.certs_len + 4095) & ~(size_t)4095;
			continue;
		}
		break;
	}
	if (r == 0) {
		status = parse_report_rsp(resp.data, &report, err);
		if (status == ATOLL_OK)
			status = make_evidence(report, certs, certs_len, ret,
					       err);
		goto out_close;
	}
	memset(&ext, 0, sizeof(ext));
	memcpy(ext.data.user_data, report_data, 64);
	ext.data.vmpl = ctx->vmpl;
	memset(&resp, 0, sizeof(resp));
	memset(&io, 0, sizeof(io));
	io.msg_version = 1;
	io.req_data = (uint64_t)(uintptr_t)&ext.data;
	io.resp_data = (uint64_t)(uintptr_t)&resp;
	if (ioctl(fd, SNP_GET_REPORT, &io) < 0) {
		status = dc_err(err, ATOLL_E_IO,
				"SNP_GET_REPORT: %s (firmware 0x%x, vmm 0x%x)",
				strerror(errno), io.fw_error, io.vmm_error);
		goto out_close;
	}
	status = parse_report_rsp(resp.data, &report, err);
	if (status == ATOLL_OK)
		status = make_evidence(report, NULL, 0, ret, err);
out_close:
	free(certs);
	close(fd);
	return status;
}

static bool tsm_present(struct snp_ctx *ctx)
{
	struct stat st;

	return stat(ctx->tsm_dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* configfs-tsm also serves TDX and others: is its provider sev_guest? */
static bool tsm_is_snp(struct snp_ctx *ctx)
{
	char prov[64];
	atoll_err e;

	return tsm_present(ctx) &&
	       dc_tsm_provider(ctx->tsm_dir, prov, sizeof(prov), &e) == ATOLL_OK &&
	       (strncmp(prov, "sev_guest", 9) == 0 ||
		strncmp(prov, "sev-guest", 9) == 0);
}

int snp_detect(void *vctx, atoll_err *err)
{
	struct snp_ctx *ctx = vctx;
	int e;

	if (access(ctx->device, R_OK | W_OK) == 0)
		return ATOLL_OK;
	e = errno;
	if (tsm_is_snp(ctx))
		return ATOLL_OK;
	return dc_err(err, ATOLL_E_UNAVAILABLE,
		      "no SEV-SNP guest interface: %s %s, and %s has no "
		      "sev_guest provider (not an SNP guest, or the sev-guest "
		      "module is not loaded)",
		      ctx->device,
		      e == ENOENT ? "does not exist" : "is not accessible",
		      ctx->tsm_dir);
}

int snp_collect(void *vctx, const uint8_t *report_data,
		atoll_evidence **ret_evidence, atoll_err *err)
{
	struct snp_ctx *ctx = vctx;
	int r;

	if (!report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "report_data and ret_evidence are required");
	if (tsm_present(ctx)) {
		r = collect_tsm(ctx, report_data, ret_evidence, err);
		if (r != ATOLL_E_UNAVAILABLE)
			return r;
	}
	if (access(ctx->device, F_OK) == 0)
		return collect_ioctl(ctx, report_data, ret_evidence, err);
	return snp_detect(ctx, err);
}
