"""The event lane's spill file: with the store down (another process holds SQLite's write lock)
and event_queue_max at its minimum (1000), state events past the cap go to DATA_DIR/events.spill
instead of memory; nothing accepted is lost.

1. Outage while running: /readyz is not ready and counts the spilled events; once the lock is
   gone every session reaches the store, in order (closes after their opens).
2. Stop while the store is down: the writer leaves what it could not store in the spill file;
   the next start applies it before restoring the registry, and every session is there.
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import unittest

from harness import VIGILD, Vigild, free_port, wait_until

N_WORKERS = 1500  # each heartbeat opens a session: ~3000 events, well past 1000
BYE_EVERY = 15    # every 15th worker says bye: 100 closed sessions
TTL_S = 600       # no session times out while the test runs
ENV = {"VIGIL_EVENT_QUEUE_MAX": "1000"}
SPILL_HEADER_BYTES = 32


def wid(i):
    return f"sp-{i:04d}"


def byes():
    return [i for i in range(N_WORKERS) if i % BYE_EVERY == 0]


def readyz(v):
    r = v.request("GET", "/readyz")
    return r.status, json.loads(r.body)


def lock_store(v):
    """Take SQLite's write lock: vigild's writer now gets SQLITE_BUSY."""
    db = sqlite3.connect(os.path.join(v.data_dir, "vigil.db"), isolation_level=None, timeout=10)
    db.execute("BEGIN EXCLUSIVE")
    return db


def unlock_store(db):
    db.rollback()
    db.close()


def accept_workload(tc, v):
    """Open N_WORKERS sessions (one NDJSON batch), then close every BYE_EVERY-th one."""
    r = v.beats([{"worker_id": wid(i), "group": "spill", "ttl_s": TTL_S, "instance": "i1"}
                 for i in range(N_WORKERS)], timeout=60)
    tc.assertEqual(r.status, 200, r)
    tc.assertEqual(r.json()["accepted"], N_WORKERS)
    for i in byes():
        tc.assertEqual(v.bye(wid(i), instance="i1", exit_code=0).status, 200)
    # liveness is served from memory meanwhile
    tc.assertEqual(v.worker(wid(1))["state"], "alive")
    tc.assertEqual(v.worker(wid(0))["state"], "left")


def check_sessions(tc, v):
    """Every session accepted is in the store: the byes' closed clean_shutdown (so each close
    was applied after its open), the others open."""
    closing = set(byes())
    for i in range(N_WORKERS):
        s = v.sessions(wid(i))
        tc.assertEqual(len(s), 1, (wid(i), s))
        if i in closing:
            tc.assertFalse(s[0]["open"], (wid(i), s))
            tc.assertEqual(s[0]["reason"], "clean_shutdown", (wid(i), s))
        else:
            tc.assertTrue(s[0]["open"], (wid(i), s))


def start_refused(v):
    """Start vigild on v's data dir expecting it to refuse: (exit code, its output)."""
    env = {k: val for k, val in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(v.env)
    r = subprocess.run([VIGILD, "--listen", f"127.0.0.1:{free_port()}", "--data", v.data_dir],
                       env=env, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def read_log(v):
    with open(v.log_path, "rb") as f:
        return f.read().decode(errors="replace")


class Spill(unittest.TestCase):
    def start(self):
        v = Vigild(env=ENV).start()
        v.beat("first", group="spill", ttl_s=TTL_S)
        wait_until(lambda: len(v.sessions("first")) == 1, what="first session stored")
        return v

    def test_outage_spills_then_drains_in_order(self):
        v = self.start()
        try:
            db = lock_store(v)
            try:
                accept_workload(self, v)
                st = wait_until(lambda: (lambda s: s if s[0] == 503 and s[1]["spilled"] > 0
                                         else None)(readyz(v)), timeout=30,
                                what="readyz 503 with spilled events")[1]
                self.assertEqual(st["store"], "down")
                self.assertGreater(st["queue_depth"], 0)
                self.assertIn("spilling state events", read_log(v))
                self.assertGreater(os.path.getsize(os.path.join(v.data_dir, "events.spill")),
                                   SPILL_HEADER_BYTES)
            finally:
                unlock_store(db)
            wait_until(lambda: (lambda s: s[0] == 200 and s[1]["spilled"] == 0
                                and s[1]["queue_depth"] == 0)(readyz(v)), timeout=60,
                       what="readyz 200 with the spill worked off")
            check_sessions(self, v)
            self.assertIn("worked off", read_log(v))
            self.assertEqual(os.path.getsize(os.path.join(v.data_dir, "events.spill")),
                             SPILL_HEADER_BYTES)  # truncated once stored
            self.assertEqual(v.kill(signal.SIGTERM), 0)
        finally:
            v.cleanup()

    def test_stop_with_store_down_applies_spill_at_next_start(self):
        v = self.start()
        try:
            db = lock_store(v)
            try:
                accept_workload(self, v)
                wait_until(lambda: readyz(v)[0] == 503, timeout=30, what="readyz 503")
                # The writer retries for a while (backoff up to 5 s), then spills and exits.
                self.assertEqual(v.kill(signal.SIGTERM), 0)
                log = read_log(v)
                self.assertIn("events spilled to", log)
                self.assertNotIn("events lost", log)
                spill = os.path.join(v.data_dir, "events.spill")
                size = os.path.getsize(spill)
                self.assertGreater(size, SPILL_HEADER_BYTES)
                # Still down at the next start: vigild will not restore a registry that
                # misses those events, and says why.
                rc, out = start_refused(v)
                self.assertEqual(rc, 1, out)
                self.assertIn("events.spill", out)
                self.assertIn("not starting without them", out)
                self.assertEqual(os.path.getsize(spill), size)  # kept for the next try
                # A damaged record (not a torn end) is refused too, before anything is applied.
                n = int(re.search(r"(\d+) events spilled to", log).group(1))
                rec = (size - SPILL_HEADER_BYTES) // n
                self.assertEqual(SPILL_HEADER_BYTES + n * rec, size)
                with open(spill, "rb") as f:
                    good = f.read()
                bad = bytearray(good)
                bad[SPILL_HEADER_BYTES + rec + rec // 2] ^= 0x55  # inside record 1
                with open(spill, "wb") as f:
                    f.write(bad)
                rc, out = start_refused(v)
                self.assertEqual(rc, 1, out)
                self.assertIn("record 1 of", out)
                self.assertIn("move the file aside", out)
                with open(spill, "wb") as f:
                    f.write(good)
            finally:
                unlock_store(db)
            v.start()
            self.assertIn("state events from", read_log(v))  # applied at boot
            st = readyz(v)
            self.assertEqual(st[1]["spilled"], 0)
            self.assertEqual(os.path.getsize(spill), SPILL_HEADER_BYTES)
            check_sessions(self, v)
            # restored from the store: the byes' workers left, the others still alive
            self.assertEqual(v.worker(wid(0))["state"], "left")
            self.assertEqual(v.worker(wid(1))["state"], "alive")
            self.assertEqual(v.kill(signal.SIGTERM), 0)
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
