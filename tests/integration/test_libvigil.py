"""libvigil's worker handle (vigil_open ... vigil_worker_close) against a real
vigild, through tests/integration/libvigil_client.c linked to libvigil.so."""
import os
import signal
import subprocess
import unittest

from harness import SharedVigild, reaped, wait_until

CLIENT = os.environ.get("LIBVIGIL_CLIENT", "build/libvigil_client")


class Worker(SharedVigild):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url = f"http://127.0.0.1:{cls.v.port}"

    def closed(self, wid):
        return wait_until(lambda: [s for s in self.v.sessions(wid) if not s["open"]],
                          what=f"closed session of {wid}")[0]

    def test_heartbeats_tasks_clean_close(self):
        r = subprocess.run([CLIENT, self.url, "lv-close", "close"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        w = self.v.worker("lv-close")
        self.assertGreaterEqual(w["samples"]["seq"], 2)  # several heartbeats in 800 ms
        self.assertEqual((w["samples"]["cpu"], w["samples"]["backlog"]), (0.5, 3))
        self.assertEqual((w["group"], w["ttl_s"], w["state"]), ("libvigil", 5, "left"))
        beats = self.v.get("/v1/workers/lv-close/heartbeats")["heartbeats"]
        self.assertGreaterEqual(len(beats), 3)
        s = self.closed("lv-close")
        self.assertEqual((s["reason"], s["exit_code"]), ("clean_shutdown", 0))
        # 12.5 as one heartbeat's task_ms, then 20 and 30 batched (or at close)
        lat = wait_until(lambda: (d := self.v.get("/v1/tasks/latency?group=libvigil"))
                         ["summary"]["count"] >= 3 and d, what="task durations")
        self.assertEqual((lat["summary"]["min_ms"], lat["summary"]["max_ms"]), (12.5, 30))

    def test_bye_on_sigterm(self):
        p = subprocess.Popen([CLIENT, self.url, "lv-sig", "signal"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        with reaped(p):
            line = p.stdout.readline()
            self.assertTrue(line.startswith("ready "), line)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=10)
        self.assertEqual(rc, -signal.SIGTERM, p.stderr.read())
        s = self.closed("lv-sig")
        self.assertEqual((s["reason"], s["exit_code"], s["instance"]),
                         ("failed", 143, line.split()[1]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
