"""Helpers for the HTTP tests, on the Python standard library only:
JSON calls that return (status, body), and a Server-Sent Events reader."""
import json
import os
import time
import urllib.error
import urllib.request

PROXY = os.environ.get("ATOLL_PROXY", "")
GATEWAY = os.environ.get("ATOLL_GATEWAY", "")
KEY = os.environ.get("ATOLL_API_KEY", "ak_demo")
FINAL = ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def done(name):
    if failures:
        raise SystemExit(f"{name}: {len(failures)} check(s) failed")
    print(f"{name}: ok")


def call(base, method, path, body=None, key=KEY, raw=None, headers=None):
    """(status, parsed JSON or text) of one request."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + key
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, text, ctype = r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, text, ctype = e.code, e.read().decode(), e.headers.get("Content-Type", "")
    if ctype.startswith("application/json"):
        return status, json.loads(text)
    return status, text


def ok(base, method, path, body=None, **kw):
    st, b = call(base, method, path, body, **kw)
    if st != 200:
        raise SystemExit(f"{method} {path}: {st} {b}")
    return b


def wait_final(base, job_id, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        j = ok(base, "GET", "/api/v1/jobs/" + job_id)
        if j["state"] in FINAL:
            return j
        time.sleep(0.1)
    raise SystemExit(f"job {job_id} not final after {timeout}s")


class SSE:
    """Reads one event stream; stop() drops the connection."""

    def __init__(self, url, last_id=None):
        h = {"Authorization": "Bearer " + KEY, "Accept": "text/event-stream"}
        if last_id:
            h["Last-Event-ID"] = last_id
        self.resp = urllib.request.urlopen(urllib.request.Request(url, headers=h), timeout=60)
        self.status = self.resp.status
        self.ctype = self.resp.headers.get("Content-Type", "")

    def events(self):
        """Yields (id, event, data) until the stream ends."""
        ev = {"id": None, "event": "message", "data": []}
        for raw in self.resp:
            line = raw.decode().rstrip("\n")
            if line == "":
                if ev["data"]:
                    yield ev["id"], ev["event"], "\n".join(ev["data"])
                ev = {"id": None, "event": "message", "data": []}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                ev["data"].append(value)
            elif field in ("id", "event"):
                ev[field] = value

    def stop(self):
        self.resp.close()
