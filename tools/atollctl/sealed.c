/* atollctl's way into the client library's keystore and sealed records
 * (lib/client): the keystore directory comes from --keystore or
 * ATOLL_KEYSTORE, else ~/.atoll/keys. */
#include <errno.h>
#include <stdio.h>

#include "ctl.h"

int ctl_keystore(struct ctl *c, const struct cl_keystore **ret)
{
	if (!c->ks_open) {
		int e = cl_keystore_open(c->keystore, &c->ks);
		if (e < 0)
			return e;
		c->ks_open = true;
	}
	*ret = &c->ks;
	return 0;
}

int keystore_dir_path(struct ctl *c, char *out, size_t size)
{
	const struct cl_keystore *ks;
	int e = ctl_keystore(c, &ks);
	if (e == 0)
		snprintf(out, size, "%s", ks->dir);
	return e;
}

int keystore_load(struct ctl *c, const char *key_id, struct cl_key *out)
{
	const struct cl_keystore *ks;
	int e = ctl_keystore(c, &ks);
	return e < 0 ? e : cl_key_load(ks, key_id, out);
}

int sealed_load(struct ctl *c, const uint8_t envelope_id[ENV_ID_LEN], struct cl_sealed *out)
{
	const struct cl_keystore *ks;
	int e = ctl_keystore(c, &ks);
	return e < 0 ? e : cl_sealed_load(ks, envelope_id, out);
}

int sealed_find_job(struct ctl *c, const char *job_id, struct cl_sealed *out)
{
	const struct cl_keystore *ks;
	int e = ctl_keystore(c, &ks);
	return e < 0 ? e : cl_sealed_find_job(ks, job_id, out);
}

int sealed_bind_job(struct ctl *c, struct cl_sealed *r, const char *job_id)
{
	const struct cl_keystore *ks;
	int e = ctl_keystore(c, &ks);
	return e < 0 ? e : cl_sealed_bind_job(ks, r, job_id);
}
