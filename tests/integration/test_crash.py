"""Crash tests: vigild SIGKILLed at random moments under ~20,000 heartbeats/s, restarted on
the same data, again and again; then the store is compared with what the load generator
(crashload.py) saw accepted.

What vigild promises about this (docs/operations.md "Stopping and restarts", DESIGN §4):
nothing accepted is lost; open sessions are not closed at a restart: a worker that resumes
within its TTL keeps its session, one that does not is closed `timeout` at its last
heartbeat (`monitor_gap` only when vigild was down longer than the TTL: never here, every
outage is kept shorter); the downtime (from the last alive mark of the killed run) is
excluded from every worker's uptime. So after the last cycle, for every worker the generator
ever had a beat accepted from:
- the worker is in the store, `left` when its last instance said bye, else `dead`;
- every instance with an accepted beat has exactly one session, opened between its first
  send and the answer to its first accepted beat;
- an accepted bye closed its session `clean_shutdown` (exit 0) or `failed` with that exit
  code; a restart closed the old instance's session `restarted`; a worker that just stopped
  (or was still beating when the load stopped) is closed `timeout` at its last heartbeat;
- every session has its `session_opened` event and, once closed, one `session_closed` event
  with the same reason;
- the steady workers (beating all along, one session through every restart) have an uptime
  that excludes the time vigild was down.

VIGIL_CRASH_CYCLES (default 20) sets the kill cycles on SQLite, VIGIL_CRASH_SEED the seed
(printed; default: from the clock), VIGIL_CRASH_RATE the heartbeats/s (default 20,000; 4,000
against a sanitizer build). test_crash_pg.py runs the same on PostgreSQL
(VIGIL_CRASH_PG_CYCLES, default 8). `make test-long` runs 100 and 30.
"""
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from harness import VIGILD, Vigild, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
CYCLES = int(os.environ.get("VIGIL_CRASH_CYCLES", "20"))
SEED = int(os.environ.get("VIGIL_CRASH_SEED", "0")) or int(time.time() * 1000) % 1000003
# A sanitizer build is several times slower: at 20,000/s its writer trails by seconds, the
# killed run's last alive mark with it, and the generator's own requests time out. It gets a
# load it keeps up with (what it checks there is the memory safety of the same paths).
_ldd = subprocess.run(["ldd", VIGILD], capture_output=True, text=True).stdout
SANITIZED = "libasan" in _ldd or "libubsan" in _ldd
RATE = int(os.environ.get("VIGIL_CRASH_RATE", "4000" if SANITIZED else "20000"))  # hb/s sent
WORKERS = RATE // 5   # each beats 5 times a second
STEADY = 20           # of them never leave, stop or restart: the uptime check
TTL_S = 6             # every outage below (and its boot) is shorter: no `monitor_gap`
UP_S = (1.5, 4.0)     # vigild runs this long (uniform, seeded) before the next SIGKILL
DOWN_S = (0.05, 1.2)  # and stays down this long
ALIVE_MARK_S = 1.0    # node_runs.alive_ms period (jobs.c WRITER_ALIVE_EVERY_MS)
SLACK_S = 0.35        # scheduling slack on 2 busy cores (the alive mark, a boot)
EPS_S = 0.002         # ms truncation of vigild's timestamps, either way
QUEUE_SIZE = 65536    # raw samples the write queue's ring holds (queue_size, the default)
# A SIGKILL loses the raw samples still queued: under load the writer may trail by up to a
# full ring (~3.3 s at RATE) plus a flush, so a session's stored last heartbeat may be that
# much older than the last one accepted before the kill.
LAG_S = QUEUE_SIZE / RATE + 1.0


