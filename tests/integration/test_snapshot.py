"""GET /v1/snapshot end to end: the raw-state envelope of a real vigild.

Sections present and plausible after heartbeats (worker counts by state, job
lists, the writer having stored them, the process's own cpu ticks and rss),
a section forced to fail by the test hook (VIGIL_TEST_SNAPSHOT_FAIL) coming
back null with the rest intact, the kill switch ([server] snapshot = false)
answering 404, and the admin token required.
"""
import os
import re
import tempfile
import unittest

from harness import Vigild, wait_until

SECTIONS = ["registry", "queues", "writer", "jobs", "alerts", "stream", "process"]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def snapshot(v):
    r = v.request("GET", "/v1/snapshot", token=v.token)
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    return r.json()


class Snapshot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = Vigild().start()
        v = cls.v
        for wid, g in (("a1", "alpha"), ("a2", "alpha"), ("b1", "beta")):
            assert v.beat(wid, group=g, ttl_s=60).status == 200
        assert v.beat("a1", group="alpha", ttl_s=60, jobs=["j-1", "j-2"]).status == 200
        assert v.bye("b1").status == 200

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def test_admin_token_required(self):
        self.assertEqual(self.v.request("GET", "/v1/snapshot").status, 401)
        self.assertEqual(self.v.request("GET", "/v1/snapshot", token="wrong").status, 401)
        r = self.v.request("POST", "/v1/snapshot", token=self.v.token)
        self.assertEqual(r.status, 405, r)

    def test_envelope(self):
        doc = snapshot(self.v)
        self.assertEqual(doc["schema_version"], 1)
        self.assertRegex(doc["generated_at"], ISO)
        self.assertIsInstance(doc["generated_at_ms"], int)
        self.assertEqual(doc["clk_tck"], os.sysconf("SC_CLK_TCK"))
        self.assertTrue(doc["node_id"])
        self.assertEqual(list(doc["sections"]), SECTIONS)
        for name in SECTIONS:
            self.assertIsInstance(doc["sections"][name], dict, name)

    def test_registry(self):
        reg = snapshot(self.v)["sections"]["registry"]
        self.assertEqual(reg["workers"]["by_state"]["alive"], 2)
        self.assertEqual(reg["workers"]["by_state"]["left"], 1)
        self.assertEqual(reg["workers"]["total"], 3)
        self.assertEqual(set(reg["workers"]["by_state"]),
                         {"alive", "suspect", "dead", "left", "evicted"})
        self.assertEqual(reg["groups"]["total"], 2)
        # beta's only worker left with a bye: scaled down, not crashed.
        self.assertEqual(reg["groups"]["by_state"]["alive"], 1)
        self.assertEqual(reg["groups"]["by_state"]["scaled_down"], 1)
        self.assertGreater(reg["memory_bytes"], 0)
        self.assertEqual(reg["job_lists"]["workers"], 1)
        self.assertGreaterEqual(reg["job_lists"]["bytes"], len("j-1\nj-2"))

    def test_writer_and_queues(self):
        # 3 opens, 1 close, state changes and 4 raw samples: the writer stores them.
        doc = wait_until(lambda: (lambda d: d if d["sections"]["writer"]["persisted"] >= 5
                                  else None)(snapshot(self.v)), what="writer persisted")
        w = doc["sections"]["writer"]
        self.assertGreater(w["flushes"], 0)
        self.assertEqual(w["flush_failures"], 0)
        self.assertIs(w["store_ok"], True)
        self.assertIs(w["alive"], True)
        self.assertLess(w["last_alive_age_ms"], 5000)
        q = doc["sections"]["queues"]
        self.assertEqual(q["heartbeats"]["capacity"], 65536)
        self.assertGreaterEqual(q["heartbeats"]["pushed"], 4)  # the beats; a bye is no sample
        self.assertEqual(q["heartbeats"]["dropped"], 0)
        self.assertGreater(q["events"]["pushed"], 0)
        self.assertEqual(q["events"]["spill"]["unread"], 0)
        self.assertEqual(q["events"]["spill"]["last_error"], "")

    def test_jobs(self):
        r = self.v.request("POST", "/v1/admin/rollup", token=self.v.token)
        self.assertEqual(r.status, 200, r)
        sweeps = snapshot(self.v)["sections"]["jobs"]["sweeper"]["sweeps"]
        # The sweeper turns every 50 ms; visits count only workers whose wheel
        # slot came up (none here before their 60 s TTL), so just its type.
        doc = wait_until(lambda: (lambda d: d if d["sections"]["jobs"]["sweeper"]["sweeps"] > sweeps
                                  else None)(snapshot(self.v)), what="sweeps to go on")
        jobs = doc["sections"]["jobs"]
        self.assertIsInstance(jobs["sweeper"]["visits"], int)
        self.assertEqual(jobs["sweeper"]["interval_ms"], 50)
        ru = jobs["rollup"]
        self.assertGreaterEqual(ru["runs"], 1)
        self.assertIs(ru["last"]["ok"], True)
        self.assertRegex(ru["last"]["at"], ISO)
        self.assertGreaterEqual(ru["last"]["reliability"]["workers"], 3)
        self.assertIs(jobs["history"]["running"], True)
        self.assertEqual(jobs["history"]["sample_s"], 30)

    def test_alerts_without_rules(self):
        al = snapshot(self.v)["sections"]["alerts"]
        self.assertIs(al["enabled"], False)
        for k, val in al.items():
            if k != "enabled":
                self.assertEqual(val, 0, k)

    def test_stream(self):
        st = snapshot(self.v)["sections"]["stream"]
        self.assertIs(st["enabled"], True)
        self.assertEqual(st["subscribers"], 0)
        self.assertEqual(st["max_subscribers"], 256)

    def test_process(self):
        doc = snapshot(self.v)
        p = doc["sections"]["process"]
        self.assertEqual(p["pid"], self.v.proc.pid)
        # Booting (migrations, restore) takes well over one 10 ms tick.
        self.assertGreater(p["cpu_ticks"], 0)
        self.assertEqual(p["cpu_ticks"], p["utime_ticks"] + p["stime_ticks"])
        self.assertGreater(p["rss_bytes"], 1 << 20)
        self.assertGreaterEqual(p["threads"], 4)  # http, writer, sweeper, rollup, ...
        self.assertGreaterEqual(p["open_fds"], 4)  # + the listening socket, the store
        self.assertRegex(p["started_at"], ISO)
        self.assertLessEqual(p["started_at_ms"], doc["generated_at_ms"])
        self.assertGreaterEqual(p["uptime_s"], 0)
        self.assertLess(p["uptime_s"], 300)
        self.assertTrue(p["version"])


