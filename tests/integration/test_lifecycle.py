"""Worker and group lifecycles through a real vigild over HTTP."""
import http.client
import json
import unittest

from harness import SharedVigild, Vigild, wait_until


class Lifecycle(SharedVigild):

    def closed_sessions(self, wid, n=1):
        return wait_until(lambda: [s for s in self.v.sessions(wid) if not s["open"]][:n]
                          if len([s for s in self.v.sessions(wid) if not s["open"]]) >= n else None,
                          what=f"{n} closed session(s) of {wid}")

    def test_heartbeat_opens_session_and_timeout_closes_it(self):
        v = self.v
        r = v.beat("to-1", group="lc-timeout", ttl_s=1, instance="i1", cpu=0.5)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"ok": True, "state": "alive"})
        v.beat("to-1", group="lc-timeout", ttl_s=1, instance="i1")
        w = v.worker("to-1")
        self.assertEqual(w["state"], "alive")
        self.assertEqual(w["group"], "lc-timeout")
        self.assertEqual(w["ttl_s"], 1)
        last = w["last_heartbeat"]
        # stops beating: dead after its 1 s TTL, session closed `timeout` at the last beat
        wait_until(lambda: v.worker("to-1")["state"] == "dead", timeout=5, what="dead")
        s = self.closed_sessions("to-1")[0]
        self.assertEqual(s["reason"], "timeout")
        self.assertEqual(s["closed"], last)
        self.assertEqual(v.group("lc-timeout")["state"], "crashed")

    def test_bye_clean_and_failed(self):
        v = self.v
        v.beat("bye-ok", group="lc-bye")
        v.beat("bye-bad", group="lc-bye")
        r = v.bye("bye-bad", exit_code=2)
        self.assertEqual(r.json(), {"ok": True, "state": "left"})
        s = self.closed_sessions("bye-bad")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("failed", 2))
        self.assertEqual(v.group("lc-bye")["state"], "alive")  # bye-ok still up
        v.bye("bye-ok")
        s = self.closed_sessions("bye-ok")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("clean_shutdown", None))
        self.assertEqual(v.group("lc-bye")["state"], "scaled_down")
        self.assertEqual(v.worker("bye-ok")["state"], "left")

    def test_new_instance_restarts_session(self):
        v = self.v
        v.beat("rs-1", instance="a")
        v.beat("rs-1", instance="b")
        s = self.closed_sessions("rs-1")[0]
        self.assertEqual((s["reason"], s["instance"]), ("restarted", "a"))
        open_ = [s for s in v.sessions("rs-1") if s["open"]]
        self.assertEqual(len(open_), 1)
        self.assertEqual(open_[0]["instance"], "b")

    def test_evict_and_forget(self):
        v = self.v
        v.beat("ev-1", group="lc-ev")
        r = v.request("POST", "/v1/workers/ev-1/evict", token=v.token)
        self.assertEqual(r.json(), {"ok": True, "state": "evicted"})
        s = self.closed_sessions("ev-1")[0]
        self.assertEqual(s["reason"], "evicted")
        self.assertEqual(v.group("lc-ev")["state"], "scaled_down")
        r = v.request("POST", "/v1/workers/nobody-here/evict", token=v.token)
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["field"], "worker_id")
        r = v.request("DELETE", "/v1/workers/ev-1", token=v.token)
        self.assertEqual(r.status, 200, r)
        r = v.request("GET", "/v1/workers/ev-1", token=v.token)
        self.assertEqual(r.status, 404)
        wait_until(lambda: v.sessions("ev-1") == [], what="sessions forgotten")
        r = v.request("DELETE", "/v1/workers/ev-1", token=v.token)
        self.assertEqual(r.status, 404)
        types = [e["type"] for e in v.get("/v1/events?worker_id=ev-1&limit=50")["events"]]
        self.assertIn("worker_forgotten", types)

    def test_ping_endpoints(self):
        v = self.v
        r = v.request("GET", "/ping/cron-a/start?group=lc-cron&ttl_s=60")
        self.assertEqual(r.json()["state"], "alive")
        self.assertEqual(v.worker("cron-a")["ttl_s"], 60)
        r = v.request("POST", "/ping/cron-a")
        self.assertEqual(r.status, 200)
        r = v.request("GET", "/ping/cron-a/0")
        self.assertEqual(r.json()["state"], "left")
        s = self.closed_sessions("cron-a")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("clean_shutdown", 0))
        v.request("GET", "/ping/cron-b")
        v.request("GET", "/ping/cron-b/fail")
        s = self.closed_sessions("cron-b")[0]
        self.assertEqual((s["reason"], s["exit_code"]), ("failed", 1))
        v.request("GET", "/ping/cron-c")
        v.request("GET", "/ping/cron-c/bye")
        self.assertEqual(self.closed_sessions("cron-c")[0]["reason"], "clean_shutdown")
        v.request("GET", "/ping/cron-d")
        v.request("GET", "/ping/cron-d/start")  # a new run while one is open
        self.assertEqual(self.closed_sessions("cron-d")[0]["reason"], "restarted")
        r = v.request("GET", "/ping/cron-e?cpu=7")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["field"], "cpu")

    def test_ndjson_batch(self):
        v = self.v
        body = '{"worker_id":"nd-1"}\n{"worker_id":"nd 2"}\n\n{"worker_id":"nd-3","mem":2}\r\n' \
               '{"worker_id":"nd-4","group":"lc-nd"}'
        r = v.request("POST", "/v1/heartbeats", body, {"Content-Type": "application/x-ndjson"})
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual((j["accepted"], j["rejected"]), (2, 2))
        self.assertEqual([(e["line"], e["field"]) for e in j["errors"]],
                         [(2, "worker_id"), (4, "mem")])
        self.assertEqual(v.worker("nd-4")["state"], "alive")
        r = v.request("POST", "/v1/heartbeats", '{"worker_id":"x y"}\n',
                      {"Content-Type": "application/x-ndjson"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["field"], "worker_id")

    def test_ndjson_bodies_on_one_connection(self):
        """A thread reuses its big body buffer for the next big body and sizes
        a body from its Content-Length: big, chunked, small and big again on
        one keep-alive connection each read exactly, nothing left over from
        the body before (the short one ends without a newline, where stale
        bytes would join its last line)."""
        v = self.v
        line = '{"worker_id":"nb-%d","group":"lc-nb","cpu":0.5,"status":"ok"}\n'
        conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=30)
        ct = {"Content-Type": "application/x-ndjson"}

        def post(body, chunked=False):
            if chunked:
                chunks = [body[i:i + 7000].encode() for i in range(0, len(body), 7000)]
                conn.request("POST", "/v1/heartbeats", iter(chunks), ct, encode_chunked=True)
            else:
                conn.request("POST", "/v1/heartbeats", body, ct)
            r = conn.getresponse()
            j = json.loads(r.read())
            self.assertEqual(r.status, 200, j)
            return j["accepted"], j["rejected"]

        big = "".join(line % i for i in range(3000))
        self.assertEqual(post(big), (3000, 0))
        self.assertEqual(post("".join(line % i for i in range(2000)), chunked=True), (2000, 0))
        self.assertEqual(post("".join(line % i for i in range(5)).rstrip("\n")), (5, 0))
        self.assertEqual(post(big + '{"worker_id":"nb x"}'), (3000, 1))
        self.assertEqual(post('{"worker_id":"nb-last"}'), (1, 0))
        conn.close()

    def test_ndjson_bodies_at_once(self):
        """A thread keeps several body buffers for the bodies that follow
        (http.c): eight connections post big bodies at once, each a different
        size every round and none ending in a newline, so a kept buffer that
        held a longer body before would leave its bytes to join the last line
        (a rejected line, or one more). Every answer counts exactly its own."""
        import threading
        v = self.v
        line = '{"worker_id":"na-%d-%d","group":"lc-na","cpu":0.25}'
        errors = []

        def client(k):
            conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=30)
            try:
                for rnd in range(6):
                    n = 400 + ((k * 7 + rnd * 5) % 9) * 150  # 400-1,600 lines, ~24-96 KB
                    body = "\n".join(line % (k, i) for i in range(n))
                    conn.request("POST", "/v1/heartbeats", body,
                                 {"Content-Type": "application/x-ndjson"})
                    r = conn.getresponse()
                    j = json.loads(r.read())
                    if (r.status, j.get("accepted"), j.get("rejected")) != (200, n, 0):
                        errors.append((k, rnd, n, r.status, j))
            finally:
                conn.close()

        ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(v.worker("na-7-399")["state"], "alive")

    def test_listing_filters_and_cursor(self):
        v = self.v
        for i in range(25):
            v.beat(f"page-{i:02d}", group="lc-page")
        wait_until(lambda: len(v.get("/v1/workers?group=lc-page&limit=1000")["workers"]) == 25,
                   what="25 workers stored")
        seen, cursor, pages = [], None, 0
        while True:
            q = "/v1/workers?group=lc-page&limit=10" + (f"&cursor={cursor}" if cursor else "")
            j = v.get(q)
            seen += [w["worker_id"] for w in j["workers"]]
            pages += 1
            cursor = j["next_cursor"]
            if not cursor:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(seen, sorted(f"page-{i:02d}" for i in range(25)))
        v.bye("page-00")
        wait_until(lambda: [w["worker_id"] for w in
                            v.get("/v1/workers?group=lc-page&state=left")["workers"]] == ["page-00"],
                   what="state filter")

    def test_events_and_probes(self):
        v = self.v
        v.beat("evt-1", group="lc-evt")
        v.bye("evt-1")
        evs = wait_until(lambda: v.get("/v1/events?worker_id=evt-1")["events"]
                         if len(v.get("/v1/events?worker_id=evt-1")["events"]) >= 4 else None,
                         what="events of evt-1")
        types = [e["type"] for e in evs]
        for t in ("session_opened", "worker_alive", "session_closed", "worker_left"):
            self.assertIn(t, types)
        first_id = min(e["id"] for e in evs)
        asc = v.get(f"/v1/events?after_id={first_id - 1}&worker_id=evt-1")["events"]
        self.assertEqual([e["id"] for e in asc], sorted(e["id"] for e in evs))
        g = v.get("/v1/events?group=lc-evt&type=group_scaled_down")["events"]
        self.assertEqual(len(g), 1)
        self.assertEqual(v.request("GET", "/healthz").json()["status"], "ok")
        r = v.request("GET", "/readyz")
        self.assertEqual((r.status, r.json()["status"]), (200, "ready"))

    def test_heartbeat_history(self):
        v = self.v
        for i in range(5):
            v.beat("hist-1", seq=i, cpu=i / 10)
        hbs = wait_until(lambda: v.get("/v1/workers/hist-1/heartbeats")["heartbeats"]
                         if len(v.get("/v1/workers/hist-1/heartbeats")["heartbeats"]) == 5 else None,
                         what="5 raw heartbeats")
        self.assertEqual([h["seq"] for h in hbs], [0, 1, 2, 3, 4])
        self.assertEqual(hbs[3]["cpu"], 0.3)
        # pages of 2 (several samples may share a millisecond: the cursor copes)
        seqs, cursor = [], None
        for _ in range(5):
            page = v.get("/v1/workers/hist-1/heartbeats?limit=2" +
                         (f"&cursor={cursor}" if cursor else ""))
            seqs += [h["seq"] for h in page["heartbeats"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(seqs, [0, 1, 2, 3, 4])


class Tokens(unittest.TestCase):
    def test_ingest_token(self):
        v = Vigild(env={"VIGIL_INGEST_TOKEN": "ingest-secret",
                        "VIGIL_ADMIN_TOKEN": "admin-secret"}).start()
        try:
            r = v.beat("tok-1")
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json()["error"]["field"], "authorization")
            r = v.request("POST", "/v1/heartbeat", {"worker_id": "tok-1"}, token="ingest-secret")
            self.assertEqual(r.status, 200)
            r = v.request("POST", "/v1/heartbeat", {"worker_id": "tok-1"}, token="admin-secret")
            self.assertEqual(r.status, 200)
            r = v.request("GET", "/ping/tok-1", token="wrong")
            self.assertEqual(r.status, 401)
            # the ingest token does not open the read side
            self.assertEqual(v.request("GET", "/v1/workers", token="ingest-secret").status, 401)
            self.assertEqual(v.request("GET", "/v1/workers", token="admin-secret").status, 200)
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
