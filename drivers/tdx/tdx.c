/* The tdx TEE driver: verifies Intel TDX DCAP quotes (v4 with a TD 1.0
 * report, v5 with TD 1.0 or TD 1.5) and, inside a TD, produces them
 * through the kernel's configfs-tsm report interface, which asks the host's
 * quoting service (QGS) for the quote. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dc_driver.h"
#include "dcap.h"
#include "util/fsutil.h"

#define TSM_DIR "/sys/kernel/config/tsm/report"
#define TDX_GUEST_DEV "/dev/tdx_guest"
/* Quotes are a few kilobytes; leave room for long certificate chains. */
#define MAX_QUOTE (1u << 20)

static const char *const tdx_keys[] = { "tsm_dir", "device", NULL };

struct tdx_ctx {
	struct dcap_verifier *v;
	char tsm_dir[256];
	char device[256];
};

static int tdx_init(const atoll_kv *config, size_t n_config, void **ret_ctx,
		    atoll_err *err)
{
	struct tdx_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return dc_err(err, ATOLL_E_NOMEM, "out of memory");
	snprintf(c->tsm_dir, sizeof(c->tsm_dir), "%s", TSM_DIR);
	snprintf(c->device, sizeof(c->device), "%s", TDX_GUEST_DEV);
	for (size_t i = 0; i < n_config; i++) {
		char *dst;

		if (!config[i].key)
			continue;
		if (strcmp(config[i].key, "tsm_dir") == 0)
			dst = c->tsm_dir;
		else if (strcmp(config[i].key, "device") == 0)
			dst = c->device;
		else
			continue;
		if (!config[i].value || config[i].value[0] != '/' ||
		    strlen(config[i].value) >= sizeof(c->tsm_dir)) {
			free(c);
			return dc_err(err, ATOLL_E_CONFIG,
				      "%s: '%s' is not an absolute path",
				      config[i].key,
				      config[i].value ? config[i].value : "");
		}
		snprintf(dst, sizeof(c->tsm_dir), "%s", config[i].value);
	}
	r = dcap_verifier_new(config, n_config, tdx_keys, &c->v, err);
	if (r != ATOLL_OK) {
		free(c);
		return r;
	}
	*ret_ctx = c;
	return ATOLL_OK;
}

static void tdx_fini(void *ctx)
{
	struct tdx_ctx *c = ctx;

	if (!c)
		return;
	dcap_verifier_free(c->v);
	free(c);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int tdx_detect(void *ctx, atoll_err *err)
{
	struct tdx_ctx *c = ctx;
	bool guest = access(c->device, F_OK) == 0;
	bool tsm = is_dir(c->tsm_dir);

	if (!guest && !tsm)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "not a TDX guest: neither %s nor %s exists",
			      c->device, c->tsm_dir);
	if (!guest)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "%s exists but %s does not: the TSM provider is not TDX (tdx_guest not loaded, or another TEE)",
			      c->tsm_dir, c->device);
	if (!tsm)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "%s exists but %s does not: TDX quotes need configfs-tsm (Linux 6.7+, CONFIG_TSM_REPORTS, configfs mounted on /sys/kernel/config)",
			      c->device, c->tsm_dir);
	if (access(c->tsm_dir, W_OK) != 0)
		return dc_err(err, ATOLL_E_UNAVAILABLE,
			      "%s is not writable by this process (needs root or CAP_SYS_ADMIN)",
			      c->tsm_dir);
	return ATOLL_OK;
}

static int write_all(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;
			close(fd);
			return e;
		}
		done += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

static int read_text(const char *path, char *out, size_t n)
{
	uint8_t *d = NULL;
	size_t len = 0;
	int r = fs_read_file(path, n - 1, &d, &len);

	if (r < 0)
		return r;
	while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == ' '))
		len--;
	memcpy(out, d, len);
	out[len] = '\0';
	free(d);
	return 0;
}

