#!/usr/bin/env python3
"""A confidential job that fails in the enclave: the error is sealed in the
output stream's final record. The proxy opens it and shows the client the
whole message (GET, SSE, decrypt); the gateway shows the code only."""
import json

from httpkit import GATEWAY, PROXY, SSE, call, check, done, ok, wait_final

job = ok(PROXY, "POST", "/api/v1/jobs", {"workload_id": 44, "confidential": True,
                                         "input": {"prompt": "this will fail"}})
j = wait_final(PROXY, job["id"])
check(j["state"] == "JOB_STATE_FAILED", "failed: " + j["state"])
check("model exploded" in j["error"], "proxy: the sealed error, opened: " + j["error"])
gw = wait_final(GATEWAY, job["id"])
check(gw["error"] and "model exploded" not in gw["error"], "gateway: the code only: " + gw["error"])

s = SSE(f"{PROXY}/api/v1/jobs/{job['id']}/events")
last = None
for _, ev, data in s.events():
    if ev == "job":
        last = json.loads(data)
    if ev in ("end", "error"):
        break
check(last and "model exploded" in last["error"], "proxy SSE: the sealed error in the final state")

# The explicit flow: decrypt says the job failed, with its message.
key = ok(PROXY, "POST", "/api/v1/confidential/keys")["key_id"]
enc = ok(PROXY, "POST", "/api/v1/confidential/encrypt",
         {"input": {"prompt": "fail again"}, "key_id": key})
job = ok(PROXY, "POST", "/api/v1/jobs", {
    "workload_id": 44, "confidential": True, "encryption_key_id": key,
    "input": {"encrypted": True, "key_id": key, "ciphertext": enc["ciphertext"]}})
j = wait_final(PROXY, job["id"])
check(j["output"]["encrypted"], "explicit flow: GET keeps the output sealed")
st, b = call(PROXY, "POST", "/api/v1/confidential/decrypt", {"output": j["output"], "key_id": key})
check(st == 412 and b["error"]["code"] == "FAILED_PRECONDITION" and
      "model exploded" in b["error"]["message"], f"decrypt of a failed job: {st} {b}")
done("failed")
