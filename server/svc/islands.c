/* atoll.v1.Islands/Connect: authenticate the island's token, turn each
 * IslandMessage into a call on the core, and send what the core hands to
 * the session as CoordinatorMessages. */
#include <errno.h>
#include <stdlib.h>

#include "atoll/v1/islands.pb-c.h"
#include "attest/wire.h"
#include "auth.h"
#include "coordinator.h"
#include "svc/pbconv.h"
#include "util/timeutil.h"
#include "util/log.h"

#define MAX_OFFERS 1024

static void send(void *peer, Atoll__V1__CoordinatorMessage *m)
{
	rpc_call_send(peer, &m->base);
}

static void op_welcome(void *peer, const struct core_welcome *w)
{
	Atoll__V1__WorkloadVerdict *v = calloc(w->n_workloads + 1, sizeof *v);
	Atoll__V1__WorkloadVerdict **vp = calloc(w->n_workloads + 1, sizeof *vp);
	if (!v || !vp) {
		free(v);
		free(vp);
		rpc_call_fail(peer, -ENOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < w->n_workloads; i++) {
		atoll__v1__workload_verdict__init(&v[i]);
		v[i].workload_id = w->workloads[i].workload_id;
		v[i].accepted = w->workloads[i].accepted;
		v[i].reason = (char *)w->workloads[i].reason;
		vp[i] = &v[i];
	}
	Atoll__V1__Welcome wm = ATOLL__V1__WELCOME__INIT;
	wm.session_id = (char *)w->session_id;
	wm.heartbeat_interval_ms = (uint32_t)w->heartbeat_interval_ms;
	wm.n_workloads = w->n_workloads;
	wm.workloads = vp;
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_WELCOME;
	m.welcome = &wm;
	send(peer, &m);
	free(v);
	free(vp);
}

static void op_challenge(void *peer, const uint8_t *nonce, size_t len, int64_t expires_ms)
{
	Atoll__V1__Challenge ch = ATOLL__V1__CHALLENGE__INIT;
	Google__Protobuf__Timestamp exp;
	pb_ts_set(&exp, expires_ms);
	ch.nonce.data = (uint8_t *)nonce;
	ch.nonce.len = len;
	ch.expires_at = &exp;
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_CHALLENGE;
	m.challenge = &ch;
	send(peer, &m);
}

static void op_attestation(void *peer, int state, const char *reason, int64_t valid_until_ms)
{
	Atoll__V1__AttestationResult r = ATOLL__V1__ATTESTATION_RESULT__INIT;
	Google__Protobuf__Timestamp until;
	r.state = (Atoll__V1__IslandState)state;
	r.reason = (char *)reason;
	if (valid_until_ms) {
		pb_ts_set(&until, valid_until_ms);
		r.valid_until = &until;
	}
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_ATTESTATION;
	m.attestation = &r;
	send(peer, &m);
}

static void op_assign(void *peer, const struct core_assignment *a)
{
	Atoll__V1__Assignment am = ATOLL__V1__ASSIGNMENT__INIT;
	Google__Protobuf__Timestamp dl;
	pb_ts_set(&dl, a->deadline_ms);
	am.job_id = (char *)a->job_id;
	am.attempt = a->attempt;
	am.workload_id = a->workload_id;
	am.mode = (Atoll__V1__Mode)a->mode;
	am.input.data = (uint8_t *)a->input;
	am.input.len = a->input_len;
	if (a->client_pub) {
		am.client_public_key.data = (uint8_t *)a->client_pub;
		am.client_public_key.len = CORE_KEY_LEN;
		am.client_key_id = (char *)a->client_key_id;
	}
	am.deadline = &dl;
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_ASSIGNMENT;
	m.assignment = &am;
	send(peer, &m);
}

static void op_cancel(void *peer, const char *job_id, uint32_t attempt, const char *reason)
{
	Atoll__V1__Cancel cm = ATOLL__V1__CANCEL__INIT;
	cm.job_id = (char *)job_id;
	cm.attempt = attempt;
	cm.reason = (char *)reason;
	Atoll__V1__CoordinatorMessage m = ATOLL__V1__COORDINATOR_MESSAGE__INIT;
	m.msg_case = ATOLL__V1__COORDINATOR_MESSAGE__MSG_CANCEL;
	m.cancel = &cm;
	send(peer, &m);
}

static void op_close(void *peer, int err, const char *msg)
{
	if (err)
		rpc_call_fail(peer, err, msg);
	else
		rpc_call_finish(peer, GRPC_STATUS_OK, msg);
}

static const struct session_ops OPS = {
	.welcome = op_welcome,
	.challenge = op_challenge,
	.attestation = op_attestation,
	.assign = op_assign,
	.cancel = op_cancel,
	.close = op_close,
};

static void connect_start(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
	struct coordinator *co = ud;
	const struct island_token_cfg *tok;
	char err[256];
	if (auth_island(co->cfg, call, &tok, err, sizeof err) < 0) {
		log_warn("island stream from %s refused: %s", rpc_call_peer(call), err);
		rpc_call_fail(call, -ENOKEY, err);
		return;
	}
	struct session *s = NULL;
	int e = core_session_open(co->core, &OPS, call, tok, &s, err, sizeof err);
	if (e < 0) {
		log_warn("island stream from %s refused: %s", rpc_call_peer(call), err);
		rpc_call_fail(call, e, err);
		return;
	}
	rpc_call_set_user(call, s);
}

static void on_hello(struct coordinator *co, struct session *s, const Atoll__V1__Hello *h)
{
	size_t n = h->n_workloads < MAX_OFFERS ? h->n_workloads : MAX_OFFERS;
	struct core_offer *offers = calloc(n + 1, sizeof *offers);
	if (!offers) {
		core_session_invalid(co->core, s, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const Atoll__V1__WorkloadOffer *o = h->workloads[i];
		offers[i].workload_id = o->workload_id;
		for (size_t m = 0; m < o->n_modes; m++)
			if ((int)o->modes[m] >= ATOLL_MODE_PLAIN &&
			    (int)o->modes[m] <= ATOLL_MODE_HOMOMORPHIC)
				offers[i].modes |= ATOLL_MODE_BIT((uint32_t)o->modes[m]);
	}
	struct core_hello ch = {
		.island_id = h->island_id,
		.slots = h->slots,
		.tee_type = h->tee_type,
		.enclave_pub = h->enclave_public_key.data,
		.enclave_pub_len = h->enclave_public_key.len,
		.offers = offers,
		.n_offers = n,
	};
	core_session_hello(co->core, s, &ch);
	free(offers);
}

static void on_evidence(struct coordinator *co, struct session *s, const Atoll__V1__Evidence *ev)
{
	struct attest_input in;
	if (attest_input_from_pb(ev->tee_type, &ev->evidence, ev->collateral, ev->n_collateral,
				 &ev->nonce, &ev->enclave_public_key, &ev->manifest, &in) < 0) {
		core_session_invalid(co->core, s, "out of memory");
		return;
	}
	core_session_evidence(co->core, s, &in);
	attest_input_release(&in);
}

static void connect_message(rpc_call *call, const ProtobufCMessage *msg, void *ud)
{
	struct coordinator *co = ud;
	struct session *s = rpc_call_user(call);
	const Atoll__V1__IslandMessage *m = (const void *)msg;
	if (!s)
		return;
	switch (m->msg_case) {
	case ATOLL__V1__ISLAND_MESSAGE__MSG_HELLO:
		on_hello(co, s, m->hello);
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_HEARTBEAT:
		core_session_heartbeat(co->core, s);
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_EVIDENCE:
		on_evidence(co, s, m->evidence);
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_STARTED:
		core_session_started(co->core, s, m->started->job_id, m->started->attempt, 0);
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_OUTPUT:
		core_session_output(co->core, s, m->output->job_id, m->output->attempt,
				    m->output->data.data, m->output->data.len);
		break;
	case ATOLL__V1__ISLAND_MESSAGE__MSG_RESULT: {
		const Atoll__V1__JobResult *r = m->result;
		if (r->includes_start) {
			int64_t run = r->run_ms > 86400000 ? 86400000 : (int64_t)r->run_ms;
			core_session_started(co->core, s, r->job_id, r->attempt, time_now_ms() - run);
		}
		for (size_t i = 0; i < r->n_output; i++)
			core_session_output(co->core, s, r->job_id, r->attempt, r->output[i].data,
					    r->output[i].len);
		core_session_result(co->core, s, r->job_id, r->attempt, r->ok, r->error);
		break;
	}
	case ATOLL__V1__ISLAND_MESSAGE__MSG_HAND_BACK:
		core_session_hand_back(co->core, s, m->hand_back->job_id, m->hand_back->attempt,
				       m->hand_back->reason);
		break;
	default:
		core_session_invalid(co->core, s, "empty island message");
		break;
	}
}

static void connect_half_close(rpc_call *call, void *ud)
{
	rpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void connect_done(rpc_call *call, bool cancelled, void *ud)
{
	struct coordinator *co = ud;
	struct session *s = rpc_call_user(call);
	if (s)
		core_session_close(co->core, s);
}

int svc_islands_register(struct coordinator *co)
{
	const rpc_method m = { "/atoll.v1.Islands/Connect", RPC_BIDI,
			       &atoll__v1__island_message__descriptor, connect_start,
			       connect_message, connect_half_close, connect_done, co };
	return rpc_server_add_method(co->srv, &m);
}
