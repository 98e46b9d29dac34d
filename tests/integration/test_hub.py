"""Hub federation: a node pushes summaries to a vigild in hub role.

Two (or three) real vigild processes on loopback: the hub is killed and
restarted while the node goes on; a proxy loses the hub's answers so the node
sends windows again. Either way the windows the hub keeps tile the node's run
and add up to exactly what the node counted. Also: bad summaries refused with
the field named, the hub's own token, staleness, and a stop that waits at
most 5 s for a hub that never answers.
"""
import json
import os
import socket
import subprocess
import threading
import time
import unittest

from harness import VIGILD, Vigild, free_port, wait_until

HUB_TOKEN = "hub-secret"
ADMIN = "admin-secret"


def metric(v, name):
    """The value of one sample line of the node's /metrics (name with labels)."""
    r = v.request("GET", "/metrics", token=v.token)
    assert r.status == 200, r
    for line in r.body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def start_hub(data_dir=None, port=None):
    return Vigild(data_dir=data_dir, env={"VIGIL_HUB_ROLE": "hub",
                                          "VIGIL_HUB_ACCEPT_TOKEN": HUB_TOKEN,
                                          "VIGIL_ADMIN_TOKEN": ADMIN}).start(port)


def start_node(hub_port, node_id="node-a"):
    return Vigild(env={"VIGIL_HUB_URL": f"http://127.0.0.1:{hub_port}",
                       "VIGIL_HUB_TOKEN": HUB_TOKEN, "VIGIL_HUB_INTERVAL_S": "1",
                       "VIGIL_NODE_ID": node_id, "VIGIL_ADMIN_TOKEN": ADMIN}).start()


def windows(hub, node_id):
    return hub.get(f"/v1/hub/nodes/{node_id}/summaries?from=0&limit=10000")


def assert_tiled(tc, got):
    """Windows of one run, each starting where the one before ended."""
    s = sorted(got["summaries"], key=lambda w: w["from_ms"])
    tc.assertTrue(s, "no windows stored")
    tc.assertEqual(len({w["run_id"] for w in s}), 1)
    tc.assertEqual(s[0]["from_ms"], s[0]["summary"]["started_ms"])
    for a, b in zip(s, s[1:]):
        tc.assertEqual(b["from_ms"], a["to_ms"], "a gap or an overlap between windows")


class LossyProxy:
    """A TCP proxy in front of the hub that forwards each request and, for the
    first `drop` of them, closes the connection instead of passing the answer
    back: the hub stored the summary, the node never hears so."""

    def __init__(self, hub_port, drop):
        self.hub_port, self.drop, self.forwarded = hub_port, drop, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read_request(c):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None
            buf += d
        head, body = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip())
        while len(body) < n:
            d = c.recv(65536)
            if not d:
                return None
            body += d
        return head + b"\r\n\r\n" + body

    def _serve(self, c):
        c.settimeout(20)
        try:
            while True:
                reqb = self._read_request(c)
                if reqb is None:
                    return
                with socket.create_connection(("127.0.0.1", self.hub_port), timeout=10) as up:
                    line, rest = reqb.split(b"\r\n", 1)
                    up.sendall(line + b"\r\nConnection: close\r\n" + rest)
                    resp = b""
                    while True:
                        d = up.recv(65536)
                        if not d:
                            break
                        resp += d
                with self.lock:
                    self.forwarded += 1
                    lose = self.drop > 0
                    self.drop -= lose
                if lose:
                    return  # the answer is lost
                resp = resp.replace(b"Connection: close", b"Connection: keep-alive")
                c.sendall(resp)
        except OSError:
            return
        finally:
            c.close()

    def close(self):
        self.sock.close()


