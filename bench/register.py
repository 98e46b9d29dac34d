#!/usr/bin/env python3
"""bench/register.py: register N distinct workers with vigild (stdlib only).

Sends NDJSON batches to POST /v1/heartbeats over one keep-alive
http.client connection: worker_id "w-%07d", one of 16 groups, a fixed
8-hex-char instance per worker, no ttl_s (the server's default applies, so
ingest.sh can keep them alive with VIGIL_DEFAULT_TTL_S). Checks every answer
says all of its lines were accepted. Prints one JSON object on stdout.

usage: register.py --port P [--host 127.0.0.1] [--workers 1000000]
                   [--batch 5000] [--timeout 60] [--deadline 600] [--start 0]
(--start S: the workers are w-S .. w-(S+N-1), so a fleet can be grown in steps.)
exit: 0 all accepted, 1 any line refused / HTTP error / deadline passed.
"""
import argparse
import http.client
import json
import sys
import time

GROUPS = ["g%02d" % g for g in range(16)]
LINE = ('{"worker_id":"w-%07d","group":"%s","instance":"%08x","seq":1,"status":"ok",'
        '"cpu":0.31,"mem":0.52,"mem_available_gb":41.5,"gpu_mem_active_gb":20.1,'
        '"thermal":"nominal","backlog":3,"capacity":8,"in_flight":2,"requests":10421,'
        '"tokens":993120,"cpu_ticks":58211}\n')


def batch_body(start, count):
    return "".join(LINE % (w, GROUPS[w % 16], (w * 2654435761 + 0x3F2A9C1E) & 0xFFFFFFFF)
                   for w in range(start, start + count)).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    ap.add_argument("--deadline", type=float, default=600.0, help="whole run, seconds")
    ap.add_argument("--start", type=int, default=0, help="first worker number")
    args = ap.parse_args()
    if args.host != "127.0.0.1":
        sys.exit("register.py: loopback only")

    conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
    t0 = time.monotonic()
    accepted = rejected = sent_bytes = requests = 0
    server_s = 0.0
    errors = []
    nbatches = (args.workers + args.batch - 1) // args.batch  # the loop's bound
    for b in range(nbatches):
        if time.monotonic() - t0 > args.deadline:
            errors.append("deadline of %.0f s passed after %d batches" % (args.deadline, b))
            break
        start = b * args.batch
        count = min(args.batch, args.workers - start)
        body = batch_body(args.start + start, count)
        t1 = time.monotonic()
        conn.request("POST", "/v1/heartbeats", body=body,
                     headers={"Content-Type": "application/x-ndjson"})
        resp = conn.getresponse()
        raw = resp.read()
        server_s += time.monotonic() - t1
        requests += 1
        sent_bytes += len(body)
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = {}
        acc, rej = int(doc.get("accepted", 0)), int(doc.get("rejected", 0))
        accepted += acc
        rejected += rej
        if resp.status != 200 or acc != count or rej != 0:
            errors.append("batch %d: HTTP %d accepted %d of %d, rejected %d: %s"
                          % (b, resp.status, acc, count, rej, raw[:300].decode("utf-8", "replace")))
            if len(errors) >= 5:
                break
    conn.close()
    elapsed = time.monotonic() - t0
    out = {
        "workers": args.workers, "batch": args.batch, "requests": requests,
        "accepted": accepted, "rejected": rejected, "bytes": sent_bytes,
        "elapsed_s": round(elapsed, 3), "in_request_s": round(server_s, 3),
        "lines_per_s": round(accepted / elapsed, 1) if elapsed > 0 else 0,
        "ok": not errors and accepted == args.workers, "errors": errors,
    }
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
