"""`vigil run -- CMD` against a real vigild: the bye carries how CMD ended, vigil
ends the same way, signals reach CMD, heartbeats carry its cpu_ticks, --every."""
import os
import signal
import subprocess
import time
import unittest

from harness import SharedVigild, VIGIL_CLI, free_port, reaped, wait_until


class Run(SharedVigild):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url = f"http://127.0.0.1:{cls.v.port}"

    def env(self):
        return {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}

    def run_cli(self, *args, timeout=30):
        return subprocess.run([VIGIL_CLI, "--url", self.url, "run", *args], capture_output=True,
                              text=True, timeout=timeout, env=self.env())

    def closed(self, wid, n=1):
        return wait_until(lambda: [s for s in self.v.sessions(wid) if not s["open"]][:n]
                          if len([s for s in self.v.sessions(wid) if not s["open"]]) >= n
                          else None, what=f"{n} closed session(s) of {wid}")

    def test_exit_code(self):
        r = self.run_cli("run-exit3", "--group", "run", "--", "sh", "-c", "exit 3")
        self.assertEqual(r.returncode, 3, r.stderr)
        s = self.closed("run-exit3")[0]
        self.assertEqual((s["reason"], s["exit_code"], s["group"]), ("failed", 3, "run"))

    def test_clean(self):
        r = self.run_cli("run-sleep", "--", "sleep", "0.5")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.closed("run-sleep")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("clean_shutdown", 0))

    def test_killed_by_signal(self):
        # vigil dies of the child's signal itself: returncode -9, not exit 137
        r = self.run_cli("run-kill9", "--", "sh", "-c", "kill -9 $$")
        self.assertEqual(r.returncode, -signal.SIGKILL, r.stderr)
        s = self.closed("run-kill9")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("failed", 137))
        # The signal, named, with the session's close (its event in /v1/events).
        ev = [e for e in self.v.get("/v1/events?worker_id=run-kill9&limit=50")["events"]
              if e["type"] == "session_closed"]
        self.assertEqual(ev[0]["status"], "killed by signal 9 (SIGKILL)")

    def test_sigterm_forwarded(self):
        p = subprocess.Popen([VIGIL_CLI, "--url", self.url, "run", "run-term", "--interval",
                              "200ms", "--", "sleep", "30"], env=self.env(),
                             stderr=subprocess.PIPE, text=True)
        with reaped(p):
            wait_until(lambda: self.v.request("GET", "/v1/workers/run-term",
                                              token=self.v.token).status == 200,
                       what="first heartbeat")
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=10)
        self.assertLess(time.monotonic() - t0, 5)  # sleep 30 ended: it got the signal
        self.assertEqual(rc, -signal.SIGTERM, p.stderr.read())
        s = self.closed("run-term")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("failed", 143))

    def test_cpu_ticks(self):
        p = subprocess.Popen([VIGIL_CLI, "--url", self.url, "run", "run-busy", "--interval",
                              "200ms", "--", "sh", "-c", "while :; do :; done"], env=self.env(),
                             stderr=subprocess.PIPE, text=True)
        with reaped(p):
            def ticks():
                r = self.v.request("GET", "/v1/workers/run-busy", token=self.v.token)
                return r.status == 200 and r.json()["samples"].get("cpu_ticks")
            first = wait_until(ticks, what="cpu_ticks")
            later = wait_until(lambda: (t := ticks()) and t > first and t, what="growing ticks")
            self.assertGreater(later, first)
            p.send_signal(signal.SIGINT)
            rc = p.wait(timeout=10)
        self.assertEqual(rc, -signal.SIGINT)
        s = self.closed("run-busy")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("failed", 130))

    def test_every(self):
        p = subprocess.Popen([VIGIL_CLI, "--url", self.url, "run", "run-cron", "--every", "1s",
                              "--", "sh", "-c", "exit 0"], env=self.env(),
                             stderr=subprocess.PIPE, text=True)
        with reaped(p):
            wait_until(lambda: len(self.v.sessions("run-cron")) >= 2, timeout=2.5,
                       what="two runs")
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=10)
        self.assertEqual(rc, -signal.SIGTERM)  # signalled between runs: ends by the signal
        ss = self.v.sessions("run-cron")
        self.assertTrue(all(s["reason"] == "clean_shutdown" for s in ss if not s["open"]), ss)
        self.assertEqual(len({s["instance"] for s in ss}), len(ss))  # one session per run

    def test_unreachable_still_runs(self):
        r = subprocess.run([VIGIL_CLI, "--url", f"http://127.0.0.1:{free_port()}", "run",
                            "run-lonely", "--", "sh", "-c", "echo ran; exit 4"],
                           capture_output=True, text=True, timeout=30, env=self.env())
        self.assertEqual(r.returncode, 4)
        self.assertEqual(r.stdout, "ran\n")
        self.assertIn("cannot reach", r.stderr)

    def test_usage(self):
        self.assertEqual(self.run_cli("x").returncode, 2)  # no command
        self.assertEqual(self.run_cli("x", "--every", "soon", "--", "true").returncode, 2)
        self.assertEqual(self.run_cli("bad id", "--", "true").returncode, 2)
        r = self.run_cli("run-missing", "--", "/nonexistent/cmd")
        self.assertEqual(r.returncode, 127)
        s = self.closed("run-missing")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("failed", 127))


if __name__ == "__main__":
    unittest.main(verbosity=2)
