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
    # types and ranges
    ("json string top level", "POST", "/v1/heartbeat", b'"hi"', J, 400, "json", False),
    ("empty body", "POST", "/v1/heartbeat", b"", J, 400, "json", False),
    ("trailing garbage", "POST", "/v1/heartbeat", b'{"worker_id":"a"} x', J, 400, "json", False),
    ("NaN literal", "POST", "/v1/heartbeat", b'{"worker_id":"a","cpu":NaN}', J, 400, "json", False),
    ("cpu 1e999", "POST", "/v1/heartbeat", b'{"worker_id":"a","cpu":1e999}', J, 400, "cpu", False),
    ("mem as bool", "POST", "/v1/heartbeat", hb(mem=True), J, 400, "mem", False),
    ("seq fraction", "POST", "/v1/heartbeat", hb(seq=1.5), J, 400, "seq", False),
    ("seq 2^64", "POST", "/v1/heartbeat", hb(seq=2**64), J, 400, "seq", False),
    ("ttl_s as string", "POST", "/v1/heartbeat", hb(ttl_s="5"), J, 400, "ttl_s", False),
    ("group 129 bytes", "POST", "/v1/heartbeat", hb(group="g" * 129), J, 400, "group", False),
    ("jobs not an array", "POST", "/v1/heartbeat", hb(jobs="a"), J, 400, "jobs", False),
    ("jobs 65 ids", "POST", "/v1/heartbeat", hb(jobs=[str(i) for i in range(65)]), J, 400, "jobs",
     False),
    ("jobs id control char", "POST", "/v1/heartbeat", hb(jobs=["a\u0001b"]), J, 400, "jobs", False),
    # encodings
    ("utf-8 surrogate", "POST", "/v1/heartbeat", b'{"worker_id":"a","status":"\xed\xa0\x80"}', J,
     400, "body", False),
    ("utf-8 BOM", "POST", "/v1/heartbeat", b'\xef\xbb\xbf{"worker_id":"a"}', J, 400, "json", False),
    ("raw control char", "POST", "/v1/heartbeat", b'{"worker_id":"a","status":"a\x01b"}', J, 400,
     "status", False),
    ("raw NUL mid-body", "POST", "/v1/heartbeat", b'{"worker_id":"a\x00b"}', J, 400, "json", False),
    # sizes
    ("overlong line of spaces", "POST", "/v1/heartbeat", b'{"worker_id":"a"' + b" " * 70000 + b"}",
     J, 413, "body", False),
    # methods
    ("PATCH heartbeat", "PATCH", "/v1/heartbeat", hb(), J, 405, "method", False),
    ("OPTIONS heartbeats", "OPTIONS", "/v1/heartbeats", None, {}, 405, "method", False),
    ("PUT healthz", "PUT", "/healthz", None, {}, 405, "method", False),
    ("POST workers", "POST", "/v1/workers", hb(), J, 405, "method", True),
    ("POST stream", "POST", "/v1/stream", None, {}, 405, "method", True),
    ("GET import", "GET", "/v1/import/sessions", None, {}, 405, "method", True),
    ("GET rollup", "GET", "/v1/admin/rollup", None, {}, 405, "method", True),
    ("POST connect", "POST", "/v1/connect/a", None, {}, 405, "method", False),
    # ping and connect paths
    ("ping id 129 bytes", "GET", "/ping/" + "p" * 129, None, {}, 400, "worker_id", False),
    ("ping empty id", "GET", "/ping/", None, {}, 400, "worker_id", False),
    ("ping encoded NUL", "GET", "/ping/job%00x", None, {}, 400, "worker_id", False),
    ("ping exit -1", "GET", "/ping/job-1/-1", None, {}, 400, "exit_code", False),
    ("ping two suffixes", "GET", "/ping/job-1/fail/x", None, {}, 400, "path", False),
    ("ping cpu query 2", "GET", "/ping/job-1?cpu=2", None, {}, 400, "cpu", False),
    ("ping group query", "GET", "/ping/job-1?group=a%20b", None, {}, 400, "group", False),
    ("ping status bad utf-8", "GET", "/ping/job-1?status=%C0%AF", None, {}, 400, "status", False),
    ("ping seq query", "GET", "/ping/job-1?seq=x", None, {}, 400, "seq", False),
    ("connect bad id", "GET", "/v1/connect/a%20b", None, {}, 400, "worker_id", False),
    # read routes' query parameters
    ("limit not a number", "GET", "/v1/workers?limit=abc", None, {}, 400, "limit", True),
    ("limit negative", "GET", "/v1/workers?limit=-1", None, {}, 400, "limit", True),
    ("limit exponent", "GET", "/v1/workers?limit=1e3", None, {}, 400, "limit", True),
    ("limit overflow", "GET", "/v1/workers?limit=99999999999999999999999", None, {}, 400, "limit",
     True),
    ("workers bad group", "GET", "/v1/workers?group=a%20b", None, {}, 400, "group", True),
    ("workers bad cursor", "GET", "/v1/workers?cursor=%ff", None, {}, 400, "cursor", True),
    ("events limit zero", "GET", "/v1/events?limit=0", None, {}, 400, "limit", True),
    ("events bad from", "GET", "/v1/events?from=notatime", None, {}, 400, "from", True),
    ("events impossible to", "GET", "/v1/events?to=2026-13-45T99:00:00Z", None, {}, 400, "to", True),
    ("events bad worker_id", "GET", "/v1/events?worker_id=a%20b", None, {}, 400, "worker_id", True),
    ("events bad group", "GET", "/v1/events?group=a/b", None, {}, 400, "group", True),
    ("events bad type", "GET", "/v1/events?type=Worker%20Dead", None, {}, 400, "type", True),
    ("events bad before_id", "GET", "/v1/events?before_id=x", None, {}, 400, "before_id", True),
    ("heartbeats limit 10001", "GET", "/v1/workers/x/heartbeats?limit=10001", None, {}, 400, "limit",
     True),
    ("heartbeats resolution", "GET", "/v1/workers/x/heartbeats?resolution=weekly", None, {}, 400,
     "resolution", True),
    ("sessions bad before", "GET", "/v1/workers/x/sessions?before=zz", None, {}, 400, "before",
     True),
    ("reliability window 0s", "GET", "/v1/reliability?stays_for=0s", None, {}, 400, "stays_for",
     True),
    ("reliability window word", "GET", "/v1/reliability?stays_for=forever", None, {}, 400,
     "stays_for", True),
    ("reliability p above 1", "GET", "/v1/reliability?min_p_stays=2", None, {}, 400, "min_p_stays",
     True),
    ("reliability score NaN", "GET", "/v1/reliability?min_score=nan", None, {}, 400, "min_score",
     True),
    ("reliability limit", "GET", "/v1/reliability?limit=100001", None, {}, 400, "limit", True),
    ("tasks from after to", "GET", "/v1/tasks/latency?from=5&to=1", None, {}, 400, "from", True),
    ("history without names", "GET", "/v1/history/metrics?points=10", None, {}, 400, "names", True),
    ("worker id 129 in path", "GET", "/v1/workers/" + "w" * 129, None, {}, 400, "worker_id", True),
    ("unknown worker subpath", "GET", "/v1/workers/x/nope", None, {}, 404, "path", True),
    ("unknown /v1 path, no token", "GET", "/v1/nope", None, {}, 401, "authorization", False),
    ("unknown /v1 path", "GET", "/v1/nope", None, {}, 404, "path", True),
    ("Basic instead of Bearer", "GET", "/v1/workers", None, {"Authorization": "Basic Zm9v"},
     401, "authorization", False),
    ("tasks without subject", "POST", "/v1/tasks", b"{}", J, 400, "worker_id", False),
]

