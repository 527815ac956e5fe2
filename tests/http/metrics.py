#!/usr/bin/env python3
"""/metrics on the coordinator's HTTP listener: Prometheus text format
(checked by a strict parser here, and by promtool when it is installed),
and counters that move as jobs run."""
import math
import re
import shutil
import subprocess
import urllib.request

from httpkit import GATEWAY, PROXY, check, done, ok, wait_final

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(" + NAME + r")(\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse(text):
    """{(name, frozenset(labels)): value}; raises ValueError on any flaw."""
    if not text.endswith("\n"):
        raise ValueError("no newline at the end")
    types, helps, series = {}, set(), {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            if name in helps:
                raise ValueError(f"line {n}: second HELP for {name}")
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in TYPES or parts[2] in types:
                raise ValueError(f"line {n}: bad TYPE line {line!r}")
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#") or not line:
            raise ValueError(f"line {n}: unexpected {line!r}")
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {n}: not a sample: {line!r}")
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        labels, pos = {}, 0
        while pos < len(labels_text):
            lm = LABEL.match(labels_text, pos)
            if not lm or lm.group(1) in labels:
                raise ValueError(f"line {n}: bad labels {labels_text!r}")
            labels[lm.group(1)] = lm.group(2)
            pos = lm.end()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and not (family in types and types[family] == "histogram"):
            raise ValueError(f"line {n}: {name} has no TYPE before it")
        v = float(value)
        if math.isnan(v):
            raise ValueError(f"line {n}: NaN")
        key = (name, frozenset(labels.items()))
        if key in series:
            raise ValueError(f"line {n}: duplicate series {line!r}")
        series[key] = v
    # Histograms: cumulative buckets, +Inf equal to _count.
    for name, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for (n2, labels), v in series.items():
            if n2 == name + "_bucket":
                d = dict(labels)
                le = d.pop("le")
                groups.setdefault(frozenset(d.items()), []).append((float(le), v))
        for labels, buckets in groups.items():
            buckets.sort()
            if buckets[-1][0] != math.inf:
                raise ValueError(f"{name}: no +Inf bucket")
            if any(b[1] > c[1] for b, c in zip(buckets, buckets[1:])):
                raise ValueError(f"{name}: buckets not cumulative")
            if series.get((name + "_count", labels)) != buckets[-1][1]:
                raise ValueError(f"{name}: +Inf bucket differs from _count")
    return series


def scrape():
    with urllib.request.urlopen(GATEWAY + "/metrics", timeout=10) as r:
        check(r.status == 200, "metrics: 200")
        ctype = r.headers.get("Content-Type", "")
        check(ctype.startswith("text/plain; version=0.0.4"), "metrics content type " + ctype)
        return r.read().decode()


def get(series, name, **labels):
    return series.get((name, frozenset(labels.items())), 0.0)


text = scrape()
try:
    before = parse(text)
except ValueError as e:
    check(False, f"metrics do not parse: {e}")
    before = {}
promtool = shutil.which("promtool")
if promtool:
    r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
    check(r.returncode == 0, "promtool check metrics: " + (r.stdout + r.stderr).decode())
else:
    print("promtool not installed: the strict parser alone checked the format")

check(get(before, "atoll_islands", state="attested", tee="sim") == 1, "one attested sim island")
check(get(before, "atoll_attestations_total", verdict="accepted", reason="pass") >= 1,
      "an accepted attestation")

# A plain job through the gateway, a confidential one through the proxy.
job = ok(GATEWAY, "POST", "/api/v1/jobs", {"workload_id": 42, "input": {"prompt": "count me"}})
wait_final(GATEWAY, job["id"])
job = ok(PROXY, "POST", "/api/v1/jobs", {"workload_id": 42, "confidential": True,
                                         "input": {"prompt": "count me too"}})
wait_final(PROXY, job["id"])
after = parse(scrape())


def moved(name, by=1, **labels):
    d = get(after, name, **labels) - get(before, name, **labels)
    check(d >= by, f"{name}{labels} moved by {d}, want >= {by}")


moved("atoll_jobs_submitted_total", mode="plain")
moved("atoll_jobs_submitted_total", mode="tee")
moved("atoll_jobs_finished_total", mode="plain", state="completed")
moved("atoll_jobs_finished_total", mode="tee", state="completed")
moved("atoll_job_duration_seconds_count", mode="tee")
moved("atoll_store_commit_seconds_count", by=2)
moved("atoll_http_requests_total", route="jobs", status="200")
moved("atoll_rpc_requests_total", method="/atoll.v1.Jobs/SubmitJob", code="OK")
moved("atoll_rpc_requests_total", method="/atoll.v1.Confidential/ListAttestedIslands", code="OK")
check(get(after, "atoll_queue_depth") == 0, "nothing queued")
done("metrics")
