#!/usr/bin/env python3
"""The seed's quick start from Python with the standard library only
(urllib, json): a key, encrypt, submit, decrypt through atoll-proxy.
Prints the decrypted text. ATOLL_PROXY is the proxy's URL, PROMPT the
input."""
import json
import os
import sys
import time
import urllib.error
import urllib.request

PROXY = os.environ["ATOLL_PROXY"]
AUTH = {"Authorization": "Bearer " + os.environ.get("ATOLL_API_KEY", "ak_demo")}


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(PROXY + path, data=data, method=method, headers=AUTH)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read().decode()}")


key = call("POST", "/api/v1/confidential/keys")
enc = call("POST", "/api/v1/confidential/encrypt",
           {"input": {"prompt": os.environ.get("PROMPT", "Hello")}, "key_id": key["key_id"]})
job = call("POST", "/api/v1/jobs", {
    "workload_id": 42, "confidential": True, "encryption_key_id": key["key_id"],
    "input": {"encrypted": True, "key_id": key["key_id"], "ciphertext": enc["ciphertext"]}})
for _ in range(200):
    job = call("GET", "/api/v1/jobs/" + job["id"])
    if job["state"] in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"):
        break
    time.sleep(0.1)
if job["state"] != "JOB_STATE_COMPLETED":
    sys.exit("job did not complete: " + json.dumps(job))
out = call("POST", "/api/v1/confidential/decrypt", {"output": job["output"], "key_id": key["key_id"]})
print(out["text"])
