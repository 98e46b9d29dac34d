"""The vigil CLI's analytics commands against a real vigild: `vigil import sessions`,
`vigil reliability` (table and --json), after a forced rollup (POST /v1/admin/rollup).

History is imported rather than beaten in, so the test does not wait hours for
sessions to have lengths worth ranking: three workers in their own group, with
sessions over the last five days that put them in a known order.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import VIGIL_CLI, SharedVigild

GROUP = "itest-rel"
H = 3600 * 1000


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def history(now_ms):
    """(worker_id, opened_ms, closed_ms, reason, exit_code) rows; expected rank order a, c, b.

    rel-a: three 10 h sessions, all clean: long, never fails.
    rel-c: two 5 h sessions, one failed.
    rel-b: four 30 min sessions ending in timeouts, the last one an hour ago.
    """
    day = 24 * H
    rows = []
    for d in (3, 2, 1):
        rows.append(("rel-a", now_ms - d * day, now_ms - d * day + 10 * H, "clean_shutdown", ""))
    rows.append(("rel-c", now_ms - 4 * day, now_ms - 4 * day + 5 * H, "clean_shutdown", ""))
    rows.append(("rel-c", now_ms - 2 * day, now_ms - 2 * day + 5 * H, "failed", "3"))
    for d in (4, 3, 2):
        rows.append(("rel-b", now_ms - d * day, now_ms - d * day + H // 2, "timeout", ""))
    rows.append(("rel-b", now_ms - 2 * H, now_ms - 3 * H // 2, "timeout", ""))
    return rows


def to_csv(rows):
    lines = ["worker_id,group,instance,opened,closed,reason,exit_code"]
    for wid, o, c, reason, code in rows:
        lines.append(f"{wid},{GROUP},boot-{o},{iso(o)},{iso(c)},{reason},{code}")
    return "\n".join(lines) + "\n"


class CliAnalytics(SharedVigild):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url = f"http://127.0.0.1:{cls.v.port}"
        cls.tmp = tempfile.mkdtemp(prefix="vigil-it-rel-")
        cls.rows = history(int(time.time() * 1000) - 60 * 1000)
        cls.csv = os.path.join(cls.tmp, "history.csv")
        with open(cls.csv, "w") as f:
            f.write(to_csv(cls.rows))
        r = cls.vigil_env("import", "sessions", cls.csv)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr, cls.v.logs())
        cls.first_import = r.stdout
        r = cls.v.request("POST", "/v1/admin/rollup", body=b"", token=cls.v.token, timeout=60)
        assert r.status == 200, r
        cls.rollup = r.json()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def vigil_env(cls, *args, stdin=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        e.update({"VIGIL_URL": cls.url, "VIGIL_ADMIN_TOKEN": cls.v.token})
        return subprocess.run([VIGIL_CLI, *args], capture_output=True, text=True, timeout=60,
                              env=e, input=stdin)

    def vigil(self, *args, stdin=None):
        return self.vigil_env(*args, stdin=stdin)

    def reliability_json(self, *args):
        r = self.vigil("reliability", "--json", "--group", GROUP, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    # ---- import ---------------------------------------------------------------

    def test_import_counts(self):
        n = len(self.rows)
        self.assertEqual(self.first_import.strip(), f"imported {n} rows ({n} new, 0 already there)")
        # the same file again: every row is already there, nothing doubles
        r = self.vigil("import", "sessions", self.csv)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), f"imported {n} rows (0 new, {n} already there)")
        s = self.v.sessions("rel-a")
        self.assertEqual(len(s), 3, s)

    def test_import_ndjson_from_stdin(self):
        now = int(time.time() * 1000) - 60 * 1000
        line = {"worker_id": "rel-nd", "group": "itest-nd", "opened": iso(now - 2 * H),
                "closed": iso(now - H), "reason": "clean_shutdown"}
        r = self.vigil("import", "sessions", "-", "--format", "ndjson", stdin=json.dumps(line) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "imported 1 row (1 new, 0 already there)")

    def test_import_bad_row_names_it_and_writes_nothing(self):
        now = int(time.time() * 1000) - 60 * 1000
        rows = [("rel-bad", now - 9 * H, now - 8 * H, "clean_shutdown", ""),
                ("rel-bad", now - 7 * H, now - 6 * H, "timeout", ""),
                ("rel-bad", now - 5 * H, now - 6 * H, "timeout", "")]  # closed before opened
        path = os.path.join(self.tmp, "bad.csv")
        with open(path, "w") as f:
            f.write(to_csv(rows))
        r = self.vigil("import", "sessions", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        # the row is the point; which of the two columns takes the blame is the server's call
        self.assertRegex(r.stderr, r"^vigil: row 3, (opened|closed): \S")
        self.assertEqual(r.stdout, "")
        # all or nothing: rows 1 and 2 were fine, but they are not stored either
        got = self.v.request("GET", "/v1/workers/rel-bad/sessions", token=self.v.token)
        if got.status == 200:
            self.assertEqual(got.json()["sessions"], [])
        else:
            self.assertEqual(got.status, 404, got)

    def test_import_usage_errors(self):
        r = self.vigil("import", "sessions", os.path.join(self.tmp, "history.txt"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--format", r.stderr)
        r = self.vigil("import", "workers", self.csv)
        self.assertEqual(r.returncode, 2)
        r = self.vigil("import", "sessions", os.path.join(self.tmp, "missing.csv"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.csv", r.stderr)

    # ---- reliability ----------------------------------------------------------

    def test_rollup_answer(self):
        self.assertGreaterEqual(self.rollup["reliability"]["workers"], 3, self.rollup)
        self.assertIsInstance(self.rollup["ms"], (int, float))

    def test_json_ranks_the_imported_workers(self):
        doc = self.reliability_json()
        self.assertIsNotNone(doc["computed_at"])
        ids = [w["worker_id"] for w in doc["workers"]]
        self.assertEqual(ids, ["rel-a", "rel-c", "rel-b"], doc)
        self.assertEqual(doc["total"], 3)
        scores = [w["liveness_score"] for w in doc["workers"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        for w in doc["workers"]:
            self.assertEqual(w["group"], GROUP)
            self.assertTrue(0 <= w["liveness_score"] <= 1, w)
            self.assertTrue(0 <= w["uptime_pct"] <= 1, w)
            self.assertNotIn("p_stays", w)  # only with stays_for
        a, c, b = doc["workers"]
        self.assertEqual((a["sessions_count"], c["sessions_count"], b["sessions_count"]), (3, 2, 4))
        self.assertEqual(a["p_stays_4h"], 1.0)
        self.assertEqual(b["p_stays_4h"], 0.0)
        reasons = {k: n for k, n in b["disconnect_reasons"].items() if n}
        self.assertEqual(reasons, {"timeout": 4})
        # --limit caps the list, not the total
        doc = self.reliability_json("--limit", "1")
        self.assertEqual([w["worker_id"] for w in doc["workers"]], ["rel-a"])
        self.assertEqual(doc["total"], 3)

    def test_table(self):
        r = self.vigil("reliability", "--group", GROUP)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.rstrip("\n").split("\n")
        self.assertEqual(len(lines), 4, r.stdout)  # header + one line per worker
        head = lines[0].split()
        for col in ("RANK", "WORKER", "GROUP", "SCORE", "UPTIME", "P(4h)", "P(8h)", "MTBF",
                    "SESSIONS", "LAST-DISCONNECT"):
            self.assertIn(col, head)
        self.assertEqual([ln.split()[:3] for ln in lines[1:]],
                         [["1", "rel-a", GROUP], ["2", "rel-c", GROUP], ["3", "rel-b", GROUP]])
        # aligned: every line as wide as the header would be, columns line up
        self.assertEqual(lines[1].index("rel-a"), lines[0].index("WORKER"))
        self.assertRegex(lines[3], r"\d+(\.\d)?% .* \d+[smhd](\d+[smhd])? ago$")
        self.assertEqual(r.stderr, "")

    def test_stays_for(self):
        doc = self.reliability_json("--stays-for", "6h")
        self.assertEqual(doc["stays_for_s"], 21600)
        for w in doc["workers"]:
            self.assertTrue(0 <= w["p_stays"] <= 1, w)
        a = doc["workers"][0]
        self.assertEqual(a["worker_id"], "rel-a")
        self.assertEqual(a["p_stays"], 1.0)  # every session lasted 10 h
        r = self.vigil("reliability", "--group", GROUP, "--stays-for", "6h")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("P(6h)", r.stdout.split("\n")[0].split())

    def test_filters_and_empty(self):
        doc = self.reliability_json("--min-score", "0.0001")
        ids = [w["worker_id"] for w in doc["workers"]]
        self.assertIn("rel-a", ids)
        r = self.vigil("reliability", "--group", "no-such-group")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.strip().split("\n")), 1, r.stdout)
        self.assertIn("no workers", r.stdout)

    def test_bad_values(self):
        r = self.vigil("reliability", "--stays-for", "bad")
        self.assertIn(r.returncode, (1, 2), r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"stays.for")
        self.assertEqual(r.stdout, "")
        for flag, value in (("--min-score", "1.5"), ("--min-uptime", "99"), ("--limit", "0")):
            r = self.vigil("reliability", flag, value)
            self.assertEqual(r.returncode, 2, (flag, r.stderr))
            self.assertIn(flag, r.stderr)

    def test_needs_the_admin_token(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        r = subprocess.run([VIGIL_CLI, "--url", self.url, "--data", "/nonexistent", "reliability"],
                           capture_output=True, text=True, timeout=30, env=e)
        self.assertEqual(r.returncode, 1)
        self.assertIn("401", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
