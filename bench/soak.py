"""Soak: a steady heartbeat load, worker churn and stream subscribers against one vigild
for a set time, sampling its RSS every SAMPLE_S seconds; fails when the RSS after warm-up
grows by more than a margin. Driven by bench/soak.sh (see there for the knobs).

Loopback only; every loop ends at the deadline; vigild is stopped (SIGTERM) at the end,
so a sanitizer build reports leaks into its log (harness.Vigild.stop checks it)."""
import argparse
import http.client
import json
import os
import random
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import Vigild  # noqa: E402

SAMPLE_S = 10


def rss_kib(pid):
    """(VmRSS, RssAnon) in KiB. RssAnon is what a leak grows; the rest is mostly the
    SQLite file mapped by mmap_size (bounded by the file, given back under pressure)."""
    vals = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon"):
                vals[k] = int(v.split()[0])
    return vals.get("VmRSS", -1), vals.get("RssAnon", -1)


class Load:
    def __init__(self, v, args, deadline):
        self.v, self.a, self.deadline = v, args, deadline
        self.sent = self.failed = self.byes = self.stream_events = self.stream_conns = 0
        self.lock = threading.Lock()

    def count(self, **kw):
        with self.lock:
            for k, n in kw.items():
                setattr(self, k, getattr(self, k) + n)

    def beats(self, part, parts):
        """Workers part, part+parts, ... of the pool: each beats every interval; a worker
        'churns' (bye, then back later as a new session) with probability churn per beat."""
        ids = [f"soak-{i}" for i in range(part, self.a.workers, parts)]
        per_s = len(ids) / self.a.interval
        c = http.client.HTTPConnection("127.0.0.1", self.v.port, timeout=10)
        rnd = random.Random(part)
        t_next = time.monotonic()
        i = 0
        while time.monotonic() < self.deadline:
            wid = ids[i % len(ids)]
            i += 1
            bye = rnd.random() < self.a.churn
            body = json.dumps({"worker_id": wid, "group": f"g{hash(wid) % 8}",
                               "cpu": rnd.random(), "mem": rnd.random(), "seq": i,
                               "status": "soak", "jobs": [f"j{i % 7}"]}
                              if not bye else {"worker_id": wid, "exit_code": 0})
            try:
                c.request("POST", "/v1/bye" if bye else "/v1/heartbeat", body,
                          {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                self.count(sent=1, byes=int(bye), failed=int(r.status != 200))
            except (OSError, http.client.HTTPException):
                self.count(failed=1)
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.v.port, timeout=10)
            t_next += 1.0 / per_s
            delay = t_next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                t_next = time.monotonic()  # fell behind: do not burst to catch up

    def subscriber(self, seed):
        """Subscribe to /v1/stream for 5-30 s, drop it, come back: subscriber churn."""
        rnd = random.Random(seed)
        tok = self.v.token
        while time.monotonic() < self.deadline:
            until = min(self.deadline, time.monotonic() + rnd.uniform(5, 30))
            try:
                with socket.create_connection(("127.0.0.1", self.v.port), timeout=2) as s:
                    s.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                              f"{tok}\r\n\r\n".encode())
                    self.count(stream_conns=1)
                    while time.monotonic() < until:
                        try:
                            data = s.recv(65536)
                        except socket.timeout:
                            continue
                        if not data:
                            break
                        self.count(stream_events=data.count(b"\nevent: "))
            except OSError:
                self.count(failed=1)
                time.sleep(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--warmup", type=float, default=None, help="minutes (default: 1/3, max 5)")
    p.add_argument("--margin-mib", type=float, default=16)
    p.add_argument("--workers", type=int, default=2000)
    p.add_argument("--interval", type=float, default=5, help="s between a worker's beats")
    p.add_argument("--churn", type=float, default=0.002, help="chance a beat is a bye")
    p.add_argument("--subscribers", type=int, default=4)
    p.add_argument("--threads", type=int, default=4, help="heartbeat connections")
    p.add_argument("--csv", default=None)
    a = p.parse_args()
    warm = a.warmup if a.warmup is not None else min(5.0, a.minutes / 3)
    v = Vigild(env={"VIGIL_DEFAULT_TTL_S": "15"}).start()
    t0 = time.monotonic()
    deadline = t0 + a.minutes * 60
    load = Load(v, a, deadline)
    threads = [threading.Thread(target=load.beats, args=(i, a.threads), daemon=True)
               for i in range(a.threads)]
    threads += [threading.Thread(target=load.subscriber, args=(i,), daemon=True)
                for i in range(a.subscribers)]
    for t in threads:
        t.start()
    samples = []  # (s since start, RSS KiB)
    out = open(a.csv, "w") if a.csv else None
    if out:
        out.write("t_s,rss_kib,anon_kib,sent,failed,byes,stream_conns,stream_events\n")
    try:
        while time.monotonic() < deadline:
            time.sleep(min(SAMPLE_S, max(0.0, deadline - time.monotonic())))
            if v.proc.poll() is not None:
                raise SystemExit(f"vigild exited with {v.proc.returncode}: {v.logs()}")
            t = time.monotonic() - t0
            rss, anon = rss_kib(v.proc.pid)
            samples.append((t, rss, anon))
            line = (f"{t:.0f},{rss},{anon},{load.sent},{load.failed},{load.byes},{load.stream_conns},"
                    f"{load.stream_events}")
            print(line, flush=True)
            if out:
                out.write(line + "\n")
                out.flush()
        for t in threads:
            t.join(timeout=15)
    finally:
        rc = v.stop()
        v.cleanup()
    after = [(r, an) for t, r, an in samples if t >= warm * 60]
    if len(after) < 6:
        raise SystemExit("soak too short to judge: fewer than 6 samples after warm-up")

    def mib(xs):
        return statistics.median(xs) / 1024

    # The first and the last minute after warm-up; the verdict is on anonymous memory.
    base, final = mib([r for r, _ in after[:6]]), mib([r for r, _ in after[-6:]])
    abase, afinal = mib([an for _, an in after[:6]]), mib([an for _, an in after[-6:]])
    growth = afinal - abase
    rate = load.sent / (a.minutes * 60)
    print(f"soak: {a.minutes:g} min, warm-up {warm:g} min; {load.sent} requests "
          f"({rate:.0f}/s), {load.byes} byes, {load.failed} failed; {load.stream_conns} "
          f"stream connections, {load.stream_events} events; after warm-up -> end: RSS "
          f"{base:.1f} -> {final:.1f} MiB, anonymous {abase:.1f} -> {afinal:.1f} MiB (growth "
          f"{growth:+.1f} MiB, margin {a.margin_mib:g}); peak RSS "
          f"{max(r for r, _ in after) / 1024:.1f} MiB; vigild exit {rc}")
    ok = growth <= a.margin_mib and load.failed <= load.sent // 1000 and rc == 0
    print("soak: PASS" if ok else "soak: FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
