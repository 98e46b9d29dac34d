"""I/O faults: vigild's data directory on a small tmpfs that fills up while heartbeats flow.

With the disk full, SQLite's writes fail (SQLITE_FULL), and so do the spill file's and the
journal's appends. What vigild promises (DESIGN §2, docs/operations.md "How data flows"):
the heartbeat path never waits on the disk, so heartbeats are still accepted, workers are
tracked and a worker that stops is still declared dead; raw samples that do not fit the
queue are dropped and counted (/metrics, /v1/snapshot, /readyz); /readyz says not ready;
state events are never dropped (kept in memory when the spill file cannot be written,
counted). Once space returns, writes resume, everything kept is stored, and nothing
accepted is lost: every session change made while the disk was full is in the store, and
the raw rows stored are exactly the samples accepted minus those counted as dropped.

Needs root (mount -t tmpfs); without it the test is skipped, saying why. The tmpfs is
unmounted on every exit path. VIGIL_IO_FULL_S sets how long the disk stays full (default 10).

StoreFaults: store errors injected by the writer's test hook (VIGIL_TEST_STORE_FAIL names a
trigger file: "before" fails every write before it reaches the store, "after" lets the next
write commit and then reports it failed, once: a lost acknowledgement, as when PostgreSQL's
connection drops after COMMIT). The SQLite lock (test_store_outage.py) and a stopped server
(test_pg_outage.py) cover outages; these cover what they cannot reach: a retried batch that
was in fact committed, and a SIGKILL while PostgreSQL refuses writes.
"""
import atexit
import errno
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BatchLoad, PgCluster, Vigild, wait_until

FULL_S = float(os.environ.get("VIGIL_IO_FULL_S", "10"))
TMPFS_SIZE = "48m"
LOAD_WORKERS = 200    # beating all along, one NDJSON request a round
LOAD_PERIOD_S = 0.05  # ~4,000 samples/s: the 1,024-slot queue overflows within a second
NEW_WORKERS = 1500    # first seen while full: ~3,000 events, past event_queue_max (1,000)
BYE_WORKERS = 40      # leave while full
LOST_TTL_S = 3        # "io-lost" stops beating while full: dead 3 s later
ENV = {"VIGIL_DEFAULT_TTL_S": "600", "VIGIL_QUEUE_SIZE": "1024", "VIGIL_EVENT_QUEUE_MAX": "1000"}


def metrics(v):
    out = {}
    for line in v.request("GET", "/metrics", token=v.token).body.splitlines():
        if line and not line.startswith("#"):
            name, _, val = line.rpartition(" ")
            out[name] = float(val)
    return out


def mount_tmpfs(path):
    """None when mounted, else why not."""
    if os.geteuid() != 0:
        return "not root: mount -t tmpfs needs CAP_SYS_ADMIN"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs",
                        path], capture_output=True, text=True, timeout=30)
    return None if r.returncode == 0 else f"mount -t tmpfs refused: {r.stderr.strip()}"


