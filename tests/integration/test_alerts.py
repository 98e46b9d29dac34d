"""Alerts end to end: rules from the config file, the engine in vigild, a real
webhook receiver on loopback. A worker that dies produces exactly one firing
notice, its return exactly one resolve; a silence holds notices back until it
is deleted; a group that crashes with its last workers sends one group notice
with those workers folded in; bad rules stop vigild with file:line:key."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import VIGILD, Vigild, wait_until
from peers import Alertmanager, HttpReceiver, SmtpServer


def config(port, extra=""):
    return f"""
[alerts]
grace_s = 0

[sink "hook"]
type = webhook
url = http://127.0.0.1:{port}/hook
secret = s3cret

[group "fast"]
ttl_s = 1

[rule "lost"]
type = worker_lost
group = fast
severity = critical
sinks = hook
{extra}
"""


class Alerts(unittest.TestCase):
    def setUp(self):
        self.rx = HttpReceiver().start()
        self.tmp = tempfile.mkdtemp(prefix="vigil-alerts-")
        self.v = None

    def tearDown(self):
        if self.v:
            self.v.cleanup()
        self.rx.stop()

    def start(self, text):
        path = os.path.join(self.tmp, "vigil.ini")
        with open(path, "w") as f:
            f.write(text)
        self.v = Vigild(args=["--config", path]).start()
        return self.v

    def notices(self):
        return [json.loads(b["body"]) for b in self.rx.received("/hook")]

    def test_worker_lost_fires_once_and_resolves_once(self):
        v = self.start(config(self.rx.port))
        self.assertEqual(v.beat("w1", group="fast", instance="i1", in_flight=3).status, 200)
        n = wait_until(lambda: self.notices(), timeout=15, what="firing notice")
        time.sleep(1.5)  # nothing more arrives while it stays dead
        n = self.notices()
        self.assertEqual(len(n), 1, n)
        self.assertEqual((n[0]["state"], n[0]["type"], n[0]["worker_id"], n[0]["group"]),
                         ("firing", "worker_lost", "w1", "fast"))
        self.assertEqual(n[0]["severity"], "critical")
        self.assertEqual(n[0]["in_flight"], 3)
        self.assertTrue(self.rx.requests[0]["headers"].get("X-Vigil-Signature", "")
                        .startswith("sha256="))
        # back: exactly one resolve
        self.assertEqual(v.beat("w1", group="fast", instance="i1").status, 200)
        wait_until(lambda: len(self.notices()) == 2, timeout=15, what="resolve notice")
        self.assertEqual(self.notices()[1]["state"], "resolved")
        # keep it alive a moment: no further notice
        for _ in range(6):
            v.beat("w1", group="fast", instance="i1")
            time.sleep(0.25)
        self.assertEqual(len(self.notices()), 2)
        self.assertIn("alert lost/w1 firing", v.logs())

    def test_silence_holds_back_until_deleted(self):
        v = self.start(config(self.rx.port))
        tok = v.token
        r = v.request("POST", "/v1/silences", {"group": "fast", "duration": "1h",
                                               "comment": "maintenance"}, token=tok)
        self.assertEqual(r.status, 201, r)
        sid = r.json()["id"]
        lst = v.get("/v1/silences")["silences"]
        self.assertEqual([(s["id"], s["group"], s["comment"]) for s in lst],
                         [(sid, "fast", "maintenance")])
        v.beat("s1", group="fast")
        wait_until(lambda: v.worker("s1")["state"] == "dead", timeout=10, what="s1 dead")
        time.sleep(1)
        self.assertEqual(self.notices(), [])
        self.assertEqual(v.request("DELETE", f"/v1/silences/{sid}", token=tok).status, 200)
        self.assertEqual(v.request("DELETE", f"/v1/silences/{sid}", token=tok).status, 404)
        n = wait_until(lambda: self.notices(), timeout=10, what="notice after the silence")
        self.assertEqual((n[0]["state"], n[0]["worker_id"]), ("firing", "s1"))

    def test_bad_silences(self):
        v = self.start(config(self.rx.port))
        tok = v.token
        for body, field in [({"duration": "1h"}, "rule"),
                            ({"group": "[x", "duration": "1h"}, "group"),
                            ({"group": "g"}, "ends_at"),
                            ({"group": "g", "duration": "soon"}, "duration"),
                            ({"group": "g", "ends_at": "2001-01-01T00:00:00Z"}, "ends_at"),
                            ({"group": "g", "duration": "1h", "comment": 5}, "comment")]:
            r = v.request("POST", "/v1/silences", body, token=tok)
            self.assertEqual((r.status, r.json()["error"]["field"]), (400, field), (body, r))
        self.assertEqual(v.request("POST", "/v1/silences", "[1]", token=tok,
                                   headers={"Content-Type": "application/json"}).status, 400)
        self.assertEqual(v.request("DELETE", "/v1/silences/abc", token=tok).status, 400)
        self.assertEqual(v.request("GET", "/v1/silences").status, 401)

    def test_group_down_folds_its_last_workers(self):
        extra = '\n[rule "down"]\ntype = group_down\ngroup = fast\nsinks = hook\n'
        v = self.start(config(self.rx.port, extra))
        v.beat("g1", group="fast")
        v.beat("g2", group="fast")
        wait_until(lambda: any(n["type"] == "group_down" for n in self.notices()), timeout=15,
                   what="group_down notice")
        time.sleep(1)
        down = [n for n in self.notices() if n["type"] == "group_down"]
        lost = [n for n in self.notices() if n["type"] == "worker_lost"]
        self.assertEqual(len(down), 1)
        self.assertEqual(down[0]["clean"], False)
        self.assertIn("crashed", down[0]["summary"])
        # both die within one TTL: each either folded into the group or sent before it
        self.assertEqual(down[0]["folded"] + len(lost), 2, (down, lost))

    def test_score_below_after_a_rollup(self):
        extra = '\n[rule "weak"]\ntype = score_below\nvalue = 0.99\nsinks = hook\n'
        v = self.start(config(self.rx.port, extra))
        v.beat("sc1", group="scored")
        v.bye("sc1", exit_code=1)  # a failed session: far from a perfect score
        wait_until(lambda: [s for s in v.sessions("sc1") if not s["open"]], what="stored")
        self.assertEqual(v.request("POST", "/v1/admin/rollup", token=v.token).status, 200)
        n = wait_until(lambda: [x for x in self.notices() if x["type"] == "score_below"],
                       timeout=10, what="score_below notice")
        self.assertEqual((n[0]["worker_id"], n[0]["field"]), ("sc1", "liveness_score"))
        self.assertLess(n[0]["value"], 0.99)

    def test_one_notice_per_sink_and_one_resolve(self):
        """A worker killed: exactly one firing notice at each of the four sinks;
        its return: exactly one resolve at each."""
        smtp, am = SmtpServer().start(), Alertmanager().start()
        try:
            v = self.start(f"""
