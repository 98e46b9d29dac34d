"""Several vigild nodes on one PostgreSQL database (DESIGN §4, §10).

Two nodes share a store; each owns the sessions it opened (node_id). When one
is killed and restarted it reconciles only its own open sessions: the
sibling's live sessions are never touched. Needs PostgreSQL (make test
installs it); the test starts a cluster of its own.
"""
import signal
import time
import unittest

from harness import PgCluster, Vigild, wait_until


class TwoNodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def open_sessions(self, url, node):
        return int(self.pg.psql(f"SELECT count(*) FROM sessions WHERE node_id = '{node}' AND "
                                "closed_ms IS NULL", url))

    def test_kill_one_node_the_other_keeps_its_sessions(self):
        url = self.pg.schema("two_nodes")
        env = {"VIGIL_STORE_URL": url, "VIGIL_DEFAULT_TTL_S": "30"}
        a = Vigild(env={**env, "VIGIL_NODE_ID": "node-a"}).start()
        b = Vigild(env={**env, "VIGIL_NODE_ID": "node-b"}).start()
        try:
            for i in range(3):
                self.assertEqual(a.beat(f"a{i}", group="ga", instance="1").status, 200)
                self.assertEqual(b.beat(f"b{i}", group="gb", instance="1").status, 200)
            wait_until(lambda: self.open_sessions(url, "node-a") == 3, what="node-a sessions")
            wait_until(lambda: self.open_sessions(url, "node-b") == 3, what="node-b sessions")
            b_before = self.pg.psql("SELECT worker_id, opened_ms FROM sessions WHERE "
                                    "node_id = 'node-b' ORDER BY worker_id", url)

            self.assertEqual(a.kill(signal.SIGKILL), -signal.SIGKILL)
            a.start()
            # a's own workers come back within their TTL: same sessions, still open
            for i in range(3):
                self.assertEqual(a.beat(f"a{i}", group="ga", instance="1").status, 200)
            # b's sessions were not touched by a's reconciliation
            time.sleep(1)
            self.assertEqual(self.open_sessions(url, "node-b"), 3)
            self.assertEqual(self.pg.psql("SELECT worker_id, opened_ms FROM sessions WHERE "
                                          "node_id = 'node-b' ORDER BY worker_id", url), b_before)
            self.assertEqual(self.open_sessions(url, "node-a"), 3)
            self.assertEqual(int(self.pg.psql("SELECT count(*) FROM sessions", url)), 6)
            # both nodes recorded their runs
            nodes = self.pg.psql("SELECT DISTINCT node_id FROM node_runs ORDER BY 1", url)
            self.assertEqual(nodes.split(), ["node-a", "node-b"])
            # b still serves its workers as alive; a, restarted, does not claim
            # them (it would only know them as dead): they are b's to answer for
            self.assertEqual(b.worker("b0")["state"], "alive")
            self.assertEqual(a.request("GET", "/v1/workers/b0", token=a.token).status, 404)
            self.assertEqual(sorted(w["worker_id"] for w in a.get("/v1/workers")["workers"]),
                             ["a0", "a1", "a2"])
        finally:
            a.cleanup()
            b.cleanup()

    def test_reads_and_analytics_on_postgres(self):
        url = self.pg.schema("reads")
        v = Vigild(env={"VIGIL_STORE_URL": url, "VIGIL_NODE_ID": "node-r"}).start()
        try:
            for cpu in (0.2, 0.4):
                self.assertEqual(v.beat("r1", group="gr", cpu=cpu).status, 200)
            self.assertEqual(v.bye("r1", exit_code=0).status, 200)
            wait_until(lambda: [s for s in v.sessions("r1") if not s["open"]],
                       what="session closed in the store")
            self.assertEqual(len(v.get("/v1/workers/r1/heartbeats")["heartbeats"]), 2)
            r = v.request("POST", "/v1/admin/rollup", token=v.token)
            self.assertEqual(r.status, 200, r)
            hb = v.get("/v1/workers/r1/heartbeats?resolution=hour")["heartbeats"]
            self.assertEqual(sum(h["count"] for h in hb), 2)
            rel = v.get("/v1/reliability")
            self.assertEqual([w["worker_id"] for w in rel["workers"]], ["r1"])
            self.assertEqual(rel["workers"][0]["disconnect_reasons"]["clean_shutdown"], 1)
            ev = v.get("/v1/events?worker_id=r1")["events"]
            self.assertIn("session_closed", [e["type"] for e in ev])
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
