"""Store failure: another process holds SQLite's write lock, so vigild's writes fail.
Liveness keeps working, /readyz says not ready, and once the lock is gone every
session change accepted meanwhile is written. And a vigild SIGKILLed while its
changes wait in memory for the store loses none of them (DATA_DIR/events.journal)."""
import os
import signal
import sqlite3
import unittest

from harness import Vigild, wait_until


class StoreOutage(unittest.TestCase):
    def test_writes_fail_then_recover(self):
        v = Vigild().start()
        try:
            v.beat("out-1", group="outage")
            wait_until(lambda: len(v.sessions("out-1")) == 1, what="first session stored")
            db = sqlite3.connect(os.path.join(v.data_dir, "vigil.db"), isolation_level=None,
                                 timeout=10)
            db.execute("BEGIN EXCLUSIVE")  # vigild's writer now gets SQLITE_BUSY
            try:
                # accepted while the store is unavailable: a new worker, a bye, a restart
                self.assertEqual(v.beat("out-2", group="outage").status, 200)
                self.assertEqual(v.bye("out-1", exit_code=0).status, 200)
                v.beat("out-3", instance="a")
                v.beat("out-3", instance="b")
                # liveness is served from memory meanwhile
                self.assertEqual(v.worker("out-1")["state"], "left")
                self.assertEqual(v.worker("out-2")["state"], "alive")
                r = wait_until(lambda: (lambda x: x if x.status == 503 else None)(
                    v.request("GET", "/readyz")), timeout=20, what="readyz 503")
                self.assertEqual(r.json()["store"], "down")
            finally:
                db.rollback()
                db.close()
            wait_until(lambda: v.request("GET", "/readyz").status == 200, timeout=20,
                       what="readyz recovers")
            s1 = wait_until(lambda: [s for s in v.sessions("out-1") if not s["open"]],
                            what="out-1 closed in the store")
            self.assertEqual(s1[0]["reason"], "clean_shutdown")
            self.assertEqual(len(v.sessions("out-2")), 1)
            s3 = v.sessions("out-3")
            self.assertEqual(sorted((s["instance"], s["reason"]) for s in s3),
                             [("a", "restarted"), ("b", None)])
            self.assertEqual(v.kill(15), 0)
        finally:
            v.cleanup()

    def test_sigkill_with_changes_waiting_keeps_them(self):
        """The writer cannot commit (lock held), so the accepted changes sit in the event
        lane's memory when vigild is SIGKILLed; the next start applies them from the journal
        before rebuilding the registry."""
        v = Vigild(env={"VIGIL_DEFAULT_TTL_S": "600"}).start()
        try:
            v.beat("jr-1", group="jr", instance="a")
            v.beat("jr-3", group="jr", instance="a")
            wait_until(lambda: len(v.sessions("jr-1")) == 1 and len(v.sessions("jr-3")) == 1,
                       what="first sessions stored")
            db = sqlite3.connect(os.path.join(v.data_dir, "vigil.db"), isolation_level=None,
                                 timeout=10)
            db.execute("BEGIN EXCLUSIVE")
            try:
                self.assertEqual(v.bye("jr-1", instance="a", exit_code=3).status, 200)
                self.assertEqual(v.beat("jr-2", group="jr", instance="a").status, 200)
                self.assertEqual(v.beat("jr-3", group="jr", instance="b").status, 200)
                wait_until(lambda: v.request("GET", "/readyz").status == 503, timeout=20,
                           what="store down")
                journal = os.path.join(v.data_dir, "events.journal")
                self.assertGreater(os.path.getsize(journal), 32)  # past the file header
                self.assertEqual(v.kill(signal.SIGKILL), -signal.SIGKILL)
            finally:
                db.rollback()
                db.close()
            v.start()
            s1 = v.sessions("jr-1")
            self.assertEqual([(s["reason"], s["exit_code"]) for s in s1], [("failed", 3)])
            self.assertEqual(v.worker("jr-1")["state"], "left")
            self.assertEqual([s["open"] for s in v.sessions("jr-2")], [True])
            self.assertEqual(sorted((s["instance"], s["reason"]) for s in v.sessions("jr-3")),
                             [("a", "restarted"), ("b", None)])
            self.assertEqual(os.path.getsize(journal), 32)  # applied, then emptied
            m = v.request("GET", "/metrics", token=v.token).body
            replayed = [float(x.split()[1]) for x in m.splitlines()
                        if x.startswith("vigil_events_replayed_total ")]
            self.assertGreaterEqual(replayed, [6.0])  # 2 closes, 2 opens, their worker states
            self.assertEqual(v.kill(15), 0)
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
