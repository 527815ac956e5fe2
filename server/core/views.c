/* Read-only views of the registry: statistics, the islands with their
 * attestation, the enclave keys a custodial Encrypt seals to. Each view
 * copies what it returns, so callers use it without the core's lock. */
#include "core/internal.h"
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void count(struct core_count *list, size_t *n, const char *name)
{
	size_t k = 0;
	while (k < *n && strcmp(list[k].name, name) != 0)
		k++;
	if (k == *n) {
		snprintf(list[k].name, sizeof list[k].name, "%s", name);
		list[k].n = 0;
		(*n)++;
	}
	list[k].n++;
}

int core_stats(struct core *c, struct core_stats *out)
{
	memset(out, 0, sizeof *out);
	core_lock(c);
	size_t n = c->islands.count + c->n_fleet;
	/* At most one entry per island in each list. */
	out->attested_by_tee = calloc(n + 1, sizeof *out->attested_by_tee);
	out->connected_by_tee = calloc(n + 1, sizeof *out->connected_by_tee);
	if (!out->attested_by_tee || !out->connected_by_tee) {
		core_unlock(c);
		core_stats_clear(out);
		return -ENOMEM;
	}
	size_t pos = 0;
	struct session *s;
	while ((s = hmap_next(&c->islands, &pos, NULL, NULL))) {
		out->connected++;
		out->slots += s->slots;
		out->busy_slots += s->running;
		if (s->state == ISLAND_ATTESTED)
			out->attested++;
		else if (s->state == ISLAND_REVOKED)
			out->revoked++;
		else
			out->unattested++;
		if (s->tee_type[0])
			count(out->connected_by_tee, &out->n_connected_by_tee, s->tee_type);
		if (s->state == ISLAND_ATTESTED)
			count(out->attested_by_tee, &out->n_attested_by_tee, s->tee_type);
	}
	/* With a shared store: the other coordinators' islands too. */
	for (size_t i = 0; i < c->n_fleet; i++) {
		const struct island_row *r = &c->fleet[i];
		if (!fleet_row_shown(c, i))
			continue;
		out->connected++;
		out->slots += r->slots;
		out->busy_slots += r->running;
		if (r->state == ISLAND_ATTESTED)
			out->attested++;
		else if (r->state == ISLAND_REVOKED)
			out->revoked++;
		else
			out->unattested++;
		if (r->tee_type[0])
			count(out->connected_by_tee, &out->n_connected_by_tee, r->tee_type);
		if (r->state == ISLAND_ATTESTED)
			count(out->attested_by_tee, &out->n_attested_by_tee, r->tee_type);
	}
	core_unlock(c);
	return 0;
}

void core_stats_clear(struct core_stats *s)
{
	free(s->attested_by_tee);
	free(s->connected_by_tee);
	memset(s, 0, sizeof *s);
}

static void *dup_bytes(const void *p, size_t len)
{
	uint8_t *d = malloc(len + 1);
	if (d)
		memcpy(d, p, len);
	return d;
}

static int view_of(const struct session *s, struct island_view *v)
{
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", s->id);
	v->state = s->state;
	snprintf(v->reason, sizeof v->reason, "%s", s->reason);
	snprintf(v->tee_type, sizeof v->tee_type, "%s", s->tee_type);
	memcpy(v->enclave_pub, s->enclave_pub, CORE_KEY_LEN);
	v->has_pub = s->has_pub;
	if (s->evidence) {
		if (!(v->evidence = dup_bytes(s->evidence, s->evidence_len)))
			return -ENOMEM;
		v->evidence_len = s->evidence_len;
	}
	if (s->manifest) {
		if (!(v->manifest = dup_bytes(s->manifest, s->manifest_len)))
			return -ENOMEM;
		v->manifest_len = s->manifest_len;
	}
	if (!(v->collateral = calloc(s->n_collateral + 1, sizeof *v->collateral)))
		return -ENOMEM;
	for (size_t i = 0; i < s->n_collateral; i++) {
		uint8_t *d = dup_bytes(s->collateral[i].data, s->collateral[i].len);
		if (!d)
			return -ENOMEM;
		v->collateral[v->n_collateral++] = (atoll_blob){ d, s->collateral[i].len };
	}
	if (s->attested_ms) {
		memcpy(v->nonce, s->att_nonce, CORE_NONCE_LEN);
		v->attested_ms = s->attested_ms;
		v->valid_until_ms = s->valid_until_ms;
	}
	if (!(v->claims = calloc(s->n_claims + 1, sizeof *v->claims)))
		return -ENOMEM;
	for (size_t i = 0; i < s->n_claims; i++) {
		char *nm = strdup(s->claims[i].name), *val = strdup(s->claims[i].value);
		if (!nm || !val) {
			free(nm);
			free(val);
			return -ENOMEM;
		}
		v->claims[v->n_claims++] = (struct attest_kv){ nm, val };
	}
	if (!(v->workload_ids = calloc(s->n_offers + 1, sizeof *v->workload_ids)))
		return -ENOMEM;
	for (size_t i = 0; i < s->n_offers; i++)
		v->workload_ids[v->n_workload_ids++] = s->offers[i].workload_id;
	return 0;
}

