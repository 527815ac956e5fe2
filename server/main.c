/* atoll-coordinator: command line, signals, and the process lifetime. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "coordinator.h"
#include "util/fsutil.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: atoll-coordinator --config FILE [--listen ADDR] [--port-file FILE]\n"
		"       atoll-coordinator --check-config FILE\n"
		"\n"
		"  --config FILE        coordinator.yaml to run with\n"
		"  --check-config FILE  validate FILE, print the first error, exit 0 or 1\n"
		"  --listen ADDR        listen here instead of listen.address (\"127.0.0.1:0\"\n"
		"                       picks a free port)\n"
		"  --port-file FILE     write the bound port to FILE once listening\n"
		"  --http-port-file FILE  write the HTTP gateway's bound port to FILE\n"
		"  --log-level LEVEL    debug, info, warn or error (default info)\n"
		"  --version            print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "http-port-file", required_argument, NULL, 'P' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* gRPC starts its own threads: block the signals first so that only
	 * sigwait below sees them (a SIGTERM during start-up waits too). */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *config = NULL, *check = NULL, *listen = NULL, *port_file = NULL,
		   *http_port_file = NULL;
	enum log_level level = LOG_INFO;
	int o;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'C': check = optarg; break;
		case 'l': listen = optarg; break;
		case 'p': port_file = optarg; break;
		case 'P': http_port_file = optarg; break;
		case 'L':
			if (log_parse_level(optarg, &level) < 0) {
				fprintf(stderr, "atoll-coordinator: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V': printf("atoll-coordinator %s\n", ATOLL_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (!config == !check)) {
		usage(stderr);
		return 2;
	}
	log_init("coordinator", level);

	char err[1024];
	struct coord_config *cfg;
	if (check) {
		if (coord_config_load(check, &cfg, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		coord_config_free(cfg);
		printf("%s: ok\n", check);
		return 0;
	}
	if (coord_config_load(config, &cfg, err, sizeof err) < 0) {
		log_error("%s", err);
		return 1;
	}

	grpc_init();
	struct coordinator *co;
	if (coordinator_start(cfg, listen, &co, err, sizeof err) < 0) {
		log_error("%s", err);
		grpc_shutdown();
		return 1;
	}
	log_info("listening on %s (port %d)", listen ? listen : co->cfg->listen.address, co->port);
	if (port_file) {
		char buf[16];
		int n = snprintf(buf, sizeof buf, "%d\n", co->port);
		int e = fs_write_atomic(port_file, buf, (size_t)n, 0644);
		if (e < 0)
			log_error("cannot write %s: %s", port_file, strerror(-e));
	}
	if (co->gw) {
		log_info("HTTP gateway on %s (port %d)", co->cfg->http.address, co->http_port);
		if (http_port_file) {
			char buf[16];
			int n = snprintf(buf, sizeof buf, "%d\n", co->http_port);
			int e = fs_write_atomic(http_port_file, buf, (size_t)n, 0644);
			if (e < 0)
				log_error("cannot write %s: %s", http_port_file, strerror(-e));
		}
	}
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (coordinator_reload(co, err, sizeof err) < 0)
				log_error("SIGHUP: policy not reloaded: %s", err);
			else
				log_info("SIGHUP: attestation policy reloaded");
			continue;
		}
		log_info("%s: draining (up to %lld ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
			 (long long)co->cfg->limits.drain_timeout_ms);
		break;
	}
	coordinator_stop(co);
	coordinator_free(co);
	grpc_shutdown();
	log_info("stopped");
	return 0;
}
