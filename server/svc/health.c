/* grpc.health.v1.Health. Check answers from the table (NOT_FOUND for a
 * service it does not know); Watch sends the current status at once and
 * then every change, until the caller leaves or the server shuts down. */
#include "svc/health.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

#define MAX_SERVICES 32

struct watcher {
	struct watcher *next;
	rpc_call *call;
	char *service;
};

struct health {
	pthread_mutex_t mu;
	char *names[MAX_SERVICES];
	int status[MAX_SERVICES];
	size_t n;
	struct watcher *watchers;
	bool shut;
};

int health_new(struct health **ret)
{
	struct health *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->mu, NULL);
	*ret = h;
	return 0;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	while (h->watchers) {
		struct watcher *w = h->watchers;
		h->watchers = w->next;
		rpc_call_unref(w->call);
		free(w->service);
		free(w);
	}
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static long lookup(const struct health *h, const char *service)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->names[i], service) == 0)
			return (long)i;
	return -1;
}

static void send_status(rpc_call *call, int status)
{
	Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
	rpc_call_send(call, &resp.base);
}

int health_set(struct health *h, const char *service, int status)
{
	pthread_mutex_lock(&h->mu);
	long i = lookup(h, service);
	if (i < 0) {
		if (h->n == MAX_SERVICES) {
			pthread_mutex_unlock(&h->mu);
			return -E2BIG;
		}
		h->names[h->n] = strdup(service);
		if (!h->names[h->n]) {
			pthread_mutex_unlock(&h->mu);
			return -ENOMEM;
		}
		i = (long)h->n++;
	} else if (h->status[i] == status) {
		pthread_mutex_unlock(&h->mu);
		return 0;
	}
	h->status[i] = status;
	for (struct watcher *w = h->watchers; w; w = w->next)
		if (strcmp(w->service, service) == 0)
			send_status(w->call, status);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

void health_shutdown(void *ud)
{
	struct health *h = ud;
	pthread_mutex_lock(&h->mu);
	h->shut = true;
	for (size_t i = 0; i < h->n; i++)
		h->status[i] = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	for (struct watcher *w = h->watchers; w; w = w->next) {
		send_status(w->call, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
		rpc_call_finish(w->call, GRPC_STATUS_UNAVAILABLE, "server shutting down");
	}
	pthread_mutex_unlock(&h->mu);
}

static void check(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct health *h = ud;
	const Grpc__Health__V1__HealthCheckRequest *r = (const void *)req;
	pthread_mutex_lock(&h->mu);
	long i = lookup(h, r->service);
	int status = i >= 0 ? h->status[i] : -1;
	pthread_mutex_unlock(&h->mu);
	if (status < 0) {
		rpc_call_finishf(call, GRPC_STATUS_NOT_FOUND, "unknown service '%s'", r->service);
		return;
	}
	Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
	rpc_call_reply(call, &resp.base);
}

static void watch(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct health *h = ud;
	const Grpc__Health__V1__HealthCheckRequest *r = (const void *)req;
	struct watcher *w = calloc(1, sizeof *w);
	if (!w || !(w->service = strdup(r->service))) {
		free(w);
		rpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	pthread_mutex_lock(&h->mu);
	if (h->shut) {
		pthread_mutex_unlock(&h->mu);
		free(w->service);
		free(w);
		rpc_call_finish(call, GRPC_STATUS_UNAVAILABLE, "server shutting down");
		return;
	}
	long i = lookup(h, r->service);
	send_status(call, i >= 0 ? h->status[i]
				 : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN);
	w->call = rpc_call_ref(call);
	w->next = h->watchers;
	h->watchers = w;
	rpc_call_set_user(call, w);
	pthread_mutex_unlock(&h->mu);
}

static void watch_done(rpc_call *call, bool cancelled, void *ud)
{
	struct health *h = ud;
	struct watcher *mine = rpc_call_user(call);
	if (!mine)
		return;
	pthread_mutex_lock(&h->mu);
	for (struct watcher **pp = &h->watchers; *pp; pp = &(*pp)->next) {
		if (*pp == mine) {
			*pp = mine->next;
			break;
		}
	}
	pthread_mutex_unlock(&h->mu);
	rpc_call_unref(mine->call);
	free(mine->service);
	free(mine);
}

int health_register(struct health *h, rpc_server *s)
{
	rpc_method m = {
		.path = "/grpc.health.v1.Health/Check",
		.kind = RPC_UNARY,
		.request = &grpc__health__v1__health_check_request__descriptor,
		.on_start = check,
		.ud = h,
	};
	int e = rpc_server_add_method(s, &m);
	if (e < 0)
		return e;
	m.path = "/grpc.health.v1.Health/Watch";
	m.kind = RPC_SERVER_STREAM;
	m.on_start = watch;
	m.on_done = watch_done;
	return rpc_server_add_method(s, &m);
}
