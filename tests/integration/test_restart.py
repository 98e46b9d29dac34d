"""vigild restarts: SIGKILL and SIGTERM, sessions kept, closed `timeout` or `monitor_gap`."""
import signal
import time
import unittest

from harness import Vigild, wait_until


def open_session(v, wid):
    return [s for s in v.sessions(wid) if s["open"]]


class Restart(unittest.TestCase):
    def test_sigkill_keeps_sessions_of_workers_that_come_back(self):
        v = Vigild(env={"VIGIL_DEFAULT_TTL_S": "4"}).start()
        try:
            for wid, inst in (("back", "a1"), ("gone", "b1"), ("reborn", "c1")):
                v.beat(wid, group="rs", instance=inst)
                v.beat(wid, group="rs", instance=inst)
            # wait until the writer has persisted sessions and last heartbeats
            wait_until(lambda: all(len(v.get(f"/v1/workers/{w}/heartbeats")["heartbeats"]) == 2
                                   for w in ("back", "gone", "reborn")), what="flushed")
            before = {w: open_session(v, w)[0] for w in ("back", "gone", "reborn")}
            gone_last = v.worker("gone")["last_heartbeat"]
            self.assertEqual(v.kill(signal.SIGKILL), -signal.SIGKILL)

            v.start()
            self.assertEqual(v.beat("back", group="rs", instance="a1").status, 200)
            v.beat("reborn", group="rs", instance="c2")
            # "back" resumed within its TTL: the very same session is still open
            s = open_session(v, "back")
            self.assertEqual(len(s), 1)
            self.assertEqual(s[0]["opened"], before["back"]["opened"])
            # "reborn" came back as a new instance: restarted, new session
            closed = wait_until(lambda: [x for x in v.sessions("reborn") if not x["open"]],
                                what="reborn's old session closed")
            self.assertEqual(closed[0]["reason"], "restarted")
            self.assertEqual(closed[0]["opened"], before["reborn"]["opened"])
            # "gone" never returns: closed `timeout` at its last heartbeat once the TTL passes,
            # while "back" keeps beating and keeps its session
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                v.beat("back", group="rs", instance="a1")
                if v.worker("gone")["state"] == "dead":
                    break
                time.sleep(0.5)
            g = wait_until(lambda: [x for x in v.sessions("gone") if not x["open"]],
                           what="gone's session closed")
            self.assertEqual(g[0]["reason"], "timeout")
            self.assertEqual(g[0]["closed"], gone_last)
            self.assertEqual(g[0]["opened"], before["gone"]["opened"])
            s = open_session(v, "back")
            self.assertEqual([x["opened"] for x in s], [before["back"]["opened"]])
            self.assertEqual(len(v.sessions("back")), 1)
        finally:
            v.cleanup()

    def test_sqlite_node_renamed_keeps_its_sessions(self):
        """SQLite has one node: sessions opened under another node_id (the
        default, the hostname, changed) are still this node's to resume."""
        v = Vigild(env={"VIGIL_DEFAULT_TTL_S": "30", "VIGIL_NODE_ID": "old-name"}).start()
        try:
            v.beat("ren", group="rn", instance="i1")
            wait_until(lambda: len(open_session(v, "ren")) == 1, what="session stored")
            opened = open_session(v, "ren")[0]["opened"]
            self.assertEqual(v.kill(signal.SIGKILL), -signal.SIGKILL)
            v.env["VIGIL_NODE_ID"] = "new-name"
            v.start()
            self.assertEqual(v.worker("ren")["state"], "alive")
            self.assertEqual(v.beat("ren", group="rn", instance="i1").status, 200)
            s = v.sessions("ren")
            self.assertEqual([(x["open"], x["opened"]) for x in s], [(True, opened)])
        finally:
            v.cleanup()

    def test_long_outage_closes_monitor_gap(self):
        v = Vigild(env={"VIGIL_DEFAULT_TTL_S": "1"}).start()
        try:
            v.beat("gap-1", group="gap")
            v.beat("gap-1", group="gap")
            wait_until(lambda: len(v.get("/v1/workers/gap-1/heartbeats")["heartbeats"]) == 2,
                       what="flushed")
            last = v.worker("gap-1")["last_heartbeat"]
            v.kill(signal.SIGKILL)
            time.sleep(2.5)  # vigild itself down longer than the worker's TTL
            v.start()
            s = wait_until(lambda: [x for x in v.sessions("gap-1") if not x["open"]],
                           timeout=8, what="gap-1 closed")
            self.assertEqual(s[0]["reason"], "monitor_gap")
            self.assertEqual(s[0]["closed"], last)
            self.assertEqual(v.worker("gap-1")["state"], "dead")
        finally:
            v.cleanup()

    def test_sigterm_drains_queue(self):
        v = Vigild(env={"VIGIL_FLUSH_INTERVAL_MS": "2000"}).start()
        try:
            r = v.beats([{"worker_id": f"drain-{i}", "group": "drain", "seq": i}
                         for i in range(500)])
            self.assertEqual(r.json()["accepted"], 500)
            v.bye("drain-7")
            self.assertEqual(v.kill(signal.SIGTERM), 0)  # before the 2 s flush timer fired
            v.start()
            ws = v.get("/v1/workers?group=drain&limit=1000")["workers"]
            self.assertEqual(len(ws), 500)
            self.assertEqual(v.worker("drain-7")["state"], "left")
            s = v.sessions("drain-7")
            self.assertEqual((len(s), s[0]["reason"]), (1, "clean_shutdown"))
            hb = v.get("/v1/workers/drain-499/heartbeats")["heartbeats"]
            self.assertEqual([h["seq"] for h in hb], [499])
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