def iso_s(t):
    """ISO-8601 UTC with ms (vigild's form) -> epoch seconds."""
    if t is None:
        return None
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def metric(v, name):
    r = v.request("GET", "/metrics", token=v.token, timeout=5)
    for line in r.body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class Crash:
    """One crash run: vigild under load, killed `cycles` times."""

    def __init__(self, tc, cycles, env, label):
        self.tc, self.cycles, self.label = tc, cycles, label
        self.rng = random.Random(SEED)
        self.tmp = tempfile.mkdtemp(prefix="vigil-crash-")
        self.v = Vigild(data_dir=os.path.join(self.tmp, "var"),
                        env={"VIGIL_DEFAULT_TTL_S": str(TTL_S), **env})
        self.gen = None
        self.outages = []  # (t_kill, t_spawn, t_ready)
        self.lagged = 0    # sessions closed at an earlier beat: the last samples lost in a kill
        self.max_lag = 0.0

    def start_gen(self):
        out = os.path.join(self.tmp, "gen")
        os.makedirs(out)
        self.gen_out = out
        self.gen_log = open(os.path.join(out, "gen.log"), "wb")
        self.gen = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "crashload.py"), "--port", str(self.v.port),
             "--seed", str(SEED), "--out", out, "--workers", str(WORKERS), "--steady",
             str(STEADY), "--rate", str(RATE), "--ttl-s", str(TTL_S), "--group", "crash",
             "--max-s", str(60 + self.cycles * 8)],
            stdout=self.gen_log, stderr=subprocess.STDOUT)

    def stop_gen(self):
        if self.gen and self.gen.poll() is None:
            self.gen.send_signal(signal.SIGTERM)
            try:
                self.gen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.gen.kill()
                self.gen.wait()
        self.gen_log.close()

    def run(self):
        v = self.v
        print(f"\n[{self.label}] seed {SEED} (VIGIL_CRASH_SEED={SEED} repeats it), "
              f"{self.cycles} kill cycles, {RATE} hb/s offered", flush=True)
        v.start()
        self.start_gen()
        token = v.token
        print(f"{'cycle':>5} {'up_s':>5} {'hb_acc':>7} {'hb/s':>6} {'byes':>5} {'q_depth':>7} "
              f"{'down_s':>6} {'boot_s':>6} {'replayed':>8}", flush=True)
        self.total_acc = 0
        for c in range(1, self.cycles + 1):
            up = self.rng.uniform(*UP_S)
            down = self.rng.uniform(*DOWN_S)
            t_up = time.time()
            time.sleep(up)
            acc = metric(v, "vigil_heartbeats_accepted_total") or 0
            byes = metric(v, "vigil_byes_total") or 0
            depth = v.request("GET", "/readyz").json().get("queue_depth")
            ran = time.time() - t_up
            self.gen_alive()
            t_kill = time.time()
            self.tc.assertEqual(v.kill(signal.SIGKILL), -signal.SIGKILL)
            time.sleep(down)
            t_spawn = time.time()
            v.start(port=v.port)
            t_ready = time.time()
            self.outages.append((t_kill, t_spawn, t_ready))
            replayed = metric(v, "vigil_events_replayed_total")
            self.total_acc += acc
            print(f"{c:>5} {ran:>5.2f} {int(acc):>7} {acc / ran:>6.0f} {int(byes):>5} "
                  f"{depth!s:>7} {t_spawn - t_kill:>6.2f} {t_ready - t_spawn:>6.2f} "
                  f"{int(replayed or 0):>8}", flush=True)
            self.tc.assertEqual(token, v.token)
        time.sleep(2)  # the last run under load too
        self.stop_gen()
        with open(os.path.join(self.gen_out, "summary.json")) as f:
            self.g = json.load(f)
        st = self.g["stats"]
        span = self.g["t_stop"] - self.g["t_start"]
        print(f"[{self.label}] generator: {st['hb_accepted']} heartbeats accepted in {span:.1f} s "
              f"({st['hb_accepted'] / span:.0f}/s including the outages), "
              f"{st['byes_accepted']} byes ({st['bye_retries']} retried after a kill), "
              f"{st['lost']} lost, {st['restarts']} restarts, {len(self.g['workers'])} workers, "
              f"{st['hb_uncertain']} beats unanswered by a killed vigild, "
              f"non-2xx {st['non_2xx']}", flush=True)
        self.tc.assertEqual(st["hb_rejected"], 0)
        self.wait_settled()

    def gen_alive(self):
        if self.gen.poll() is not None:
            with open(os.path.join(self.gen_out, "gen.log"), "rb") as f:
                raise AssertionError(f"load generator exited: {f.read()[-2000:]!r}")

    def wait_settled(self):
        """Every worker not gone by bye has timed out, and the writer has stored it all."""
        v = self.v
        time.sleep(TTL_S + 0.5)

        def settled():
            ws = self.all_workers()
            return not [w for w in ws.values() if w["state"] in ("alive", "suspect")]
        wait_until(settled, timeout=30, interval=0.5, what="every worker dead or left")
        r = v.request("POST", "/v1/admin/rollup", token=v.token, timeout=150)
        self.tc.assertEqual(r.status, 200, r)  # waits for the writer to store all accepted
        wait_until(lambda: v.request("GET", "/readyz").json()["queue_depth"] == 0, timeout=30,
                   what="write queue empty")

    def all_workers(self):
        out, cursor = {}, None
        for _ in range(10000):
            q = "/v1/workers?group=crash&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            d = self.v.get(q)
            for w in d["workers"]:
                out[w["worker_id"]] = w
            cursor = d["next_cursor"]
            if not cursor:
                return out
        raise AssertionError("workers: too many pages")

    def all_events(self, typ):
        """Every event of the type, newest first (after_id=0 means no after_id: page back)."""
        out, before = [], None
        for _ in range(100000):
            q = f"/v1/events?group=crash&type={typ}&limit=1000"
            d = self.v.get(q + (f"&before_id={before}" if before else ""))
            out += d["events"]
            before = d.get("next_before_id")
            if not d["events"] or not before:
                return out
        raise AssertionError("events: too many pages")

    def check(self):
        v, g = self.v, self.g
        bad = []
        stored = self.all_workers()
        opened_ev, closed_ev = {}, {}
        for e in self.all_events("session_opened"):
            k = (e["worker_id"], e["instance"])
            opened_ev[k] = opened_ev.get(k, 0) + 1
        for e in self.all_events("session_closed"):
            closed_ev.setdefault((e["worker_id"], e["instance"]), []).append(e)
        n_sessions = n_bye = n_restart = n_timeout = 0
        for wid, wd in g["workers"].items():
            insts = [i for i in wd["insts"] if i["acc_first"] is not None]
            if not insts:
                continue  # vigild never answered one of its beats: nothing was promised
            w = stored.get(wid)
            if w is None:
                bad.append(f"{wid}: accepted but not in the store")
                continue
            last = wd["insts"][-1]
            want_state = "left" if last["end"] == "bye" else "dead"
            if last["acc_first"] is None and wd["insts"][-2]["end"] == "restarted":
                want_state = None  # its new instance's first beat was never answered
            if want_state and w["state"] != want_state:
                bad.append(f"{wid}: state {w['state']}, want {want_state} ({last['end']})")
            sess = v.sessions(wid)
            by_inst = {}
            for s in sess:
                by_inst.setdefault(s["instance"], []).append(s)
            for k, inst in enumerate(wd["insts"]):
                name = inst["name"]
                ss = by_inst.get(name, [])
                if inst["acc_first"] is None:
                    if len(ss) > 1:
                        bad.append(f"{name}: {len(ss)} sessions for an unanswered instance")
                    continue
                if len(ss) != 1:
                    bad.append(f"{name}: {len(ss)} sessions, want 1: {ss}")
                    continue
                s = ss[0]
                n_sessions += 1
                opened = iso_s(s["opened"])
                if not inst["sent_first"] - EPS_S <= opened <= inst["acc_first"][1] + EPS_S:
                    bad.append(f"{name}: opened {s['opened']} outside its first beat "
                               f"[{inst['sent_first']:.3f}, {inst['acc_first'][1]:.3f}]")
                if opened_ev.get((wid, name), 0) < 1:
                    bad.append(f"{name}: no session_opened event")
                if s["open"]:
                    bad.append(f"{name}: session still open ({inst['end']})")
                    continue
                closed = iso_s(s["closed"])
                end = inst["end"]
                if end == "bye":
                    n_bye += 1
                    want = ("clean_shutdown" if inst["exit_code"] == 0 else "failed",
                            inst["exit_code"])
                    if (s["reason"], s["exit_code"]) != want:
                        bad.append(f"{name}: bye exit {inst['exit_code']} accepted, session "
                                   f"closed {s['reason']} exit {s['exit_code']}")
                    elif not inst["end_t0"] - EPS_S <= closed <= inst["end_t1"] + EPS_S:
                        bad.append(f"{name}: bye at [{inst['end_t0']:.3f}, "
                                   f"{inst['end_t1']:.3f}], closed {s['closed']}")
                elif end == "restarted":
                    n_restart += 1
                    nxt = wd["insts"][k + 1]
                    if nxt["acc_first"] is None:
                        continue  # the new instance was never answered: either end goes
                    if s["reason"] != "restarted":
                        bad.append(f"{name}: restarted, session closed {s['reason']}")
                    elif not self.at_last_beat(inst, closed):
                        bad.append(f"{name}: restarted, closed {s['closed']}, last accepted "
                                   f"beat [{inst['acc_last'][0]:.3f}, {inst['acc_last'][1]:.3f}]"
                                   f" (last sent {inst['sent_last']:.3f})")
                else:  # lost, or still beating when the load stopped
                    n_timeout += 1
                    if s["reason"] != "timeout":
                        bad.append(f"{name}: stopped ({end}), session closed {s['reason']}")
                    elif not self.at_last_beat(inst, closed):
                        bad.append(f"{name}: closed {s['closed']}, last accepted beat "
                                   f"[{inst['acc_last'][0]:.3f}, {inst['acc_last'][1]:.3f}] "
                                   f"(last sent {inst['sent_last']:.3f})")
                ce = closed_ev.get((wid, name), [])
                if len(ce) != 1 or ce[0]["reason"] != s["reason"]:
                    bad.append(f"{name}: session_closed events {[e['reason'] for e in ce]}, "
                               f"session {s['reason']}")
            if wd["steady"]:
                self.check_uptime(wid, wd, sess, bad)
        down = sum(s - k for k, s, _ in self.outages)
        print(f"[{self.label}] checked {n_sessions} sessions of {len(g['workers'])} workers: "
              f"{n_bye} byes, {n_restart} restarts, {n_timeout} timeouts; vigild down "
              f"{down:.1f} s in {len(self.outages)} outages; {self.lagged} closed at an earlier "
              f"beat (last samples lost in a kill; at most {self.max_lag:.2f} s earlier); "
              f"{len(bad)} problems", flush=True)
        for b in bad[:30]:
            print("  " + b, flush=True)
        self.tc.assertEqual(bad, [], f"{len(bad)} problems (seed {SEED})")
        self.tc.assertGreater(n_bye, 0)
        self.tc.assertGreater(n_restart, 0)
        self.tc.assertGreater(n_timeout, 0)

    def at_last_beat(self, inst, closed):
        """A session ends at its instance's last heartbeat: the last one accepted, or one
        sent but unanswered by a vigild killed meanwhile. Or, when vigild was SIGKILLed at most
        LAG_S after the last accepted beat, an earlier one: the last beats' raw samples were
        still in the write queue's ring, which a crash loses (samples are droppable, state
        changes are not: docs/operations.md). Counted in self.lagged."""
        lo, hi = inst["acc_last"][0] - EPS_S, inst["sent_last"] + EPS_S
        if lo <= closed <= hi:
            return True
        if closed < lo and closed >= inst["acc_first"][0] - EPS_S:
            for k, _, _ in self.outages:
                if k >= lo and k - closed <= LAG_S:  # killed after its last beat, soon enough
                    self.lagged += 1
                    self.max_lag = max(self.max_lag, inst["acc_last"][0] - closed)
                    return True
        return False

    def check_uptime(self, wid, wd, sess, bad):
        """One session through every restart; its up time is its length minus the outages
        inside it, as vigild measured them: from the killed run's last alive mark (at most
        ALIVE_MARK_S before the kill) to the new run's start (between spawn and ready)."""
        if len(sess) != 1:
            bad.append(f"{wid}: steady worker has {len(sess)} sessions, want 1 (kept across "
                       f"restarts): {[(s['reason'], s['opened']) for s in sess]}")
            return
        s = sess[0]
        opened, closed = iso_s(s["opened"]), iso_s(s["closed"])
        inside = [o for o in self.outages if opened < o[0] < closed]
        lo_gap = sum(sp - k for k, sp, _ in inside)
        hi_gap = sum(rd - k + ALIVE_MARK_S + SLACK_S for k, _, rd in inside)
        f = self.v.get(f"/v1/workers/{wid}/liveness")
        length = closed - opened
        if not length - hi_gap - 0.01 <= f["up_s"] <= length - lo_gap + 0.01:
            bad.append(f"{wid}: up_s {f['up_s']:.2f}, want session {length:.2f} s minus the "
                       f"{len(inside)} outages in it ({lo_gap:.2f}-{hi_gap:.2f} s)")
        if wid == min(w for w, d in self.g["workers"].items() if d["steady"]):
            print(f"[{self.label}] steady {wid}: session {length:.1f} s, up_s {f['up_s']:.1f}, "
                  f"observed_s {f['observed_s']:.1f}, uptime_pct {f['uptime_pct']}, "
                  f"outages in it {lo_gap:.1f}-{hi_gap:.1f} s", flush=True)

    def cleanup(self):
        if self.gen and self.gen.poll() is None:
            self.gen.kill()
            self.gen.wait()
        self.v.stop()
        if self.tc.keep_dir():
            print(f"[{self.label}] kept {self.tmp}", flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class CrashBase(unittest.TestCase):
    def keep_dir(self):
        return bool(os.environ.get("VIGIL_CRASH_KEEP"))

    def crash(self, cycles, env, label):
        c = Crash(self, cycles, env, label)
        try:
            c.run()
            c.check()
        finally:
            c.cleanup()


class CrashTest(CrashBase):
    def test_sqlite_sigkill_cycles(self):
        self.crash(CYCLES, {}, "sqlite")


if __name__ == "__main__":
    unittest.main(verbosity=2)
