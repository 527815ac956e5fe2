/* A throwaway PostgreSQL server for tests (pgtest.h). */
#include "pgtest.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool runnable(const char *dir, const char *prog)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, prog);
	return access(p, X_OK) == 0;
}

/* $ATOLL_PG_BIN, then the newest /usr/lib/postgresql/<v>/bin. */
static int find_bin(char *out, size_t size)
{
	const char *env = getenv("ATOLL_PG_BIN");
	if (env && runnable(env, "initdb")) {
		snprintf(out, size, "%s", env);
		return 0;
	}
	DIR *d = opendir("/usr/lib/postgresql");
	int best = -1;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int v = atoi(e->d_name);
		char bin[300];
		snprintf(bin, sizeof bin, "/usr/lib/postgresql/%s/bin", e->d_name);
		if (v > best && runnable(bin, "initdb") && runnable(bin, "pg_ctl")) {
			best = v;
			snprintf(out, size, "%s", bin);
		}
	}
	if (d)
		closedir(d);
	return best < 0 ? -ENOENT : 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Run a PostgreSQL program with args, as postgres when needed, output to
 * the log. Its exit status. */
static int run(struct pgtest *pg, const char *prog, const char *const *args)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", pg->bin, prog);
	const char *argv[32];
	size_t n = 0;
	if (pg->as_postgres) {
		argv[n++] = "runuser";
		argv[n++] = "-u";
		argv[n++] = "postgres";
		argv[n++] = "--";
	}
	argv[n++] = path;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		FILE *f = fopen(pg->log, "a");
		if (f) {
			dup2(fileno(f), 1);
			dup2(fileno(f), 2);
		}
		if (chdir(pg->dir) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int server_start(struct pgtest *pg)
{
	char opts[700];
	snprintf(opts, sizeof opts,
		 "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=%s -c max_connections=100"
		 " -c shared_buffers=32MB",
		 pg->port, pg->dir, pg->durable ? "on" : "off");
	char data[600];
	snprintf(data, sizeof data, "%s/data", pg->dir);
	const char *args[] = { "-D", data, "-o", opts, "-l", "server.log", "-w", "-t", "30",
			       "start", NULL };
	return run(pg, "pg_ctl", args) == 0 ? 0 : -EIO;
}

int pgt_start(struct pgtest *pg, bool durable, char *why, size_t why_size)
{
	memset(pg, 0, sizeof *pg);
	pg->durable = durable;
	if (find_bin(pg->bin, sizeof pg->bin) < 0) {
		snprintf(why, why_size,
			 "PostgreSQL not found (no initdb under /usr/lib/postgresql/*/bin or "
			 "$ATOLL_PG_BIN; scripts/deps.sh installs it)");
		return -ENOENT;
	}
	pg->as_postgres = geteuid() == 0;
	struct passwd *pw = pg->as_postgres ? getpwnam("postgres") : NULL;
	if (pg->as_postgres && !pw) {
		snprintf(why, why_size, "running as root and there is no postgres user to run "
					"PostgreSQL as");
		return -ENOENT;
	}
	/* Its own directory outside the test's (which may be private to
	 * root), owned by the user the server runs as. */
	snprintf(pg->dir, sizeof pg->dir, "/tmp/atoll-pg-XXXXXX");
	if (!mkdtemp(pg->dir)) {
		snprintf(why, why_size, "mkdtemp: %s", strerror(errno));
		return -errno;
	}
	if (pw && chown(pg->dir, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(why, why_size, "chown %s: %s", pg->dir, strerror(errno));
		return -errno;
	}
	chmod(pg->dir, 0755);
	snprintf(pg->log, sizeof pg->log, "%s/ctl.log", pg->dir);
	FILE *f = fopen(pg->log, "w");
	if (f)
		fclose(f);
	if (pw && chown(pg->log, pw->pw_uid, pw->pw_gid) < 0)
		return -errno;
	char data[600];
	snprintf(data, sizeof data, "%s/data", pg->dir);
	const char *args[] = { "-D", data, "-A", "trust", "-U", "atoll", "--no-sync", "-E", "UTF8",
			       NULL };
	if (run(pg, "initdb", args) != 0) {
		snprintf(why, why_size, "initdb failed (see %s)", pg->log);
		return -EIO;
	}
	for (int tries = 0; tries < 5; tries++) {
		pg->port = free_port();
		if (server_start(pg) == 0) {
			snprintf(pg->dsn, sizeof pg->dsn,
				 "host=127.0.0.1 port=%d user=atoll dbname=postgres", pg->port);
			return 0;
		}
	}
	snprintf(why, why_size, "pg_ctl start failed (see %s and %s/server.log)", pg->log, pg->dir);
	return -EIO;
}

int pgt_stop(struct pgtest *pg)
{
	char data[600];
	snprintf(data, sizeof data, "%s/data", pg->dir);
	const char *args[] = { "-D", data, "-m", "fast", "-w", "stop", NULL };
	return run(pg, "pg_ctl", args) == 0 ? 0 : -EIO;
}

int pgt_restart(struct pgtest *pg)
{
	return server_start(pg);
}

void pgt_destroy(struct pgtest *pg)
{
	if (!pg->dir[0])
		return;
	char data[600];
	snprintf(data, sizeof data, "%s/data", pg->dir);
	const char *args[] = { "-D", data, "-m", "immediate", "-w", "stop", NULL };
	run(pg, "pg_ctl", args);
	if (getenv("ATOLL_KEEP_PG"))
		return;
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", pg->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", pg->dir);
}
