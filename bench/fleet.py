#!/usr/bin/env python3
"""bench/fleet.py: the fleet-sized measures of bench/compare.sh (stdlib only).

  fleet.py redis --port P --start S --workers N [--ttl 3600]
      SET worker:hb:w-<n> <json> EX ttl for workers S..S+N-1 on a Redis at
      127.0.0.1:P, pipelined in chunks; the JSON is bench/register.py's line
      for that worker, so Redis holds the same workers vigild was sent.
      Prints {"sent":N,"elapsed_s":..,"used_memory":..,"keys":..}.

  fleet.py lag --port P --token T [--probes 200] [--ttl 2] [--spread 1]
      Detection lag: subscribes to GET /v1/stream (the snapshot first), then
      sends one heartbeat each from PROBES new workers with ttl_s=TTL, spread
      over SPREAD seconds, and waits for each one's worker_dead event. For a
      worker whose heartbeat went out at t (the middle of its request), its
      TTL expired at t + TTL; the lag is the moment the event reached this
      client (stream) and the event's own timestamp (server: when the sweeper
      acted) minus that. Prints p50/p99/max of both in ms.

exit: 0 done, 1 a check failed (a refused SET or heartbeat, a missing event).
"""
import argparse
import http.client
import json
import os
import socket
import sys
import time
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from register import GROUPS, LINE  # noqa: E402  the same worker lines vigild gets
from test_stream import SseClient  # noqa: E402  the integration tests' SSE reader

REDIS_CHUNK = 5000  # SETs per pipelined write


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def redis_cmd(sock, f, *args):
    sock.sendall(resp(*args))
    line = f.readline()
    if line.startswith(b"$"):
        n = int(line[1:])
        return f.read(n + 2)[:-2] if n >= 0 else None
    return line.rstrip(b"\r\n")


def cmd_redis(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=60)
    f = s.makefile("rb")
    t0 = time.monotonic()
    for c0 in range(a.start, a.start + a.workers, REDIS_CHUNK):
        n = min(REDIS_CHUNK, a.start + a.workers - c0)
        buf = b"".join(
            resp("SET", "worker:hb:w-%07d" % w,
                 (LINE % (w, GROUPS[w % 16], (w * 2654435761 + 0x3F2A9C1E) & 0xFFFFFFFF)).rstrip("\n"),
                 "EX", a.ttl) for w in range(c0, c0 + n))
        s.sendall(buf)
        for _ in range(n):
            r = f.readline()
            if r != b"+OK\r\n":
                sys.exit("redis: SET answered %r" % r)
    el = time.monotonic() - t0
    info = redis_cmd(s, f, "INFO", "memory").decode()
    mem = {k: v for k, _, v in (ln.partition(":") for ln in info.split("\r\n")) if v}
    keys = int(redis_cmd(s, f, "DBSIZE")[1:])
    print(json.dumps({"sent": a.workers, "elapsed_s": round(el, 3), "keys": keys,
                      "used_memory": int(mem["used_memory"]),
                      "used_memory_rss": int(mem["used_memory_rss"])}))


def iso_ms(s):
    return datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000


def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(p / 100 * len(v)))], 1) if v else None


def cmd_lag(a):
    t_start = time.monotonic()
    sse = SseClient(a.port, a.token)
    if sse.status != 200:
        sys.exit("lag: /v1/stream answered %d" % sse.status)
    sse.until(lambda m: m["event"] == "snapshot", timeout=120, what="snapshot")
    seen = len(sse.msgs)
    t_snap = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    sent = {}
    for i in range(a.probes):
        wid = "lag-%05d" % i
        body = json.dumps({"worker_id": wid, "group": "lagprobe", "instance": "%08x" % i,
                           "seq": 1, "ttl_s": a.ttl})
        t1 = time.time()
        c.request("POST", "/v1/heartbeat", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        t2 = time.time()
        if r.status != 200:
            sys.exit("lag: probe heartbeat answered %d" % r.status)
        sent[wid] = (t1 + t2) / 2 * 1000
        time.sleep(a.spread / a.probes)
    c.close()
    got, server = {}, {}
    deadline = time.monotonic() + a.ttl + 30
    while len(got) < len(sent) and time.monotonic() < deadline and not sse.closed:
        sse._fill(0.01)
        t = time.time() * 1000
        sse._parse()
        for m in sse.msgs[seen:]:
            d = m["data"]
            if m["event"] == "event" and isinstance(d, dict) and d.get("type") == "worker_dead" \
                    and d.get("worker_id") in sent and d["worker_id"] not in got:
                got[d["worker_id"]] = t
                server[d["worker_id"]] = iso_ms(d["ts"])
        seen = len(sse.msgs)
    sse.close()
    stream = [got[w] - (sent[w] + a.ttl * 1000) for w in got]
    srv = [server[w] - (sent[w] + a.ttl * 1000) for w in got]
    out = {"probes": a.probes, "ttl_s": a.ttl, "detected": len(got),
           "stream_p50_ms": pct(stream, 50), "stream_p99_ms": pct(stream, 99),
           "stream_max_ms": pct(stream, 100), "server_p50_ms": pct(srv, 50),
           "server_p99_ms": pct(srv, 99), "server_max_ms": pct(srv, 100),
           "server_min_ms": pct(srv, 0), "snapshot_s": round(t_snap - t_start, 3),
           "total_s": round(time.monotonic() - t_start, 3)}
    print(json.dumps(out))
    return 0 if len(got) == len(sent) else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("redis")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--start", type=int, default=0)
    r.add_argument("--workers", type=int, required=True)
    r.add_argument("--ttl", type=int, default=3600)
    g = sub.add_parser("lag")
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--token", required=True)
    g.add_argument("--probes", type=int, default=200)
    g.add_argument("--ttl", type=int, default=2)
    g.add_argument("--spread", type=float, default=1.0)
    a = ap.parse_args()
    return cmd_redis(a) if a.cmd == "redis" else cmd_lag(a)


if __name__ == "__main__":
    sys.exit(main() or 0)
