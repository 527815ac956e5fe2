/* A PostgreSQL server for a test: initdb and pg_ctl in a temporary
 * directory, as an unprivileged user (the postgres system user when the
 * test runs as root), listening on a free loopback port. */
#ifndef ATOLL_TESTS_PGTEST_H
#define ATOLL_TESTS_PGTEST_H

#include <stdbool.h>
#include <stddef.h>

struct pgtest {
	char bin[512];  /* folder of initdb, pg_ctl */
	char dir[512];  /* data directory (and its socket) */
	char log[600];
	int port;
	char dsn[256];
	bool as_postgres; /* commands run as the postgres user */
	bool durable;
};

/* Find PostgreSQL, initdb, start (durable: with fsync, else without). 0; -ENOENT when PostgreSQL is not
 * installed (why says so: the test skips); another -errno on failure. */
int pgt_start(struct pgtest *pg, bool durable, char *why, size_t why_size);
/* Stop the server (fast shutdown), keeping its data. */
int pgt_stop(struct pgtest *pg);
/* Start it again on the same port. */
int pgt_restart(struct pgtest *pg);
/* Stop and remove everything. */
void pgt_destroy(struct pgtest *pg);

#endif
