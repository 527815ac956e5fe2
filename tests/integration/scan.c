/* Scans for a canary in a live process's memory (the proof that a
 * plaintext never reached it), shared by the canary tests. */
#include "scan.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Does any readable mapping of pid contain needle? -1 when unreadable. */
int memory_contains(pid_t pid, const char *needle)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *maps = fopen(path, "r");
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	int mem = open(path, O_RDONLY);
	if (!maps || mem < 0) {
		if (maps)
			fclose(maps);
		if (mem >= 0)
			close(mem);
		return -1;
	}
	size_t nlen = strlen(needle);
	int found = 0, regions = 0;
	char line[512];
	char *chunk = malloc((1 << 20) + nlen);
	while (chunk && !found && fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
			continue;
		if (strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
			continue;
		regions++;
		size_t carry = 0;
		for (unsigned long off = lo; off < hi && !found;) {
			size_t want = hi - off > (1 << 20) ? (1 << 20) : hi - off;
			ssize_t n = pread(mem, chunk + carry, want, (off_t)off);
			if (n <= 0)
				break;
			if (memmem(chunk, carry + (size_t)n, needle, nlen))
				found = 1;
			/* Keep the tail so a match across chunks is seen. */
			size_t total = carry + (size_t)n;
			carry = total < nlen - 1 ? total : nlen - 1;
			memmove(chunk, chunk + total - carry, carry);
			off += (unsigned long)n;
		}
	}
	free(chunk);
	fclose(maps);
	close(mem);
	return regions ? found : -1;
}
