#!/usr/bin/env python3
"""Server-Sent Events on atoll-proxy (output opened as it streams) and on
the coordinator's gateway (chunks as the core sends them): a slow echo
job streams several events; the client drops the connection, comes back
with Last-Event-ID, and gets the rest with nothing lost or repeated."""
import base64
import json
import time

from httpkit import GATEWAY, PROXY, SSE, check, done, ok, wait_final

PROMPT = "a slow job streams its output four bytes at a time!"


def piece(base, event, data):
    """The output bytes an event carries, or None."""
    d = json.loads(data)
    if base == PROXY and event == "output":
        return d["text"].encode() if "text" in d else base64.b64decode(d["data"])
    if base == GATEWAY and event == "chunk":
        return base64.b64decode(d.get("data", ""))
    return None


def follow(base, job_id, drop_after):
    """Read until drop_after output events, reconnect with Last-Event-ID,
    read to the end. Returns (output, ids, jobs, events)."""
    url = f"{base}/api/v1/jobs/{job_id}/events"
    out, ids, jobs, names = b"", [], [], []
    s = SSE(url)
    check(s.status == 200 and s.ctype.startswith("text/event-stream"), "an event stream")
    last, pieces = None, 0
    for eid, ev, data in s.events():
        names.append(ev)
        if eid:
            ids.append(eid)
            last = eid
        p = piece(base, ev, data)
        if p is not None:
            out += p
            pieces += 1
        if ev == "job":
            jobs.append(json.loads(data))
        if pieces >= drop_after:
            break
    s.stop()
    check(pieces >= drop_after, f"{pieces} output events before the drop")
    time.sleep(0.5)  # output goes on while the client is away
    s = SSE(url, last_id=last)
    for eid, ev, data in s.events():
        names.append(ev)
        if eid:
            ids.append(eid)
        p = piece(base, ev, data)
        if p is not None:
            out += p
        if ev == "job":
            jobs.append(json.loads(data))
        if ev in ("end", "error"):
            check(ev == "end", "the stream ends with end: " + data)
            break
    s.stop()
    return out, ids, jobs, names


for base, body in ((PROXY, {"workload_id": 43, "confidential": True,
                            "input": {"prompt": PROMPT}}),
                   (GATEWAY, {"workload_id": 43, "input": {"prompt": PROMPT}})):
    where = "proxy" if base == PROXY else "gateway"
    job = ok(base, "POST", "/api/v1/jobs", body)
    out, ids, jobs, names = follow(base, job["id"], 3)
    check(out == PROMPT.encode(), f"{where}: resumed output is whole: {out!r}")
    check(len(ids) == len(set(ids)), f"{where}: no event twice: {ids}")
    states = [j["state"] for j in jobs]
    check(states and states[-1] == "JOB_STATE_COMPLETED", f"{where}: final state last: {states}")
    check(len(states) == len(set(states)), f"{where}: no state twice: {states}")
    if base == PROXY:
        check(jobs[-1]["output"].get("text") == PROMPT, "proxy: the final job is opened")
        check(names.count("output") >= 4, f"proxy: several output events: {names}")
    else:
        check(names.count("chunk") >= 4, f"gateway: several chunk events: {names}")

# A confidential job watched on the gateway: ciphertext, resumed by offset,
# equal to the sealed output the job keeps.
job = ok(PROXY, "POST", "/api/v1/jobs", {"workload_id": 43, "confidential": True,
                                         "input": {"prompt": PROMPT}})
out, ids, jobs, names = follow(GATEWAY, job["id"], 2)
final = wait_final(GATEWAY, job["id"])
check(final["output"]["encrypted"], "the gateway keeps the output sealed")
check(out == base64.b64decode(final["output"]["ciphertext"]), "gateway: the sealed stream is whole")
check(PROMPT.encode() not in out, "gateway: no plaintext in the events")

# A late watcher of a finished job, resuming mid-output: the rest, once.
job = ok(GATEWAY, "POST", "/api/v1/jobs", {"workload_id": 42, "input": {"prompt": PROMPT}})
wait_final(GATEWAY, job["id"])
s = SSE(f"{GATEWAY}/api/v1/jobs/{job['id']}/events", last_id="1.3.10")
got = b"".join(piece(GATEWAY, ev, d) or b"" for _, ev, d in s.events())
check(got == PROMPT.encode()[10:], f"late resume from offset 10: {got!r}")
# A finished job with a large output, watched late: the core sends its
# stored chunks as fast as the client reads (paced by the stream's backlog,
# resumed when it drains), all of them.
big = "".join(f"{i:07d}," for i in range(6000))
job = ok(GATEWAY, "POST", "/api/v1/jobs", {"workload_id": 42, "input": {"prompt": big}})
wait_final(GATEWAY, job["id"])
for base in (GATEWAY, PROXY):
    s = SSE(f"{base}/api/v1/jobs/{job['id']}/events")
    got, n = b"", 0
    for _, ev, d in s.events():
        p = piece(base, ev, d)
        if p is not None:
            got += p
            n += 1
        if ev in ("end", "error"):
            break
    check(got == big.encode(), f"{base}: a large output whole ({len(got)} of {len(big)} bytes)")
    check(base == PROXY or n > 1000, f"gateway: chunk by chunk ({n} events)")
done("sse")
