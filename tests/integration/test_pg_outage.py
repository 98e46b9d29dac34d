"""PostgreSQL stopped for 60 s under load (issue 5, DESIGN §4).

While the store is down: liveness and the read endpoints served from memory
keep working, /readyz reports the store down, raw samples that do not fit the
queue are dropped and counted, and session opens/closes are kept (in memory up
to event_queue_max, in the spill file past it). When the database is back,
everything kept is written: the rows in `heartbeats` are exactly the samples
accepted minus those counted as dropped, and every session change made during
the outage is in `sessions`. Needs PostgreSQL (make test installs it); the
test runs a cluster of its own so it can stop it.

VIGIL_TEST_OUTAGE_S shortens the outage for a quick local run (default 60).
"""
import os
import time
import unittest

from harness import BatchLoad, PgCluster, Vigild, wait_until

OUTAGE_S = float(os.environ.get("VIGIL_TEST_OUTAGE_S", "60"))
LOAD_WORKERS = 200      # beating all along, one NDJSON request a round
LOAD_PERIOD_S = 0.05    # between rounds: ~4,000 samples/s, far past the 1,024-slot queue
NEW_WORKERS = 1500      # first seen during the outage: past event_queue_max (1,000)
BYE_WORKERS = 40        # leave cleanly during the outage
RESTART_WORKERS = 20    # restart (new instance) during the outage


def Load(v, max_s):
    return BatchLoad(v, max_s, "ld-", "load", LOAD_WORKERS, LOAD_PERIOD_S,
                     lambda seq: {"cpu": 0.5, "mem": 0.25, "requests": seq})


def ndjson(v, lines):
    r = v.beats(lines)
    assert r.status == 200 and r.json()["accepted"] == len(lines), r
    return len(lines)


