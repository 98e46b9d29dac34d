"""vigild under systemd, without systemd: the notify protocol on a unix
datagram socket this test owns (READY, RELOADING, STOPPING, WATCHDOG), and
SIGHUP reloading group TTLs and alert rules without dropping any state,
while a bad new configuration is refused and the running one stays."""
import os
import signal
import socket
import tempfile
import time
import unittest

from harness import Vigild, wait_until


class Systemd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-sd-")
        self.sock_path = os.path.join(self.tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.1)
        self.addCleanup(self.sock.close)
        self.ini = os.path.join(self.tmp, "vigil.ini")
        self.got = []

    def write(self, text):
        with open(self.ini, "w") as f:
            f.write(text)

    def start(self, env=None):
        e = {"NOTIFY_SOCKET": self.sock_path}
        e.update(env or {})
        self.v = Vigild(env=e, args=["--config", self.ini]).start()
        self.addCleanup(self.v.cleanup)
        return self.v

    def until(self, state, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if state in self.got:
                return
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        raise AssertionError(f"no {state}; got {self.got}")

    def test_notify_reload_and_stop(self):
        self.write('[group "g"]\nttl_s = 60\n')
        v = self.start()
        self.until("READY=1")
        self.assertEqual(v.beat("w1", group="g").status, 200)
        self.assertEqual(v.beat("w2", group="other").status, 200)
        opened = v.worker("w1")["session_opened"]
        # the group's TTL shortened by a reload: w1 times out; nothing else moves
        self.write('[group "g"]\nttl_s = 1\n')
        self.got.clear()
        v.proc.send_signal(signal.SIGHUP)
        self.until("RELOADING=1")
        self.until("READY=1")
        wait_until(lambda: v.worker("w1")["state"] == "dead", timeout=5, what="w1 dead")
        self.assertEqual(v.sessions("w1")[0]["opened"], opened)  # same session, not reopened
        self.assertEqual(v.worker("w2")["state"], "alive")
        # a bad configuration is refused; vigild keeps running with the old one
        self.write('[group "g"]\nttl_s = banana\n')
        v.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in v.logs(), timeout=5, what="the refusal logged")
        self.assertIsNone(v.proc.poll())
        self.assertEqual(v.beat("w3", group="g").status, 200)
        self.got.clear()
        v.proc.send_signal(signal.SIGTERM)
        self.until("STOPPING=1")
        v.proc.wait(timeout=10)
        self.assertEqual(v.proc.returncode, 0)

    def test_rules_reloaded_keep_alerts(self):
        self.write('[alerts]\ngrace_s = 0\n[group "fast"]\nttl_s = 1\n'
                   '[rule "lost"]\ntype = worker_lost\ngroup = fast\n')
        v = self.start()
        self.until("READY=1")
        v.beat("f1", group="fast")

        def fired(rule):
            ev = v.get(f"/v1/events?type=alert_firing&limit=100")["events"]
            return [e for e in ev if e.get("rule") == rule]
        wait_until(lambda: fired("lost"), timeout=10, what="lost firing")
        # a second rule added, the first kept: its firing alert is not fired again
        self.write('[alerts]\ngrace_s = 0\n[group "fast"]\nttl_s = 1\n'
                   '[rule "lost"]\ntype = worker_lost\ngroup = fast\nseverity = critical\n'
                   '[rule "down"]\ntype = group_down\ngroup = fast\n')
        self.got.clear()
        v.proc.send_signal(signal.SIGHUP)
        self.until("READY=1")
        self.assertIn("reload: 1 group TTLs and 2 alert rules in force", v.logs())
        v.beat("f2", group="fast")  # the group comes back, then goes down again
        wait_until(lambda: fired("down"), timeout=10, what="down firing under the new rule")
        self.assertEqual(len(fired("lost")), 2)  # f1 once (kept), f2 once

    def test_watchdog(self):
        self.write("")
        self.start({"WATCHDOG_USEC": "200000"})
        self.until("READY=1")
        self.until("WATCHDOG=1", timeout=3)


if __name__ == "__main__":
    unittest.main()
