"""Analytics end to end: import history, run a rollup, read the figures back.

History goes in through POST /v1/import/sessions (times relative to now), so the
expected figures can be worked out by hand; heartbeats sent live feed the hourly
rollup and task latency.
"""
import csv
import io
import json
import math
import time
import unittest

from harness import SharedVigild, wait_until

H = 3600 * 1000
D = 24 * H


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


class Analytics(SharedVigild):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = int(time.time() * 1000)
        n = cls.now
        rows = [
            # steady: 5 d clean, 2 h down, 5 d - 2 h ending in a timeout an hour ago
            ("steady", "an", "s1", n - 10 * D, n - 5 * D, "clean_shutdown", "0"),
            ("steady", "an", "s2", n - 5 * D + 2 * H, n - H, "timeout", ""),
            # flaky: 2 h sessions ending in timeouts, 30 min apart, the last still open
            ("flaky", "an", "f1", n - 10 * H, n - 8 * H, "timeout", ""),
            ("flaky", "an", "f2", n - 7 * H - 30 * 60000, n - 5 * H - 30 * 60000, "failed", "3"),
            ("flaky", "an", "f3", n - 5 * H, None, "", ""),
            # other group, one short clean session
            ("brief", "bn", "b1", n - 2 * H, n - H, "clean_shutdown", "0"),
        ]
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(["worker_id", "group", "instance", "opened", "closed", "reason", "exit_code"])
        for wid, g, inst, o, c, reason, code in rows:
            w.writerow([wid, g, inst, iso(o), iso(c) if c else "", reason, code])
        cls.csv_body = out.getvalue()
        r = cls.v.request("POST", "/v1/import/sessions", cls.csv_body,
                          {"Content-Type": "text/csv"}, token=cls.v.token)
        assert r.status == 200, r
        cls.imported = r.json()
        r = cls.v.request("POST", "/v1/admin/rollup", token=cls.v.token)
        assert r.status == 200, r
        cls.rollup = r.json()

    def rel(self, query=""):
        return self.v.get("/v1/reliability" + query)

    def worker_row(self, wid, query=""):
        for w in self.rel(query)["workers"]:
            if w["worker_id"] == wid:
                return w
        return None

    def test_import_counts_and_idempotence(self):
        self.assertEqual(self.imported, {"rows": 6, "inserted": 6, "skipped": 0})
        r = self.v.request("POST", "/v1/import/sessions", self.csv_body,
                           {"Content-Type": "text/csv"}, token=self.v.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"rows": 6, "inserted": 0, "skipped": 6})
        self.assertEqual(len(self.v.sessions("steady")), 2)

    def test_steady_figures_by_hand(self):
        w = self.worker_row("steady")
        up = 10 * D - 3 * H  # down 2 h between its sessions and 1 h since; seen from 10 d ago
        self.assertAlmostEqual(w["uptime_pct"], up / (10 * D), places=4)
        self.assertEqual(w["sessions_count"], 2)
        self.assertAlmostEqual(w["mtbf_s"], up / 1000, delta=2)  # one failure (the timeout)
        self.assertEqual(w["p10_session_s"], (5 * D - 3 * H) / 1000)
        self.assertEqual(w["p50_session_s"], (5 * D - 3 * H) / 1000)
        self.assertEqual(w["p90_session_s"], 5 * D / 1000)
        self.assertEqual(w["p_stays_4h"], 1)
        self.assertEqual(w["p_stays_8h"], 1)
        self.assertEqual(w["disconnect_reasons"]["timeout"], 1)
        self.assertEqual(w["disconnect_reasons"]["clean_shutdown"], 1)
        self.assertEqual(w["last_disconnect_at"], iso(self.now - H))
        self.assertEqual(w["last_session_s"], (5 * D - 3 * H) / 1000)
        penalty = 1 - 1 / 24
        score = (0.35 * up / (10 * D) + 0.25 + 0.15 + 0.25 * sigmoid((up / 1000 - 14400) / 3600)
                 - 0.10 * penalty)
        self.assertAlmostEqual(w["liveness_score"], score, places=3)

    def test_flaky_figures_by_hand(self):
        w = self.worker_row("flaky")
        # observed 10 h; up 2 + 2 + 5 h (the last one open until now)
        self.assertAlmostEqual(w["uptime_pct"], 9 / 10, places=3)
        self.assertEqual(w["sessions_count"], 3)
        self.assertAlmostEqual(w["mtbf_s"], 9 * 3600 / 2, delta=2)  # two failures
        # Kaplan-Meier: events at 2 h, 2 h; censored at 5 h -> P(T >= 4h) = 1/3
        self.assertAlmostEqual(w["p_stays_4h"], 1 / 3, places=5)
        self.assertEqual(w["p_stays_8h"], 0)  # nothing observed that long (Efron's tail)
        self.assertEqual(w["disconnect_reasons"]["failed"], 1)
        self.assertLess(w["liveness_score"], self.worker_row("steady")["liveness_score"])

    def test_ranking_order_filters_and_stays_for(self):
        doc = self.rel()
        self.assertIsNotNone(doc["computed_at"])
        self.assertEqual(doc["window_s"], 14 * 86400)
        ws = doc["workers"]
        keys = [(-w["liveness_score"], -w["uptime_pct"], w["worker_id"]) for w in ws]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(doc["total"], len(ws))
        self.assertEqual([w["worker_id"] for w in self.rel("?group=bn")["workers"]], ["brief"])
        self.assertEqual(self.rel("?limit=1")["total"], len(ws))
        self.assertEqual(len(self.rel("?limit=1")["workers"]), 1)
        top = self.rel("?min_score=0.8")["workers"]
        self.assertEqual([w["worker_id"] for w in top], ["steady"])
        self.assertNotIn("flaky", [w["worker_id"] for w in self.rel("?min_stays_4h=0.5")["workers"]])
        capped = self.rel("?max_score=0.8")["workers"]
        self.assertNotIn("steady", [w["worker_id"] for w in capped])
        self.assertEqual(len(self.rel("?max_score=0")["workers"]), len(ws))  # 0 = unbounded
        d = self.rel("?stays_for=3h")
        self.assertEqual(d["stays_for_s"], 10800)
        flaky = [w for w in d["workers"] if w["worker_id"] == "flaky"][0]
        self.assertAlmostEqual(flaky["p_stays"], 1 / 3, places=5)
        six = self.rel("?stays_for=6h&min_p_stays=0.5")["workers"]
        self.assertIn("steady", [w["worker_id"] for w in six])
        self.assertNotIn("flaky", [w["worker_id"] for w in six])

    def test_bad_query_parameters(self):
        for q, field in (("?min_score=abc", "min_score"), ("?min_uptime=1.5", "min_uptime"),
                         ("?stays_for=-2h", "stays_for"), ("?stays_for=0", "stays_for"),
                         ("?limit=0", "limit"), ("?group=bad%20id", "group"),
                         ("?min_p_stays=0.5", "min_p_stays")):
            r = self.v.request("GET", "/v1/reliability" + q, token=self.v.token)
            self.assertEqual(r.status, 400, q)
            self.assertEqual(r.json()["error"]["field"], field, q)
        r = self.v.request("GET", "/v1/workers/steady/heartbeats?resolution=minute",
                           token=self.v.token)
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "resolution"))
        r = self.v.request("GET", "/v1/workers/steady/liveness?stays_for=soon", token=self.v.token)
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "stays_for"))
        r = self.v.request("GET", "/v1/tasks/latency?from=yesterday", token=self.v.token)
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "from"))
        r = self.v.request("GET", "/v1/reliability")
        self.assertEqual(r.status, 401)

    def test_reliability_csv(self):
        r = self.v.request("GET", "/v1/reliability.csv?stays_for=6h", token=self.v.token)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/csv"))
        self.assertIn("\r\n", r.body)
        rows = list(csv.DictReader(io.StringIO(r.body)))
        doc = self.rel("?stays_for=6h&limit=100")
        self.assertEqual([x["worker_id"] for x in rows], [w["worker_id"] for w in doc["workers"]])
        self.assertEqual(rows[0]["rank"], "1")
        for x, w in zip(rows, doc["workers"]):
            self.assertAlmostEqual(float(x["liveness_score"]), w["liveness_score"], places=5)
            self.assertAlmostEqual(float(x["p_stays"]), w["p_stays"], places=5)

    def test_liveness_of_one_worker(self):
        lv = self.v.get("/v1/workers/flaky/liveness?stays_for=3h")
        self.assertEqual(lv["worker_id"], "flaky")
        self.assertEqual(lv["group"], "an")
        self.assertAlmostEqual(lv["uptime_pct"], 0.9, places=3)
        self.assertAlmostEqual(lv["p_stays"], 1 / 3, places=5)
        # survival steps: one event time (2 h, two sessions of 5 ended) -> S = 1/3
        self.assertEqual(lv["survival"], [{"t_s": 7200, "p": round(1 / 3, 6)}])
        m = lv["hourly_availability"]["matrix"]
        self.assertEqual(len(m), 7)
        self.assertTrue(all(len(row) == 24 for row in m))
        cells = [c for row in m for c in row if c is not None]
        self.assertTrue(cells and all(0 <= c <= 1 for c in cells))
        r = self.v.request("GET", "/v1/workers/nobody/liveness", token=self.v.token)
        self.assertEqual(r.status, 404)

    def test_sessions_csv_round_trip(self):
        r = self.v.request("GET", "/v1/workers/flaky/sessions.csv", token=self.v.token)
        self.assertEqual(r.status, 200)
        rows = list(csv.DictReader(io.StringIO(r.body)))
        self.assertEqual([x["instance"] for x in rows], ["f3", "f2", "f1"])
        self.assertEqual(rows[1]["reason"], "failed")
        self.assertEqual(rows[1]["exit_code"], "3")
        self.assertEqual(rows[0]["closed"], "")
        # the export imports back as it is: nothing new
        back = self.v.request("POST", "/v1/import/sessions", r.body, {"Content-Type": "text/csv"},
                              token=self.v.token)
        self.assertEqual(back.status, 200, back)
        self.assertEqual(back.json()["inserted"], 0)

    def test_bad_import_writes_nothing(self):
        body = ("worker_id,opened,closed,reason\r\n"
                f"newbie,{iso(self.now - 3 * H)},{iso(self.now - 2 * H)},timeout\r\n"
                f"newbie,{iso(self.now - H)},{iso(self.now - 2 * H)},timeout\r\n")
        r = self.v.request("POST", "/v1/import/sessions", body, {"Content-Type": "text/csv"},
                           token=self.v.token)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["row"], 2)
        self.assertEqual(r.json()["error"]["field"], "opened")
        r = self.v.request("GET", "/v1/workers/newbie/liveness", token=self.v.token)
        self.assertEqual(r.status, 404)
        # NDJSON too, and the wrong content type
        nd = json.dumps({"worker_id": "newbie", "opened": "yesterday"}) + "\n"
        r = self.v.request("POST", "/v1/import/sessions", nd,
                           {"Content-Type": "application/x-ndjson"}, token=self.v.token)
        self.assertEqual((r.status, r.json()["error"]["field"], r.json()["error"]["row"]),
                         (400, "opened", 1))
        r = self.v.request("POST", "/v1/import/sessions", nd, {"Content-Type": "text/plain"},
                           token=self.v.token)
        self.assertEqual(r.status, 415)
        # same worker and opened as an existing session, another instance: conflict, nothing in
        clash = ("worker_id,group,instance,opened,closed,reason\r\n"
                 f"steady,an,other,{iso(self.now - 10 * D)},{iso(self.now - 9 * D)},failed\r\n")
        r = self.v.request("POST", "/v1/import/sessions", clash, {"Content-Type": "text/csv"},
                           token=self.v.token)
        self.assertEqual(r.status, 409, r)
        self.assertEqual(len(self.v.sessions("steady")), 2)

    def test_fleet_availability(self):
        d = self.v.get("/v1/fleet/availability")
        n = self.rel()["total"]
        self.assertEqual(d["workers"], n)
        self.assertEqual(sum(b["count"] for b in d["uptime_pct"]["histogram"]), n)
        self.assertEqual(sum(b["count"] for b in d["liveness_score"]["histogram"]), n)
        u = d["uptime_pct"]
        self.assertLessEqual(u["p10"], u["p50"])
        self.assertLessEqual(u["p50"], u["p90"])
        g = self.v.get("/v1/fleet/availability?group=bn")
        self.assertEqual(g["workers"], 1)
        self.assertAlmostEqual(g["uptime_pct"]["p50"], 0.5, places=3)  # 1 h up of 2 h seen

    def test_live_heartbeats_hourly_tasks_and_idempotent_rollup(self):
        v = self.v
        for cpu, thermal in ((0.2, "nominal"), (0.4, "serious"), (0.6, "fair")):
            self.assertEqual(v.beat("live-1", group="lg", cpu=cpu, thermal=thermal,
                                    task_ms=100).status, 200)
        self.assertEqual(v.beat("live-1", group="lg").status, 200)  # no cpu: not in the average
        r = v.request("POST", "/v1/tasks", {"group": "lg", "durations_ms": [10, 20, 30, 40]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"ok": True, "accepted": 4, "group": "lg"})
        r = v.request("POST", "/v1/tasks", {"worker_id": "live-1", "task_ms": 50})
        self.assertEqual(r.json()["group"], "lg")
        wait_until(lambda: len(v.get("/v1/workers/live-1/heartbeats")["heartbeats"]) == 4,
                   what="raw heartbeats stored")
        first = v.request("POST", "/v1/admin/rollup", token=v.token).json()
        self.assertGreaterEqual(first["hourly"]["rows"], 4)
        hb = v.get("/v1/workers/live-1/heartbeats?resolution=hour")["heartbeats"]
        self.assertEqual(sum(h["count"] for h in hb), 4)
        if len(hb) == 1:  # unless the test straddled an hour
            self.assertAlmostEqual(hb[0]["cpu"], 0.4, places=5)
            self.assertEqual(hb[0]["thermal_max"], "serious")
        again = v.request("POST", "/v1/admin/rollup", token=v.token).json()
        self.assertEqual(again["hourly"]["rows"], 0)
        self.assertEqual(v.get("/v1/workers/live-1/heartbeats?resolution=hour")["heartbeats"], hb)
        # task latency: the open bucket is visible at once, with all 8 durations
        lat = v.get("/v1/tasks/latency?group=lg")
        self.assertEqual(lat["summary"]["count"], 8)
        self.assertEqual(lat["summary"]["min_ms"], 10)
        self.assertEqual(lat["summary"]["max_ms"], 100)
        self.assertAlmostEqual(lat["summary"]["mean_ms"], (300 + 100 + 50) / 8, places=3)

    def test_bad_task_bodies(self):
        for body, field in (({"group": "lg", "durations_ms": [-1]}, "durations_ms"),
                            ({"group": "lg", "durations_ms": "12"}, "durations_ms"),
                            ({"group": "lg", "task_ms": 2e9}, "task_ms"),
                            ({"group": "lg"}, "durations_ms"),
                            ({"durations_ms": [1]}, "worker_id"),
                            ({"group": "bad group", "task_ms": 1}, "group")):
            r = self.v.request("POST", "/v1/tasks", body)
            self.assertEqual(r.status, 400, body)
            self.assertEqual(r.json()["error"]["field"], field, body)
        r = self.v.request("POST", "/v1/tasks", {"worker_id": "ghost", "task_ms": 1})
        self.assertEqual(r.status, 404)
        r = self.v.beat("live-2", task_ms=-5)
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "task_ms"))

    def test_forget_drops_worker_from_ranking(self):
        self.assertIsNotNone(self.worker_row("brief"))
        v = self.v
        v.beat("doomed", group="dg")
        v.request("POST", "/v1/admin/rollup", token=v.token)
        self.assertIsNotNone(self.worker_row("doomed"))
        self.assertEqual(v.request("DELETE", "/v1/workers/doomed", token=v.token).status, 200)
        self.assertIsNone(self.worker_row("doomed"))
        v.request("POST", "/v1/admin/rollup", token=v.token)
        self.assertIsNone(self.worker_row("doomed"))


if __name__ == "__main__":
    unittest.main()
