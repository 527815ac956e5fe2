/* Integration test harness: temporary directories, real processes
 * (coordinator, islands) on 127.0.0.1 with ephemeral ports, and waiting
 * for them. */
#ifndef ATOLL_TESTS_HARNESS_H
#define ATOLL_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc {
	pid_t pid;
	int port;
	char log[512];
	char portfile[512];
};

/* A fresh directory under $TMPDIR (or /tmp) for one test. */
int h_tmpdir(const char *name, char *out, size_t size);
/* Write text to dir/name; out (optional) receives the path. */
int h_write(const char *dir, const char *name, const char *text, char *out, size_t size);
/* Path of a built program: $ATOLL_BUILD_DIR/<rel>. */
const char *h_build_path(const char *rel);
/* For programs run by hand rather than by ctest: when ATOLL_BUILD_DIR is
 * not set, take the build tree as two levels above this executable
 * (build/<dir>/<sub>/<program>), its modules, and source_dir. */
void h_default_env(const char *source_dir);
const char *h_module_dir(void);
/* Start atoll-coordinator with dir/<config> listening on an ephemeral
 * port; stderr to dir/coordinator.log. Waits until the port is known.
 * extra_args (NULL-terminated, may be NULL) are appended. */
int h_start_coordinator(const char *dir, const char *config, struct proc *p);
/* Start any program with argv (argv[0] a path), stdout+stderr to log. */
int h_spawn(char *const argv[], const char *log, struct proc *p);
/* Send sig and wait up to timeout_ms; *ret_status as from waitpid.
 * -ETIMEDOUT (then the process is killed) or 0. */
int h_stop(struct proc *p, int sig, int timeout_ms, int *ret_status);
/* Is the process still running? */
bool h_alive(struct proc *p);
/* Does the file contain the text? */
bool h_file_contains(const char *path, const char *text);
/* Resident memory of a process in KiB (VmRSS), -1 when unknown. */
long h_rss_kib(pid_t pid);
/* "127.0.0.1:<port>" */
const char *h_target(const struct proc *p);
/* SHA-256 of s as 64 hex digits (for API keys in configs). */
void h_sha256_hex(const char *s, char out[65]);
/* Print the end of a log file to stderr (after a failure). */
void h_dump_log(const char *path);

#endif
