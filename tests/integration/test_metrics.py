"""GET /metrics: Prometheus text exposition 0.0.4 of vigild's own counters.

Good and bad heartbeats move the counters by exactly what was sent; the
whole text passes `promtool check metrics`; every sample's family has
# HELP and # TYPE; the admin token is needed unless metrics_public; and a
real Prometheus (peers.Prometheus, scraping every second with the bearer
token) ends up with the value vigild shows."""
import json
import re
import subprocess
import unittest

from harness import Vigild, wait_until
from peers import Prometheus

TOKEN = "metrics-test-token"
J = {"Content-Type": "application/json"}
CT = "text/plain; version=0.0.4; charset=utf-8"
PROMTOOL = "/usr/bin/promtool"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(text):
    """{(name, frozenset(labels)): value}, {family: type}, {family: help}."""
    samples, types, helps = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
        elif line.startswith("# HELP "):
            _, _, name, text_ = line.split(" ", 3)
            helps[name] = text_
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"bad sample line {line!r}"
            labels = frozenset(LABEL.findall(m.group(2) or ""))
            samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types, helps


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return name


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = Vigild(env={"VIGIL_ADMIN_TOKEN": TOKEN}).start()

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def scrape(self, token=TOKEN):
        r = self.v.request("GET", "/metrics", token=token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Content-Type"), CT)
        return r.body

    def value(self, name, **labels):
        s, _, _ = parse(self.scrape())
        return s.get((name, frozenset(labels.items())))

    def test_1_counts_and_format(self):
        v = self.v
        for i in range(3):
            self.assertEqual(v.beat(f"m-{i}", group="metrics-g", cpu=0.5).status, 200)
        self.assertEqual(v.bye("m-2").status, 200)
        bad = [(b'{"worker_id":"m-x","cpu":2}', "cpu"), (b'{"worker_id":', "json"),
               (b"{}", "worker_id"), (b'{"worker_id":"m-x","ttl_s":0}', "ttl_s")]
        for body, field in bad:
            r = v.request("POST", "/v1/heartbeat", body, J)
            self.assertEqual((r.status, r.json()["error"]["field"]), (400, field), r)
        r = v.request("POST", "/v1/heartbeat", b'{"worker_id":"m-x"}', {"Content-Type": "text/x"})
        self.assertEqual(r.status, 415)
        r = v.request("POST", "/v1/heartbeat", b"x" * (70 * 1024), J)
        self.assertEqual(r.status, 413)
        # An NDJSON batch: one good line, one bad (cpu) line.
        r = v.beats([{"worker_id": "m-0"}, {"worker_id": "m-1", "cpu": -1}])
        self.assertEqual(r.json()["accepted"], 1)

        text = self.scrape()
        s, types, helps = parse(text)

        def val(name, **labels):
            return s.get((name, frozenset(labels.items())))
        self.assertEqual(val("vigil_heartbeats_accepted_total"), 4)
        self.assertEqual(val("vigil_byes_total"), 1)
        want = {"cpu": 2, "json": 1, "worker_id": 1, "ttl_s": 1, "content-type": 1, "body": 1}
        for reason, n in want.items():
            self.assertEqual(val("vigil_heartbeats_rejected_total", reason=reason), n, reason)
        rejected = sum(x for (name, _), x in s.items() if name == "vigil_heartbeats_rejected_total")
        self.assertEqual(rejected, sum(want.values()))
        self.assertEqual(val("vigil_workers", group="metrics-g", state="alive"), 2)
        self.assertEqual(val("vigil_workers", group="metrics-g", state="left"), 1)
        self.assertEqual(val("vigil_sessions_closed_total", reason="clean_shutdown"), 1)
        self.assertEqual(val("vigil_store_up"), 1)
        self.assertEqual(val("vigil_alerts_active"), 0)  # no rules: zeros
        info = [lab for (name, lab), x in s.items() if name == "vigil_build_info" and x == 1]
        self.assertEqual(len(info), 1)
        self.assertIn("version", dict(info[0]))
        self.assertGreater(val("vigil_process_start_time_seconds"), 1.6e9)
        for lane in ("samples", "events"):
            self.assertIsNotNone(val("vigil_write_queue_depth", lane=lane))

        # The writer's histogram: every flush attempt observed, buckets cumulative.
        def flushed():
            s2, _, _ = parse(self.scrape())
            n = s2[("vigil_writer_flushes_total", frozenset())]
            return s2 if n >= 1 else None
        s2 = wait_until(flushed, timeout=10, what="a writer flush")
        count = s2[("vigil_writer_flush_duration_seconds_count", frozenset())]
        # The writer keeps flushing while a scrape reads the families one after
        # the other, so the two may differ by the flush that ran in between.
        attempts = (s2[("vigil_writer_flushes_total", frozenset())]
                    + s2[("vigil_writer_flush_failures_total", frozenset())])
        self.assertLessEqual(abs(count - attempts), 1, (count, attempts))
        buckets = sorted((float(dict(lab)["le"]), x) for (name, lab), x in s2.items()
                         if name == "vigil_writer_flush_duration_seconds_bucket")
        self.assertEqual(buckets[0][0], 0.001)
        self.assertEqual(buckets[-1], (float("inf"), count))
        self.assertEqual([x for _, x in buckets], sorted(x for _, x in buckets))

        # Every sample's family has HELP and TYPE; counters end in _total.
        for (name, _) in s:
            fam = family_of(name, types)
            self.assertIn(fam, types, name)
            self.assertIn(fam, helps, name)
        for fam, typ in types.items():
            self.assertTrue(fam.startswith("vigil_"), fam)
            if typ == "counter":
                self.assertTrue(fam.endswith("_total"), fam)

        # The exposition linter agrees (exit 0, nothing reported).
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())

    def test_auth_and_method(self):
        r = self.v.request("GET", "/metrics")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"]["field"], "authorization")
        self.assertEqual(self.v.request("GET", "/metrics", token="wrong").status, 401)
        r = self.v.request("POST", "/metrics", b"", token=TOKEN)
        self.assertEqual(r.status, 405, r)
        self.assertEqual(self.v.request("HEAD", "/metrics", token=TOKEN).status, 200)

    def test_prometheus_scrapes(self):
        self.v.beat("m-prom", group="metrics-p")
        prom = Prometheus(f"127.0.0.1:{self.v.port}", token=TOKEN).start()
        try:
            def same():
                shown = self.value("vigil_heartbeats_accepted_total")
                got = prom.query("vigil_heartbeats_accepted_total")
                return got and got[0][1] == shown and got
            got = wait_until(same, timeout=60, interval=0.5, what="prometheus to scrape vigild")
            self.assertEqual(got[0][0]["job"], "vigil")
            up = prom.query('up{job="vigil"}')
            self.assertEqual(up[0][1], 1.0, up)
        finally:
            prom.stop()


class PublicMetrics(unittest.TestCase):
    """metrics_public = true: no token for /metrics; the read side still needs one.
    With an ingest token, a beat without it counts as reason authorization."""

    def test_public(self):
        v = Vigild(env={"VIGIL_ADMIN_TOKEN": TOKEN, "VIGIL_METRICS_PUBLIC": "true",
                        "VIGIL_INGEST_TOKEN": "ingest-tok"}).start()
        try:
            self.assertEqual(v.beat("p-1").status, 401)
            r = v.request("GET", "/metrics")
            self.assertEqual(r.status, 200, r)
            s, _, _ = parse(r.body)
            key = ("vigil_heartbeats_rejected_total", frozenset({("reason", "authorization")}))
            self.assertEqual(s[key], 1)
            self.assertEqual(v.request("GET", "/v1/workers").status, 401)
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
