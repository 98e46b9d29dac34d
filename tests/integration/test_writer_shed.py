"""The writer yields once raw samples overflow its queue (jobs.c shed_pause):
bursts of NDJSON heartbeats against a 1,024-slot queue make samples drop;
the writer then pauses after its batches (counted: writer.shed_pauses), the
heartbeats themselves are all taken, every sample is either stored or
counted as dropped, and once the overflow is over the writer stops pausing
and a new heartbeat's sample reaches the store within a flush or two."""
import json
import time
import unittest

from harness import Vigild, wait_until

BURST_LINES = 5000
MAX_BURSTS = 40


def writer_and_queue(v):
    s = v.get("/v1/snapshot")["sections"]
    return s["writer"], s["queues"]["heartbeats"]


class WriterShed(unittest.TestCase):
    def test_writer_pauses_while_samples_overflow_and_not_after(self):
        v = Vigild(env={"VIGIL_QUEUE_SIZE": "1024", "VIGIL_DEFAULT_TTL_S": "600"}).start()
        self.addCleanup(v.cleanup)
        body = "\n".join(json.dumps({"worker_id": f"sh-{i % 200}", "group": "shed", "cpu": 0.5,
                                     "seq": i}) for i in range(BURST_LINES))
        accepted = 0
        for _ in range(MAX_BURSTS):
            r = v.request("POST", "/v1/heartbeats", body, {"Content-Type": "application/x-ndjson"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["rejected"], 0, r)
            accepted += r.json()["accepted"]
            w, q = writer_and_queue(v)
            if q["dropped"] > 0 and w["shed_pauses"] > 0:
                break
        w, q = writer_and_queue(v)
        self.assertGreater(q["dropped"], 0, "the bursts never overflowed a 1,024-slot queue")
        self.assertGreater(w["shed_pauses"], 0, "the writer did not pause while samples dropped")
        self.assertEqual(accepted % BURST_LINES, 0)

        # The overflow is over: the queue drains, and what is left of the
        # pausing is at most one pause for the drops already seen.
        wait_until(lambda: writer_and_queue(v)[1]["depth"] == 0, timeout=30, what="queue drained")
        time.sleep(1.5)
        pauses = writer_and_queue(v)[0]["shed_pauses"]
        for k in range(10):
            self.assertEqual(v.beat("sh-after", seq=k, cpu=0.25).status, 200)
            time.sleep(0.2)
        # each sample is stored, and no pause was taken for them
        rows = wait_until(lambda: (lambda h: h if len(h) == 10 else None)(
            v.get("/v1/workers/sh-after/heartbeats")["heartbeats"]), timeout=10,
            what="sh-after's 10 samples stored")
        self.assertEqual([h["seq"] for h in rows], list(range(10)))
        self.assertEqual(writer_and_queue(v)[0]["shed_pauses"], pauses,
                         "the writer paused with nothing overflowing")

        # Every accepted sample is stored or counted as dropped, nothing else.
        r = v.request("POST", "/v1/admin/rollup", token=v.token, timeout=120)
        self.assertEqual(r.status, 200, r)  # a barrier: what was queued before it is stored
        dropped = writer_and_queue(v)[1]["dropped"]
        stored = v.sqlite_value("SELECT count(*) FROM heartbeats")
        self.assertEqual(stored + dropped, accepted + 10)


if __name__ == "__main__":
    unittest.main()
