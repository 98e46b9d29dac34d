"""Security properties (docs/security.md), each checked against the running vigild or its
sources:

- every read route refuses a request without the admin token (401 JSON); the routes are
  read from the route table in src/server (http.c's dispatch, the worker sub-routes), so a
  route added there is covered without touching this file;
- the ingest token, when configured, is required on every ingest route, and the ingest
  token does not open the read side;
- tokens are compared in constant time (core/ct.c; its unit test is tests/unit/test_ct.c);
- admin.token is written 0600, and vigild refuses to start when others can read it;
- the default listen address is loopback;
- no SQL is built from run-time values in src/store (only reviewed constant fragments);
- the dashboard is served with CSP and nosniff.
"""
import http.client
import os
import re
import subprocess
import unittest

from harness import ROOT, VIGILD, Vigild, free_port

SERVER = os.path.join(ROOT, "src", "server")
STORE = os.path.join(ROOT, "src", "store")

# Routes open to anyone, and the ingest doors (ingest token when one is set). Every other
# path in the route table is the read side. A new public route must be added here on
# purpose, or test_read_routes_need_admin_token fails for it.
PUBLIC = {"/", "/ui", "/healthz", "/readyz"}
INGEST = {"/v1/heartbeat", "/v1/bye", "/v1/heartbeats", "/v1/tasks", "/ping/", "/v1/connect/"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_comments(src):
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", src, flags=re.S)


def route_table():
    """The paths http.c's dispatch() compares the URL with (strcmp/strncmp literals and the
    admin_routes table), and the sub-routes route_worker compares `sub` with."""
    src = strip_comments(read(os.path.join(SERVER, "http.c")))
    body = src[src.index("static enum MHD_Result dispatch("):]
    body = body[:body.index("\nstatic ")]
    paths = set(re.findall(r'"(/[A-Za-z0-9/._-]*)"', body))
    subs = set()
    for name in os.listdir(SERVER):
        if name.endswith(".c"):
            subs |= set(re.findall(r'strcmp\(sub, "([a-z._]+)"\)',
                                   strip_comments(read(os.path.join(SERVER, name)))))
    return paths, subs


def concrete(path):
    """A request path for a table entry: prefixes (ending in /) get an id."""
    return path + "sec-w" if path.endswith("/") else path


class Routes(unittest.TestCase):
    """One vigild with an ingest token; the admin token comes from admin.token."""

    @classmethod
    def setUpClass(cls):
        cls.v = Vigild(env={"VIGIL_INGEST_TOKEN": "ingest-secret-1"}).start()
        cls.paths, cls.subs = route_table()

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def read_routes(self):
        out = [concrete(p) for p in sorted(self.paths - PUBLIC - INGEST)]
        out += [f"/v1/workers/sec-w/{s}" for s in sorted(self.subs)]
        return out

    def test_table_was_found(self):
        # A parse that finds nothing would make the tests below pass vacuously.
        self.assertGreaterEqual(len(self.paths), 20, self.paths)
        self.assertGreaterEqual(len(self.subs), 4, self.subs)
        for p in ("/v1/workers", "/v1/events", "/v1/stream", "/v1/snapshot", "/metrics",
                  "/v1/import/sessions", "/v1/admin/rollup", "/v1/silences/"):
            self.assertIn(p, self.paths)
        self.assertTrue(INGEST <= self.paths, INGEST - self.paths)
        self.assertIn("evict", self.subs)

    def assert_401(self, r, what):
        self.assertEqual(r.status, 401, f"{what}: {r}")
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"), what)
        self.assertEqual(r.json()["error"]["field"], "authorization", what)
        self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer", what)

    def test_read_routes_need_admin_token(self):
        routes = self.read_routes()
        self.assertGreaterEqual(len(routes), 20)
        for path in routes:
            for method in ("GET", "POST", "DELETE"):
                for how, h in (("no token", {}),
                               ("wrong token", {"Authorization": "Bearer wrong"}),
                               ("ingest token", {"Authorization": "Bearer ingest-secret-1"}),
                               ("token as query", {}),
                               ("empty bearer", {"Authorization": "Bearer "}),
                               ("admin token as Basic", {"Authorization": "Basic " + self.v.token})):
                    p = path + ("?token=" + self.v.token if how == "token as query" else "")
                    with self.subTest(f"{method} {path} {how}"):
                        r = self.v.request(method, p, b"{}" if method == "POST" else None, h)
                        if r.status == 405 and not path.startswith("/v1/"):
                            # /metrics checks the method first: a 405 says only that the
                            # route exists, which the docs say anyway.
                            continue
                        self.assert_401(r, f"{method} {p} {how}")
            # ...and the admin token gets past the door (whatever the route then says).
            status = self.status_only(path, self.v.token)
            self.assertNotEqual(status, 401, f"{path} with the admin token")

    def status_only(self, path, token):
        """The status of a GET, without reading the body (/v1/stream never ends)."""
        c = http.client.HTTPConnection("127.0.0.1", self.v.port, timeout=10)
        try:
            c.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            return c.getresponse().status
        finally:
            c.close()

    def test_ingest_needs_ingest_token(self):
        bodies = {"/v1/heartbeats": b'{"worker_id":"sec-i"}\n',
                  "/v1/tasks": b'{"worker_id":"sec-i","task_ms":5}'}
        for path in sorted(INGEST):
            url = concrete(path)
            method = "GET" if path in ("/ping/", "/v1/connect/") else "POST"
            body = None if method == "GET" else bodies.get(path, b'{"worker_id":"sec-i"}')
            for how, h in (("no token", {}), ("wrong token", {"Authorization": "Bearer x"})):
                with self.subTest(f"{url} {how}"):
                    self.assert_401(self.v.request(method, url, body, h), f"{url} {how}")
            if path == "/v1/connect/":
                continue  # a held connection: answered 200 and kept open; test_held covers it
            for tok in ("ingest-secret-1", self.v.token):  # the admin token may ingest too
                r = self.v.request(method, url, body, token=tok)
                self.assertNotIn(r.status, (401, 403), f"{url}: {r}")
                self.assertLess(r.status, 300, f"{url}: {r}")

    def test_public_routes_stay_public(self):
        for path in sorted(PUBLIC):
            r = self.v.request("GET", path)
            self.assertEqual(r.status, 200, f"{path}: {r}")

    def test_dashboard_headers(self):
        for path in ("/", "/ui", "/ui/", "/ui/no-such-file.js"):
            r = self.v.request("GET", path)
            with self.subTest(path):
                csp = r.headers.get("Content-Security-Policy", "")
                self.assertIn("default-src", csp, f"{path}: {r.headers}")
                self.assertNotIn("unsafe-inline", csp)
                self.assertNotIn("unsafe-eval", csp)
                self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff", path)
                self.assertEqual(r.headers.get("X-Frame-Options"), "DENY", path)


class IngestOpenByDefault(unittest.TestCase):

    def test_no_ingest_token_configured(self):
        v = Vigild().start()
        try:
            self.assertEqual(v.beat("sec-open").status, 200)
            self.assertEqual(v.request("GET", "/ping/sec-open").status, 200)
            self.assertEqual(v.request("GET", "/v1/workers").status, 401)  # read side: never
        finally:
            v.cleanup()


class TokenFile(unittest.TestCase):

    def test_written_0600_and_refused_when_others_can_read(self):
        v = Vigild()
        v.start()
        path = os.path.join(v.data_dir, "admin.token")
        try:
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            self.assertEqual(os.stat(v.data_dir).st_mode & 0o077, 0, "data dir open to others")
            tok = v.token
            self.assertGreaterEqual(len(tok), 32)
            self.assertEqual(v.stop(), 0)
            for mode in (0o644, 0o640, 0o604):
                os.chmod(path, mode)
                out = subprocess.run([VIGILD, "--listen", f"127.0.0.1:{free_port()}", "--data",
                                      v.data_dir],
                                     capture_output=True, text=True, timeout=30)
                with self.subTest(oct(mode)):
                    self.assertNotEqual(out.returncode, 0, out)
                    self.assertIn("readable by other users", out.stderr + out.stdout)
            os.chmod(path, 0o600)
            v.start()
            self.assertEqual(v.token, tok)  # kept, not replaced
        finally:
            v.cleanup()


class Defaults(unittest.TestCase):

    def test_default_listen_is_loopback(self):
        out = subprocess.run([VIGILD, "--check-config"], capture_output=True, text=True,
                             timeout=30, env={k: val for k, val in os.environ.items()
                                              if not k.startswith("VIGIL_")})
        self.assertEqual(out.returncode, 0, out)
        conf = dict(line.split(" = ", 1) for line in out.stdout.splitlines() if " = " in line)
        self.assertEqual(conf["listen"].rsplit(":", 1)[0], "127.0.0.1", out.stdout)


class Sources(unittest.TestCase):

    def test_tokens_compared_in_constant_time(self):
        http = strip_comments(read(os.path.join(SERVER, "http_io.c")))
        fn = http[http.index("bool http_bearer_ok("):]
        fn = fn[:fn.index("\n}\n")]
        self.assertIn("ct_equal(", fn)
        # Nowhere in the server is a token or secret compared with an early-exit function.
        bad = []
        for name in sorted(os.listdir(SERVER)):
            if not name.endswith(".c"):
                continue
            src = strip_comments(read(os.path.join(SERVER, name)))
            for m in re.finditer(r"\b(strn?cmp|memcmp|strcasecmp|strncasecmp|bcmp)\s*\(", src):
                args = ", ".join(split_args(src, m.end()))
                # A name in a literal ("secret" as a config key) is not a secret.
                code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', args)
                if re.search(r"token|secret|passw", code, re.I):
                    bad.append(f"{name}: {m.group(1)}({args[:80]})")
        self.assertEqual(bad, [], "compare secrets with ct_equal (core/ct.h)")

    def test_no_sql_built_from_values(self):
        """In src/store, every formatted or concatenated string that goes into SQL must be
        made only of constant fragments: literals, ALL_CAPS macros of literals, and the two
        reviewed appenders (cat) whose callers pass literals. Values always go as bound
        parameters ($n / ?n)."""
        funcs = r"\b(v?s?n?printf|asprintf|strn?cat|strn?cpy|stpcpy|sqlite3_v?mprintf|" \
                r"sqlite3_snprintf|cat)\s*\("
        sql_word = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WHERE|AND|"
                              r"ORDER BY|VALUES|LIMIT|FROM)\b")
        # Literals and ALL_CAPS macros side by side (compile-time concatenation), or a
        # choice between two literals.
        const_arg = re.compile(r'^(\s*("(?:[^"\\]|\\.)*"|[A-Z][A-Z0-9_]*)\s*)+$|'
                               r'^\s*\([^()]*\)\s*\?\s*"[^"]*"\s*:\s*"[^"]*"\s*$')
        # (file, argument): reviewed non-constant arguments of SQL-building calls.
        reviewed = {
            ("postgres_read.c", "frag"): "cat()'s fragment: every cat() call passes a literal",
            ("postgres_read.c", "++*arg"): "the next placeholder number ($n), an int",
            ("sqlite_read.c", "s"): "cat()'s fragment: every cat() call passes a literal",
        }
        problems, seen = [], 0
        for name in sorted(os.listdir(STORE)):
            if not name.endswith(".c"):
                continue
            src = strip_comments(read(os.path.join(STORE, name)))
            for m in re.finditer(funcs, src):
                if src[:m.start()].rstrip().endswith(("void", "int", "static")):
                    continue  # the definition, not a call
                args = split_args(src, m.end())
                line = src.count("\n", 0, m.start()) + 1
                fn = m.group(1)
                dest = args[0] if args else ""
                is_sql = (fn == "cat" or re.search(r"sql|query", dest, re.I) or
                          any(sql_word.search(a) for a in args))
                if not is_sql:
                    continue
                seen += 1
                # Everything after the destination (and size, for the n-functions) is checked.
                skip = 2 if fn in ("snprintf", "vsnprintf", "strncat", "strncpy") or \
                    (fn == "cat" and name != "postgres_read.c") else 1
                if fn == "cat" and name == "postgres_read.c":
                    skip = 2  # cat(sql, &arg, frag)
                for a in args[skip:]:
                    a = a.strip()
                    if const_arg.match(a) or (name, a) in reviewed or a.startswith("sizeof"):
                        continue
                    problems.append(f"src/store/{name}:{line}: {fn}(... {a} ...)")
        self.assertGreater(seen, 20, "found no SQL-building calls: the scan is broken")
        self.assertEqual(problems, [], "SQL text built from a non-constant value. Bind it as a "
                         "parameter ($n / ?n) instead; if it really is a constant fragment, "
                         "review it and add it to `reviewed` with the reason")


def split_args(src, i):
    """The top-level comma-separated arguments of the call whose '(' ends at src[i-1]."""
    depth, cur, out, q = 1, "", [], None
    while i < len(src) and depth:
        c = src[i]
        if q:
            cur += c
            if c == "\\":
                cur += src[i + 1]
                i += 1
            elif c == q:
                q = None
        elif c in "\"'":
            q = c
            cur += c
        elif c in "([{":
            depth += 1
            cur += c
        elif c in ")]}":
            depth -= 1
            if depth:
                cur += c
        elif c == "," and depth == 1:
            out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur)
    return [a.strip() for a in out]


if __name__ == "__main__":
    unittest.main(verbosity=2)
