/* The sim CA, island key issuance and runtime measurement (simtool.h). */
#include "simtool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/enc.h"
#include "util/fsutil.h"

#define NAME_MAX_LEN 64
#define PEM_MAX (64u * 1024)
/* Certificates start a minute in the past so that a verifier whose clock
 * lags a little still accepts a key issued just now. */
#define BACKDATE_SECONDS 60

static int fail(char *err, size_t err_size, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_size, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && err_size) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	ERR_clear_error();
	return r;
}

static bool valid_file_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > NAME_MAX_LEN || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool valid_common_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

static int join(char *out, size_t out_size, const char *dir, const char *file,
		const char *suffix)
{
	int n = snprintf(out, out_size, "%s/%s%s", dir, file, suffix);

	return n < 0 || (size_t)n >= out_size ? -ENAMETOOLONG : 0;
}

static int ensure_dir(const char *dir, char *err, size_t err_size)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return fail(err, err_size, -errno, "cannot create %s: %s", dir,
			    strerror(errno));
	if (stat(dir, &st) < 0)
		return fail(err, err_size, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(err, err_size, -ENOTDIR, "%s: not a directory", dir);
	return 0;
}

static int refuse_existing(const char *path, char *err, size_t err_size)
{
	if (access(path, F_OK) == 0)
		return fail(err, err_size, -EEXIST,
			    "%s already exists; not overwriting it", path);
	return 0;
}

static EVP_PKEY *gen_p256(void)
{
	return EVP_EC_gen("P-256");
}

/* 127 random bits: positive, and unique enough that two CAs made on one
 * machine never issue the same serial. */
static int set_random_serial(X509 *x)
{
	uint8_t rnd[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return 0;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x01; /* never zero, never shorter than it looks */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		ok = 1;
	BN_free(bn);
	return ok;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for key with subject CN=cn, valid from a minute ago for
 * `days` days (cut at the issuer's own expiry), signed by issuer_key;
 * issuer NULL makes it self-signed. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, int days, X509 *issuer,
		       EVP_PKEY *issuer_key, bool is_ca)
{
	X509 *x = X509_new();
	X509_NAME *subj = NULL;
	ASN1_TIME *na;

	if (!x || !X509_set_version(x, X509_VERSION_3) || !set_random_serial(x))
		goto out_fail;
	subj = X509_NAME_new();
	if (!subj ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, subj) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) :
						subj))
		goto out_fail;
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECONDS) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
		goto out_fail;
	na = X509_getm_notAfter(x);
	if (issuer && ASN1_TIME_compare(na, X509_get0_notAfter(issuer)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(issuer)))
		goto out_fail;
	if (!X509_set_pubkey(x, key))
		goto out_fail;
	if (is_ca) {
		if (!add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
		    !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		    !add_ext(x, x, NID_subject_key_identifier, "hash") ||
		    !add_ext(x, x, NID_authority_key_identifier, "keyid:always"))
			goto out_fail;
	} else {
		if (!add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    !add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ||
		    !add_ext(x, issuer, NID_subject_key_identifier, "hash") ||
		    !add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
			goto out_fail;
	}
	if (!X509_sign(x, issuer_key, EVP_sha256()))
		goto out_fail;
	X509_NAME_free(subj);
	return x;
out_fail:
	X509_NAME_free(subj);
	X509_free(x);
	return NULL;
}

/* Write what a memory BIO holds to path, then wipe the BIO's storage:
 * it may hold a private key. */
static int write_bio(BIO *b, const char *path, mode_t mode, char *err,
		     size_t err_size)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	int r;

	if (n <= 0 || !data)
		return fail(err, err_size, -EIO, "%s: nothing to write", path);
	r = fs_write_atomic(path, data, (size_t)n, mode);
	OPENSSL_cleanse(data, (size_t)n);
	if (r < 0)
		return fail(err, err_size, r, "cannot write %s: %s", path,
			    strerror(-r));
	return 0;
}

