"""Alerts judged on workers' own samples, end to end through a real vigild and
a webhook receiver on loopback: a threshold on cpu that must hold `for` before
it fires, a `stuck` worker whose cpu_ticks stand still, a lost worker whose
notice carries the job ids it last reported, and every firing and resolve
recorded as an event in /v1/events."""
import json
import os
import tempfile
import time
import unittest

from harness import Vigild, wait_until
from peers import HttpReceiver


def config(port):
    return f"""
[alerts]
grace_s = 0
sample_s = 1

[sink "hook"]
type = webhook
url = http://127.0.0.1:{port}/hook

[group "fast"]
ttl_s = 1

[rule "hot"]
type = threshold
group = gpu
field = cpu
op = >
value = 0.9
for = 3s
sinks = hook

[rule "warm"]
type = threshold
group = gpu
field = thermal
op = >=
value = serious
sinks = hook

[rule "stuck"]
type = stuck
group = batch
for = 3s
sinks = hook

[rule "lost"]
type = worker_lost
group = fast
sinks = hook
"""


class SampledAlerts(unittest.TestCase):
    def setUp(self):
        self.rx = HttpReceiver().start()
        self.tmp = tempfile.mkdtemp(prefix="vigil-sampled-")
        path = os.path.join(self.tmp, "vigil.ini")
        with open(path, "w") as f:
            f.write(config(self.rx.port))
        self.v = Vigild(args=["--config", path]).start()

    def tearDown(self):
        self.v.cleanup()
        self.rx.stop()

    def notices(self, rule=None):
        out = [json.loads(b["body"]) for b in self.rx.received("/hook")]
        return [n for n in out if rule is None or n["rule"] == rule]

    def keep_beating(self, seconds, wid, **fields):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.assertEqual(self.v.beat(wid, **fields).status, 200)
            time.sleep(0.2)

    def test_threshold_holds_for_then_fires_and_resolves(self):
        t0 = time.monotonic()
        # a one-beat spike: below `for`, never fires
        self.v.beat("g1", group="gpu", cpu=0.99)
        self.keep_beating(2.5, "g1", group="gpu", cpu=0.3)
        self.assertEqual(self.notices("hot"), [])
        # held high: fires once, not before `for`
        t1 = time.monotonic()
        end = t1 + 12
        while not self.notices("hot") and time.monotonic() < end:
            self.v.beat("g1", group="gpu", cpu=0.97)
            self.v.beat("g2", group="gpu", cpu=0.5)  # below: never alerts
            time.sleep(0.2)
        n = self.notices("hot")
        self.assertEqual(len(n), 1, n)
        self.assertGreaterEqual(time.monotonic() - t1, 3.0)
        self.assertEqual((n[0]["state"], n[0]["type"], n[0]["worker_id"], n[0]["group"]),
                         ("firing", "threshold", "g1", "gpu"))
        self.assertEqual((n[0]["field"], n[0]["limit"]), ("cpu", 0.9))
        self.assertAlmostEqual(n[0]["value"], 0.97, places=5)
        # back under: one resolve
        end = time.monotonic() + 12
        while len(self.notices("hot")) < 2 and time.monotonic() < end:
            self.v.beat("g1", group="gpu", cpu=0.2)
            time.sleep(0.2)
        n = self.notices("hot")
        self.assertEqual([x["state"] for x in n], ["firing", "resolved"])
        self.assertGreater(time.monotonic() - t0, 0)

    def test_thermal_by_name(self):
        end = time.monotonic() + 10
        while not self.notices("warm") and time.monotonic() < end:
            self.v.beat("t1", group="gpu", thermal="critical")
            self.v.beat("t2", group="gpu", thermal="fair")
            time.sleep(0.2)
        n = self.notices("warm")
        self.assertEqual([(x["worker_id"], x["value"]) for x in n], [("t1", 4)])

    def test_stuck_when_ticks_stand_still(self):
        end = time.monotonic() + 15
        while not self.notices("stuck") and time.monotonic() < end:
            self.v.beat("b1", group="batch", cpu_ticks=500)  # never moves
            self.v.beat("b2", group="batch", cpu_ticks=int(time.monotonic() * 100))
            self.v.beat("b3", group="batch")  # no ticks reported: not judged
            time.sleep(0.2)
        n = self.notices("stuck")
        self.assertEqual([(x["state"], x["worker_id"]) for x in n], [("firing", "b1")])
        self.assertGreaterEqual(n[0]["value"], 3000)
        # it moves again: resolved
        end = time.monotonic() + 12
        ticks = 501
        while len(self.notices("stuck")) < 2 and time.monotonic() < end:
            self.v.beat("b1", group="batch", cpu_ticks=ticks)
            ticks += 7
            time.sleep(0.2)
        self.assertEqual([x["state"] for x in self.notices("stuck")], ["firing", "resolved"])

    def test_lost_worker_carries_its_jobs_and_events_record_alerts(self):
        r = self.v.beat("f1", group="fast", in_flight=2, jobs=["job-a", "job-b"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.v.worker("f1")["jobs"], ["job-a", "job-b"])
        n = wait_until(lambda: self.notices("lost"), timeout=15, what="worker_lost notice")
        self.assertEqual(len(n), 1, n)
        self.assertEqual((n[0]["worker_id"], n[0]["in_flight"], n[0]["jobs"]),
                         ("f1", 2, ["job-a", "job-b"]))
        # an empty list clears it; the worker is back: resolved
        self.assertEqual(self.v.beat("f1", group="fast", jobs=[]).status, 200)
        self.assertEqual(self.v.worker("f1")["jobs"], [])
        wait_until(lambda: len(self.notices("lost")) == 2, timeout=15, what="resolve")

        def alert_events():
            ev = self.v.get("/v1/events?worker_id=f1&limit=100")["events"]
            return [e for e in ev if e["type"].startswith("alert_")]
        ev = wait_until(lambda: len(alert_events()) >= 2 and alert_events(), timeout=10,
                        what="alert events")
        self.assertEqual(sorted(e["type"] for e in ev), ["alert_firing", "alert_resolved"])
        for e in ev:
            self.assertEqual((e["rule"], e["alert_type"], e["severity"], e["group"]),
                             ("lost", "worker_lost", "warning", "fast"))
        fired = self.v.get("/v1/events?type=alert_firing&limit=100")["events"]
        self.assertTrue(any(e["worker_id"] == "f1" for e in fired), fired)

    def test_bad_jobs_refused_with_the_field(self):
        for bad in ("job-1", ["ok", 3], ["x" * 129], [""], [f"j{i}" for i in range(65)]):
            r = self.v.beat("f2", group="fast", jobs=bad)
            self.assertEqual(r.status, 400, (bad, r))
            self.assertEqual(r.json()["error"]["field"], "jobs", r)


if __name__ == "__main__":
    unittest.main()
