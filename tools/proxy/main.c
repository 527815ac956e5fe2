/* atoll-proxy: command line, start-up, signals. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <openssl/crypto.h>

#include "proxy.h"
#include "util/fsutil.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: atoll-proxy --config proxy.yaml [--listen ADDR] [--port-file FILE]\n"
		"       atoll-proxy --check-config proxy.yaml\n"
		"\n"
		"Serves the seed's HTTP API on this machine (default 127.0.0.1:8787): keys made\n"
		"and kept here, islands verified against your policy, inputs sealed and outputs\n"
		"opened here; jobs go to the coordinator over gRPC.\n"
		"\n"
		"  --config FILE        proxy.yaml (config/proxy.yaml documents it)\n"
		"  --check-config FILE  validate FILE and exit\n"
		"  --listen ADDR        listen here instead of listen.address\n"
		"  --port-file FILE     write the bound port to FILE once listening\n"
		"  --log-level LEVEL    debug, info, warn or error\n"
		"Environment: ATOLL_API_KEY (the coordinator API key used for requests that\n"
		"bring no Authorization header) overrides coordinator.api_key.\n");
}

static int read_pem(const char *path, char **out, char *err, size_t err_size)
{
	size_t len;
	*out = NULL;
	if (!path)
		return 0;
	int e = fs_read_file(path, 1 << 20, (uint8_t **)out, &len);
	if (e < 0)
		snprintf(err, err_size, "cannot read %s: %s", path, strerror(-e));
	return e;
}

static void free_pem(char *p)
{
	if (p)
		OPENSSL_cleanse(p, strlen(p));
	free(p);
}

static int start(struct proxy *p, const char *listen, int *port, char *err, size_t err_size)
{
	const struct proxy_config *cfg = p->cfg;
	int e = cl_keystore_open(cfg->keystore, &p->ks);
	if (e < 0) {
		snprintf(err, err_size, "keystore %s: %s", cfg->keystore ? cfg->keystore : "~/.atoll/keys",
			 strerror(-e));
		return e;
	}
	if ((e = pending_key_load(p, err, err_size)) < 0)
		return e;
	if (cfg->policy && (e = cl_trust_load(cfg->policy, &p->trust, err, err_size)) < 0)
		return e;
	char *ca = NULL, *cert = NULL, *key = NULL;
	if ((e = read_pem(cfg->coordinator.tls_ca, &ca, err, err_size)) < 0 ||
	    (e = read_pem(cfg->coordinator.tls_cert, &cert, err, err_size)) < 0 ||
	    (e = read_pem(cfg->coordinator.tls_key, &key, err, err_size)) < 0)
		goto out;
	struct rpc_client_opts ro = {
		.tls_ca_pem = ca,
		.tls_cert_pem = cert,
		.tls_key_pem = key,
		.tls_server_name = cfg->coordinator.tls_server_name,
	};
	if ((e = rpc_client_new(cfg->coordinator.address, &ro, &p->rpc)) < 0) {
		snprintf(err, err_size, "cannot set up the channel to %s", cfg->coordinator.address);
		goto out;
	}
	free_pem(ca);
	free_pem(cert);
	free_pem(key);
	ca = cert = key = NULL;
	if ((e = read_pem(cfg->listen.tls_cert, &cert, err, err_size)) < 0 ||
	    (e = read_pem(cfg->listen.tls_key, &key, err, err_size)) < 0)
		goto out;
	struct httpd_opts ho = {
		.address = listen ? listen : cfg->listen.address,
		.max_body_bytes = cfg->limits.max_body_bytes,
		.max_connections = cfg->limits.max_connections,
		.keepalive_ms = cfg->limits.sse_keepalive_ms,
		.tls_cert_pem = cert,
		.tls_key_pem = key,
	};
	e = httpd_start(&ho, proxy_handle, p, &p->httpd, port, err, err_size);
out:
	free_pem(ca);
	free_pem(cert);
	free_pem(key);
	return e;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	const char *config = NULL, *check = NULL, *listen = NULL, *port_file = NULL;
	enum log_level level = LOG_INFO;
	int o;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'C': check = optarg; break;
		case 'l': listen = optarg; break;
		case 'p': port_file = optarg; break;
		case 'L':
			if (log_parse_level(optarg, &level) < 0) {
				fprintf(stderr, "atoll-proxy: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V': printf("atoll-proxy %s\n", ATOLL_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (!config == !check)) {
		usage(stderr);
		return 2;
	}
	log_init("proxy", level);
	char err[4096];
	struct proxy_config *cfg;
	if (proxy_config_load(check ? check : config, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		proxy_config_free(cfg);
		printf("%s: ok\n", check);
		return 0;
	}
	const char *env_key = getenv("ATOLL_API_KEY");
	if (env_key && env_key[0]) {
		free(cfg->coordinator.api_key);
		cfg->coordinator.api_key = strdup(env_key);
	}
	grpc_init();
	struct proxy p = { .cfg = cfg };
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	int port = 0, rc = 0;
	if (start(&p, listen, &port, err, sizeof err) < 0) {
		log_error("%s", err);
		rc = 1;
		goto out;
	}
	log_info("listening on %s (port %d), coordinator %s%s", listen ? listen : cfg->listen.address,
		 port, cfg->coordinator.address,
		 p.trust ? "" : "; no policy: confidential jobs are refused");
	if (port_file) {
		char buf[16];
		int n = snprintf(buf, sizeof buf, "%d\n", port);
		int e = fs_write_atomic(port_file, buf, (size_t)n, 0644);
		if (e < 0)
			log_error("cannot write %s: %s", port_file, strerror(-e));
	}
	int sig;
	while (sigwait(&set, &sig) != 0)
		;
	log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
out:
	httpd_stop(p.httpd);
	/* Streams' threads end once their watches are cancelled. */
	pthread_mutex_lock(&p.mu);
	while (p.watches > 0)
		pthread_cond_wait(&p.cv, &p.mu);
	pthread_mutex_unlock(&p.mu);
	rpc_client_free(p.rpc);
	cl_trust_free(p.trust);
	OPENSSL_cleanse(p.pending_key, sizeof p.pending_key);
	proxy_config_free(cfg);
	grpc_shutdown();
	return rc;
}
