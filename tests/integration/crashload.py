"""Load generator for the crash tests (test_crash.py): a fleet of workers heartbeating
vigild in NDJSON batches over keep-alive connections, with a seeded lifecycle, and a log of
what vigild ACCEPTED.

Run as its own process (`python3 crashload.py --port P --seed S --out DIR ...`) so its
threads do not share a GIL with the test that kills and restarts vigild. It runs until
SIGTERM (or --max-s), then writes DIR/summary.json. Meanwhile DIR/requests.ndjson gets one
line per request vigild answered 2xx: {"t0","t1","kind","n"} plus, for a bye, the worker,
instance and exit code, and for a batch the (worker, instance) pairs it began.

Workers live in slots; each thread owns a share of the slots and beats each live one once
a round (a round lasts slots/rate seconds). Per beat, with small seeded probabilities, the
worker
- says bye (exit code 0, 1, 2, 137 or 255) and leaves: its slot gets a fresh worker;
- just stops (it is "lost": vigild must time it out): its slot gets a fresh worker;
- restarts: its next beats carry a new instance.
"Steady" slots (the first --steady) never do any of that: their worker lives the whole run
(the uptime check). Every request vigild did not answer 2xx is retried in some form: a
batch's workers beat again next round; a bye is retried until it gets a 2xx (a repeated bye
is harmless: the session is already closed with the same exit code).

What vigild may have applied without the generator seeing the answer (the connection broke
after the request went out) is "uncertain": the summary keeps, per (worker, instance), the
window of the first and last ACCEPTED beat and, apart, the earliest and latest beat SENT,
so the test can bound what vigild stored either way.
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import threading
import time

EXIT_CODES = (0, 0, 1, 2, 137, 255)
CONNECT_TIMEOUT_S = 0.5
REQUEST_TIMEOUT_S = 5.0
RETRY_PAUSE_S = 0.02  # after a refused connection (vigild down)


class Inst:
    """One instance of a worker: what was sent and what was accepted."""
    __slots__ = ("name", "sent_first", "sent_last", "acc_first", "acc_last", "n_acc", "end",
                 "end_t0", "end_t1", "exit_code", "bye_tries")

    def __init__(self, name):
        self.name = name
        self.sent_first = self.sent_last = None  # t0 of the first / t1 of the last send
        self.acc_first = self.acc_last = None    # (t0, t1) of the first / last 2xx beat
        self.n_acc = 0
        self.end = "active"  # active | bye | lost | restarted
        self.end_t0 = self.end_t1 = None
        self.exit_code = None
        self.bye_tries = 0

    def doc(self):
        return {k: getattr(self, k) for k in self.__slots__}


class Worker:
    __slots__ = ("wid", "insts", "steady", "prefix", "seq")

    def __init__(self, wid, steady, ttl_s, group):
        self.wid, self.steady, self.seq = wid, steady, 0
        self.insts = []
        self.new_instance(ttl_s, group)

    def new_instance(self, ttl_s, group):
        inst = Inst(f"{self.wid}.{len(self.insts) + 1}")
        self.insts.append(inst)
        self.prefix = (f'{{"worker_id":"{self.wid}","group":"{group}","instance":"{inst.name}",'
                       f'"ttl_s":{ttl_s},"cpu":0.25,"seq":')

    @property
    def cur(self):
        return self.insts[-1]


class Conn:
    """One keep-alive HTTP connection that knows whether a failed request was sent."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def post(self, path, body, ctype):
        """(status, body) or raises; `sent` on the exception says whether it may have been
        applied."""
        if self.c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CONNECT_TIMEOUT_S)
            try:
                c.connect()
            except OSError as e:
                e.sent = False
                raise
            c.sock.settimeout(REQUEST_TIMEOUT_S)
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.c = c
        try:
            self.c.request("POST", path, body=body, headers={"Content-Type": ctype})
            r = self.c.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.close()
            return r.status, data
        except (OSError, http.client.HTTPException) as e:
            self.close()
            e.sent = True
            raise

    def close(self):
        if self.c:
            self.c.close()
            self.c = None