static int tdx_collect(void *ctx, const uint8_t *report_data,
		       atoll_evidence **ret_evidence, atoll_err *err)
{
	static atomic_uint seq;
	struct tdx_ctx *c = ctx;
	char dir[320], path[384], prov[64], g1[32], g2[32];
	atoll_evidence *ev = NULL;
	uint8_t *quote = NULL;
	size_t len = 0;
	int r, e;

	if (!c || !report_data || !ret_evidence)
		return dc_err(err, ATOLL_E_INVALID_ARGUMENT,
			      "collect: bad arguments");
	r = tdx_detect(ctx, err);
	if (r != ATOLL_OK)
		return r;
	snprintf(dir, sizeof(dir), "%s/atoll-%ld-%u", c->tsm_dir, (long)getpid(),
		 atomic_fetch_add(&seq, 1));
	if (mkdir(dir, 0700) < 0)
		return dc_err(err, errno == ENOENT ? ATOLL_E_UNAVAILABLE :
						     ATOLL_E_IO,
			      "mkdir %s: %s", dir, strerror(errno));

	snprintf(path, sizeof(path), "%s/provider", dir);
	if ((e = read_text(path, prov, sizeof(prov))) < 0) {
		r = dc_err(err, ATOLL_E_IO, "read %s: %s", path, strerror(-e));
		goto out;
	}
	if (strcmp(prov, "tdx_guest") != 0) {
		r = dc_err(err, ATOLL_E_UNAVAILABLE,
			   "the TSM report provider is '%s', not tdx_guest",
			   prov);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/inblob", dir);
	if ((e = write_all(path, report_data, ATOLL_REPORT_DATA_LEN)) < 0) {
		r = dc_err(err, ATOLL_E_IO, "write %s: %s", path, strerror(-e));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/generation", dir);
	if ((e = read_text(path, g1, sizeof(g1))) < 0) {
		r = dc_err(err, ATOLL_E_IO, "read %s: %s", path, strerror(-e));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/outblob", dir);
	if ((e = fs_read_file(path, MAX_QUOTE, &quote, &len)) < 0) {
		r = dc_err(err, ATOLL_E_IO,
			   "read %s: %s (is the host's quote generation service reachable?)",
			   path, strerror(-e));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/generation", dir);
	if ((e = read_text(path, g2, sizeof(g2))) < 0) {
		r = dc_err(err, ATOLL_E_IO, "read %s: %s", path, strerror(-e));
		goto out;
	}
	/* Another writer of this entry would change the generation. */
	if (strcmp(g1, g2) != 0) {
		r = dc_err(err, ATOLL_E_IO,
			   "%s changed while the quote was read", dir);
		goto out;
	}
	ev = calloc(1, sizeof(*ev));
	if (!ev) {
		r = dc_err(err, ATOLL_E_NOMEM, "out of memory");
		goto out;
	}
	ev->struct_size = sizeof(*ev);
	ev->data = quote;
	ev->len = len;
	quote = NULL;
	*ret_evidence = ev;
	r = ATOLL_OK;
out:
	free(quote);
	rmdir(dir);
	return r;
}

/* The TD's identity from the TD 1.0 or 1.5 report body. */
static void tdx_claims(struct dcap_claims *cl, const struct dcap_result *res)
{
	static const char *const rtmr[] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	const uint8_t *b = res->quote.body;
	uint64_t attrs = dcap_le64(b + TDR_TD_ATTRIBUTES);
	atoll_claims *pub = dcap_claims_pub(cl);

	dcap_claims_set(cl, b + TDR_MRTD, 48, b + TDR_MRSIGNERSEAM, 48,
			b + TDR_REPORT_DATA, 64);
	pub->debug = (attrs & TD_ATTR_DEBUG) != 0;
	dcap_claims_bytes(cl, "mrtd", b + TDR_MRTD, 48);
	dcap_claims_bytes(cl, "mrseam", b + TDR_MRSEAM, 48);
	dcap_claims_bytes(cl, "mrsignerseam", b + TDR_MRSIGNERSEAM, 48);
	dcap_claims_bytes(cl, "seam_attributes", b + TDR_SEAM_ATTRIBUTES, 8);
	dcap_claims_bytes(cl, "td_attributes", b + TDR_TD_ATTRIBUTES, 8);
	dcap_claims_bool(cl, "debug", attrs & TD_ATTR_DEBUG);
	dcap_claims_bool(cl, "sept_ve_disable", attrs & TD_ATTR_SEPT_VE_DISABLE);
	dcap_claims_bytes(cl, "xfam", b + TDR_XFAM, 8);
	dcap_claims_bytes(cl, "mrconfigid", b + TDR_MRCONFIGID, 48);
	dcap_claims_bytes(cl, "mrowner", b + TDR_MROWNER, 48);
	dcap_claims_bytes(cl, "mrownerconfig", b + TDR_MROWNERCONFIG, 48);
	for (int i = 0; i < 4; i++)
		dcap_claims_bytes(cl, rtmr[i], b + TDR_RTMR0 + 48 * i, 48);
	dcap_claims_bytes(cl, "tee_tcb_svn", b + TDR_TEE_TCB_SVN, 16);
	dcap_claims_bytes(cl, "report_data", b + TDR_REPORT_DATA, 64);
	dcap_claims_uint(cl, "td_report_type", res->quote.body_type);
	if (res->quote.body_type == DCAP_BODY_TD15) {
		dcap_claims_bytes(cl, "tee_tcb_svn2", b + TDR_TEE_TCB_SVN2, 16);
		dcap_claims_bytes(cl, "mrservicetd", b + TDR_MRSERVICETD, 48);
	}
}

static int tdx_verify(void *ctx, const atoll_verify_args *args,
		      atoll_claims **ret_claims, atoll_err *err)
{
	struct tdx_ctx *c = ctx;

	return dcap_driver_verify(c ? c->v : NULL, DCAP_TEE_TDX, "tdx",
				  tdx_claims, args, ret_claims, err);
}

static const atoll_tee_driver tdx_driver = {
	.abi_major = ATOLL_TEE_DRIVER_ABI_MAJOR,
	.abi_minor = ATOLL_TEE_DRIVER_ABI_MINOR,
	.struct_size = sizeof(atoll_tee_driver),
	.name = "tdx",
	.description = "Intel TDX DCAP quotes (v4, v5 with TD 1.0/1.5 reports); collect via configfs-tsm",
	.init = tdx_init,
	.fini = tdx_fini,
	.detect = tdx_detect,
	.collect = tdx_collect,
	.evidence_free = dc_driver_evidence_free,
	.verify = tdx_verify,
	.claims_free = dcap_driver_claims_free,
	.version = ATOLL_VERSION,
};

ATOLL_TEE_DRIVER_EXPORT(tdx_driver)
