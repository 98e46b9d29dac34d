"""`vigil silence add|list|rm` against a real vigild with an alert rule: what the
CLI adds is what GET /v1/silences holds, what it removes is gone; bad usage exits
2 before any connection; a vigild without rules refuses `add` in plain words."""
import calendar
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import VIGIL_CLI, Vigild, free_port

CONFIG = """
[alerts]
grace_s = 0

[rule "lost"]
type = worker_lost
group = cli-silence-none
"""


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def parse_iso(s):
    """The API's "2026-11-23T07:40:00.123Z" to epoch ms."""
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(s[20:23])


def vigil(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    e.update(env or {})
    return subprocess.run([VIGIL_CLI, *args], capture_output=True, text=True, timeout=30, env=e)


class CliSilence(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-cli-silence-")
        path = os.path.join(cls.tmp, "vigil.ini")
        with open(path, "w") as f:
            f.write(CONFIG)
        cls.v = Vigild(args=["--config", path]).start()
        cls.url = f"http://127.0.0.1:{cls.v.port}"

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args):
        """vigil against this vigild, finding the admin token in its data directory."""
        return vigil("--url", self.url, "--data", self.v.data_dir, *args)

    def silences(self):
        return {s["id"]: s for s in self.v.get("/v1/silences")["silences"]}

    def test_add_list_rm(self):
        before = time.time() * 1000
        r = self.cli("silence", "add", "--group", "gpu-*", "--for", "2h",
                     "--comment", "driver upgrade")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^[0-9]+\n$")  # the id alone, for $(...)
        id1 = int(r.stdout)
        s = self.silences()[id1]
        self.assertEqual((s["rule"], s["group"], s["worker"], s["comment"]),
                         ("", "gpu-*", "", "driver upgrade"))
        self.assertEqual(parse_iso(s["ends_at"]) - parse_iso(s["starts_at"]), 2 * 3600 * 1000)
        self.assertGreaterEqual(parse_iso(s["starts_at"]), before - 1000)

        # --until, the token from the environment, --json: the server's answer as is
        until = (int(time.time()) + 86400) * 1000
        r = vigil("silence", "add", "--rule=lost", "--worker", "w[0-9]", "--until", iso(until),
                  "--json", env={"VIGIL_URL": self.url, "VIGIL_ADMIN_TOKEN": self.v.token})
        self.assertEqual(r.returncode, 0, r.stderr)
        id2 = json.loads(r.stdout)["id"]
        s = self.silences()[id2]
        self.assertEqual((s["rule"], s["group"], s["worker"], s["comment"]),
                         ("lost", "", "w[0-9]", ""))
        self.assertEqual(parse_iso(s["ends_at"]), until)

        r = self.cli("silence", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "RULE", "GROUP", "WORKER", "ENDS", "COMMENT"])
        rows = {int(x.split()[0]): x.split(None, 5) for x in lines[1:]}
        server = self.silences()
        self.assertEqual(rows[id1], [str(id1), "*", "gpu-*", "*", server[id1]["ends_at"],
                                     "driver upgrade"])
        self.assertEqual(rows[id2], [str(id2), "lost", "*", "w[0-9]", iso(until), "-"])
        r = self.cli("silence", "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({s["id"]: s for s in json.loads(r.stdout)["silences"]}, server)

        r = self.cli("silence", "rm", str(id1))
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        self.assertNotIn(id1, self.silences())
        self.assertIn(id2, self.silences())
        r = self.cli("silence", "del", str(id2))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(id2, self.silences())

        # already gone: the server's not-found is a refusal, exit 1
        r = self.cli("silence", "rm", str(id1))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"no silence {id1}", r.stderr)
        self.assertIn("404", r.stderr)
        if not self.silences():
            r = self.cli("silence", "list")
            self.assertEqual((r.returncode, r.stdout), (0, "no silences\n"), r.stderr)

    def test_bad_usage_exits_2_before_connecting(self):
        # Nobody listens there: reaching the network would be exit 3, not 2.
        dead = f"http://127.0.0.1:{free_port()}"
        cases = [
            ((), "missing subcommand"),
            (("frob",), "unknown subcommand 'frob'"),
            (("add", "--group", "g"), "give --for DURATION"),
            (("add", "--for", "2h"), "at least one of --rule, --group, --worker"),
            (("add", "--group", "g", "--for", "2h", "--until", "2030-01-01T00:00:00Z"),
             "not both"),
            (("add", "--group", "g", "--for", "5x"), "--for: expected a positive duration"),
            (("add", "--group", "g", "--for", "0s"), "--for: expected a positive duration"),
            (("add", "--group", "g", "--for", "0x10"), "--for: expected a positive duration"),
            (("add", "--group", "g", "--for", ""), "--for: expected a positive duration"),
            (("add", "--group", "g", "--until", "tomorrow"), "--until: expected an ISO-8601"),
            (("add", "--group", "[x", "--for", "1h"), "--group: must be a non-empty glob"),
            (("add", "--rule", "", "--for", "1h"), "--rule: must be a non-empty glob"),
            (("add", "--group", "g", "--for", "1h", "--comment", "x" * 512),
             "--comment: must be fewer than 512 bytes"),
            (("add", "--group"), "--group needs a value"),
            (("add", "extra", "--group", "g", "--for", "1h"), "unexpected argument 'extra'"),
            (("list", "--for", "2h"), "--for: not an option of 'vigil silence list'"),
            (("list", "x"), "unexpected argument 'x'"),
            (("rm",), "missing silence ID"),
            (("rm", "abc"), "silence ID must be a positive integer (got 'abc')"),
            (("rm", "0"), "must be a positive integer"),
            (("rm", "1.5"), "must be a positive integer"),
            (("rm", "+3"), "must be a positive integer"),
            (("rm", "99999999999999999999"), "must be a positive integer"),
            (("rm", "1", "--json"), "--json: not an option of 'vigil silence rm'"),
            (("rm", "1", "2"), "unexpected argument '2'"),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                r = vigil("--url", dead, "--token", "t", "silence", *args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn(words, r.stderr)
                self.assertIn("usage: vigil silence", r.stderr)
                self.assertEqual(r.stdout, "")
        # and the same mistakes against the live server leave nothing behind
        n = len(self.silences())
        r = self.cli("silence", "add", "--group", "g", "--for", "soon")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(self.silences()), n)

    def test_server_refusals(self):
        # the server's clock decides "in the past"; said with the flag that was typed
        r = self.cli("silence", "add", "--group", "g", "--until", "2001-01-01T00:00:00Z")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("--until: must end in the future", r.stderr)
        r = self.cli("silence", "add", "--group", "g", "--for", "400d")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("--for: must end within a year", r.stderr)
        # no token at all
        for args in (("add", "--group", "g", "--for", "1h"), ("list",), ("rm", "1")):
            with self.subTest(args=args):
                r = vigil("--url", self.url, "--data", "/nonexistent", "silence", *args)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("HTTP 401", r.stderr)
                self.assertIn("no token was found", r.stderr)
        # nobody listening
        r = vigil("--url", f"http://127.0.0.1:{free_port()}", "--token", "t", "silence", "list")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)

    def test_help(self):
        r = vigil("help", "silence")
        self.assertEqual(r.returncode, 0, r.stderr)
        for words in ("vigil silence add", "vigil silence list", "vigil silence rm ID",
                      "--for D", "--until TIME"):
            self.assertIn(words, r.stdout)
        r = vigil("--help")
        self.assertRegex(r.stdout, re.compile(r"^  silence ", re.M))


class CliSilenceAlertingOff(unittest.TestCase):
    """A vigild with no [rule] section has no alert engine to silence."""

    @classmethod
    def setUpClass(cls):
        cls.v = Vigild().start()
        cls.url = f"http://127.0.0.1:{cls.v.port}"

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def test_add_is_refused_in_plain_words(self):
        r = vigil("--url", self.url, "--data", self.v.data_dir, "silence", "add", "--group", "g",
                  "--for", "1h")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("alerting is off", r.stderr)
        self.assertIn("[rule", r.stderr)
        self.assertEqual(r.stdout, "")
        r = vigil("--url", self.url, "--data", self.v.data_dir, "silence", "list")
        self.assertEqual((r.returncode, r.stdout), (0, "no silences\n"), r.stderr)
        r = vigil("--url", self.url, "--data", self.v.data_dir, "silence", "rm", "1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no silence 1", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
