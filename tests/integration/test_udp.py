"""UDP ingest: a real vigild with [server] udp_listen on a free loopback port.

Heartbeats and byes sent as UDP lines change what GET /v1/workers/{id} says;
bad lines are refused and counted (GET /v1/admin/udp) while the good lines of
the same datagram are applied; a vigild with udp_secret refuses unsigned and
badly signed datagrams; a burst of 20,000 heartbeats is either accepted or
visibly lost (kernel drops), never counted twice.
"""
import hashlib
import hmac
import os
import socket
import tempfile
import time
import unittest

from harness import Vigild, wait_until


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_udp_vigild(secret=None):
    """A vigild with a config file turning UDP on; returns (vigild, udp port)."""
    tmp = tempfile.mkdtemp(prefix="vigil-udp-")
    port = free_udp_port()
    path = os.path.join(tmp, "vigil.ini")
    with open(path, "w") as f:
        f.write(f"[server]\nudp_listen = 127.0.0.1:{port}\n")
        if secret:
            f.write(f"udp_secret = {secret}\n")
    v = Vigild(data_dir=os.path.join(tmp, "var"), args=["--config", path])
    v.tmp = tmp  # cleanup() removes it
    return v.start(), port


def rcvbuf_errors():
    """Udp RcvbufErrors from /proc/net/snmp: datagrams the kernel dropped for
    a full socket buffer (machine-wide, so an upper bound on ours)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    head, vals = rows[0], rows[1]
    return int(vals[head.index("RcvbufErrors")])


class UdpBase(unittest.TestCase):
    secret = None

    @classmethod
    def setUpClass(cls):
        cls.v, cls.port = start_udp_vigild(cls.secret)
        cls.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    @classmethod
    def tearDownClass(cls):
        cls.sock.close()
        cls.v.cleanup()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def stats(self):
        return self.v.get("/v1/admin/udp")

    def wait_datagrams(self, n, what="datagrams"):
        """Wait until the server has taken n datagrams in all."""
        return wait_until(lambda: (s := self.stats())["datagrams"] >= n and s, what=what)

    def worker_or_none(self, wid):
        r = self.v.request("GET", f"/v1/workers/{wid}", token=self.v.token)
        if r.status == 404:
            return None
        self.assertEqual(r.status, 200, r)
        return r.json()


class TestUdpUnsigned(UdpBase):
    def test_heartbeat_then_bye(self):
        before = self.stats()
        self.assertTrue(before["enabled"])
        self.assertFalse(before["signed"])
        self.send("hb u-1 group=udp-g ttl_s=30 cpu=0.25 thermal=fair\n")
        w = wait_until(lambda: self.worker_or_none("u-1"), what="u-1 registered")
        self.assertEqual(w["state"], "alive")
        self.assertEqual(w["group"], "udp-g")
        self.assertEqual(w["ttl_s"], 30)
        self.assertEqual(w["samples"]["cpu"], 0.25)
        self.assertEqual(w["samples"]["thermal"], "fair")
        self.send("hb u-1 cpu=0.5\n")
        wait_until(lambda: self.worker_or_none("u-1")["samples"].get("cpu") == 0.5, what="cpu 0.5")
        self.send("bye u-1 exit=3\n")
        wait_until(lambda: self.worker_or_none("u-1")["state"] == "left", what="u-1 left")
        s = wait_until(lambda: [x for x in self.v.sessions("u-1") if not x["open"]],
                       what="closed session")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("failed", 3))
        after = self.stats()
        self.assertEqual(after["lines_ok"] - before["lines_ok"], 3)

    def test_several_lines_and_crlf(self):
        self.send("hb m-1\nhb m-2 group=udp-m\r\n\r\nhb m-3\r\nbye m-1 exit=0")
        wait_until(lambda: all(self.worker_or_none(w) for w in ("m-1", "m-2", "m-3")),
                   what="m-1..3 registered")
        wait_until(lambda: self.worker_or_none("m-1")["state"] == "left", what="m-1 left")
        self.assertEqual(self.worker_or_none("m-2")["group"], "udp-m")
        self.assertEqual(self.worker_or_none("m-3")["state"], "alive")

    def test_bad_lines_counted_good_ones_applied(self):
        before = self.stats()
        self.send("hb b-1\n"
                  "beat b-2\n"            # bad_verb
                  "hb b-3 cpu=7\n"        # bad_field: same words as JSON
                  "hb\n"                  # bad_id
                  "hb b/4\n"              # bad_id
                  "hb b-5 cpu\n"          # bad_field: not key=value
                  "hb b-6 cpu=0.1\x00x\n"  # bad_bytes
                  "hb b-7 colour=blue\n")  # unknown key: ignored, applied
        after = self.wait_datagrams(before["datagrams"] + 1)
        wait_until(lambda: self.worker_or_none("b-1") and self.worker_or_none("b-7"),
                   what="good lines applied")
        for wid in ("b-3", "b-5", "b-6"):
            self.assertIsNone(self.worker_or_none(wid), wid)
        d = {k: after["lines_refused"][k] - before["lines_refused"][k]
             for k in after["lines_refused"]}
        self.assertEqual(d, {"bad_verb": 1, "bad_id": 2, "bad_field": 2, "too_long": 0,
                             "bad_bytes": 1})
        self.assertEqual(after["lines_ok"] - before["lines_ok"], 2)
        # /metrics shows the same counters
        m = self.v.request("GET", "/metrics", token=self.v.token).body
        self.assertIn(f'vigil_udp_lines_refused_total{{reason="bad_id"}} '
                      f'{after["lines_refused"]["bad_id"]}\n', m)
        self.assertIn(f'vigil_udp_lines_accepted_total {after["lines_ok"]}\n', m)
        # The JSON door refuses the same cpu with the same words.
        r = self.v.beat("b-3", cpu=7)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["reason"], "must be a number between 0 and 1")

    def test_overlong_line_and_garbage_not_fatal(self):
        before = self.stats()
        self.send("hb g-1 status=" + "x" * 9000 + "\nhb g-2\n")
        self.send(bytes(range(256)) * 20)
        self.send(b"")
        after = self.wait_datagrams(before["datagrams"] + 3)
        wait_until(lambda: self.worker_or_none("g-2"), what="g-2 after an overlong line")
        self.assertEqual(after["lines_refused"]["too_long"] - before["lines_refused"]["too_long"], 1)
        self.assertEqual(self.v.request("GET", "/healthz").status, 200)

    def test_sig_line_ignored_without_secret(self):
        self.send("sig " + "0" * 64 + "\nhb s-1\n")
        wait_until(lambda: self.worker_or_none("s-1"), what="s-1 despite a sig line")

    def test_burst_accepted_or_counted_lost(self):
        workers, per_worker, per_dgram = 100, 200, 20
        total = workers * per_worker
        lines = [f"hb burst-{i % workers:03d} seq={i // workers} cpu=0.5" for i in range(total)]
        dgrams = ["\n".join(lines[i:i + per_dgram]) + "\n" for i in range(0, total, per_dgram)]
        before = self.stats()
        drops0 = rcvbuf_errors()
        for d in dgrams:
            self.send(d)

        def settled():
            s = self.stats()
            got = s["datagrams"] - before["datagrams"]
            lost = rcvbuf_errors() - drops0
            return s if got + lost >= len(dgrams) else None
        after = wait_until(settled, timeout=30, what="every datagram taken or dropped")
        time.sleep(0.3)  # anything still in flight lands before the final read
        after = self.stats()
        got = after["datagrams"] - before["datagrams"]
        ok = after["lines_ok"] - before["lines_ok"]
        self.assertLessEqual(got, len(dgrams))
        self.assertEqual(ok, got * per_dgram, "each datagram's 20 good lines counted once")
        for k in after["lines_refused"]:
            self.assertEqual(after["lines_refused"][k], before["lines_refused"][k], k)
        # The store holds exactly what was accepted: nothing applied twice.
        def stored():
            n = 0
            for i in range(workers):
                h = self.v.get(f"/v1/workers/burst-{i:03d}/heartbeats?limit=10000")["heartbeats"]
                n += len(h)
            return n if n >= ok else None
        self.assertEqual(wait_until(stored, timeout=30, what="burst stored"), ok)
        print(f"\nudp burst: {len(dgrams)} datagrams sent, {got} taken "
              f"({ok} heartbeats), {len(dgrams) - got} lost in the kernel")


class TestUdpSigned(UdpBase):
    secret = "udp-test-secret"

    def signed(self, body, key=None):
        mac = hmac.new((key or self.secret).encode(), body.encode(), hashlib.sha256).hexdigest()
        return f"sig {mac}\n{body}"

    def test_signed_only(self):
        self.assertTrue(self.stats()["signed"])
        before = self.stats()
        self.send("hb sg-1\n")                                 # unsigned
        self.send(self.signed("hb sg-2\n", key="wrong-key"))    # wrong key
        t = self.signed("hb sg-3\n")
        self.send(t.replace("sg-3", "sg-4"))                   # tampered body
        self.send("sig xyz\nhb sg-5\n")                        # malformed
        self.send(self.signed("hb sg-6 cpu=0.2\nbye sg-7\n"))   # good
        after = self.wait_datagrams(before["datagrams"] + 5)
        wait_until(lambda: self.worker_or_none("sg-6"), what="signed heartbeat applied")
        for wid in ("sg-1", "sg-2", "sg-3", "sg-4", "sg-5"):
            self.assertIsNone(self.worker_or_none(wid), wid)
        dr = {k: after["datagrams_refused"][k] - before["datagrams_refused"][k]
              for k in after["datagrams_refused"]}
        self.assertEqual(dr, {"no_sig": 1, "bad_sig": 3, "too_big": 0})
        self.assertEqual(after["lines_ok"] - before["lines_ok"], 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
