/* Loads the out-of-tree vendor driver (argv[1]) through the plugin loader
 * and drives it: detect, collect, verify, refusals, unload. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "plugin/plugin.h"

static int verify(const struct loaded_driver *ld, const uint8_t *ev,
		  size_t len, const uint8_t *rd, atoll_claims **ret,
		  atoll_err *e)
{
	atoll_verify_args a = {
		.struct_size = sizeof(a),
		.evidence = ev,
		.evidence_len = len,
		.expected_report_data = rd,
		.expected_report_data_len = 64,
		.verify_time = 1750000000,
	};
	atoll_claims *c = NULL;
	int rc = plugin_driver_verify(ld, &a, &c, e);

	if (ret)
		*ret = c;
	else
		plugin_driver_claims_free(ld, c);
	return rc;
}

int main(int argc, char **argv)
{
	struct loaded_driver ld = { 0 };
	atoll_kv site = { "site", "lab" }, bogus = { "bogus", "1" };
	atoll_evidence *ev = NULL;
	atoll_claims *c = NULL;
	uint8_t rd[64], other[64];
	atoll_err e = { "" };
	char err[1024], want[1024];
	void *h;

	if (argc != 2) {
		fprintf(stderr, "usage: vendor_load <vendor.so>\n");
		return 2;
	}
	CHECK_INT(plugin_load_driver(argv[1], "vendor", &bogus, 1, NULL, 0, &ld,
				     err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "driver 'vendor' in [%s]: init failed: unknown key 'bogus'",
		 argv[1]);
	CHECK_STR(err, want);

	if (plugin_load_driver(argv[1], "vendor", &site, 1, NULL, 0, &ld, err,
			       sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	CHECK_STR(ld.d->description, "out-of-tree example driver");
	CHECK_INT(plugin_driver_detect(&ld, &e), ATOLL_OK);
	for (int i = 0; i < 64; i++) {
		rd[i] = (uint8_t)i;
		other[i] = (uint8_t)(i + 1);
	}
	CHECK_INT(plugin_driver_collect(&ld, rd, &ev, &e), ATOLL_OK);
	if (ev) {
		CHECK_INT(verify(&ld, ev->data, ev->len, rd, &c, &e), ATOLL_OK);
		if (c) {
			CHECK_STR(c->tee_type, "vendor");
			CHECK(c->report_data_len == 64 &&
			      memcmp(c->report_data, rd, 64) == 0);
			CHECK(c->n_extra == 1 &&
			      strcmp(c->extra[0].name, "vendor") == 0);
			plugin_driver_claims_free(&ld, c);
		}
		CHECK_INT(verify(&ld, ev->data, ev->len, other, NULL, &e),
			  ATOLL_E_BINDING);
		CHECK_INT(verify(&ld, ev->data, ev->len - 1, rd, NULL, &e),
			  ATOLL_E_FORMAT);
		plugin_driver_evidence_free(&ld, ev);
	}
	plugin_unload_driver(&ld);
	h = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
	CHECK(h == NULL);
	if (h)
		dlclose(h);
	printf("vendor driver loaded, attested and unloaded\n");
	CHECK_DONE();
}
