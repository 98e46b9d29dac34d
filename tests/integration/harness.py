"""Test harness: start a real vigild on a free loopback port and talk HTTP to it.

Only the standard library, so `make test` needs nothing from PyPI. Every wait
is bounded (wait_until), every process is killed at exit.
"""
import atexit
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

VIGILD = os.environ.get("VIGILD", "build/vigild")
VIGIL_CLI = os.environ.get("VIGIL_CLI", "build/vigil")
_procs = []


@atexit.register
def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile(want):
    """Raise this process's open-file limit to want (root may raise the hard limit too);
    returns the soft limit in force afterwards."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            want = hard
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextlib.contextmanager
def reaped(p):
    """Yield the process p; on the way out, kill it if it still runs (a test that
    failed half-way leaves nothing behind)."""
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def wait_until(fn, timeout=10.0, interval=0.05, what="condition"):
    """Poll fn() until it returns a truthy value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


class Resp:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Vigild:
    """One vigild process with its own data directory."""

    def __init__(self, data_dir=None, env=None, args=(), nofile=None, cpus=None):
        self.tmp = None
        self.nofile = nofile  # RLIMIT_NOFILE to start vigild with (raise_nofile)
        self.cpus = cpus  # CPUs to pin vigild (every thread) to, before it starts
        if data_dir is None:
            self.tmp = tempfile.mkdtemp(prefix="vigil-it-")
            data_dir = os.path.join(self.tmp, "var")
        self.data_dir = data_dir
        self.env = dict(env or {})
        self.args = list(args)
        self.port = None
        self.proc = None

    def start(self, port=None):
        self.port = port or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.update(self.env)
        # Sanitizer builds: LeakSanitizer on (it is ASan's default on Linux; say so, in case
        # the environment says otherwise), reports in the log, which stop() reads.
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS", ""),
                                                      "detect_leaks=1", "abort_on_error=0"]))
        os.makedirs(os.path.dirname(self.data_dir) or ".", exist_ok=True)
        self.log_path = os.path.join(os.path.dirname(self.data_dir), f"vigild-{self.port}.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [VIGILD, "--listen", f"127.0.0.1:{self.port}", "--data", self.data_dir, *self.args],
            stdout=self.log, stderr=self.log, env=env,
            preexec_fn=self._preexec if self.nofile or self.cpus else None)
        _procs.append(self.proc)
        wait_until(lambda: self._alive_and_healthy(), timeout=15, what="vigild /healthz")
        return self

    def _preexec(self):
        if self.nofile:
            raise_nofile(self.nofile)
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)

    def _alive_and_healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"vigild exited with {self.proc.returncode}: {self.logs()}")
        return self.request("GET", "/healthz").status == 200

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def token(self):
        if "VIGIL_ADMIN_TOKEN" in self.env:
            return self.env["VIGIL_ADMIN_TOKEN"]
        with open(os.path.join(self.data_dir, "admin.token")) as f:
            return f.read().strip()

    def request(self, method, path, body=None, headers=None, token=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Resp(r.status, r.read().decode(errors="replace"), dict(r.getheaders()))
        finally:
            conn.close()

    # shorthand
    def beat(self, worker_id, **fields):
        return self.request("POST", "/v1/heartbeat", {"worker_id": worker_id, **fields})

    def beats(self, lines, timeout=10):
        """POST /v1/heartbeats: the dicts in `lines` as one NDJSON body."""
        body = "\n".join(json.dumps(x) for x in lines)
        return self.request("POST", "/v1/heartbeats", body,
                            {"Content-Type": "application/x-ndjson"}, timeout=timeout)

    def bye(self, worker_id, **fields):
        return self.request("POST", "/v1/bye", {"worker_id": worker_id, **fields})

    def get(self, path):
        r = self.request("GET", path, token=self.token)
        assert r.status == 200, (path, r)
        return r.json()

    def worker(self, wid):
        return self.get(f"/v1/workers/{wid}")

    def sessions(self, wid):
        return self.get(f"/v1/workers/{wid}/sessions")["sessions"]

    def group(self, name):
        for g in self.get("/v1/groups")["groups"]:
            if g["group"] == name:
                return g
        return None

    def sqlite_value(self, sql):
        """The first column of the first row of a read-only query on this
        vigild's SQLite store (it may be running: WAL readers do not block)."""
        db = sqlite3.connect(f"file:{os.path.join(self.data_dir, 'vigil.db')}?mode=ro", uri=True,
                             timeout=30)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=30)
        self.log.close()
        return rc

    def stop(self):
        """SIGTERM and wait: vigild drains and exits 0. In a sanitizer build that exit is
        where LeakSanitizer reports, so a report (or a sanitizer error found earlier) in
        the log fails the test here."""
        if self.proc and self.proc.poll() is None:
            rc = self.kill(signal.SIGTERM)
            self.check_sanitizers()
            return rc
        return self.proc.returncode if self.proc else None

    SANITIZER_MARKS = ("ERROR: LeakSanitizer", "ERROR: AddressSanitizer", "runtime error:")

    def check_sanitizers(self):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return
        for mark in self.SANITIZER_MARKS:
            at = text.find(mark)
            if at >= 0:
                raise AssertionError(f"vigild ({self.log_path}): {text[at:at + 3000]}")

    def cleanup(self):
        self.stop()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


