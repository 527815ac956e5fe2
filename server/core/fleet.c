/* The fleet (shared store): each coordinator attests its own island
 * streams and publishes them, with their evidence, claims and manifest,
 * so that GetStats, ListAttestedIslands and the recipient keys a
 * custodial Encrypt offers cover every coordinator. The claimer thread
 * publishes them every second and keeps a copy of the others' islands; the views add that copy to the local
 * registry. A coordinator that stops publishing drops out of the views
 * after FLEET_MAX_AGE_MS.
 *
 * Claims, collateral and offers travel as length-prefixed lists (u32
 * big-endian lengths) that only this file writes and reads; every length
 * is checked against what is left before it is used. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/log.h"

#define FLEET_MAX_AGE_MS 3000

static void put_u32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	buf_append(b, p, 4);
}

static bool get_u32(const uint8_t *p, size_t len, size_t *off, uint32_t *v)
{
	if (*off > len || len - *off < 4)
		return false;
	p += *off;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	*off += 4;
	return true;
}

/* The next length-prefixed item, or false at the end or on a bad length. */
static bool get_item(const uint8_t *p, size_t len, size_t *off, const uint8_t **item,
		     size_t *item_len)
{
	uint32_t n;
	if (!get_u32(p, len, off, &n) || n > len - *off)
		return false;
	*item = p + *off;
	*item_len = n;
	*off += n;
	return true;
}

static uint8_t *take(struct buf *b, size_t *ret_len)
{
	*ret_len = b->len;
	uint8_t *d = b->data;
	memset(b, 0, sizeof *b);
	return d;
}

static uint8_t *dup_blob(const uint8_t *p, size_t len, size_t *ret_len)
{
	*ret_len = 0;
	if (!p)
		return NULL;
	uint8_t *d = malloc(len + 1);
	if (d) {
		memcpy(d, p, len);
		d[len] = 0;
		*ret_len = len;
	}
	return d;
}

/* A registered session as a row. Lock held. */
static void row_of(const struct session *s, struct island_row *r)
{
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", s->id);
	r->state = s->state;
	snprintf(r->reason, sizeof r->reason, "%s", s->reason);
	snprintf(r->tee_type, sizeof r->tee_type, "%s", s->tee_type);
	memcpy(r->enclave_pub, s->enclave_pub, 32);
	r->has_pub = s->has_pub;
	r->slots = s->slots;
	r->running = s->running;
	if (s->attested_ms) {
		r->attested_ms = s->attested_ms;
		r->valid_until_ms = s->valid_until_ms;
		memcpy(r->nonce, s->att_nonce, 32);
	}
	r->evidence = dup_blob(s->evidence, s->evidence_len, &r->evidence_len);
	r->manifest = dup_blob(s->manifest, s->manifest_len, &r->manifest_len);
	struct buf b = { 0 };
	for (size_t i = 0; i < s->n_claims; i++) {
		size_t nl = strlen(s->claims[i].name), vl = strlen(s->claims[i].value);
		put_u32(&b, (uint32_t)nl);
		buf_append(&b, s->claims[i].name, nl);
		put_u32(&b, (uint32_t)vl);
		buf_append(&b, s->claims[i].value, vl);
	}
	r->claims = take(&b, &r->claims_len);
	for (size_t i = 0; i < s->n_collateral; i++) {
		put_u32(&b, (uint32_t)s->collateral[i].len);
		buf_append(&b, s->collateral[i].data, s->collateral[i].len);
	}
	r->collateral = take(&b, &r->collateral_len);
	for (size_t i = 0; i < s->n_offers; i++) {
		put_u32(&b, s->offers[i].workload_id);
		put_u32(&b, s->offers[i].modes);
	}
	r->offers = take(&b, &r->offers_len);
}

struct fleet_acc {
	struct island_row *rows;
	size_t n, cap;
};

static void add_row(struct island_row *r, void *ud)
{
	struct fleet_acc *a = ud;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct island_row *v = realloc(a->rows, cap * sizeof *v);
		if (!v) {
			island_row_clear(r);
			return;
		}
		a->rows = v;
		a->cap = cap;
	}
	a->rows[a->n++] = *r;
}

static void free_rows(struct island_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		island_row_clear(&rows[i]);
	free(rows);
}

