"""Real notification peers on free loopback ports, for the sink tests.

Each helper starts on 127.0.0.1, waits (bounded) until it answers, and stops
and removes its files in stop(); every process is also killed at exit.

- Alertmanager: Debian's prometheus-alertmanager with one null receiver,
  clustering off, storage in a temp dir; alerts() is GET /api/v2/alerts.
- SmtpServer: aiosmtpd (python3-aiosmtpd) as a child process with its Mailbox
  handler writing a Maildir; messages() parses what arrived. A child, so the
  test's own interpreter need not have aiosmtpd (Debian's python3 does).
- Prometheus: Debian's prometheus scraping one target every second (bearer
  token, storage in a temp dir); query() is GET /api/v1/query (for /metrics).
- HttpReceiver: http.server in a thread recording each POST's path, headers
  and body, answering `status` (200 unless a test sets it).
"""
import email
import email.policy
import http.server
import json
import mailbox
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request

from harness import _procs, free_port, wait_until  # harness kills _procs at exit

ALERTMANAGER = os.environ.get("VIGIL_ALERTMANAGER", "/usr/bin/prometheus-alertmanager")
PROMETHEUS = os.environ.get("VIGIL_PROMETHEUS", "/usr/bin/prometheus")


def _python_with_aiosmtpd():
    """This interpreter when it has aiosmtpd, else Debian's."""
    try:
        import aiosmtpd  # noqa: F401
        return sys.executable
    except ImportError:
        return "/usr/bin/python3"


def _connects(port):
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class _Proc:
    def _spawn(self, args):
        self.log_path = os.path.join(self.dir, "peer.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        _procs.append(self.proc)

    def _alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}: {self.logs()}")

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None
        shutil.rmtree(self.dir, ignore_errors=True)


class _PromTool(_Proc):
    """A Prometheus-family server on a loopback port, ready when /-/ready says so."""

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _ready(self):
        self._alive()
        with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
            return r.status == 200


class Alertmanager(_PromTool):
    name = "alertmanager"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vigil-am-")
        self.port = None
        self.proc = self.log = None

    def start(self):
        self.port = free_port()
        conf = os.path.join(self.dir, "alertmanager.yml")
        with open(conf, "w") as f:
            f.write("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n")
        self._spawn([ALERTMANAGER, f"--config.file={conf}",
                     f"--storage.path={os.path.join(self.dir, 'data')}",
                     f"--web.listen-address=127.0.0.1:{self.port}",
                     "--cluster.listen-address="])
        wait_until(self._ready, timeout=30, what="alertmanager /-/ready")
        return self

    def alerts(self):
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=5) as r:
            return json.loads(r.read())


class Prometheus(_PromTool):
    name = "prometheus"

    def __init__(self, target, token=None, metrics_path="/metrics"):
        self.dir = tempfile.mkdtemp(prefix="vigil-prom-")
        self.target, self.token, self.metrics_path = target, token, metrics_path
        self.port = None
        self.proc = self.log = None

    def start(self):
        self.port = free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        auth = f"    authorization: {{credentials: {json.dumps(self.token)}}}\n" if self.token else ""
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: vigil\n"
                    f"    metrics_path: {self.metrics_path}\n{auth}"
                    f"    static_configs: [{{targets: [{json.dumps(self.target)}]}}]\n")
        self._spawn([PROMETHEUS, f"--config.file={conf}",
                     f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                     f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"])
        wait_until(self._ready, timeout=60, what="prometheus /-/ready")
        return self

    def query(self, expr):
        """The instant vector of expr: [(labels, value as float)]."""
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=5) as r:
            doc = json.loads(r.read())
        assert doc["status"] == "success", doc
        return [(x["metric"], float(x["value"][1])) for x in doc["data"]["result"]]


class SmtpServer(_Proc):
    name = "aiosmtpd"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vigil-smtp-")
        self.maildir = os.path.join(self.dir, "Maildir")
        self.port = None
        self.proc = self.log = None

    def start(self):
        self.port = free_port()
        self._spawn([_python_with_aiosmtpd(), "-m", "aiosmtpd", "-n",
                     "-l", f"127.0.0.1:{self.port}",
                     "-c", "aiosmtpd.handlers.Mailbox", self.maildir])
        wait_until(lambda: self._alive() or _connects(self.port), timeout=15,
                   what="aiosmtpd accepting")
        return self

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self):
        """Every message received so far, as email.message.EmailMessage."""
        if not os.path.isdir(self.maildir):
            return []
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        out = []
        for key in box.keys():
            out.append(email.message_from_bytes(box.get_bytes(key), policy=email.policy.default))
        return out


class HttpReceiver:
    """Records POSTs: self.requests is a list of {path, headers, body}."""

    def __init__(self, status=200):
        self.status = status
        self.requests = []
        self._lock = threading.Lock()
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with recv._lock:
                    recv.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": body})
                    status = recv.status
                reply = b"ok" if status < 300 else b"refused by test receiver"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path=None):
        with self._lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
