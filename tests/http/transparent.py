#!/usr/bin/env python3
"""A client unaware of envelopes: confidential: true with a plain input,
through atoll-proxy, which makes the key, verifies the islands, seals,
and opens the output. Prints the output text."""
import os

from httpkit import PROXY, check, done, ok, wait_final

prompt = os.environ.get("PROMPT", "Hello")
job = ok(PROXY, "POST", "/api/v1/jobs",
         {"workload_id": 42, "confidential": True, "input": {"prompt": prompt}})
check(job["mode"] == "MODE_TEE", "the job runs in a TEE: " + job["mode"])
check(job["encryption_key_id"].startswith("ck_"), "a key was made for it")
j = wait_final(PROXY, job["id"])
check(j["state"] == "JOB_STATE_COMPLETED", "completed: " + j["state"])
out = j.get("output", {})
check(not out.get("encrypted") and out.get("text") == prompt, "the output comes back opened")
print(out.get("text", ""))

# With "wait": true the answer is the final job, opened here.
j = ok(PROXY, "POST", "/api/v1/jobs", {"workload_id": 42, "confidential": True, "wait": True,
                                       "input": {"prompt": prompt + " again"}})
check(j["state"] == "JOB_STATE_COMPLETED", "wait: completed in one call: " + j["state"])
check(j.get("output", {}).get("text") == prompt + " again", "wait: the output opened")
done("transparent")