void fleet_sync(struct core *c)
{
	/* Published every time: the publication is also the sign that this
	 * coordinator is alive. */
	core_lock(c);
	size_t n = 0, pos = 0;
	struct island_row *rows = calloc(c->islands.count + 1, sizeof *rows);
	struct session *s;
	while (rows && (s = hmap_next(&c->islands, &pos, NULL, NULL)))
		row_of(s, &rows[n++]);
	core_unlock(c);
	if (rows)
		store_publish_islands(c->store, rows, n);
	free_rows(rows, n);

	struct fleet_acc a = { 0 };
	if (store_fleet_islands(c->store, FLEET_MAX_AGE_MS, add_row, &a) < 0) {
		free_rows(a.rows, a.n);
		return;
	}
	core_lock(c);
	struct island_row *old = c->fleet;
	size_t old_n = c->n_fleet;
	c->fleet = a.rows;
	c->n_fleet = a.n;
	core_unlock(c);
	free_rows(old, old_n);
}

void fleet_free(struct core *c)
{
	free_rows(c->fleet, c->n_fleet);
	c->fleet = NULL;
	c->n_fleet = 0;
}

/* ---- views of the others' islands (lock held) ---- */

/* A row to show: not an island this coordinator holds itself (a stream
 * that moved here while the old coordinator's rows linger), and not one
 * already shown. */
bool fleet_row_shown(struct core *c, size_t i)
{
	const struct island_row *r = &c->fleet[i];
	if (hmap_gets(&c->islands, r->id))
		return false;
	for (size_t k = 0; k < i; k++)
		if (strcmp(c->fleet[k].id, r->id) == 0)
			return false;
	return true;
}

bool fleet_row_serves(const struct island_row *r, uint32_t workload_id, uint32_t mode_bit)
{
	size_t off = 0;
	uint32_t wl, modes;
	while (get_u32(r->offers, r->offers_len, &off, &wl) &&
	       get_u32(r->offers, r->offers_len, &off, &modes))
		if ((!workload_id || wl == workload_id) && (!mode_bit || (modes & mode_bit)))
			return true;
	return false;
}

int fleet_view(const struct island_row *r, struct island_view *v)
{
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", r->id);
	v->state = r->state;
	snprintf(v->reason, sizeof v->reason, "%s", r->reason);
	snprintf(v->tee_type, sizeof v->tee_type, "%s", r->tee_type);
	memcpy(v->enclave_pub, r->enclave_pub, 32);
	v->has_pub = r->has_pub;
	if (r->evidence && !(v->evidence = dup_blob(r->evidence, r->evidence_len, &v->evidence_len)))
		return -ENOMEM;
	if (r->manifest && !(v->manifest = dup_blob(r->manifest, r->manifest_len, &v->manifest_len)))
		return -ENOMEM;
	if (r->attested_ms) {
		memcpy(v->nonce, r->nonce, CORE_NONCE_LEN);
		v->attested_ms = r->attested_ms;
		v->valid_until_ms = r->valid_until_ms;
	}
	size_t off = 0, n = 0;
	const uint8_t *a, *b;
	size_t al, bl;
	while (get_item(r->claims, r->claims_len, &off, &a, &al) &&
	       get_item(r->claims, r->claims_len, &off, &b, &bl))
		n++;
	if (!(v->claims = calloc(n + 1, sizeof *v->claims)))
		return -ENOMEM;
	off = 0;
	while (v->n_claims < n && get_item(r->claims, r->claims_len, &off, &a, &al) &&
	       get_item(r->claims, r->claims_len, &off, &b, &bl)) {
		char *nm = strndup((const char *)a, al), *val = strndup((const char *)b, bl);
		if (!nm || !val) {
			free(nm);
			free(val);
			return -ENOMEM;
		}
		v->claims[v->n_claims++] = (struct attest_kv){ nm, val };
	}
	off = n = 0;
	while (get_item(r->collateral, r->collateral_len, &off, &a, &al))
		n++;
	if (!(v->collateral = calloc(n + 1, sizeof *v->collateral)))
		return -ENOMEM;
	off = 0;
	while (v->n_collateral < n && get_item(r->collateral, r->collateral_len, &off, &a, &al)) {
		size_t dl;
		uint8_t *d = dup_blob(a, al, &dl);
		if (!d)
			return -ENOMEM;
		v->collateral[v->n_collateral++] = (atoll_blob){ d, dl };
	}
	if (!(v->workload_ids = calloc(r->offers_len / 8 + 1, sizeof *v->workload_ids)))
		return -ENOMEM;
	off = 0;
	uint32_t wl, modes;
	while (get_u32(r->offers, r->offers_len, &off, &wl) &&
	       get_u32(r->offers, r->offers_len, &off, &modes))
		v->workload_ids[v->n_workload_ids++] = wl;
	return 0;
}
