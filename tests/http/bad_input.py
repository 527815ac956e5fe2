#!/usr/bin/env python3
"""Bad input over HTTP: each gets a precise JSON error with the right
status, and nothing is stored."""
from httpkit import GATEWAY, PROXY, SSE, call, check, done, ok
import os
import urllib.error


def err(base, method, path, want_status, want_code, body=None, contains="", **kw):
    st, b = call(base, method, path, body, **kw)
    shape = isinstance(b, dict) and set(b) == {"error"} and set(b["error"]) == {"code", "message"}
    check(st == want_status, f"{method} {path}: status {st}, want {want_status}: {b}")
    check(shape, f"{method} {path}: error body shape: {b}")
    if shape:
        check(b["error"]["code"] == want_code, f"{method} {path}: code {b['error']['code']}, "
                                               f"want {want_code}")
        check(contains in b["error"]["message"], f"{method} {path}: message {b['error']['message']!r} "
                                                 f"lacks {contains!r}")
    return b


def count(key="ak_demo"):
    return len(ok(GATEWAY, "GET", "/api/v1/jobs?page_size=1000", key=key)["jobs"])


# Another tenant's job looks like no job at all.
mine = ok(GATEWAY, "POST", "/api/v1/jobs", {"workload_id": 42, "input": {"prompt": "mine"}})
before, before_other = count(), count("ak_other")

for base in (GATEWAY, PROXY):
    err(base, "POST", "/api/v1/jobs", 400, "INVALID_ARGUMENT", raw=b'{"workload_id": 42,',
        contains="line 1 column")
    err(base, "POST", "/api/v1/jobs", 400, "INVALID_ARGUMENT",
        body={"workload_id": "forty-two", "input": {"prompt": "x"}}, contains="workload_id")
    err(base, "POST", "/api/v1/jobs", 400, "INVALID_ARGUMENT",
        body={"workload_id": 42, "input": {"prompt": ["x"]}}, contains="input.prompt")
    err(base, "POST", "/api/v1/jobs", 400, "INVALID_ARGUMENT",
        body={"workload_id": 42, "input": {"prompt": "x"}, "bogus": 1}, contains="bogus")
    err(base, "POST", "/api/v1/jobs", 413, "RESOURCE_EXHAUSTED",
        raw=b'{"workload_id": 42, "input": {"prompt": "' + b"x" * 70000 + b'"}}',
        contains="larger than")
    err(base, "GET", "/api/v1/nope", 404, "NOT_FOUND", contains="/api/v1/nope")
    err(base, "GET", "/elsewhere", 404, "NOT_FOUND")
    err(base, "PUT", "/api/v1/jobs", 405, "METHOD_NOT_ALLOWED", contains="GET, POST")
    err(base, "POST", "/api/v1/jobs", 400, "INVALID_ARGUMENT", body={"workload_id": 42},
        contains="input")
    err(base, "POST", "/api/v1/jobs", 404, "NOT_FOUND",
        body={"workload_id": 999, "input": {"prompt": "x"}}, contains="unknown workload 999")
    err(base, "GET", "/api/v1/jobs?page_size=lots", 400, "INVALID_ARGUMENT", contains="page_size")
    err(base, "GET", "/api/v1/jobs/" + mine["id"], 404, "NOT_FOUND", key="ak_other")
    err(base, "POST", f"/api/v1/jobs/{mine['id']}/cancel", 404, "NOT_FOUND", body={},
        key="ak_other")
    err(base, "GET", f"/api/v1/jobs/{mine['id']}/events", 404, "NOT_FOUND", key="ak_other")
    err(base, "GET", f"/api/v1/jobs/{mine['id']}/events", 400, "INVALID_ARGUMENT",
        headers={"Last-Event-ID": "yesterday"}, contains="Last-Event-ID")
    err(base, "GET", "/api/v1/jobs/job_nonexistent", 404, "NOT_FOUND")
    err(base, "GET", "/api/v1/jobs/bad%20id", 404, "NOT_FOUND")

# Bearer keys: the gateway checks them; the proxy passes the client's on.
for base in (GATEWAY, PROXY):
    err(base, "POST", "/api/v1/jobs", 401, "UNAUTHENTICATED",
        body={"workload_id": 42, "input": {"prompt": "x"}}, key="ak_wrong", contains="unknown API key")
