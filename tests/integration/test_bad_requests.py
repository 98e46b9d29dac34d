"""A table of bad requests: each gets the right 4xx with a JSON error naming the field,
and the server keeps serving (a good heartbeat is accepted right after each)."""
import json
import socket
import unittest

from harness import SharedVigild

J = {"Content-Type": "application/json"}
ND = {"Content-Type": "application/x-ndjson"}
BIG = b'{"worker_id":"big","pad":"' + b"x" * (64 * 1024) + b'"}'


def hb(**kw):
    return json.dumps({"worker_id": "bad-w", **kw}).encode()


# (name, method, path, body, headers, status, field, admin_token)
CASES = [
    ("malformed json", "POST", "/v1/heartbeat", b'{"worker_id":', J, 400, "json", False),
    ("array top level", "POST", "/v1/heartbeat", b"[1,2]", J, 400, "json", False),
    ("missing worker_id", "POST", "/v1/heartbeat", b"{}", J, 400, "worker_id", False),
    ("worker_id number", "POST", "/v1/heartbeat", b'{"worker_id":5}', J, 400, "worker_id", False),
    ("worker_id empty", "POST", "/v1/heartbeat", b'{"worker_id":""}', J, 400, "worker_id", False),
    ("worker_id 129 bytes", "POST", "/v1/heartbeat",
     json.dumps({"worker_id": "w" * 129}).encode(), J, 400, "worker_id", False),
    ("worker_id space", "POST", "/v1/heartbeat", b'{"worker_id":"a b"}', J, 400, "worker_id", False),
    ("worker_id slash", "POST", "/v1/heartbeat", b'{"worker_id":"a/b"}', J, 400, "worker_id", False),
    ("worker_id non-ascii", "POST", "/v1/heartbeat", '{"worker_id":"wörker"}'.encode(), J, 400,
     "worker_id", False),
    ("worker_id NUL escape", "POST", "/v1/heartbeat", b'{"worker_id":"ab\\u0000cd"}', J, 400,
     "worker_id", False),
    ("raw NUL byte", "POST", "/v1/heartbeat", b'{"worker_id":"ab"}\x00', J, 400, "json", False),
    ("cpu as string", "POST", "/v1/heartbeat", hb(cpu="0.5"), J, 400, "cpu", False),
    ("cpu above 1", "POST", "/v1/heartbeat", hb(cpu=1.5), J, 400, "cpu", False),
    ("cpu negative", "POST", "/v1/heartbeat", hb(cpu=-0.1), J, 400, "cpu", False),
    ("mem above 1", "POST", "/v1/heartbeat", hb(mem=2), J, 400, "mem", False),
    ("gpu mem negative", "POST", "/v1/heartbeat", hb(gpu_mem_active_gb=-1), J, 400,
     "gpu_mem_active_gb", False),
    ("ttl_s zero", "POST", "/v1/heartbeat", hb(ttl_s=0), J, 400, "ttl_s", False),
    ("ttl_s too big", "POST", "/v1/heartbeat", hb(ttl_s=86401), J, 400, "ttl_s", False),
    ("ttl_s fraction", "POST", "/v1/heartbeat", hb(ttl_s=1.5), J, 400, "ttl_s", False),
    ("seq negative", "POST", "/v1/heartbeat", hb(seq=-1), J, 400, "seq", False),
    ("backlog negative", "POST", "/v1/heartbeat", hb(backlog=-3), J, 400, "backlog", False),
    ("requests as string", "POST", "/v1/heartbeat", hb(requests="many"), J, 400, "requests", False),
    ("cpu_ticks bool", "POST", "/v1/heartbeat", hb(cpu_ticks=True), J, 400, "cpu_ticks", False),
    ("thermal unknown", "POST", "/v1/heartbeat", hb(thermal="hot"), J, 400, "thermal", False),
    ("group with space", "POST", "/v1/heartbeat", hb(group="a b"), J, 400, "group", False),
    ("instance 129 bytes", "POST", "/v1/heartbeat", hb(instance="i" * 129), J, 400, "instance",
     False),
    ("status 65 bytes", "POST", "/v1/heartbeat", hb(status="s" * 65), J, 400, "status", False),
    ("invalid utf-8", "POST", "/v1/heartbeat", b'{"worker_id":"a","status":"\xc0\xaf"}', J, 400,
     "body", False),
    ("deep nesting", "POST", "/v1/heartbeat", b'{"worker_id":"a","x":' + b"[" * 3000 + b"]" * 3000
     + b"}", J, 400, "json", False),
    ("body over 64 KiB", "POST", "/v1/heartbeat", BIG, J, 413, "body", False),
    ("text/plain", "POST", "/v1/heartbeat", hb(), {"Content-Type": "text/plain"}, 415,
     "content-type", False),
    ("form encoded", "POST", "/v1/heartbeat", hb(),
     {"Content-Type": "application/x-www-form-urlencoded"}, 415, "content-type", False),
    ("GET heartbeat", "GET", "/v1/heartbeat", None, {}, 405, "method", False),
    ("PUT bye", "PUT", "/v1/bye", hb(), J, 405, "method", False),
    ("DELETE ping", "DELETE", "/ping/x", None, {}, 405, "method", False),
    ("bye exit_code string", "POST", "/v1/bye", hb(exit_code="zero"), J, 400, "exit_code", False),
    ("bye exit_code fraction", "POST", "/v1/bye", hb(exit_code=1.5), J, 400, "exit_code", False),
    ("bye missing id", "POST", "/v1/bye", b'{"exit_code":0}', J, 400, "worker_id", False),
    ("ping bad id", "GET", "/ping/a%20b", None, {}, 400, "worker_id", False),
    ("ping exit 256", "GET", "/ping/job-1/256", None, {}, 400, "exit_code", False),
    ("ping unknown suffix", "GET", "/ping/job-1/explode", None, {}, 400, "path", False),
    ("ping bad query", "GET", "/ping/job-1?ttl_s=forever", None, {}, 400, "ttl_s", False),
    ("ndjson empty", "POST", "/v1/heartbeats", b"\n\n", ND, 400, "body", False),
    ("ndjson all bad", "POST", "/v1/heartbeats", b'{"worker_id":"a b"}\n{"cpu":1}\n', ND, 400,
     "worker_id", False),
    ("ndjson bad type", "POST", "/v1/heartbeats", b'{"worker_id":"a"}',
     {"Content-Type": "text/csv"}, 415, "content-type", False),
    ("unknown endpoint", "GET", "/nope", None, {}, 404, "path", False),
    ("read without token", "GET", "/v1/workers", None, {}, 401, "authorization", False),
    ("read wrong token", "GET", "/v1/workers", None, {"Authorization": "Bearer nope"}, 401,
     "authorization", False),
    ("limit zero", "GET", "/v1/workers?limit=0", None, {}, 400, "limit", True),
    ("limit huge", "GET", "/v1/workers?limit=100000", None, {}, 400, "limit", True),
    ("unknown state", "GET", "/v1/workers?state=zombie", None, {}, 400, "state", True),
    ("bad id in path", "GET", "/v1/workers/bad%20id", None, {}, 400, "worker_id", True),
    ("bad from", "GET", "/v1/workers/x/heartbeats?from=yesterday", None, {}, 400, "from", True),
    ("from after to", "GET", "/v1/workers/x/heartbeats?from=2000&to=1000", None, {}, 400, "from",
     True),
    ("bad after_id", "GET", "/v1/events?after_id=-1", None, {}, 400, "after_id", True),
    ("unknown worker", "GET", "/v1/workers/never-seen", None, {}, 404, "worker_id", True),
    ("evict via GET", "GET", "/v1/workers/x/evict", None, {}, 405, "method", True),
]