POST_HB = (b"POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
POST_ND = (b"POST /v1/heartbeats HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/x-ndjson\r\n")
GOOD = b'{"worker_id":"raw"}'


def chunked(*chunks, size=None):
    """A chunked body; size overrides the first chunk's size line."""
    out = b""
    for i, c in enumerate(chunks):
        out += (size if i == 0 and size is not None else b"%x" % len(c)) + b"\r\n" + c + b"\r\n"
    return out + b"0\r\n\r\n"


# What http.client will not send: (name, raw request, status, field). field None: the
# request dies in libmicrohttpd's parser, before vigild sees it, and MHD answers with
# its own (HTML) body, so only the status is asserted (docs/security.md).
RAW_CASES = [
    ("header over the 8 KiB pool", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000
     + b"\r\n\r\n", 431, None),
    ("2000 headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n", 431, None),
    ("request line 20 KB", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, None),
    ("Content-Length not a number", POST_HB + b"Content-Length: abc\r\n\r\n" + GOOD, 400, None),
    ("Content-Length negative", POST_HB + b"Content-Length: -5\r\n\r\n" + GOOD, 400, None),
    ("Content-Length 2^77", POST_HB + b"Content-Length: 99999999999999999999999\r\n\r\n", 413,
     None),
    ("two Content-Lengths", POST_HB + b"Content-Length: 19\r\nContent-Length: 20\r\n\r\n" + GOOD,
     400, "content-length"),
    ("Content-Length with chunked", POST_HB + b"Content-Length: 19\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n" + chunked(GOOD), 400, "transfer-encoding"),
    ("Transfer-Encoding twice", POST_HB + b"Transfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n" + chunked(GOOD), 400, "transfer-encoding"),
    # 501, not 4xx: RFC 9112 6.1 for a transfer coding the server does not implement.
    ("Transfer-Encoding gzip", POST_HB + b"Transfer-Encoding: gzip\r\n\r\n" + GOOD, 501,
     "transfer-encoding"),
    ("chunk size not hex", POST_HB + b"Transfer-Encoding: chunked\r\n\r\n"
     + chunked(GOOD, size=b"zz"), 400, None),
    ("chunk size negative", POST_HB + b"Transfer-Encoding: chunked\r\n\r\n"
     + chunked(GOOD, size=b"-1"), 400, None),
    ("chunk size 2^72", POST_HB + b"Transfer-Encoding: chunked\r\n\r\n"
     + chunked(GOOD, size=b"ffffffffffffffffff"), 413, None),
    ("Content-Length 1 GiB, no body sent", POST_HB + b"Content-Length: 1073741824\r\n\r\n", 413,
     "body"),
    ("NDJSON Content-Length over max_batch_bytes", POST_ND + b"Content-Length: 9437184\r\n\r\n",
     413, "body"),
    ("HTTP/9.9", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 505, None),
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

    def test_raw_table(self):
        self.assertGreaterEqual(len(CASES) + len(RAW_CASES), 70)
        for name, data, status, field in RAW_CASES:
            with self.subTest(name):
                got, body = raw_request(self.v.port, data)
                self.assertEqual(got, status, f"{name}: {body[:200]!r}")
                if field is not None:
                    err = json.loads(body)["error"]
                    self.assertEqual(err["field"], field, name)
                    self.assertTrue(err["reason"], name)
                self.assert_still_serving(name)

    def test_ndjson_bad_line_in_the_middle(self):
        """docs/api.md: a batch is taken line by line; the good lines count (200) and each
        bad one is listed by its line number."""
        lines = [b'{"worker_id":"nd-%d"}' % i for i in range(1, 6)]
        lines[2] = b'{"worker_id":"nd 3"}'
        r = self.v.request("POST", "/v1/heartbeats", b"\n".join(lines), ND)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (4, 1), doc)
        self.assertEqual(doc["errors"], [{"line": 3, "field": "worker_id",
                                          "reason": doc["errors"][0]["reason"]}])
        for i in (1, 2, 4, 5):
            self.assertEqual(self.v.worker(f"nd-{i}")["state"], "alive")

    def test_ndjson_overlong_and_nul_lines(self):
        body = (b'{"worker_id":"nd-long","pad":"' + b"x" * (70 * 1024) + b'"}\n'
                b'{"worker_id":"nd-ok1"}\n{"worker_id":"nd\x00"}\n{"worker_id":"nd-ok2"}\n')
        r = self.v.request("POST", "/v1/heartbeats", body, ND)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (2, 2), doc)
        self.assertEqual([(e["line"], e["field"]) for e in doc["errors"]],
                         [(1, "body"), (3, "json")])

    def test_ndjson_many_lines(self):
        """100,000 lines (under max_batch_bytes): every one counted, none lost; 101 bad
        lines: rejected exact, at most 100 listed."""
        n = 100_000
        lines = [b'{"worker_id":"nd-many-%d"}' % (i % 50) for i in range(n)]
        for i in range(0, n, 990)[:101]:
            lines[i] = b'{"worker_id":"nd-many","cpu":7}'
        r = self.v.request("POST", "/v1/heartbeats", b"\n".join(lines), ND, timeout=60)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (n - 101, 101), doc["accepted"])
        self.assertEqual(len(doc["errors"]), 100)
        self.assertTrue(all(e["field"] == "cpu" for e in doc["errors"]))
        self.assert_still_serving("100k-line batch")

    def test_ndjson_chunked_over_max_batch(self):
        """A chunked batch past max_batch_bytes (8 MiB) gets 413 once it ends."""
        line = b'{"worker_id":"nd-big"}\n' * 4000
        req = POST_ND + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(*([line] * 100))
        self.assertGreater(len(req), 8 << 20)
        status, body = raw_request(self.v.port, req)
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(body)["error"]["field"], "body")
        self.assert_still_serving("chunked NDJSON oversize")

    def test_endless_chunked_body_is_cut(self):
        """A chunked body that goes on past the limit is not read for ever: the connection is
        closed after HTTP_DISCARD_MAX (1 MiB) more."""
        with socket.create_connection(("127.0.0.1", self.v.port), timeout=10) as s:
            s.sendall(POST_HB + b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
            sent, cut = 0, False
            for _ in range(20 * 16):  # at most 20 MiB
                try:
                    s.sendall(chunk)
                    sent += len(chunk)
                except OSError:
                    cut = True
                    break
            self.assertTrue(cut, f"server read {sent} bytes of an over-limit body")
            self.assertLess(sent, 8 << 20)
        self.assert_still_serving("endless chunked body")

    def test_bad_last_event_id(self):
        """A Last-Event-ID vigild cannot resume from (garbage, overlong, another run's, a
        future one) is not an error: the stream starts over with a snapshot, as for a too-old
        one (docs/api.md), because a client that reconnects must get a usable stream."""
        tok = self.v.token.encode()
        for lei in (b"garbage", b"1-", b"-5", b"9" * 4000, b"1700000000000-3",
                    b"%d-99999999999" % 10**13, b"\xff\xfe"):
            with self.subTest(lei[:20]):
                with socket.create_connection(("127.0.0.1", self.v.port), timeout=10) as s:
                    s.sendall(b"GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                              + tok + b"\r\nLast-Event-ID: " + lei + b"\r\n\r\n")
                    buf = b""
                    while b"event: snapshot" not in buf and len(buf) < 1 << 20:
                        c = s.recv(65536)
                        if not c:
                            break
                        buf += c
                    self.assertTrue(buf.startswith(b"HTTP/1.1 200"), buf[:200])
                    self.assertIn(b"event: snapshot", buf)
                self.assert_still_serving(f"Last-Event-ID {lei[:20]!r}")

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
