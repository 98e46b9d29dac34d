"""Fleet history end to end: the sampler (at 1 s here) and GET /v1/history/metrics.

Two groups beat, one worker's beats stop, and the series must show it: alive per
group, workers:dead, ingest_rate, sessions_closed:timeout. Then the endpoint's
400s, each naming its field, and the series surviving a restart on the same data
directory.
"""
import time
import unittest
import urllib.parse

from harness import Vigild, wait_until

TTL_S = 2


def now_ms():
    return int(time.time() * 1000)


class History(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = Vigild(env={"VIGIL_HISTORY_SAMPLE_S": "1"}).start()
        v = cls.v
        cls.t0 = now_ms()
        # inf: i1 and i2; bat: b1. Beats twice a second for 4 s, then i2 stops
        # and the others go on for 5 s more (i2 dies TTL_S after its last beat).
        end_all = time.monotonic() + 4
        while time.monotonic() < end_all:
            for wid, g in (("i1", "inf"), ("i2", "inf"), ("b1", "bat")):
                assert v.beat(wid, group=g, ttl_s=TTL_S).status == 200
            time.sleep(0.5)
        cls.t_i2_last = now_ms()
        end = time.monotonic() + 5
        while time.monotonic() < end:
            for wid, g in (("i1", "inf"), ("b1", "bat")):
                assert v.beat(wid, group=g, ttl_s=TTL_S).status == 200
            time.sleep(0.5)
        cls.t1 = now_ms()
        wait_until(lambda: v.worker("i2")["state"] == "dead", what="i2 dead")

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def metrics(self, v=None, **params):
        q = urllib.parse.urlencode(params, safe="*:,")
        r = (v or self.v).request("GET", "/v1/history/metrics?" + q, token=(v or self.v).token)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def series(self, doc):
        return {s["name"]: s["points"] for s in doc["series"]}

    def test_series_show_the_fleet(self):
        # Up to t1 (the others stop beating then, and die TTL_S later).
        doc = self.metrics(names="alive:*,ingest_rate,workers:dead", points=200,
                           **{"from": self.t0, "to": self.t1})
        s = self.series(doc)
        self.assertEqual([x["name"] for x in doc["series"]],
                         ["alive:bat", "alive:inf", "ingest_rate", "workers:dead"])
        for pts in s.values():
            self.assertLessEqual(len(pts), 200)
            self.assertEqual(pts, sorted(pts))
            for ts, _ in pts:
                self.assertGreaterEqual(ts, self.t0)
                self.assertLess(ts, self.t1)
        # 1 s samples over a ~9 s range in ~45 ms slices: each point is one sample.
        self.assertGreaterEqual(len(s["alive:inf"]), 7)
        inf = [v for _, v in s["alive:inf"]]
        last_two = len(inf) - 1 - inf[::-1].index(2.0)  # both beating until i2 stopped
        self.assertGreaterEqual(len(inf) - 1 - last_two, 2)
        self.assertEqual(set(inf[last_two + 1:]), {1.0})  # then i1 alone
        self.assertEqual({v for _, v in s["alive:bat"]}, {1.0})
        dead = [v for _, v in s["workers:dead"]]
        self.assertEqual(dead[0], 0.0)
        self.assertEqual(dead[-1], 1.0)
        # The first dead sample comes after i2's last beat (at most 0.5 s before
        # t_i2_last) plus its TTL.
        first_dead = next(ts for ts, v in s["workers:dead"] if v == 1.0)
        self.assertGreater(first_dead, self.t_i2_last + TTL_S * 1000 - 1500)
        # Beats: 3 every 0.5 s, then 2: about 6/s, then 4/s.
        rates = [v for _, v in s["ingest_rate"]]
        self.assertTrue(any(3.0 <= r <= 8.0 for r in rates), rates)
        self.assertTrue(all(0 <= r <= 12 for r in rates), rates)
        closed = self.series(self.metrics(names="sessions_closed:*",
                                          **{"from": self.t0, "to": self.t1}))
        self.assertEqual(sum(v for _, v in closed["sessions_closed:timeout"]), 1.0)
        self.assertEqual(sum(v for _, v in closed["sessions_closed:clean_shutdown"]), 0.0)
        self.assertEqual(len(closed), 6)  # every reason, zero included

    def test_downsampled_means_and_step(self):
        t_from, t_to = self.t0, self.t1
        doc = self.metrics(names="alive:bat,alive:inf", points=3,
                           **{"from": t_from, "to": t_to})
        step = -(-(t_to - t_from) // 3)
        self.assertEqual(doc["step_ms"], step)
        for pts in self.series(doc).values():
            self.assertLessEqual(len(pts), 3)
            for ts, _ in pts:
                self.assertEqual((ts - t_from) % step, 0)  # slice starts
        raw = self.series(self.metrics(names="alive:inf", points=200,
                                       **{"from": t_from, "to": t_to}))["alive:inf"]
        one = self.series(self.metrics(names="alive:inf", points=1,
                                       **{"from": t_from, "to": t_to}))["alive:inf"]
        self.assertEqual(len(one), 1)
        self.assertEqual(one[0][0], t_from)
        self.assertAlmostEqual(one[0][1], sum(v for _, v in raw) / len(raw), places=5)

    def test_exact_names_and_defaults(self):
        doc = self.metrics(names="no_such_series,ingest_rate")
        self.assertEqual([x["name"] for x in doc["series"]], ["ingest_rate", "no_such_series"])
        self.assertEqual(self.series(doc)["no_such_series"], [])
        self.assertGreater(len(self.series(doc)["ingest_rate"]), 0)  # default: the last hour
        self.assertEqual(doc["step_ms"], 3600 * 1000 // 200)
        self.assertEqual(self.metrics(names="nothing:*")["series"], [])  # a prefix: what exists

    def test_bad_input(self):
        long_name = "x" * 201
        cases = [
            ("", "names"),
            ("names=", "names"),
            ("names=a%20b", "names"),
            ("names=a*b", "names"),
            ("names=*a", "names"),
            ("names=a,,b", "names"),
            ("names=a,", "names"),
            ("names=" + long_name, "names"),
            ("names=" + ",".join(f"n{i}" for i in range(33)), "names"),
            ("names=a&from=yesterday", "from"),
            ("names=a&to=2026-13-01T00:00:00Z", "to"),
            ("names=a&from=2000&to=2000", "from"),
            ("names=a&from=3000&to=2000", "from"),
            ("names=a&points=0", "points"),
            ("names=a&points=201", "points"),
            ("names=a&points=x", "points"),
        ]
        for query, field in cases:
            r = self.v.request("GET", "/v1/history/metrics?" + query, token=self.v.token)
            self.assertEqual(r.status, 400, (query, r))
            self.assertEqual(r.json()["error"]["field"], field, (query, r))
        # At the limits: 32 names, a 200-byte name, points 1 and 200.
        ok = ["names=" + ",".join(f"n{i}" for i in range(32)), "names=" + "x" * 200,
              "names=a&points=1", "names=a&points=200", "names=*"]
        for query in ok:
            r = self.v.request("GET", "/v1/history/metrics?" + query, token=self.v.token)
            self.assertEqual(r.status, 200, (query, r))
        self.assertEqual(self.v.request("GET", "/v1/history/metrics?names=a").status, 401)
        r = self.v.request("POST", "/v1/history/metrics?names=a", token=self.v.token)
        self.assertEqual(r.status, 405, r)

    def test_stop_does_not_wait_for_the_sampler(self):
        # At the default 30 s the sampler is asleep between samples: a stop wakes it.
        v = Vigild().start()
        try:
            t = time.monotonic()
            self.assertEqual(v.stop(), 0)
            self.assertLess(time.monotonic() - t, 2.0)
        finally:
            v.cleanup()

    def test_zz_survives_restart(self):
        # Named to run last: it restarts the shared vigild.
        q = dict(names="alive:*,workers:*,ingest_rate", points=200,
                 **{"from": self.t0, "to": self.t1})
        before = self.metrics(**q)
        self.assertGreater(len(self.series(before)["alive:inf"]), 3)
        self.v.stop()
        self.v.start()
        after = self.metrics(**q)
        self.assertEqual(after["series"], before["series"])
        # And the sampler goes on in the new run.
        t = now_ms()
        wait_until(lambda: self.series(self.metrics(names="alive:bat", **{"from": t}))
                   ["alive:bat"], what="a sample after the restart")


if __name__ == "__main__":
    unittest.main()
