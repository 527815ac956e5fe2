/* fuzz_envelope_seeds DIR: writes the envelope fuzzer's starting corpus. */
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	int r = fuzz_write_seeds(argv[1]);
	if (r < 0) {
		fprintf(stderr, "%s: cannot write seeds: %s\n", argv[1], strerror(-r));
		return 1;
	}
	return 0;
}
