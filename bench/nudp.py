#!/usr/bin/env python3
"""Send exactly N heartbeat lines to vigild's UDP door (for bench/callgrind.sh
BENCH_CG_PATH=udp), PER lines a datagram as bench/udp_send.c packs them, in
paced chunks: after each chunk it waits (bounded) until GET /v1/admin/udp says
every line so far was applied, so none is lost to a full socket buffer under
valgrind. Every worker id is sent once first (warm-up, not counted by the
caller's difference). Exit 1 when lines go missing or are refused."""
import argparse
import http.client
import json
import socket
import sys
import time

CHUNK = 25  # datagrams between checks: well inside the socket buffer


def applied(port, token):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/v1/admin/udp", headers={"Authorization": "Bearer " + token})
    d = json.loads(c.getresponse().read())
    c.close()
    if sum(d["lines_refused"].values()):
        sys.exit("nudp: lines refused: %s" % d["lines_refused"])
    return d["lines_ok"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="vigild HTTP port")
    ap.add_argument("--udp", type=int, required=True, help="vigild UDP port")
    ap.add_argument("--token", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--ids", type=int, default=500)
    ap.add_argument("--per", type=int, default=20)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", a.udp))
    total = a.ids + a.n
    lines = ["hb bench-%06d seq=%d cpu=0.42 mem=0.31 in_flight=3\n" % (w % a.ids, w // a.ids)
             for w in range(total)]
    dgrams = ["".join(lines[i:i + a.per]).encode() for i in range(0, total, a.per)]
    sent = 0
    for i in range(0, len(dgrams), CHUNK):
        for d in dgrams[i:i + CHUNK]:
            s.send(d)
            sent += d.count(b"\n")
        deadline = time.monotonic() + 60
        while applied(a.port, a.token) < sent:
            if time.monotonic() > deadline:
                sys.exit("nudp: %d lines sent, fewer applied after 60 s" % sent)
            time.sleep(0.1)  # few polls: each is an HTTP request that callgrind counts


if __name__ == "__main__":
    main()
