#!/usr/bin/env python3
"""Send exactly N heartbeats over one keep-alive connection (for bench/callgrind.sh).
Every worker id is sent once first (warm-up, not counted by the caller's difference)."""
import argparse
import http.client
import json


def body(i, ids):
    return json.dumps({"worker_id": "gpu-%06d" % (i % ids), "group": "inference",
                       "instance": "3f2a9c1e", "seq": i, "ttl_s": 15, "status": "ok", "cpu": 0.31,
                       "mem": 0.52, "mem_available_gb": 41.5, "gpu_mem_active_gb": 20.1,
                       "thermal": "nominal", "backlog": 3, "capacity": 8, "in_flight": 2,
                       "requests": 10421, "tokens": 993120, "cpu_ticks": 58211})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--ids", type=int, default=500)
    a = ap.parse_args()
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
    for i in range(a.ids + a.n):
        c.request("POST", "/v1/heartbeat", body(i, a.ids), {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"heartbeat {i}: HTTP {r.status}")


if __name__ == "__main__":
    main()
