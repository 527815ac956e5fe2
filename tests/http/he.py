#!/usr/bin/env python3
"""Homomorphic jobs through atoll-proxy with no crypto in the client: a
Paillier key made by the proxy, plain features encrypted by it, the
score decrypted by it."""
import csv
import os

from httpkit import PROXY, call, check, done, ok, wait_final

src = os.path.join(os.path.dirname(__file__), "..", "..", "data", "breast_cancer.csv")
with open(src) as f:
    rows = list(csv.reader(f))
header, first = rows[0], rows[1]
features = [float(v) for v in first[:30]]

st, key = call(PROXY, "POST", "/api/v1/confidential/keys?bits=2048",
               {"algorithm": "KEY_ALGORITHM_PAILLIER", "label": "he test"})
check(st == 200 and key.get("algorithm") == "KEY_ALGORITHM_PAILLIER", f"paillier key: {st} {key}")
check(not key.get("custodial"), "the coordinator holds no private key")
job = ok(PROXY, "POST", "/api/v1/jobs", {"workload_id": 7, "mode": "MODE_HOMOMORPHIC",
                                         "encryption_key_id": key["key_id"],
                                         "input": {"features": features}})
check(job["mode"] == "MODE_HOMOMORPHIC", "homomorphic mode")
j = wait_final(PROXY, job["id"])
check(j["state"] == "JOB_STATE_COMPLETED", "completed: " + j["state"] + " " + j.get("error", ""))
text = j.get("output", {}).get("text", "")
check('"label"' in text and '"probability"' in text, "a decrypted prediction: " + text[:200])
# The same job straight from the coordinator's gateway: ciphertexts only.
gw = ok(os.environ["ATOLL_GATEWAY"], "GET", "/api/v1/jobs/" + job["id"])
check('"label"' not in gw.get("output", {}).get("text", ""), "the gateway sees no prediction")
done("he")
