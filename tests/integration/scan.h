/* Canary scans of live processes (scan.c). */
#ifndef ATOLL_TESTS_SCAN_H
#define ATOLL_TESTS_SCAN_H

#include <sys/types.h>

/* Does any readable mapping of pid contain needle? 1 yes, 0 no, -1 when
 * its memory cannot be read. */
int memory_contains(pid_t pid, const char *needle);

#endif