[alerts]
grace_s = 0
[group "fast"]
ttl_s = 1
[sink "hook"]
type = webhook
url = http://127.0.0.1:{self.rx.port}/hook
[sink "chat"]
type = slack
url = http://127.0.0.1:{self.rx.port}/slack
[sink "mail"]
type = smtp
url = {smtp.url}
from = vigil@example.org
to = oncall@example.org
[sink "am"]
type = alertmanager
url = {am.url}
[rule "lost"]
type = worker_lost
group = fast
severity = critical
sinks = hook, chat, mail, am
""")
            v.beat("k1", group="fast", instance="i1")

            def am_alerts():
                return [a for a in am.alerts() if a["labels"].get("alertname") == "lost"]

            def subjects():
                return sorted(m["Subject"] for m in smtp.messages())

            wait_until(lambda: self.notices() and self.rx.received("/slack") and smtp.messages()
                       and am_alerts(), timeout=20, what="the notice at all four sinks")
            time.sleep(1)
            self.assertEqual(len(self.notices()), 1)
            self.assertEqual(len(self.rx.received("/slack")), 1)
            self.assertEqual(len(smtp.messages()), 1)
            a = am_alerts()
            self.assertEqual(len(a), 1)
            self.assertEqual((a[0]["labels"]["worker_id"], a[0]["labels"]["severity"]),
                             ("k1", "critical"))
            self.assertIn("FIRING", subjects()[0])

            v.beat("k1", group="fast", instance="i1")
            # resolved: Alertmanager drops it from its list of current alerts
            wait_until(lambda: len(self.notices()) == 2 and len(self.rx.received("/slack")) == 2
                       and len(smtp.messages()) == 2 and not am_alerts(),
                       timeout=20, what="the resolve at all four sinks")
            for _ in range(4):
                v.beat("k1", group="fast", instance="i1")
                time.sleep(0.25)
            self.assertEqual([n["state"] for n in self.notices()], ["firing", "resolved"])
            self.assertEqual(len(self.rx.received("/slack")), 2)
            self.assertEqual(len(smtp.messages()), 2)
            self.assertTrue(any("RESOLVED" in x for x in subjects()), subjects())
        finally:
            smtp.stop()
            am.stop()

    def test_bad_rules_stop_vigild_with_file_and_line(self):
        path = os.path.join(self.tmp, "bad.ini")
        for text, needle in [
                ('[rule "x"]\ntype = worker_gone\n', ':2: type'),
                ('[rule "x"]\ntype = worker_lost\nsinks = nowhere\n', ':1: [rule "x"] sinks'),
                ('[rule "x"]\ntype = threshold\nfield = cpu\nvalue = 1\nfor = 5 minutes\n',
                 ':5: for'),
                ('[rule "x"]\ntype = worker_lost\nworker = w[0-9\n', ':3: worker')]:
            with open(path, "w") as f:
                f.write(text)
            for args in (["--check-config"], []):
                out = subprocess.run([VIGILD, "--config", path, "--data", self.tmp, *args],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(out.returncode, 2, out)
                self.assertIn(path + needle, out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