static int write_key(EVP_PKEY *key, const char *path, char *err,
		     size_t err_size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r;

	if (!b || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(b);
		return fail(err, err_size, -ENOMEM, "cannot encode the key for %s",
			    path);
	}
	r = write_bio(b, path, 0600, err, err_size);
	BIO_free(b);
	return r;
}

static int write_cert(X509 *x, const char *path, char *err, size_t err_size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r;

	if (!b || !PEM_write_bio_X509(b, x)) {
		BIO_free(b);
		return fail(err, err_size, -ENOMEM,
			    "cannot encode the certificate for %s", path);
	}
	r = write_bio(b, path, 0644, err, err_size);
	BIO_free(b);
	return r;
}

/* Key first, certificate second; a failure removes what was written so
 * that a retry does not trip over half a pair. */
static int write_pair(EVP_PKEY *key, const char *key_path, X509 *x,
		      const char *cert_path, char *err, size_t err_size)
{
	int r = write_key(key, key_path, err, err_size);

	if (r < 0)
		return r;
	r = write_cert(x, cert_path, err, err_size);
	if (r < 0)
		unlink(key_path);
	return r;
}

int simtool_make_ca(const char *dir, const char *name, int days, char *err,
		    size_t err_size)
{
	char cert_path[4096], key_path[4096];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int r;

	if (!dir || !dir[0])
		return fail(err, err_size, -EINVAL, "no directory given");
	if (!valid_common_name(name))
		return fail(err, err_size, -EINVAL,
			    "CA name must be 1..%d printable characters",
			    NAME_MAX_LEN);
	if (days < 1 || days > SIMTOOL_MAX_DAYS)
		return fail(err, err_size, -EINVAL, "days must be 1..%d, not %d",
			    SIMTOOL_MAX_DAYS, days);
	if (join(cert_path, sizeof(cert_path), dir, SIMTOOL_CA_CERT, "") < 0 ||
	    join(key_path, sizeof(key_path), dir, SIMTOOL_CA_KEY, "") < 0)
		return fail(err, err_size, -ENAMETOOLONG, "%s: path too long", dir);
	r = ensure_dir(dir, err, err_size);
	if (r < 0)
		return r;
	if ((r = refuse_existing(cert_path, err, err_size)) < 0 ||
	    (r = refuse_existing(key_path, err, err_size)) < 0)
		return r;
	key = gen_p256();
	if (!key) {
		r = fail(err, err_size, -EIO, "cannot generate a P-256 key");
		goto out_free;
	}
	x = make_cert(key, name, days, NULL, key, true);
	if (!x) {
		r = fail(err, err_size, -EIO, "cannot build the CA certificate");
		goto out_free;
	}
	r = write_pair(key, key_path, x, cert_path, err, err_size);
out_free:
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

static int read_pem(const char *path, uint8_t **ret, size_t *ret_len,
		    char *err, size_t err_size)
{
	int r = fs_read_file(path, PEM_MAX, ret, ret_len);

	if (r < 0)
		return fail(err, err_size, r, "cannot read %s: %s", path,
			    strerror(-r));
	return 0;
}

static int load_ca(const char *ca_dir, X509 **ret_cert, EVP_PKEY **ret_key,
		   char *err, size_t err_size)
{
	char cert_path[4096], key_path[4096];
	uint8_t *pem = NULL;
	size_t len = 0;
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	BIO *b;
	int r;

	if (join(cert_path, sizeof(cert_path), ca_dir, SIMTOOL_CA_CERT, "") < 0 ||
	    join(key_path, sizeof(key_path), ca_dir, SIMTOOL_CA_KEY, "") < 0)
		return fail(err, err_size, -ENAMETOOLONG, "%s: path too long",
			    ca_dir);
	r = read_pem(cert_path, &pem, &len, err, err_size);
	if (r < 0)
		return r;
	b = BIO_new_mem_buf(pem, (int)len);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	free(pem);
	pem = NULL;
	if (!x)
		return fail(err, err_size, -EBADMSG,
			    "%s: not a PEM certificate", cert_path);
	r = read_pem(key_path, &pem, &len, err, err_size);
	if (r < 0)
		goto out_fail;
	b = BIO_new_mem_buf(pem, (int)len);
	key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (!key) {
		r = fail(err, err_size, -EBADMSG,
			 "%s: not an unencrypted PEM private key", key_path);
		goto out_fail;
	}
	if (X509_check_private_key(x, key) != 1) {
		r = fail(err, err_size, -EBADMSG, "%s does not match %s",
			 key_path, cert_path);
		goto out_fail;
	}
	*ret_cert = x;
	*ret_key = key;
	return 0;
out_fail:
	EVP_PKEY_free(key);
	X509_free(x);
	return r;
}

int simtool_make_island_key(const char *ca_dir, const char *name, int days,
			    const char *out_dir, char *err, size_t err_size)
{
	char cert_path[4096], key_path[4096];
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *x = NULL;
	int r;

	if (!ca_dir || !ca_dir[0] || !out_dir || !out_dir[0])
		return fail(err, err_size, -EINVAL, "no directory given");
	if (!valid_file_name(name))
		return fail(err, err_size, -EINVAL,
			    "island name must be 1..%d of [A-Za-z0-9._-], "
			    "not starting with a dot", NAME_MAX_LEN);
	if (days < 1 || days > SIMTOOL_MAX_DAYS)
		return fail(err, err_size, -EINVAL, "days must be 1..%d, not %d",
			    SIMTOOL_MAX_DAYS, days);
	if (join(cert_path, sizeof(cert_path), out_dir, name, ".pem") < 0 ||
	    join(key_path, sizeof(key_path), out_dir, name, ".key") < 0)
		return fail(err, err_size, -ENAMETOOLONG, "%s: path too long",
			    out_dir);
	r = load_ca(ca_dir, &ca, &ca_key, err, err_size);
	if (r < 0)
		return r;
	if ((r = ensure_dir(out_dir, err, err_size)) < 0 ||
	    (r = refuse_existing(cert_path, err, err_size)) < 0 ||
	    (r = refuse_existing(key_path, err, err_size)) < 0)
		goto out_free;
	key = gen_p256();
	if (!key) {
		r = fail(err, err_size, -EIO, "cannot generate a P-256 key");
		goto out_free;
	}
	x = make_cert(key, name, days, ca, ca_key, false);
	if (!x) {
		r = fail(err, err_size, -EIO,
			 "cannot build the island certificate");
		goto out_free;
	}
	r = write_pair(key, key_path, x, cert_path, err, err_size);
out_free:
	X509_free(x);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return r;
}

int simtool_measure_raw(const char *path, uint8_t out[SIMTOOL_MEASUREMENT_LEN])
{
	uint8_t chunk[64 * 1024];
	EVP_MD_CTX *md = NULL;
	unsigned int md_len = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha384(), NULL) != 1) {
		r = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out_close;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(md, chunk, (size_t)n) != 1) {
			r = -EIO;
			goto out_close;
		}
	}
	if (EVP_DigestFinal_ex(md, out, &md_len) != 1 ||
	    md_len != SIMTOOL_MEASUREMENT_LEN)
		r = -EIO;
out_close:
	EVP_MD_CTX_free(md);
	close(fd);
	return r;
}

int simtool_measure(const char *path, char hex_out[SIMTOOL_MEASUREMENT_HEX],
		    char *err, size_t err_size)
{
	uint8_t m[SIMTOOL_MEASUREMENT_LEN];
	int r;

	if (!path || !path[0])
		return fail(err, err_size, -EINVAL, "no file given");
	r = simtool_measure_raw(path, m);
	if (r < 0)
		return fail(err, err_size, r, "cannot measure %s: %s", path,
			    strerror(-r));
	enc_hex_encode(m, sizeof(m), hex_out);
	return 0;
}