err(GATEWAY, "POST", "/api/v1/jobs", 401, "UNAUTHENTICATED",
    body={"workload_id": 42, "input": {"prompt": "x"}}, key=None, contains="Authorization")
err(GATEWAY, "GET", "/api/v1/confidential/stats", 401, "UNAUTHENTICATED", key=None)

# What only a client may do: a clear 412 that points to the proxy.
err(GATEWAY, "POST", "/api/v1/confidential/keys", 412, "FAILED_PRECONDITION", body={},
    contains="atoll-proxy")
err(GATEWAY, "POST", "/api/v1/confidential/encrypt", 412, "FAILED_PRECONDITION",
    body={"input": {"prompt": "x"}, "key_id": "ck_x", "workload_id": 42}, contains="atoll-proxy")
err(GATEWAY, "POST", "/api/v1/confidential/decrypt", 412, "FAILED_PRECONDITION",
    body={"output": {"encrypted": True, "ciphertext": "AAAA"}, "key_id": "ck_x"},
    contains="atoll-proxy")
# The proxy's own refusals.
err(PROXY, "POST", "/api/v1/confidential/encrypt", 404, "NOT_FOUND",
    body={"input": {"prompt": "x"}, "key_id": "ck_notmine"}, contains="keystore")
err(PROXY, "POST", "/api/v1/confidential/encrypt", 400, "INVALID_ARGUMENT",
    body={"input": {"prompt": "x"}}, contains="key_id")
err(PROXY, "POST", "/api/v1/confidential/decrypt", 400, "INVALID_ARGUMENT",
    body={"output": {"encrypted": True, "ciphertext": "AAAA"}}, contains="not a sealed job output")
err(PROXY, "POST", "/api/v1/jobs", 400, "INVALID_ARGUMENT",
    body={"workload_id": 42, "confidential": True, "encryption_key_id": "ck_x",
          "input": {"encrypted": True, "key_id": "ck_x", "ciphertext": "QVRMUAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
    contains="another key")

# No web page may drive the proxy: not through a DNS name rebound to
# 127.0.0.1 (its Host is not loopback), not from another origin. Nothing is
# created by what it refuses.
port = PROXY.rsplit(":", 1)[1]
keys_dir = os.path.join(os.environ["ATOLL_TEST_DIR"], "proxy-keys")
keys_before = sorted(os.listdir(keys_dir))
for h in ({"Host": "evil.example:" + port}, {"Host": "127.0.0.1.evil.example"},
          {"Host": "localhost.:" + port + "x"}):
    err(PROXY, "POST", "/api/v1/confidential/keys", 403, "PERMISSION_DENIED", body={},
        headers=h, contains="Host header")
for h in ({"Origin": "http://evil.example"}, {"Origin": "null"},
          {"Origin": "https://127.0.0.1.evil.example:" + port},
          {"Sec-Fetch-Site": "cross-site"}):
    err(PROXY, "POST", "/api/v1/confidential/keys", 403, "PERMISSION_DENIED", body={},
        headers=h, contains="web page")
    err(PROXY, "GET", f"/api/v1/jobs/{mine['id']}", 403, "PERMISSION_DENIED", headers=h)
check(sorted(os.listdir(keys_dir)) == keys_before, "refused requests created keys")
# This machine's own names and origins are served.
for h in ({"Host": "localhost:" + port}, {"Host": "[::1]:" + port},
          {"Host": "127.0.0.1:" + port, "Origin": "http://localhost:" + port},
          {"Sec-Fetch-Site": "same-origin"}):
    st, b = call(PROXY, "GET", "/api/v1/confidential/stats", headers=h)
    check(st == 200, f"proxy with {h}: {st} {b}")

# Health needs no key.
for path in ("/healthz", "/health", "/readyz"):
    st, b = call(GATEWAY, "GET", path, key=None)
    check(st == 200 and b.get("status") in ("SERVING", "READY"), f"{path}: {st} {b}")
    st, b = call(PROXY, "GET", path, key=None)
    check(st == 200 and b.get("status") == "SERVING", f"proxy {path}: {st} {b}")

check(count() == before, f"nothing stored for demo: {before} -> {count()}")
check(count("ak_other") == before_other, "nothing stored for other")
done("bad_input")