class SnapshotDegrades(unittest.TestCase):
    def test_forced_failures_are_null(self):
        v = Vigild(env={"VIGIL_TEST_SNAPSHOT_FAIL": "process, queues,nosuch"}).start()
        try:
            assert v.beat("w1", group="g").status == 200
            doc = snapshot(v)
            secs = doc["sections"]
            self.assertEqual(list(secs), SECTIONS)
            self.assertIsNone(secs["process"])
            self.assertIsNone(secs["queues"])
            for name in set(SECTIONS) - {"process", "queues"}:
                self.assertIsInstance(secs[name], dict, name)
            self.assertEqual(secs["registry"]["workers"]["total"], 1)
            self.assertEqual(doc["schema_version"], 1)
            logs = v.logs()
            self.assertIn("VIGIL_TEST_SNAPSHOT_FAIL", logs)
            self.assertIn("nosuch", logs)
        finally:
            v.cleanup()


class SnapshotOff(unittest.TestCase):
    def test_kill_switch(self):
        tmp = tempfile.mkdtemp(prefix="vigil-it-snap-")
        conf = os.path.join(tmp, "vigil.ini")
        with open(conf, "w") as f:
            f.write("[server]\nsnapshot = false\n")
        v = Vigild(args=["--config", conf]).start()
        try:
            r = v.request("GET", "/v1/snapshot", token=v.token)
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json(), {"error": {
                "field": "path",
                "reason": "the snapshot endpoint is turned off ([server] snapshot)"}})
            self.assertEqual(v.request("GET", "/v1/snapshot").status, 401)
            self.assertEqual(v.request("GET", "/v1/groups", token=v.token).status, 200)
        finally:
            v.cleanup()
            os.remove(conf)
            os.rmdir(tmp)

    def test_bad_value_refused(self):
        v = Vigild(env={"VIGIL_SNAPSHOT": "maybe"})
        try:
            with self.assertRaises(AssertionError) as cm:
                v.start()
            self.assertIn("VIGIL_SNAPSHOT", str(cm.exception))
        finally:
            v.log.close()  # vigild refused to start: nobody else closes it
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
