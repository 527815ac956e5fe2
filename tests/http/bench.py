#!/usr/bin/env python3
"""Figures for docs/benchmarks.md: request latency through the gateway and
through atoll-proxy on one machine (persistent HTTP/1.1 connections,
sequential requests). Run by test_http when ATOLL_HTTP_BENCH is set."""
import http.client
import json
import os
import statistics
import time
import urllib.parse

KEY = "Bearer " + os.environ.get("ATOLL_API_KEY", "ak_demo")
N = int(os.environ.get("ATOLL_HTTP_BENCH_N", "200"))


def conn(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def req(c, method, path, body=None):
    c.request(method, path, body=None if body is None else json.dumps(body),
              headers={"Authorization": KEY})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit(f"{method} {path}: {r.status} {data[:200]}")
    return json.loads(data) if data else None


def timed(label, fn, n=N):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    print(f"{label:48s} n={n:4d}  p50 {statistics.median(lat):7.2f} ms  "
          f"p95 {lat[int(0.95 * (n - 1))]:7.2f} ms")


def run_job(c, body):
    j = req(c, "POST", "/api/v1/jobs", body)
    while j["state"] not in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"):
        time.sleep(0.002)
        j = req(c, "GET", "/api/v1/jobs/" + j["id"])
    if j["state"] != "JOB_STATE_COMPLETED":
        raise SystemExit("job failed: " + json.dumps(j))


gw, px = conn(os.environ["ATOLL_GATEWAY"]), conn(os.environ["ATOLL_PROXY"])
timed("gateway GET /api/v1/confidential/stats", lambda: req(gw, "GET", "/api/v1/confidential/stats"))
timed("proxy GET /api/v1/confidential/stats (gRPC)", lambda: req(px, "GET", "/api/v1/confidential/stats"))
timed("gateway plain job, submit to completed",
      lambda: run_job(gw, {"workload_id": 42, "input": {"prompt": "bench"}}))
key = req(px, "POST", "/api/v1/confidential/keys")["key_id"]
timed("proxy confidential job (seal, submit, completed)",
      lambda: run_job(px, {"workload_id": 42, "confidential": True, "encryption_key_id": key,
                           "input": {"prompt": "bench"}}), n=max(10, N // 4))
