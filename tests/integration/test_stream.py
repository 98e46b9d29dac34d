"""GET /v1/stream end to end against a real vigild: the snapshot, changes as
they happen, resume with Last-Event-ID, a fresh snapshot for an id from
another run or garbage, the subscriber limit, a subscriber that stops
reading cut off without holding up the others, and the admin token."""
import json
import os
import socket
import tempfile
import time
import unittest

from harness import Vigild, wait_until


class SseClient:
    """A raw-socket SSE reader (no buffering surprises, works with a
    subscriber that deliberately stops reading)."""

    def __init__(self, port, token, last_id=None, read=True, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        h = f"GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        if last_id:
            h += f"Last-Event-ID: {last_id}\r\n"
        self.sock.sendall((h + "\r\n").encode())
        self.buf = b""
        self.status = None
        self.msgs = []
        self.closed = False
        if read:
            self._headers()

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        if not d:
            self.closed = True
            return False
        self.buf += d
        return True

    def _headers(self):
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(10):
                raise AssertionError(f"no headers: {self.buf!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in
                        (l.split(":", 1) for l in lines[1:] if ":" in l)}
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.body = b""

    def _dechunk(self):
        if not self.chunked:
            self.body += self.buf
            self.buf = b""
            return
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                return
            size = int(self.buf[:i].split(b";")[0], 16)
            if len(self.buf) < i + 2 + size + 2:
                return
            self.body += self.buf[i + 2:i + 2 + size]
            self.buf = self.buf[i + 2 + size + 2:]
            if size == 0:
                self.closed = True
                return

    def _parse(self):
        self._dechunk()
        while b"\n\n" in self.body:
            raw, self.body = self.body.split(b"\n\n", 1)
            m = {"id": None, "event": "message", "data": []}
            for line in raw.decode().split("\n"):
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                if k == "data":
                    m["data"].append(v)
                elif k in ("id", "event"):
                    m[k] = v
            if m["data"]:
                m["data"] = json.loads("\n".join(m["data"]))
                self.msgs.append(m)

    def until(self, pred, timeout=10, what="message"):
        deadline = time.monotonic() + timeout
        while True:
            self._parse()
            for m in self.msgs:
                if pred(m):
                    return m
            if self.closed or time.monotonic() > deadline:
                raise AssertionError(f"no {what}; got {[x['event'] for x in self.msgs][-20:]}")
            self._fill(0.2)

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.closed:
            self._fill(0.1)
        self._parse()

    def close(self):
        self.sock.close()


def config(extra=""):
    return f"""
[group "fast"]
ttl_s = 1
{extra}
"""


class Stream(unittest.TestCase):
    def start(self, extra=""):
        self.tmp = tempfile.mkdtemp(prefix="vigil-stream-")
        path = os.path.join(self.tmp, "vigil.ini")
        with open(path, "w") as f:
            f.write(config(extra))
        self.v = Vigild(args=["--config", path]).start()
        self.addCleanup(self.v.cleanup)
        return self.v

    def client(self, **kw):
        c = SseClient(self.v.port, self.v.token, **kw)
        self.addCleanup(c.close)
        return c

    def test_snapshot_changes_and_resume(self):
        v = self.start()
        self.assertEqual(v.beat("w1", group="fast", cpu=0.5).status, 200)
        self.assertEqual(v.beat("w2", group="slow").status, 200)
        # the snapshot's recent events come from the store, a flush behind
        wait_until(lambda: len(v.get("/v1/events?type=session_opened")["events"]) == 2,
                   what="the sessions stored")
        c = self.client()
        self.assertEqual(c.status, 200)
        self.assertEqual(c.headers["content-type"], "text/event-stream")
        snap = c.until(lambda m: m["event"] == "snapshot")["data"]
        self.assertEqual(sorted(w["worker_id"] for w in snap["workers"]), ["w1", "w2"])
        self.assertEqual(snap["workers_total"], 2)
        self.assertFalse(snap["workers_truncated"])
        self.assertEqual({g["group"] for g in snap["groups"]}, {"fast", "slow"})
        self.assertTrue(any(e["type"] == "session_opened" for e in snap["events"]))
        # w1 stops beating: its worker message says dead, its group crashed
        dead = c.until(lambda m: m["event"] == "worker" and m["data"]["worker_id"] == "w1"
                       and m["data"]["state"] == "dead", what="w1 dead")
        c.until(lambda m: m["event"] == "group" and m["data"]["group"] == "fast"
                and m["data"]["state"] == "crashed", what="fast crashed")
        c.until(lambda m: m["event"] == "event" and m["data"]["type"] == "session_closed"
                and m["data"]["reason"] == "timeout", what="session_closed event")
        summ = c.until(lambda m: m["event"] == "summary", what="summary")["data"]
        self.assertEqual(summ["subscribers"], 1)
        ids = [m["id"] for m in c.msgs]
        run = ids[0].split("-")[0]
        seqs = [int(i.split("-")[1]) for i in ids]
        self.assertTrue(all(i.startswith(run + "-") for i in ids))
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), len(seqs))
        # resume after the dead message: no snapshot, the next message follows it
        c.close()
        self.assertEqual(v.beat("w3", group="slow").status, 200)
        r = self.client(last_id=dead["id"])
        first = r.until(lambda m: True)
        self.assertNotEqual(first["event"], "snapshot")
        self.assertEqual(int(first["id"].split("-")[1]), int(dead["id"].split("-")[1]) + 1)
        r.until(lambda m: m["event"] == "worker" and m["data"]["worker_id"] == "w3",
                what="w3, missed while away")
        # an id of another run, or garbage: a fresh snapshot
        for bad in (f"{int(run) - 1}-5", "garbage", "-", f"{run}-99999999"):
            s = self.client(last_id=bad)
            self.assertEqual(s.until(lambda m: True)["event"], "snapshot", bad)

    def test_forget_and_auth_and_limit(self):
        v = self.start("[stream]\nmax_subscribers = 2\n")
        v.beat("gone", group="slow")
        r = v.request("GET", "/v1/stream")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["field"], "authorization")
        r = v.request("POST", "/v1/stream", token=v.token)
        self.assertEqual(r.status, 405)
        a = self.client()
        a.until(lambda m: m["event"] == "snapshot")
        b = self.client()
        b.until(lambda m: m["event"] == "snapshot")
        r = v.request("GET", "/v1/stream", token=v.token, timeout=5)
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json()["error"]["field"], "stream")
        self.assertEqual(v.request("DELETE", "/v1/workers/gone", token=v.token).status, 200)
        a.until(lambda m: m["event"] == "forget" and m["data"]["worker_id"] == "gone",
                what="forget")
        # a closed subscriber frees its place
        b.close()
        c = wait_until(lambda: (lambda x: x if x.status == 200 else x.close())(
            SseClient(v.port, v.token)), timeout=20, what="a free place")
        self.addCleanup(c.close)

    def test_slow_subscriber_is_cut_off_alone(self):
        v = self.start("[stream]\nbuffer = 2048\n")
        slow = self.client(read=False, rcvbuf=4096)  # connects, then never reads
        fast = self.client()
        fast.until(lambda m: m["event"] == "snapshot")
        # changes at a pace a reader keeps up with (each batch ~170 messages:
        # even several of them in one 250 ms tick stay under half the ring,
        # which would be a burst), long ids for big messages, until the slow
        # one's socket buffers are full and the ring has passed it
        pad = "p" * 100
        n = 0
        for batch in range(100):
            lines = [{"worker_id": f"slow-{batch}-{i}-{pad}", "group": f"g{i % 5}-{pad}"}
                     for i in range(40)]
            self.assertEqual(v.beats(lines).status, 200)
            n += len(lines)
            fast.drain(0.15)
        last = f"slow-99-39-{pad}"
        fast.until(lambda m: m["event"] == "worker" and m["data"]["worker_id"] == last,
                   timeout=30, what="the last worker")
        self.assertFalse(fast.closed)
        self.assertFalse(any(m["event"] == "snapshot" for m in fast.msgs[1:]),
                         "the reader that kept up was resynced")
        # the slow one: what it can still read ends early, then the stream closes
        slow._headers()
        # with nothing else going on: vigild hangs up on it itself (no other
        # request wakes libmicrohttpd's thread for it)
        slow.drain(20)
        self.assertTrue(slow.closed, "the slow subscriber was not cut off")
        got = {m["data"].get("worker_id") for m in slow.msgs if m["event"] == "worker"}
        self.assertNotIn(last, got)
        # it comes back with its last id: too old, so a fresh snapshot
        again = self.client(last_id=slow.msgs[-1]["id"] if slow.msgs else "0-0")
        snap = again.until(lambda m: True)
        self.assertEqual(snap["event"], "snapshot")
        self.assertEqual(snap["data"]["workers_total"], n)

    def test_burst_is_one_shared_snapshot(self):
        v = self.start("[stream]\nbuffer = 64\n")
        c = self.client()
        c.until(lambda m: m["event"] == "snapshot")
        lines = [{"worker_id": f"burst-{i}", "group": "b"} for i in range(3000)]
        self.assertEqual(v.beats(lines).status, 200)
        snap = c.until(lambda m: m["event"] == "snapshot" and m["data"]["workers_total"] == 3000,
                       timeout=15, what="a snapshot with the burst")
        self.assertFalse(c.closed)
        self.assertEqual(len(snap["data"]["workers"]), 3000)
        # after it, changes flow one by one again
        v.beat("after", group="b")
        c.until(lambda m: m["event"] == "worker" and m["data"]["worker_id"] == "after",
                what="a change after the burst")


if __name__ == "__main__":
    unittest.main()
