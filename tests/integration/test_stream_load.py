"""200 stream subscribers do not slow ingest: heartbeats are posted by two
load processes over keep-alive connections for a few seconds at a time, in
rounds that alternate between no subscriber and 200 open /v1/stream
subscribers (a third process reading them all). 1 % of the heartbeats come
from new workers, so the subscribers receive a steady flow of changes
(sessions opening, groups' counts) while it runs.

What is compared is vigild's own CPU time per accepted heartbeat (from
/proc), not the client's rate: on a shared 2-core machine the rate mostly
measures the Python load generator and whatever else runs, while CPU per
heartbeat is what bounds vigild's ingest rate on its core. With
subscribers it must stay within 1/0.9 of without (the ingest rate within
10 %), best round against best round (interference only ever adds cost);
the rates are printed too. A shared machine can still spoil a whole run,
so the comparison is made up to ATTEMPTS times and passes when one holds:
a real slowdown fails them all.

In the sanitizer build (VIGIL_TEST_SANITIZED=1) the same load runs once and
every subscriber must still be served, but the cost ratio is only printed:
ASan's own cost per heartbeat varied 2x between rounds of one run in CI
(6 to 16 ticks per 1000 without subscribers), so a 10 % bound there says
nothing about vigild. The plain build asserts it."""
import http.client
import json
import multiprocessing as mp
import os
import selectors
import socket
import time
import unittest

from harness import Vigild

ROUND_S = 3.0
ROUNDS = 3
SANITIZED = os.environ.get("VIGIL_TEST_SANITIZED") == "1"
ATTEMPTS = 1 if SANITIZED else 3
SUBSCRIBERS = 200
LOADERS = 2


def load(port, seconds, offset, out):
    """POST heartbeats for `seconds`; out.put(count of 200 answers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok = i = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        i += 1
        wid = f"new-{offset}-{i}" if i % 100 == 0 else f"w{offset}-{i % 500}"
        body = json.dumps({"worker_id": wid, "group": f"g{i % 4}", "cpu": 0.5, "seq": i})
        conn.request("POST", "/v1/heartbeat", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        ok += r.status == 200
    conn.close()
    out.put(ok)


def subscribe(port, token, n, ready, stop, out):
    """Open n streams, read (and drop) all they send until stop is set;
    out.put(list of bytes received per stream)."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
                  .encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, len(socks))
        socks.append(s)
    got = [0] * n
    # Ready once every stream has its snapshot and a summary after it: the
    # snapshots' cost is paid before the measurement starts.
    tails = [b""] * n
    stage = [0] * n  # 0: waiting for the snapshot, 1: for a summary, 2: ready
    deadline = time.monotonic() + 60
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.1):
            k = key.data
            try:
                d = key.fileobj.recv(1 << 16)
            except BlockingIOError:
                continue
            got[k] += len(d)
            if stage[k] < 2:
                t = tails[k] + d
                want = b"event: snapshot" if stage[k] == 0 else b"event: summary"
                if want in t:
                    stage[k] += 1
                    t = t[t.index(want) + len(want):]
                tails[k] = t[-32:]
        if not ready.is_set() and (min(stage) == 2 or time.monotonic() > deadline):
            ready.set()
    for s in socks:
        s.close()
    out.put(got)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class StreamLoad(unittest.TestCase):
    def test_200_subscribers_keep_ingest_within_10_percent(self):
        v = Vigild().start()
        self.addCleanup(v.cleanup)
        ctx = mp.get_context("fork")

        pid = v.proc.pid

        def rate():
            """(heartbeats/s, vigild CPU ticks per 1000 heartbeats) of one round."""
            q = ctx.Queue()
            ps = [ctx.Process(target=load, args=(v.port, ROUND_S, k, q)) for k in range(LOADERS)]
            c0 = cpu_ticks(pid)
            for p in ps:
                p.start()
            total = sum(q.get(timeout=ROUND_S + 30) for _ in ps)
            for p in ps:
                p.join()
            return total / ROUND_S, (cpu_ticks(pid) - c0) * 1000 / max(total, 1)

        def with_subscribers():
            ready, stop, q = ctx.Event(), ctx.Event(), ctx.Queue()
            p = ctx.Process(target=subscribe, args=(v.port, v.token, SUBSCRIBERS, ready, stop, q))
            p.start()
            self.assertTrue(ready.wait(90), "subscribers did not connect")
            r = rate()
            stop.set()
            got = q.get(timeout=30)
            p.join()
            # their places are free again once vigild notices the closed
            # sockets (at its next message to them: a summary within 2 s)
            time.sleep(2.5)
            return r, got

        rate()  # warm-up: workers registered, connections and caches warm
        fmt = lambda xs: ", ".join(f"{r:.0f}/s {c:.3f}" for r, c in xs)
        verdicts = []
        for attempt in range(ATTEMPTS):
            base, subs, streams = [], [], None
            for _ in range(ROUNDS):
                base.append(rate())
                r, streams = with_subscribers()
                subs.append(r)
            print(f"ingest (rate, CPU ticks per 1000 heartbeats) without subscribers: "
                  f"{fmt(base)}; with {SUBSCRIBERS}: {fmt(subs)}")
            # every subscriber was served: its snapshot and the changes after it
            self.assertEqual(len(streams), SUBSCRIBERS)
            self.assertTrue(all(n > 1000 for n in streams), sorted(streams)[:5])
            cost_base, cost_subs = min(c for _, c in base), min(c for _, c in subs)
            verdicts.append(f"{cost_subs:.3f} vs {cost_base:.3f}")
            if cost_subs <= cost_base / 0.9 or SANITIZED:
                print(f"best rounds, with vs without: {verdicts[-1]}"
                      + (" (sanitizer build: not asserted)" if SANITIZED else ""))
                return
        self.fail(f"CPU per 1000 heartbeats with subscribers vs without, best rounds: {verdicts}")


if __name__ == "__main__":
    unittest.main()
