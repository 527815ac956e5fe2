/* Integration test harness: processes and files. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "util/fsutil.h"
#include "util/timeutil.h"

int h_tmpdir(const char *name, char *out, size_t size)
{
	const char *base = getenv("TMPDIR");
	snprintf(out, size, "%s/atoll-%s-XXXXXX", base && *base ? base : "/tmp", name);
	return mkdtemp(out) ? 0 : -errno;
}

int h_write(const char *dir, const char *name, const char *text, char *out, size_t size)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (out)
		snprintf(out, size, "%s", path);
	return fs_write_atomic(path, text, strlen(text), 0644);
}

void h_default_env(const char *source_dir)
{
	if (getenv("ATOLL_BUILD_DIR"))
		return;
	char exe[1024], dir[1024];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = 0;
	fs_dirname(exe, dir, sizeof dir);
	char build[1100], modules[1200];
	snprintf(build, sizeof build, "%s/../..", dir);
	snprintf(modules, sizeof modules, "%s/modules", build);
	setenv("ATOLL_BUILD_DIR", build, 0);
	setenv("ATOLL_MODULE_DIR", modules, 0);
	setenv("ATOLL_SOURCE_DIR", source_dir, 0);
}

const char *h_build_path(const char *rel)
{
	static __thread char path[1024];
	const char *b = getenv("ATOLL_BUILD_DIR");
	snprintf(path, sizeof path, "%s/%s", b ? b : ".", rel);
	return path;
}

const char *h_module_dir(void)
{
	const char *m = getenv("ATOLL_MODULE_DIR");
	return m ? m : h_build_path("modules");
}

int h_spawn(char *const argv[], const char *log, struct proc *p)
{
	snprintf(p->log, sizeof p->log, "%s", log);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* Tests block signals in their own threads; children start clean. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], argv);
		_exit(127);
	}
	p->pid = pid;
	return 0;
}

int h_start_coordinator(const char *dir, const char *config, struct proc *p)
{
	char cfg[1024], log[1024];
	memset(p, 0, sizeof *p);
	snprintf(cfg, sizeof cfg, "%s/%s", dir, config);
	snprintf(log, sizeof log, "%s/coordinator.log", dir);
	snprintf(p->portfile, sizeof p->portfile, "%s/coordinator.port", dir);
	unlink(p->portfile);
	char *argv[] = { (char *)h_build_path("server/atoll-coordinator"), "--config", cfg,
			 "--listen", "127.0.0.1:0", "--port-file", p->portfile, NULL };
	int e = h_spawn(argv, log, p);
	if (e < 0)
		return e;
	for (int i = 0; i < 300; i++) {
		uint8_t *data;
		size_t len;
		if (fs_read_file(p->portfile, 64, &data, &len) == 0) {
			p->port = atoi((char *)data);
			free(data);
			if (p->port > 0)
				return 0;
		}
		if (!h_alive(p)) {
			h_dump_log(log);
			return -ECHILD;
		}
		time_sleep_ms(50);
	}
	h_dump_log(log);
	return -ETIMEDOUT;
}

bool h_alive(struct proc *p)
{
	if (p->pid <= 0)
		return false;
	int st;
	pid_t r = waitpid(p->pid, &st, WNOHANG);
	if (r == p->pid) {
		p->pid = -st - 1; /* remember it is gone */
		return false;
	}
	return r == 0;
}

int h_stop(struct proc *p, int sig, int timeout_ms, int *ret_status)
{
	if (p->pid <= 0) {
		if (ret_status)
			*ret_status = -p->pid - 1;
		return 0;
	}
	kill(p->pid, sig);
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		int st;
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			if (ret_status)
				*ret_status = st;
			return 0;
		}
		time_sleep_ms(20);
	}
	kill(p->pid, SIGKILL);
	int st;
	waitpid(p->pid, &st, 0);
	p->pid = 0;
	if (ret_status)
		*ret_status = st;
	return -ETIMEDOUT;
}

bool h_file_contains(const char *path, const char *text)
{
	uint8_t *data;
	size_t len;
	if (fs_read_file(path, 64 << 20, &data, &len) < 0)
		return false;
	bool found = memmem(data, len, text, strlen(text)) != NULL;
	free(data);
	return found;
}

long h_rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

const char *h_target(const struct proc *p)
{
	static __thread char t[64];
	snprintf(t, sizeof t, "127.0.0.1:%d", p->port);
	return t;
}

void h_sha256_hex(const char *s, char out[65])
{
	uint8_t d[32];
	SHA256((const uint8_t *)s, strlen(s), d);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

void h_dump_log(const char *path)
{
	uint8_t *data;
	size_t len;
	if (fs_read_file(path, 64 << 20, &data, &len) < 0)
		return;
	size_t start = len > 4000 ? len - 4000 : 0;
	fprintf(stderr, "---- %s ----\n%s\n----\n", path, (char *)data + start);
	free(data);
}