def umount(path):
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def fill(path):
    """Write zeros into path until the file system is full; bytes written."""
    n = 0
    chunk = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        for _ in range(100000):  # bounded: far more than any tmpfs here
            try:
                n += f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[:len(chunk) // 16 or 1]  # the last partial pages too
    return n


def Load(v, max_s):
    return BatchLoad(v, max_s, "io-ld-", "ioload", LOAD_WORKERS, LOAD_PERIOD_S,
                     lambda seq: {"cpu": 0.5})


class IoFaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-io-")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.makedirs(self.mnt)
        why = mount_tmpfs(self.mnt)
        if why:
            shutil.rmtree(self.tmp, ignore_errors=True)
            print(f"SKIP test_io_faults: {why}", flush=True)
            self.skipTest(why)
        atexit.register(umount, self.mnt)  # even if the test process is interrupted
        self.v = None

    def tearDown(self):
        if self.v:
            self.v.stop()
        umount(self.mnt)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ndjson(self, lines):
        r = self.v.beats(lines, timeout=30)
        self.assertEqual((r.status, r.json()["accepted"]), (200, len(lines)), r)
        return len(lines)

    def test_disk_full_under_load_then_space_returns(self):
        v = self.v = Vigild(data_dir=os.path.join(self.mnt, "var"), env=ENV)
        v.start()
        extra = 0  # samples accepted outside the load thread
        extra += self.ndjson([{"worker_id": f"io-bye-{i}", "group": "ioleavers"}
                              for i in range(BYE_WORKERS)])
        v.beat("io-lost", group="iolost", ttl_s=LOST_TTL_S)
        extra += 1
        wait_until(lambda: len(v.sessions("io-bye-0")) == 1, what="first sessions stored")
        load = Load(v, max_s=FULL_S + 120)
        load.start()
        try:
            time.sleep(1)
            filler = os.path.join(self.mnt, "filler")
            t_full = time.monotonic()
            filled = fill(filler)
            m = wait_until(lambda: (lambda x: x if x["vigil_store_up"] == 0 else None)(
                metrics(v)), timeout=30, what="store writes failing (disk full)")
            fail_before = m["vigil_writer_flush_failures_total"]
            r = wait_until(lambda: (lambda x: x if x.status == 503 else None)(
                v.request("GET", "/readyz")), timeout=20, what="readyz 503")
            self.assertEqual(r.json()["status"], "not_ready")
            self.assertEqual(r.json()["store"], "down")

            # Liveness goes on: heartbeats accepted, new workers tracked, byes applied.
            accepted_at_full = load.accepted
            extra += self.ndjson([{"worker_id": f"io-new-{i}", "group": "ionew",
                                   "instance": "n1"} for i in range(NEW_WORKERS)])
            for i in range(BYE_WORKERS):
                r = v.bye(f"io-bye-{i}", exit_code=i % 2)
                self.assertEqual((r.status, r.json()["state"]), (200, "left"), r)
            self.assertEqual(v.worker("io-new-7")["state"], "alive")
            self.assertEqual(v.worker("io-bye-3")["state"], "left")
            # io-lost stopped beating when the disk filled: still found dead
            lost = wait_until(lambda: (lambda w: w if w["state"] == "dead" else None)(
                v.worker("io-lost")), timeout=LOST_TTL_S + 10, what="io-lost dead")
            lost_last = lost["last_heartbeat"]
            left = FULL_S - (time.monotonic() - t_full)
            if left > 0:
                time.sleep(left)
            self.assertGreater(load.accepted, accepted_at_full)  # never stopped accepting

            # Counted: drops, events kept in memory past the cap, failed flushes.
            m = metrics(v)
            self.assertEqual(m["vigil_store_up"], 0)
            self.assertGreater(m["vigil_raw_samples_dropped_total"], 0)
            self.assertGreater(m["vigil_event_spill_failures_total"], 0)
            self.assertGreater(m["vigil_writer_flush_failures_total"], fail_before)
            self.assertGreater(m["vigil_event_journal_failures_total"], 0)
            snap = v.get("/v1/snapshot")["sections"]
            self.assertIs(snap["writer"]["store_ok"], False)
            q = snap["queues"]
            self.assertGreater(q["heartbeats"]["dropped"], 0)
            self.assertGreater(q["events"]["spill"]["kept_past_cap"], 0)
            self.assertEqual(q["events"]["spill"]["last_errno"], errno.ENOSPC)
            self.assertGreaterEqual(q["events"]["in_memory"], 1000)
            rz = v.request("GET", "/readyz").json()
            self.assertGreater(rz["dropped"], 0)
            full_s = time.monotonic() - t_full

            # Space returns: writes resume and everything kept is stored.
            os.unlink(filler)
            t_back = time.monotonic()
            wait_until(lambda: v.request("GET", "/readyz").status == 200, timeout=60,
                       what="readyz after space returns")
            recover_s = time.monotonic() - t_back
            wait_until(lambda: v.get("/v1/snapshot")["sections"]["queues"]["events"]["depth"]
                       == 0, timeout=60, what="every kept event stored")
        finally:
            load.finish()
        self.assertEqual(load.failed, [])
        r = v.request("POST", "/v1/admin/rollup", token=v.token, timeout=150)
        self.assertEqual(r.status, 200, r)  # a barrier: the writer stored all accepted before it

        # Nothing accepted is lost.
        ws = {}
        cursor = None
        for _ in range(10):
            d = v.get("/v1/workers?group=ionew&limit=1000" + (f"&cursor={cursor}" if cursor
                                                               else ""))
            ws.update({w["worker_id"]: w for w in d["workers"]})
            cursor = d["next_cursor"]
            if not cursor:
                break
        self.assertEqual(len(ws), NEW_WORKERS)
        for i in (0, 999, NEW_WORKERS - 1):
            self.assertEqual([s["open"] for s in v.sessions(f"io-new-{i}")], [True])
        for i in range(BYE_WORKERS):
            s = v.sessions(f"io-bye-{i}")
            want = ("clean_shutdown", 0) if i % 2 == 0 else ("failed", 1)
            self.assertEqual([(x["reason"], x["exit_code"]) for x in s], [want], f"io-bye-{i}")
        s = v.sessions("io-lost")
        self.assertEqual([(x["reason"], x["closed"]) for x in s], [("timeout", lost_last)])
        m = metrics(v)
        self.assertEqual(m["vigil_store_up"], 1)
        accepted = load.accepted + extra
        self.assertEqual(m["vigil_heartbeats_accepted_total"], accepted)
        rows = v.sqlite_value("SELECT count(*) FROM heartbeats")
        dropped = int(m["vigil_raw_samples_dropped_total"])
        self.assertEqual(rows + dropped, accepted)
        print(f"\ntmpfs {TMPFS_SIZE}: filled with {filled >> 20} MiB; disk full {full_s:.1f} s "
              f"under ~{LOAD_WORKERS / LOAD_PERIOD_S:.0f} hb/s; {accepted} samples accepted, "
              f"{rows} stored, {dropped} dropped (counted); "
              f"{int(m['vigil_event_spill_failures_total'])} events kept in memory past the cap, "
              f"{int(m['vigil_writer_flush_failures_total'])} failed flushes; ready again "
              f"{recover_s:.1f} s after the filler was deleted", flush=True)
        self.assertEqual(v.kill(15), 0)
        self.v = None


class StoreFaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-fault-")
        self.fault = os.path.join(self.tmp, "fault")
        self.v = None

    def tearDown(self):
        if self.v:
            self.v.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def inject(self, mode):
        with open(self.fault, "w") as f:
            f.write(mode + "\n")

    def lost_ack(self):
        """One batch of 50 new workers and a bye committed, reported failed, retried."""
        v = self.v = Vigild(env={"VIGIL_TEST_STORE_FAIL": self.fault}).start()
        v.beat("la-warm", group="la", instance="w1")
        wait_until(lambda: len(v.sessions("la-warm")) == 1, what="first session stored")
        fail0 = metrics(v)["vigil_writer_flush_failures_total"]
        self.inject("after")
        self.assertEqual(self.ndjson_ok([{"worker_id": f"la-{i}", "group": "la",
                                          "instance": "a"} for i in range(50)]), 50)
        self.assertEqual(v.bye("la-warm", instance="w1", exit_code=0).status, 200)
        wait_until(lambda: not os.path.exists(self.fault), timeout=20, what="the fault fired")
        wait_until(lambda: v.request("GET", "/readyz").status == 200, timeout=20,
                   what="store writes recovered")
        r = v.request("POST", "/v1/admin/rollup", token=v.token, timeout=150)
        self.assertEqual(r.status, 200, r)  # the writer stored all accepted before it
        self.assertEqual(metrics(v)["vigil_writer_flush_failures_total"], fail0 + 1)
        return v

    def ndjson_ok(self, lines):
        r = self.v.beats(lines)
        self.assertEqual(r.status, 200, r)
        return r.json()["accepted"]

    def test_lost_commit_ack_keeps_sessions_exact(self):
        v = self.lost_ack()
        for i in range(50):
            s = v.sessions(f"la-{i}")
            self.assertEqual([(x["instance"], x["open"]) for x in s], [("a", True)], f"la-{i}")
        opened = v.get("/v1/events?group=la&type=session_opened&limit=1000")["events"]
        self.assertEqual(sorted(e["worker_id"] for e in opened),
                         sorted([f"la-{i}" for i in range(50)] + ["la-warm"]))
        s = v.sessions("la-warm")
        self.assertEqual([(x["reason"], x["exit_code"]) for x in s], [("clean_shutdown", 0)])
        closed = v.get("/v1/events?worker_id=la-warm&type=session_closed")["events"]
        self.assertEqual([e["reason"] for e in closed], ["clean_shutdown"])
        self.assertEqual(v.worker("la-warm")["state"], "left")

    def test_lost_commit_ack_stores_raw_samples_once(self):
        """The retry first asks the store whether the batch's mark is there (store_batch_mark):
        it is, so nothing is written again: one heartbeat, one row; no event row twice."""
        v = self.lost_ack()
        rows = [len(v.get(f"/v1/workers/la-{i}/heartbeats")["heartbeats"]) for i in range(50)]
        self.assertEqual(rows, [1] * 50)
        evs = v.get("/v1/events?group=la&limit=1000")["events"]
        keys = [(e["type"], e.get("worker_id"), e["ts"]) for e in evs]
        self.assertEqual(len(keys), len(set(keys)), sorted(keys))
        with open(v.log_path, "rb") as f:
            self.assertIn(b"not stored again", f.read())

    def test_postgres_refusing_writes_then_sigkill_replays_the_journal(self):
        pg = PgCluster().start()
        try:
            v = self.v = Vigild(env={"VIGIL_DATABASE_URL": pg.schema("faults"),
                                     "VIGIL_NODE_ID": "node-f", "VIGIL_DEFAULT_TTL_S": "600",
                                     "VIGIL_TEST_STORE_FAIL": self.fault}).start()
            v.beat("pf-bye", group="pf", instance="a")
            v.beat("pf-re", group="pf", instance="a")
            wait_until(lambda: len(v.sessions("pf-bye")) == len(v.sessions("pf-re")) == 1,
                       what="first sessions stored")
            self.inject("before")
            self.assertEqual(v.bye("pf-bye", instance="a", exit_code=9).status, 200)
            self.assertEqual(v.beat("pf-new", group="pf", instance="a").status, 200)
            self.assertEqual(v.beat("pf-re", group="pf", instance="b").status, 200)
            wait_until(lambda: metrics(v)["vigil_writer_flush_failures_total"] >= 2,
                       timeout=20, what="writes failing")
            self.assertEqual(v.request("GET", "/readyz").status, 503)
            self.assertEqual(v.kill(signal.SIGKILL), -signal.SIGKILL)
            os.unlink(self.fault)
            v.start()
            self.assertEqual([(x["reason"], x["exit_code"]) for x in v.sessions("pf-bye")],
                             [("failed", 9)])
            self.assertEqual(v.worker("pf-bye")["state"], "left")
            self.assertEqual([x["open"] for x in v.sessions("pf-new")], [True])
            self.assertEqual(sorted((x["instance"], x["reason"]) for x in v.sessions("pf-re")),
                             [("a", "restarted"), ("b", None)])
            self.assertGreaterEqual(metrics(v)["vigil_events_replayed_total"], 6)
            self.assertEqual(v.kill(signal.SIGTERM), 0)
            self.v = None
        finally:
            if self.v:
                self.v.cleanup()
                self.v = None
            pg.destroy()


if __name__ == "__main__":
    unittest.main(verbosity=2)
