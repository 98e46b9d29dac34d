"""vigild configuration: file, env, flags, --check-config, token file safety."""
import os
import subprocess
import tempfile
import unittest

from harness import VIGILD, Vigild, wait_until


def run(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    e.update(env or {})
    return subprocess.run([VIGILD, *args], capture_output=True, text=True, timeout=30, env=e)


class Config(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-cfg-")
        self.ini = os.path.join(self.tmp, "vigil.ini")

    def write(self, text):
        with open(self.ini, "w") as f:
            f.write(text)

    def test_check_config_layers(self):
        self.write("[server]\nlisten = 127.0.0.1:9999\nnode_id = from-file\n"
                   "[liveness]\ndefault_ttl_s = 20\n[group \"batch\"]\nttl_s = 3600\n")
        r = run("--config", self.ini, "--check-config", env={"VIGIL_NODE_ID": "from-env"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("listen = 127.0.0.1:9999", r.stdout)
        self.assertIn("node_id = from-env", r.stdout)  # env beats file
        self.assertIn("default_ttl_s = 20", r.stdout)
        self.assertIn("groups = 1", r.stdout)
        r = run("--config", self.ini, "--check-config", "--listen", "127.0.0.1:7777")
        self.assertIn("listen = 127.0.0.1:7777", r.stdout)  # flag beats file

    def test_bad_config_exits_2(self):
        self.write("[server]\nlisen = 127.0.0.1:9999\n")
        r = run("--config", self.ini, "--check-config")
        self.assertEqual(r.returncode, 2)
        self.assertIn("lisen", r.stderr)
        r = run("--check-config", env={"VIGIL_DEFAULT_TTL_S": "0"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("VIGIL_DEFAULT_TTL_S", r.stderr)
        r = run("--listen", "nowhere", "--check-config")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(run("--version").returncode, 0)
        self.assertEqual(run("--bogus").returncode, 2)

    def test_group_ttl_from_config(self):
        self.write("[group \"slow\"]\nttl_s = 60\n[group \"fast\"]\nttl_s = 1\n")
        v = Vigild(args=["--config", self.ini]).start()
        try:
            v.beat("s-1", group="slow")
            v.beat("f-1", group="fast")
            self.assertEqual(v.worker("s-1")["ttl_s"], 60)
            wait_until(lambda: v.worker("f-1")["state"] == "dead", timeout=5, what="fast dies")
            self.assertEqual(v.worker("s-1")["state"], "alive")
            g = {x["group"]: x for x in v.get("/v1/groups")["groups"]}
            self.assertEqual((g["fast"]["state"], g["fast"]["ttl_s"]), ("crashed", 1))
        finally:
            v.cleanup()

    def test_print_token_for_make_run(self):
        v = Vigild(args=["--print-token"]).start()
        try:
            out = wait_until(lambda: "admin token:" in v.logs() and v.logs(), what="banner")
            self.assertIn(f"admin token: {v.token}", out)
            self.assertIn(f"token file:  {v.data_dir}/admin.token", out)
            self.assertIn(f"dashboard:   http://127.0.0.1:{v.port}/", out)
        finally:
            v.cleanup()

    def test_token_file(self):
        v = Vigild().start()
        try:
            path = os.path.join(v.data_dir, "admin.token")
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            tok = v.token
            v.stop()
            v.start()  # same token is found again
            self.assertEqual(v.token, tok)
            self.assertEqual(v.request("GET", "/v1/groups", token=tok).status, 200)
            v.stop()
            os.chmod(path, 0o644)
            r = run("--listen", "127.0.0.1:1", "--data", v.data_dir)
            self.assertEqual(r.returncode, 1)
            self.assertIn("chmod 600", r.stderr)
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