class Hub(unittest.TestCase):
    def test_hub_restart_loses_and_doubles_nothing(self):
        hub = start_hub()
        node = start_node(hub.port)
        try:
            beats = 0
            for i in range(6):
                self.assertEqual(node.beat(f"w{i}", group="g").status, 200)
                beats += 1
            r = node.request("POST", "/v1/tasks", {"group": "g", "durations_ms": [10, 20, 30]})
            self.assertEqual(r.status, 200, r)
            node.bye("w0", exit_code=0)
            node.bye("w1", exit_code=3)
            nodes = wait_until(lambda: [n for n in hub.get("/v1/hub/nodes")["nodes"]
                                        if n["node_id"] == "node-a"
                                        and n["summary"]["workers"]["alive"] == 4],
                               what="the hub sees node-a")
            self.assertFalse(nodes[0]["stale"])
            self.assertEqual(nodes[0]["interval_s"], 1)
            g = nodes[0]["summary"]["groups"]
            self.assertEqual([x["name"] for x in g], ["g"])
            self.assertEqual(g[0]["workers"]["left"], 2)  # w0 exited 0, w1 exited 3: both left

            # The hub goes away; the node keeps working and keeps failing to push.
            hub.kill()
            node.bye("w2", exit_code=0)
            node.bye("w3", exit_code=1)
            for i in range(6, 10):
                node.beat(f"w{i}", group="g")
                beats += 1
            wait_until(lambda: metric(node, 'vigil_hub_pushes_total{result="failed"}') >= 2,
                       timeout=15, what="pushes failing while the hub is down")
            self.assertGreaterEqual(metric(node, "vigil_hub_push_failures_in_row"), 2)

            # Back on the same port and data: the node's next push covers the gap.
            hub.start(hub.port)
            wait_until(lambda: metric(node, "vigil_hub_push_failures_in_row") == 0, timeout=90,
                       what="the node pushing again (backoff up to 60 s)")
            node.bye("w4", exit_code=0)
            self.assertEqual(node.stop(), 0)  # the last push holds w4 and the tasks

            got = windows(hub, "node-a")
            assert_tiled(self, got)
            t = got["totals"]
            self.assertEqual(t["sessions_closed"]["clean_shutdown"], 3)  # w0, w2, w4
            self.assertEqual(t["sessions_closed"]["failed"], 2)  # w1, w3
            self.assertEqual(t["heartbeats"]["accepted"], beats)
            self.assertEqual(t["tasks"]["count"], 3)
            self.assertAlmostEqual(t["tasks"]["mean_ms"], 20.0, places=6)
            self.assertEqual(t["windows"], len(got["summaries"]))

            # Unheard for 3 intervals: stale.
            wait_until(lambda: [n for n in hub.get("/v1/hub/nodes")["nodes"]
                                if n["node_id"] == "node-a" and n["stale"]],
                       timeout=10, what="node-a stale after it stopped")
            m = hub.request("GET", "/metrics", token=ADMIN).body
            self.assertIn("vigil_hub_nodes 1", m)
            self.assertIn("vigil_hub_nodes_stale 1", m)
        finally:
            node.cleanup()
            hub.cleanup()

    def test_lost_answers_are_not_counted_twice(self):
        hub = start_hub()
        proxy = LossyProxy(hub.port, drop=3)
        node = start_node(proxy.port, node_id="node-b")
        try:
            for i in range(5):
                node.beat(f"b{i}")
                node.bye(f"b{i}", exit_code=0)
            wait_until(lambda: proxy.drop == 0 and
                       metric(node, 'vigil_hub_pushes_total{result="ok"}') >= 2, timeout=30,
                       what="three answers lost, then pushes taken")
            self.assertGreaterEqual(metric(node, 'vigil_hub_pushes_total{result="failed"}'), 3)
            self.assertEqual(node.stop(), 0)
            got = windows(hub, "node-b")
            assert_tiled(self, got)
            # The hub stored every lost-answer window; each was replaced by the wider one.
            self.assertGreater(proxy.forwarded, len(got["summaries"]))
            self.assertEqual(got["totals"]["sessions_closed"]["clean_shutdown"], 5)
            self.assertEqual(got["totals"]["heartbeats"]["accepted"], 5)
        finally:
            node.cleanup()
            proxy.close()
            hub.cleanup()

    def test_stop_waits_at_most_5_s_for_a_silent_hub(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # accepts (the kernel does), never answers
        node = Vigild(env={"VIGIL_HUB_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
                           "VIGIL_HUB_INTERVAL_S": "1"}).start()
        try:
            time.sleep(1.5)  # a push is in flight
            t0 = time.monotonic()
            self.assertEqual(node.stop(), 0)
            took = time.monotonic() - t0
            self.assertLess(took, 8.0, f"stop took {took:.1f} s")
            self.assertIn("last push", node.logs())
        finally:
            node.cleanup()
            silent.close()


class HubRefuses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = start_hub()

    @classmethod
    def tearDownClass(cls):
        cls.hub.cleanup()

    def post(self, node_id, body, token=HUB_TOKEN, ctype="application/json"):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        return self.hub.request("POST", f"/v1/hub/nodes/{node_id}/summary", body,
                                {"Content-Type": ctype}, token=token)

    @staticmethod
    def summary(**over):
        s = {"schema_version": 1, "node_id": "n9", "run_id": 4, "seq": 1,
             "window": {"from_ms": 1000, "to_ms": 2000}, "interval_s": 60,
             "sessions_closed": {"failed": 1}, "heartbeats": {"accepted": 5},
             "tasks": [{"group": "g", "count": 2, "mean_ms": 1.5}],
             "groups": [{"name": "g", "state": "up", "workers": {"alive": 1}}]}
        s.update(over)
        return s

    def refused(self, r, status, field):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json()["error"]["field"], field, r)

    def test_bad_summaries(self):
        s = self.summary
        cases = [
            ("no token", self.post("n9", s(), token=None), 401, "authorization"),
            ("admin token is not the hub's", self.post("n9", s(), token=ADMIN), 401,
             "authorization"),
            ("text/plain", self.post("n9", s(), ctype="text/plain"), 415, "content-type"),
            ("not json", self.post("n9", "{nope"), 400, "json"),
            ("array", self.post("n9", "[]"), 400, "body"),
            ("schema 2", self.post("n9", s(schema_version=2)), 400, "schema_version"),
            ("node id differs", self.post("n9", s(node_id="other")), 400, "node_id"),
            ("run_id string", self.post("n9", s(run_id="4")), 400, "run_id"),
            ("no window", self.post("n9", {k: v for k, v in s().items() if k != "window"}),
             400, "window"),
            ("window backwards", self.post("n9", s(window={"from_ms": 5, "to_ms": 4})), 400,
             "window.to_ms"),
            ("window fraction", self.post("n9", s(window={"from_ms": 1.5, "to_ms": 4})), 400,
             "window.from_ms"),
            ("interval 0", self.post("n9", s(interval_s=0)), 400, "interval_s"),
            ("count negative", self.post("n9", s(sessions_closed={"failed": -1})), 400,
             "sessions_closed.failed"),
            ("no sessions_closed",
             self.post("n9", {k: v for k, v in s().items() if k != "sessions_closed"}), 400,
             "sessions_closed"),
            ("task count fraction",
             self.post("n9", s(tasks=[{"group": "g", "count": 1.5, "mean_ms": 1}])), 400,
             "tasks[0].count"),
            ("task group bad", self.post("n9", s(tasks=[{"group": "a b", "count": 1,
                                                         "mean_ms": 1}])), 400, "tasks[0].group"),
            ("group workers bad",
             self.post("n9", s(groups=[{"name": "g", "workers": {"alive": "x"}}])), 400,
             "groups[0].workers.alive"),
            ("path id bad", self.post("a%20b", s()), 400, "node_id"),
            ("path id too long", self.post("n" * 65, s(node_id="n" * 65)), 400, "node_id"),
        ]
        # Over 1 MiB: refused on its Content-Length, before a byte of it is read.
        with socket.create_connection(("127.0.0.1", self.hub.port), timeout=10) as c:
            c.sendall(f"POST /v1/hub/nodes/n9/summary HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {HUB_TOKEN}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {(1 << 20) + 1}\r\n\r\n".encode())
            head = c.recv(65536).decode()
        self.assertTrue(head.startswith("HTTP/1.1 413"), head)
        self.assertIn('"field":"body"', head)
        for name, r, status, field in cases:
            with self.subTest(name):
                self.refused(r, status, field)
        r = self.hub.request("GET", "/v1/hub/nodes/n9/summary", token=HUB_TOKEN)
        self.assertEqual(r.status, 405, r)
        # None of it was stored.
        self.assertEqual([n for n in self.hub.get("/v1/hub/nodes")["nodes"]
                          if n["node_id"] == "n9"], [])

    def test_overlap_refused_same_start_replaces(self):
        s = self.summary
        self.assertEqual(self.post("n8", s(node_id="n8")).status, 200)
        r = self.post("n8", s(node_id="n8", window={"from_ms": 1500, "to_ms": 2500}))
        self.refused(r, 409, "window.from_ms")
        r = self.post("n8", s(node_id="n8", window={"from_ms": 1000, "to_ms": 3000},
                              sessions_closed={"failed": 4}))
        self.assertEqual(r.status, 200, r)
        got = windows(self.hub, "n8")
        self.assertEqual(len(got["summaries"]), 1)
        self.assertEqual(got["totals"]["sessions_closed"]["failed"], 4)
        self.assertEqual(self.post("n8", s(node_id="n8", window={"from_ms": 3000,
                                                                  "to_ms": 4000})).status, 200)
        # A new run of the node starts its own windows.
        self.assertEqual(self.post("n8", s(node_id="n8", run_id=5, window={"from_ms": 1200,
                                                                            "to_ms": 1300}))
                         .status, 200)
        self.assertEqual(len(windows(self.hub, "n8")["summaries"]), 3)

    def test_read_side_needs_admin_token(self):
        for path in ("/v1/hub/nodes", "/v1/hub/nodes/n9/summaries"):
            for tok in (None, HUB_TOKEN):
                with self.subTest(path=path, token=tok):
                    self.refused(self.hub.request("GET", path, token=tok), 401, "authorization")
        self.refused(self.hub.request("GET", "/v1/hub/nodes/n9/summaries?limit=0", token=ADMIN),
                     400, "limit")
        self.refused(self.hub.request("GET", "/v1/hub/nodes/n9/summaries?from=x", token=ADMIN),
                     400, "from")
        self.refused(self.hub.request("GET", "/v1/hub/nodes/n9/other", token=ADMIN), 404, "path")

    def test_not_a_hub(self):
        v = Vigild().start()
        try:
            r = v.request("POST", "/v1/hub/nodes/n1/summary", self.summary(node_id="n1"),
                          token=HUB_TOKEN)
            self.refused(r, 404, "path")
            self.refused(v.request("GET", "/v1/hub/nodes", token=v.token), 404, "path")
        finally:
            v.cleanup()

    def test_bad_config(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        for key, val, word in (("VIGIL_HUB_ROLE", "boss", "VIGIL_HUB_ROLE"),
                               ("VIGIL_HUB_URL", "ftp://x", "http://"),
                               ("VIGIL_HUB_INTERVAL_S", "0", "1..86400")):
            with self.subTest(key):
                p = subprocess.run([VIGILD, "--check-config"], env={**env, key: val},
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(word, p.stderr)

    def test_hub_token_file(self):
        v = Vigild(env={"VIGIL_HUB_ROLE": "hub"}).start()
        try:
            path = os.path.join(v.data_dir, "hub.token")
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            with open(path) as f:
                tok = f.read().strip()
            self.assertNotEqual(tok, v.token)
            r = v.request("POST", "/v1/hub/nodes/n1/summary", self.summary(node_id="n1"),
                          token=tok)
            self.assertEqual(r.status, 200, r)
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main()