class SharedVigild(unittest.TestCase):
    """A test class whose tests share one vigild (self.v), started once for the class."""

    @classmethod
    def setUpClass(cls):
        cls.v = Vigild().start()

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PgCluster:
    """A throwaway PostgreSQL cluster of the test's own (scripts/pg.sh: initdb +
    pg_ctl on a free loopback port in a temp dir), so a test may stop and start
    it without disturbing others. Each `schema()` is a fresh namespace and the
    URL that points a store at it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vigil-pg-")
        self.port = None
        self.base = None

    def start(self):
        self.port = self.port or free_port()
        out = subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "start", self.dir,
                              str(self.port)], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise AssertionError(f"pg.sh start failed: {out.stderr}")
        self.base = out.stdout.strip().splitlines()[-1]
        return self

    def stop_server(self):
        """Stop the server but keep its data (an outage)."""
        bin_dir = sorted(p for p in os.listdir("/usr/lib/postgresql"))[-1]
        cmd = [f"/usr/lib/postgresql/{bin_dir}/bin/pg_ctl", "-D", os.path.join(self.dir, "data"),
               "-m", "fast", "-w", "stop"]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, capture_output=True, timeout=60, check=True)

    def psql(self, sql, url=None):
        out = subprocess.run(["psql", url or self.base, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"psql {sql!r}: {out.stderr}")
        return out.stdout.strip()

    def schema(self, name):
        self.psql(f"CREATE SCHEMA {name}")
        return f"{self.base}?options=-csearch_path%3D{name}"

    def destroy(self):
        subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "stop", self.dir],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class BatchLoad(threading.Thread):
    """One NDJSON batch of every load worker ({prefix}{i}, in `group`) per round,
    `period` s apart, until stopped (at most max_s); counts the samples vigild
    accepted and what it refused. `fields(seq)` adds samples to every line."""

    def __init__(self, v, max_s, prefix, group, workers, period, fields=None):
        super().__init__(daemon=True)
        self.v, self.max_s, self.prefix, self.group = v, max_s, prefix, group
        self.workers, self.period, self.fields = workers, period, fields or (lambda seq: {})
        self.stop_flag = threading.Event()
        self.accepted = self.seq = 0
        self.failed = []

    def run(self):
        end = time.monotonic() + self.max_s
        while not self.stop_flag.is_set() and time.monotonic() < end:
            self.seq += 1
            extra = self.fields(self.seq)
            lines = [{"worker_id": f"{self.prefix}{i}", "group": self.group, "seq": self.seq,
                      **extra} for i in range(self.workers)]
            try:
                r = self.v.beats(lines)
                if r.status == 200:
                    self.accepted += r.json()["accepted"]
                else:
                    self.failed.append(r.status)
            except OSError as e:
                self.failed.append(str(e))
            time.sleep(self.period)

    def finish(self):
        self.stop_flag.set()
        self.join(timeout=30)
