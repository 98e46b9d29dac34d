"""Notification sinks against real peers: `vigild --config FILE --test-sink NAME`
delivers one example notice (firing, type "test") to each of four configured
sinks: a webhook (signed) and a Slack-shaped webhook on a local HTTP receiver,
e-mail through aiosmtpd, and Alertmanager's v2 API. A sink that refuses makes
--test-sink exit 1 naming the sink and the answer.
"""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import VIGILD, free_port, wait_until
from peers import Alertmanager, HttpReceiver, SmtpServer

SECRET = "it-s3cret"


def run(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return subprocess.run([VIGILD, *args], capture_output=True, text=True, timeout=60, env=env)


class Sinks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-sinks-")
        cls.http = HttpReceiver().start()
        cls.refuser = HttpReceiver(status=500).start()
        cls.smtp = SmtpServer().start()
        cls.am = Alertmanager().start()
        cls.config = os.path.join(cls.tmp, "vigil.ini")
        with open(cls.config, "w") as f:
            f.write(f"""[server]
listen = 127.0.0.1:{free_port()}
data_dir = {os.path.join(cls.tmp, "var")}

[sink "hook"]
type = webhook
url = {cls.http.url("/hook")}
secret = {SECRET}
timeout = 5s

[sink "chat"]
type = slack
url = {cls.http.url("/slack")}
dashboard_url = http://127.0.0.1:9470/ui

[sink "mail"]
type = smtp
url = {cls.smtp.url}
from = Vigil <vigil@example.org>
to = oncall@example.org, backup@example.org
dashboard_url = http://127.0.0.1:9470/ui
timeout = 10s

[sink "am"]
type = alertmanager
url = {cls.am.url}
dashboard_url = http://127.0.0.1:9470/ui

[sink "refused"]
type = webhook
url = {cls.refuser.url("/hook")}

[sink "nobody"]
type = webhook
url = http://127.0.0.1:{free_port()}/hook
timeout = 2s
""")

    @classmethod
    def tearDownClass(cls):
        for peer in (cls.http, cls.refuser, cls.smtp, cls.am):
            peer.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def deliver(self, name):
        r = run("--config", self.config, "--test-sink", name)
        self.assertEqual(r.returncode, 0, f"--test-sink {name}: {r.stdout}{r.stderr}")
        return r

    def test_webhook_signed_json(self):
        self.deliver("hook")
        got = self.http.received("/hook")
        self.assertEqual(len(got), 1)
        req = got[0]
        self.assertEqual(req["headers"].get("Content-Type"), "application/json")
        want = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
        self.assertEqual(req["headers"].get("X-Vigil-Signature"), want)
        body = json.loads(req["body"])
        self.assertEqual(body["schema_version"], 1)
        self.assertEqual(body["state"], "firing")
        self.assertEqual(body["type"], "test")
        self.assertEqual(body["rule"], "vigil-test")
        self.assertEqual(body["worker_id"], "example-worker")
        self.assertEqual(body["group"], "example")
        self.assertIsInstance(body["at_ms"], int)
        self.assertTrue(body["at"].endswith("Z"))
        self.assertIsNone(body["ends_at"])

    def test_slack_text(self):
        self.deliver("chat")
        got = self.http.received("/slack")
        self.assertEqual(len(got), 1)
        body = json.loads(got[0]["body"])
        self.assertEqual(list(body), ["text"])
        text = body["text"]
        self.assertIn("*FIRING*", text)
        self.assertIn("worker: `example-worker`", text)
        self.assertIn("group: `example`", text)
        self.assertIn("<http://127.0.0.1:9470/ui|", text)
        self.assertNotIn("X-Vigil-Signature", got[0]["headers"])

    def test_smtp_message(self):
        self.deliver("mail")
        msgs = wait_until(self.smtp.messages, timeout=10, what="a message in the Maildir")
        self.assertEqual(len(msgs), 1)
        m = msgs[0]
        self.assertEqual(m["Subject"], "[vigil] FIRING info: test notice from vigild: sink mail works")
        self.assertEqual(m["From"], "Vigil <vigil@example.org>")
        self.assertEqual(m["To"], "oncall@example.org, backup@example.org")
        self.assertTrue(m["Message-ID"].startswith("<vigil."))
        self.assertIsNotNone(m["Date"])
        body = m.get_content()
        self.assertIn("worker: example-worker", body)
        self.assertIn("Dashboard: http://127.0.0.1:9470/ui", body)

    def test_alertmanager_alert(self):
        self.deliver("am")

        def ours():
            return [a for a in self.am.alerts() if a["labels"].get("alertname") == "vigil-test"]

        alerts = wait_until(ours, timeout=10, what="the alert in GET /api/v2/alerts")
        self.assertEqual(len(alerts), 1)
        a = alerts[0]
        self.assertEqual(a["labels"], {
            "alertname": "vigil-test", "severity": "info", "type": "test",
            "vigil_key": "vigil-test/am", "worker_id": "example-worker", "group": "example",
            "instance": "vigild-test"})
        self.assertEqual(a["annotations"]["summary"], "test notice from vigild: sink am works")
        self.assertEqual(a["status"]["state"], "active")
        self.assertEqual(a["generatorURL"], "http://127.0.0.1:9470/ui")

    def test_refused_and_unreachable_exit_1(self):
        r = run("--config", self.config, "--test-sink", "refused")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("refused", r.stderr)
        self.assertIn("HTTP 500", r.stderr)
        self.assertEqual(len(self.refuser.received()), 1)
        r = run("--config", self.config, "--test-sink", "nobody")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("nobody", r.stderr)

    def test_unknown_sink_fails(self):
        r = run("--config", self.config, "--test-sink", "nope")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nope", r.stderr)


if __name__ == "__main__":
    unittest.main()