def raw_request(port, data, read=65536):
    """Send raw bytes (for what http.client will not send) and return (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(read)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, val = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(val)
        while len(body) < length:
            chunk = s.recv(read)
            if not chunk:
                break
            body += chunk
        return status, body


class BadRequests(SharedVigild):

    def assert_still_serving(self, after):
        r = self.v.beat("good-after", cpu=0.1)
        self.assertEqual(r.status, 200, f"server unhealthy after {after!r}: {r}")

    def test_table(self):
        self.assertGreaterEqual(len(CASES), 30)
        v = self.v
        for name, method, path, body, headers, status, field, admin in CASES:
            with self.subTest(name):
                r = v.request(method, path, body, headers, token=v.token if admin else None)
                self.assertEqual(r.status, status, f"{name}: {r}")
                self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"),
                                f"{name}: {r.headers}")
                err = r.json()["error"]
                self.assertEqual(err["field"], field, f"{name}: {r}")
                self.assertTrue(err["reason"], name)
                self.assert_still_serving(name)

    def test_chunked_body_over_limit(self):
        chunk = b"x" * 8192
        req = (b"POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
        req += b'a\r\n{"pad":"xx\r\n'
        for _ in range(10):
            req += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        req += b'2\r\n"}\r\n0\r\n\r\n'
        status, body = raw_request(self.v.port, req)
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(body)["error"]["field"], "body")
        self.assert_still_serving("chunked oversize")

    def test_garbage_request_line(self):
        with socket.create_connection(("127.0.0.1", self.v.port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\x02\x00garbage that is not http\r\n\r\n")
            try:
                s.recv(4096)
            except OSError:
                pass
        self.assert_still_serving("garbage request line")

    def test_keepalive_survives_errors(self):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.v.port, timeout=10)
        try:
            for body, want in ((b'{"worker_id":"ka","cpu":9}', 400), (b'{"worker_id":"ka"}', 200),
                               (b"nope", 400), (b'{"worker_id":"ka"}', 200)):
                c.request("POST", "/v1/heartbeat", body, J)
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, want)
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
