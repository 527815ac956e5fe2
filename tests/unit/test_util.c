/* util: encodings, ids, time text, buffers, files. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/fsutil.h"
#include "util/hmap.h"
#include "util/timeutil.h"

int main(void)
{
	char hex[64];
	uint8_t bytes[32];
	enc_hex_encode((const uint8_t *)"\x00\x7f\xff", 3, hex);
	CHECK_STR(hex, "007fff");
	CHECK_INT(enc_hex_decode("00FFab", 6, bytes), 0);
	CHECK(bytes[0] == 0 && bytes[1] == 0xff && bytes[2] == 0xab);
	CHECK_INT(enc_hex_decode("0g", 2, bytes), -EINVAL);
	CHECK_INT(enc_hex_decode("abc", 3, bytes), -EINVAL);

	/* RFC 4648 section 10 vectors. */
	const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *b64[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (int i = 0; i < 7; i++) {
		char out[16];
		enc_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), out);
		CHECK_STR(out, b64[i]);
		uint8_t dec[16];
		long n = enc_base64_decode(b64[i], strlen(b64[i]), dec);
		CHECK_INT(n, (long)strlen(plain[i]));
		CHECK(memcmp(dec, plain[i], (size_t)n) == 0);
	}
	CHECK_INT(enc_base64_decode("Zm8", 3, bytes), 2);       /* unpadded */
	CHECK_INT(enc_base64_decode("Z", 1, bytes), -EINVAL);   /* impossible length */
	CHECK_INT(enc_base64_decode("Zh==", 4, bytes), -EINVAL); /* non-canonical */
	CHECK_INT(enc_base64_decode("Zm9v!", 5, bytes), -EINVAL);
	CHECK_INT(enc_base64_decode("-_8", 3, bytes), 2);        /* URL alphabet */
	CHECK(bytes[0] == 0xfb && bytes[1] == 0xff);

	char id1[40], id2[40];
	CHECK_INT(enc_random_id("job_", id1, sizeof id1), 0);
	CHECK_INT(enc_random_id("job_", id2, sizeof id2), 0);
	CHECK_INT(strlen(id1), 30);
	CHECK(strncmp(id1, "job_", 4) == 0);
	CHECK(strcmp(id1, id2) != 0);
	CHECK_INT(enc_random_id("job_", id1, 20), -EINVAL);

	int64_t ms;
	CHECK_INT(time_rfc3339_parse("2024-09-07T14:37:39.545Z", &ms), 0);
	CHECK(ms == 1725719859545LL);
	CHECK_INT(time_rfc3339_parse("1970-01-01T01:00:00+01:00", &ms), 0);
	CHECK(ms == 0);
	CHECK_INT(time_rfc3339_parse("2025-06-01T00:00:00Z", &ms), 0);
	CHECK(ms == 1748736000000LL);
	CHECK_INT(time_rfc3339_parse("2025-13-01T00:00:00Z", &ms), -EINVAL);
	CHECK_INT(time_rfc3339_parse("2025-06-01T00:00:00", &ms), -EINVAL);
	char ts[40];
	time_rfc3339_format(1725719859545LL, ts, sizeof ts);
	CHECK_STR(ts, "2024-09-07T14:37:39.545Z");

	struct buf b = { 0 };
	for (int i = 0; i < 1000; i++)
		CHECK_INT(buf_printf(&b, "%d,", i), 0);
	CHECK(strncmp(buf_cstr(&b), "0,1,2,", 6) == 0);
	CHECK_INT(b.len, 3890);
	buf_free(&b);

	char path[] = "/tmp/atoll_test_util_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(fs_write_atomic(path, "secret", 6, 0600), 0);
	uint8_t *data;
	size_t len;
	CHECK_INT(fs_read_file(path, 100, &data, &len), 0);
	CHECK_INT(len, 6);
	CHECK(memcmp(data, "secret", 6) == 0);
	free(data);
	CHECK_INT(fs_read_file(path, 5, &data, &len), -EFBIG);
	unlink(path);
	CHECK_INT(fs_read_file(path, 5, &data, &len), -ENOENT);
	/* Hash map: inserts, replacement, deletes with tombstones, iteration. */
	struct hmap m = { 0 };
	static int vals[10000];
	char key[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		CHECK_INT(hmap_puts(&m, key, &vals[i]), 0);
	}
	CHECK_INT(m.count, 10000);
	for (int i = 0; i < 10000; i += 2) {
		snprintf(key, sizeof key, "k%d", i);
		CHECK(hmap_dels(&m, key) == &vals[i]);
	}
	CHECK(hmap_dels(&m, "k0") == NULL);
	CHECK_INT(m.count, 5000);
	int found = 0;
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		void *v = hmap_gets(&m, key);
		CHECK(v == (i % 2 ? &vals[i] : NULL));
		found += v != NULL;
	}
	CHECK_INT(found, 5000);
	CHECK_INT(hmap_puts(&m, "k1", &vals[0]), 0);
	CHECK(hmap_gets(&m, "k1") == &vals[0]);
	size_t pos = 0, iterated = 0;
	while (hmap_next(&m, &pos, NULL, NULL))
		iterated++;
	CHECK_INT(iterated, 5000);
	CHECK_INT(hmap_put(&m, "\0\1", 2, &vals[5]), 0);
	CHECK(hmap_get(&m, "\0\1", 2) == &vals[5]);
	hmap_free(&m);

	char dir[64];
	fs_dirname("/a/b/c.yaml", dir, sizeof dir);
	CHECK_STR(dir, "/a/b");
	fs_dirname("c.yaml", dir, sizeof dir);
	CHECK_STR(dir, ".");
	CHECK_DONE();
}
