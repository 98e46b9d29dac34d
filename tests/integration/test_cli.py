"""The vigil CLI against a real vigild: beat, bye, status, exit codes."""
import json
import os
import subprocess
import unittest

from harness import VIGIL_CLI, SharedVigild, free_port, wait_until


class Cli(SharedVigild):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url = f"http://127.0.0.1:{cls.v.port}"

    def vigil(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        e.update(env or {})
        return subprocess.run([VIGIL_CLI, *args], capture_output=True, text=True, timeout=30,
                              env=e)

    def test_beat_bye_status(self):
        r = self.vigil("--url", self.url, "beat", "cli-1", "--group", "cli", "--cpu", "0.25",
                       "--ttl", "30", "--instance", "i-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        w = self.v.worker("cli-1")
        self.assertEqual((w["state"], w["group"], w["ttl_s"]), ("alive", "cli", 30))
        self.assertEqual(w["samples"]["cpu"], 0.25)
        # status finds the admin token in the data directory, as a local operator would
        r = self.vigil("--url", self.url, "--data", self.v.data_dir, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cli-1", r.stdout)
        self.assertIn("alive", r.stdout)
        r = self.vigil("status", "--json", env={"VIGIL_URL": self.url,
                                                "VIGIL_ADMIN_TOKEN": self.v.token})
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertIn("cli", [g["group"] for g in doc["groups"]])
        self.assertIn("cli-1", [w["worker_id"] for w in doc["workers"]])
        r = self.vigil("--url", self.url, "bye", "cli-1", "--exit", "4")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = wait_until(lambda: [x for x in self.v.sessions("cli-1") if not x["open"]],
                       what="closed session")
        self.assertEqual((s[0]["reason"], s[0]["exit_code"]), ("failed", 4))

    def test_exit_codes(self):
        # 2: bad value refused locally, nothing sent
        r = self.vigil("--url", self.url, "beat", "cli-2", "--cpu", "7")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cpu", r.stderr)
        r = self.v.request("GET", "/v1/workers/cli-2", token=self.v.token)
        self.assertEqual(r.status, 404)
        r = self.vigil("frobnicate")
        self.assertEqual(r.returncode, 2)
        # 1: the server refused (no admin token for status)
        r = self.vigil("--url", self.url, "--data", "/nonexistent", "status")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        # 3: nobody listening
        r = self.vigil("--url", f"http://127.0.0.1:{free_port()}", "beat", "cli-3")
        self.assertEqual(r.returncode, 3)
        r = self.vigil("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Exit codes", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