class Gen:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.workers = {}
        self.next_id = 0
        self.log = open(os.path.join(a.out, "requests.ndjson"), "w", buffering=1 << 20)
        self.stats = {"hb_accepted": 0, "hb_rejected": 0, "hb_sent_failed": 0,
                      "hb_uncertain": 0, "byes_accepted": 0, "byes_ignored": 0,
                      "bye_retries": 0, "lost": 0, "restarts": 0, "requests": 0,
                      "non_2xx": {}}
        self.per_s = {}  # whole second -> heartbeats accepted

    def new_worker(self, steady=False):
        with self.lock:
            self.next_id += 1
            w = Worker(f"cr-{self.next_id:06d}", steady, self.a.ttl_s, self.a.group)
            self.workers[w.wid] = w
        return w

    def note_status(self, st):
        with self.lock:
            k = str(st)
            self.stats["non_2xx"][k] = self.stats["non_2xx"].get(k, 0) + 1

    def bye(self, conn, w, rng):
        inst = w.cur
        inst.exit_code = rng.choice(EXIT_CODES)
        body = json.dumps({"worker_id": w.wid, "instance": inst.name,
                           "exit_code": inst.exit_code})
        deadline = time.monotonic() + self.a.bye_retry_s
        first_t0 = None
        while time.monotonic() < deadline:
            inst.bye_tries += 1
            t0 = time.time()
            # A try whose answer a kill cut off may still have been applied
            # (and stored) before the kill: the session may close at any try
            # from the first one on, so the window starts there.
            if first_t0 is None:
                first_t0 = t0
            try:
                st, data = conn.post("/v1/bye", body, "application/json")
            except (OSError, http.client.HTTPException):
                time.sleep(RETRY_PAUSE_S)
                continue
            t1 = time.time()
            if 200 <= st < 300:
                doc = json.loads(data)
                inst.end, inst.end_t0, inst.end_t1 = "bye", first_t0, t1
                with self.lock:
                    self.stats["byes_accepted"] += 1
                    self.stats["bye_retries"] += inst.bye_tries - 1
                    if doc.get("ignored"):
                        self.stats["byes_ignored"] += 1
                    self.log.write(json.dumps({"t0": t0, "t1": t1, "kind": "bye", "st": st,
                                               "worker": w.wid, "instance": inst.name,
                                               "exit_code": inst.exit_code}) + "\n")
                return
            self.note_status(st)
            time.sleep(RETRY_PAUSE_S)
        inst.end = "bye_unacked"  # never acknowledged within bye_retry_s: the test fails

    def run_thread(self, idx, slots):
        a = self.a
        rng = random.Random(a.seed * 1000 + idx)
        conn = Conn(a.port)
        per_thread_rate = a.rate / a.threads
        round_s = len(slots) / per_thread_rate
        next_round = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now < next_round:
                time.sleep(min(next_round - now, 0.05))
                continue
            next_round = max(next_round + round_s, now - round_s)
            for b in range(0, len(slots), a.batch):
                if self.stop.is_set():
                    break
                chunk = slots[b:b + a.batch]
                ws = [w for w in chunk if w is not None]
                lines = []
                for w in ws:
                    w.seq += 1
                    lines.append(w.prefix + str(w.seq) + "}")
                t0 = time.time()
                for w in ws:
                    if w.cur.sent_first is None:
                        w.cur.sent_first = t0
                try:
                    st, data = conn.post("/v1/heartbeats", "\n".join(lines),
                                         "application/x-ndjson")
                except (OSError, http.client.HTTPException) as e:
                    t1 = time.time()
                    with self.lock:
                        if getattr(e, "sent", True):
                            self.stats["hb_uncertain"] += len(ws)
                            for w in ws:
                                w.cur.sent_last = t1
                        else:
                            self.stats["hb_sent_failed"] += len(ws)
                            for w in ws:  # not sent: the first send is still to come
                                if w.cur.acc_first is None and w.cur.sent_last is None:
                                    w.cur.sent_first = None
                    time.sleep(RETRY_PAUSE_S)
                    continue
                t1 = time.time()
                for w in ws:
                    w.cur.sent_last = t1
                if st != 200:
                    self.note_status(st)
                    continue
                doc = json.loads(data)
                began = []
                with self.lock:
                    self.stats["requests"] += 1
                    self.stats["hb_accepted"] += doc["accepted"]
                    self.stats["hb_rejected"] += doc["rejected"]
                    sec = int(t1)
                    self.per_s[sec] = self.per_s.get(sec, 0) + doc["accepted"]
                bad = {e["line"] for e in doc.get("errors", [])}
                for i, w in enumerate(ws):
                    if i + 1 in bad:
                        continue
                    inst = w.cur
                    if inst.acc_first is None:
                        inst.acc_first = (t0, t1)
                        began.append(inst.name)
                    inst.acc_last = (t0, t1)
                    inst.n_acc += 1
                self.log.write(json.dumps({"t0": t0, "t1": t1, "kind": "hb", "st": st,
                                           "n": doc["accepted"], "began": began}) + "\n")
                # lifecycle, decided after an accepted beat so each worker is known first
                for i, w in enumerate(ws):
                    if w.steady or w.cur.acc_first is None:
                        continue
                    x = rng.random()
                    slot = b + chunk.index(w)
                    if x < a.p_bye:
                        self.bye(conn, w, rng)
                        slots[slot] = self.new_worker()
                    elif x < a.p_bye + a.p_lose:
                        w.cur.end, w.cur.end_t0 = "lost", time.time()
                        with self.lock:
                            self.stats["lost"] += 1
                        slots[slot] = self.new_worker()
                    elif x < a.p_bye + a.p_lose + a.p_restart:
                        w.cur.end, w.cur.end_t0 = "restarted", time.time()
                        w.new_instance(a.ttl_s, a.group)
                        with self.lock:
                            self.stats["restarts"] += 1
        conn.close()

    def run(self):
        a = self.a
        slots = [self.new_worker(steady=i < a.steady) for i in range(a.workers)]
        shares = [slots[i::a.threads] for i in range(a.threads)]
        ths = [threading.Thread(target=self.run_thread, args=(i, shares[i]), daemon=True)
               for i in range(a.threads)]
        self.t_start = time.time()
        for t in ths:
            t.start()
        self.stop.wait(a.max_s)
        self.stop.set()
        for t in ths:
            t.join(timeout=REQUEST_TIMEOUT_S + a.bye_retry_s + 5)
        self.t_stop = time.time()
        self.log.close()
        doc = {"seed": a.seed, "t_start": self.t_start, "t_stop": self.t_stop,
               "stats": self.stats, "per_s": self.per_s, "ttl_s": a.ttl_s, "group": a.group,
               "workers": {w.wid: {"steady": w.steady, "insts": [i.doc() for i in w.insts]}
                           for w in self.workers.values()}}
        tmp = os.path.join(a.out, "summary.json.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, os.path.join(a.out, "summary.json"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workers", type=int, default=4000)
    p.add_argument("--steady", type=int, default=20)
    p.add_argument("--rate", type=float, default=20000, help="heartbeats/s in all")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--batch", type=int, default=250, help="lines per NDJSON request")
    p.add_argument("--ttl-s", type=int, default=4)
    p.add_argument("--group", default="crash")
    p.add_argument("--p-bye", type=float, default=0.0005)
    p.add_argument("--p-lose", type=float, default=0.0005)
    p.add_argument("--p-restart", type=float, default=0.0005)
    p.add_argument("--bye-retry-s", type=float, default=30)
    p.add_argument("--max-s", type=float, default=900)
    a = p.parse_args()
    g = Gen(a)
    signal.signal(signal.SIGTERM, lambda *_: g.stop.set())
    g.run()


if __name__ == "__main__":
    main()