class PgOutage(unittest.TestCase):
    def setUp(self):
        self.pg = PgCluster().start()
        self.url = self.pg.schema("outage")
        self.v = Vigild(env={"VIGIL_DATABASE_URL": self.url, "VIGIL_NODE_ID": "node-o",
                             "VIGIL_DEFAULT_TTL_S": "600", "VIGIL_QUEUE_SIZE": "1024",
                             "VIGIL_EVENT_QUEUE_MAX": "1000"}).start()

    def tearDown(self):
        self.v.cleanup()
        self.pg.destroy()

    def count(self, sql):
        return int(self.pg.psql(sql, self.url))

    def readyz(self):
        return self.v.request("GET", "/readyz").json()

    def test_sixty_seconds_without_postgres(self):
        v = self.v
        extra = 0  # samples accepted outside the load thread
        extra += ndjson(v, [{"worker_id": f"bye-{i}", "group": "leavers"}
                            for i in range(BYE_WORKERS)])
        extra += ndjson(v, [{"worker_id": f"rs-{i}", "group": "restarters", "instance": "a"}
                            for i in range(RESTART_WORKERS)])
        load = Load(v, max_s=OUTAGE_S + 120)
        load.start()
        try:
            wait_until(lambda: self.count("SELECT count(*) FROM sessions") >=
                       LOAD_WORKERS + BYE_WORKERS + RESTART_WORKERS, timeout=20,
                       what="sessions stored before the outage")

            self.pg.stop_server()
            t_down = time.monotonic()
            r = wait_until(lambda: (lambda x: x if x.status == 503 else None)(
                v.request("GET", "/readyz")), timeout=20, what="readyz 503")
            self.assertEqual(r.json()["store"], "down")

            # session changes while the store is down: opens past the event cap,
            # clean leaves, restarts
            for k in range(0, NEW_WORKERS, 500):
                extra += ndjson(v, [{"worker_id": f"new-{i}", "group": "newcomers"}
                                    for i in range(k, min(k + 500, NEW_WORKERS))])
            for i in range(BYE_WORKERS):
                self.assertEqual(v.bye(f"bye-{i}", exit_code=0).status, 200)
            extra += ndjson(v, [{"worker_id": f"rs-{i}", "group": "restarters", "instance": "b"}
                                for i in range(RESTART_WORKERS)])

            # memory-served reads keep working
            self.assertEqual(v.worker("new-7")["state"], "alive")
            self.assertEqual(v.worker("bye-3")["state"], "left")
            self.assertEqual(v.worker("rs-1")["instance"], "b")
            self.assertEqual(v.group("newcomers")["workers"]["alive"], NEW_WORKERS)
            self.assertEqual(v.group("load")["workers"]["alive"], LOAD_WORKERS)
            self.assertEqual(v.request("GET", "/v1/reliability", token=v.token).status, 200)
            wait_until(lambda: self.readyz()["spilled"] > 0, timeout=20,
                       what="events past event_queue_max spilled to the file")

            while time.monotonic() - t_down < OUTAGE_S:
                rz = v.request("GET", "/readyz")
                self.assertEqual((rz.status, rz.json()["store"]), (503, "down"))
                self.assertTrue(load.is_alive(), "load generator ended early")
                time.sleep(1)
            self.assertGreater(self.readyz()["dropped"], 0)

            self.pg.start()
            # ingest goes on being stored once the database is back
            wait_until(lambda: self.readyz()["status"] == "ready", timeout=60, interval=0.2,
                       what="store recovered")
            stored = self.count("SELECT count(*) FROM heartbeats")
            wait_until(lambda: self.count("SELECT count(*) FROM heartbeats") > stored + 5000,
                       timeout=30, what="new samples stored after the outage")
        finally:
            load.finish()
        self.assertEqual(load.failed, [])
        self.assertGreater(load.accepted, 0)

        # load stopped: everything kept is written, then nothing is waiting
        wait_until(lambda: (lambda z: z["status"] == "ready" and z["queue_depth"] == 0
                            and z["spilled"] == 0)(self.readyz()),
                   timeout=60, interval=0.2, what="store recovered and queue drained")
        dropped = self.readyz()["dropped"]
        accepted = load.accepted + extra
        rows = self.count("SELECT count(*) FROM heartbeats")
        print(f"\noutage {OUTAGE_S:.0f} s: accepted {accepted} samples, stored {rows}, "
              f"dropped {dropped}", flush=True)
        self.assertEqual(rows + dropped, accepted,
                         f"rows {rows} + dropped {dropped} != accepted {accepted}")

        self.assertEqual(self.count("SELECT count(*) FROM sessions WHERE worker_id LIKE 'new-%' "
                                    "AND closed_ms IS NULL AND node_id = 'node-o'"), NEW_WORKERS)
        self.assertEqual(self.count("SELECT count(*) FROM sessions WHERE worker_id LIKE 'bye-%' "
                                    "AND reason = 'clean_shutdown'"), BYE_WORKERS)
        self.assertEqual(self.count("SELECT count(*) FROM sessions WHERE worker_id LIKE 'bye-%' "
                                    "AND closed_ms IS NULL"), 0)
        self.assertEqual(self.count("SELECT count(*) FROM sessions WHERE worker_id LIKE 'rs-%' "
                                    "AND reason = 'restarted'"), RESTART_WORKERS)
        self.assertEqual(self.count("SELECT count(*) FROM sessions WHERE worker_id LIKE 'rs-%' "
                                    "AND closed_ms IS NULL AND instance = 'b'"), RESTART_WORKERS)
        self.assertEqual(self.count("SELECT count(*) FROM workers"),
                         LOAD_WORKERS + NEW_WORKERS + BYE_WORKERS + RESTART_WORKERS)
        # the HTTP read side agrees with the database
        s = v.sessions("bye-3")
        self.assertEqual([(x["open"], x["reason"]) for x in s], [(False, "clean_shutdown")])
        self.assertIn("store writes recovered", v.logs())
        self.assertEqual(v.kill(15), 0)

    def test_stop_right_after_the_outage_writes_everything(self):
        """A graceful stop does not wait out the writer's backoff (up to 5 s):
        it retries at once, and with the database back everything queued is
        written, nothing is left in the spill file."""
        v = self.v
        n = ndjson(v, [{"worker_id": f"st-{i}", "group": "stoppers"} for i in range(50)])
        wait_until(lambda: self.count("SELECT count(*) FROM sessions") == 50, timeout=20,
                   what="sessions stored")
        self.pg.stop_server()
        for i in range(25):
            self.assertEqual(v.bye(f"st-{i}", exit_code=0).status, 200)
        n += ndjson(v, [{"worker_id": f"st-{i}", "group": "stoppers", "cpu": 0.1}
                        for i in range(25, 50)])
        # the writer is then deep in its backoff (steps 0.1 s doubling to 5 s)
        time.sleep(6)
        self.pg.start()
        t0 = time.monotonic()
        self.assertEqual(v.kill(15), 0)
        took = time.monotonic() - t0
        self.assertLess(took, 2.5, "the stop waited out the writer's backoff")
        self.assertEqual(self.count("SELECT count(*) FROM sessions WHERE reason = "
                                    "'clean_shutdown'"), 25)
        self.assertEqual(self.count("SELECT count(*) FROM heartbeats"), n)
        spill = os.path.join(v.data_dir, "events.spill")
        # at most the 32-byte file header (spill.h): no event left for the next boot
        self.assertLessEqual(os.path.getsize(spill) if os.path.exists(spill) else 0, 32)


if __name__ == "__main__":
    unittest.main(verbosity=2)