static bool serves(const struct session *s, uint32_t workload_id)
{
	return !workload_id || session_offer(s, workload_id);
}

int core_list_islands(struct core *c, uint32_t workload_id, bool include_unattested,
		      struct island_view **ret, size_t *ret_n)
{
	core_lock(c);
	struct island_view *list = calloc(c->islands.count + c->n_fleet + 1, sizeof *list);
	size_t k = 0, pos = 0;
	int e = list ? 0 : -ENOMEM;
	struct session *s;
	while (!e && (s = hmap_next(&c->islands, &pos, NULL, NULL))) {
		if ((!include_unattested && s->state != ISLAND_ATTESTED) || !serves(s, workload_id))
			continue;
		e = view_of(s, &list[k++]);
	}
	for (size_t i = 0; !e && i < c->n_fleet; i++) {
		const struct island_row *r = &c->fleet[i];
		if ((!include_unattested && r->state != ISLAND_ATTESTED) ||
		    !fleet_row_serves(r, workload_id, 0) || !fleet_row_shown(c, i))
			continue;
		e = fleet_view(r, &list[k++]);
	}
	core_unlock(c);
	if (e < 0) {
		island_views_free(list, k);
		return e;
	}
	*ret = list;
	*ret_n = k;
	return 0;
}

void island_views_free(struct island_view *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].evidence);
		free(v[i].manifest);
		for (size_t k = 0; k < v[i].n_collateral; k++)
			free((void *)v[i].collateral[k].data);
		free(v[i].collateral);
		attest_kv_free(v[i].claims, v[i].n_claims);
		free(v[i].workload_ids);
	}
	free(v);
}

size_t core_attested_keys(struct core *c, uint32_t workload_id, uint8_t (*keys)[32],
			  char (*ids)[128], size_t max)
{
	size_t n = 0, pos = 0;
	struct session *s;
	core_lock(c);
	while (n < max && (s = hmap_next(&c->islands, &pos, NULL, NULL))) {
		if (s->state != ISLAND_ATTESTED || !s->has_pub)
			continue;
		bool ok = false;
		for (size_t i = 0; i < s->n_offers; i++)
			if ((!workload_id || s->offers[i].workload_id == workload_id) &&
			    (s->offers[i].modes & ATOLL_MODE_BIT(ATOLL_MODE_TEE)))
				ok = true;
		if (!ok)
			continue;
		memcpy(keys[n], s->enclave_pub, 32);
		snprintf(ids[n], 128, "%s", s->id);
		n++;
	}
	for (size_t i = 0; n < max && i < c->n_fleet; i++) {
		const struct island_row *r = &c->fleet[i];
		if (r->state != ISLAND_ATTESTED || !r->has_pub || !fleet_row_shown(c, i) ||
		    !fleet_row_serves(r, workload_id, ATOLL_MODE_BIT(ATOLL_MODE_TEE)))
			continue;
		memcpy(keys[n], r->enclave_pub, 32);
		snprintf(ids[n], 128, "%s", r->id);
		n++;
	}
	core_unlock(c);
	return n;
}

void core_metrics(struct core *c, struct metrics_gauges *g)
{
	memset(g, 0, sizeof *g);
	pthread_mutex_lock(&c->mu);
	size_t pos = 0;
	struct job *j;
	while ((j = hmap_next(&c->jobs, &pos, NULL, NULL))) {
		if (j->row.mode < 4 && j->row.state >= 1 && j->row.state < 4)
			g->jobs[j->row.mode][j->row.state]++;
		if (j->row.state == JOB_QUEUED)
			g->queue_depth++;
	}
	pos = 0;
	struct session *s;
	while ((s = hmap_next(&c->islands, &pos, NULL, NULL))) {
		size_t k = 0;
		while (k < g->n_islands && strcmp(g->islands[k].tee, s->tee_type) != 0)
			k++;
		if (k == g->n_islands) {
			/* TEE types come from the loaded drivers: a handful. */
			if (k == sizeof g->islands / sizeof g->islands[0])
				continue;
			snprintf(g->islands[k].tee, sizeof g->islands[k].tee, "%s", s->tee_type);
			g->n_islands++;
		}
		if (s->state >= 1 && s->state < 4)
			g->islands[k].by_state[s->state]++;
	}
	g->watchers = (uint32_t)c->watchers.count;
	pthread_mutex_unlock(&c->mu);
	struct core_limit lim[32];
	size_t n = core_limit_counts(c, lim, 32);
	for (size_t i = 0; i < n; i++) {
		g->limits[i].what = lim[i].what;
		g->limits[i].n = lim[i].n;
	}
	g->n_limits = n;
}
