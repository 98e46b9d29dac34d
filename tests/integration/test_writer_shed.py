"""The writer yields when it is in ingest's way (jobs.c shed_pause).

Once raw samples overflow its queue: bursts of NDJSON heartbeats against a
1,024-slot queue make samples drop; the writer then pauses after its batches
(counted: writer.shed_pauses), the heartbeats themselves are all taken,
every sample is either stored or counted as dropped, and once the overflow
is over the writer stops pausing and a new heartbeat's sample reaches the
store within a flush or two.

And when it shares a core with busy ingest before anything overflows:
vigild pinned to one CPU, a client on another keeping it busy, a queue too
large to fill; the writer pauses all the same, nothing is dropped, and every
sample is stored in the end."""
import json
import os
import time
import unittest

from harness import Vigild, wait_until

BURST_LINES = 5000
MAX_BURSTS = 40
MAX_ROUNDS = 5


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

    @unittest.skipUnless(len(os.sched_getaffinity(0)) >= 2, "needs two CPUs")
    @unittest.skipUnless(os.path.exists("/proc/thread-self/schedstat"),
                         "no run-queue wait to read (schedstat)")
    def test_writer_paces_itself_on_a_core_ingest_needs(self):
        cpus = sorted(os.sched_getaffinity(0))
        v = Vigild(env={"VIGIL_QUEUE_SIZE": str(1 << 19), "VIGIL_DEFAULT_TTL_S": "600",
                        "VIGIL_HTTP_THREADS": "1"}, cpus={cpus[0]}).start()
        self.addCleanup(v.cleanup)
        os.sched_setaffinity(0, set(cpus[1:]))  # the client off vigild's core
        self.addCleanup(os.sched_setaffinity, 0, set(cpus))
        body = "\n".join(json.dumps({"worker_id": f"pc-{i % 2000}", "group": "pace", "cpu": 0.5,
                                     "seq": i}) for i in range(BURST_LINES))
        def paused():
            return writer_and_queue(v)[0]["shed_pauses"] > 0

        accepted = 0
        # A round is at most 80 bodies (400,000 lines, which fit the 524,288-slot
        # queue), under a second at full speed: the writer may finish no batch
        # of samples in it while ingest is still busy (1 run in ~10), so up to
        # MAX_ROUNDS rounds, the queue drained between them.
        for _ in range(MAX_ROUNDS):
            for n in range(80):
                r = v.request("POST", "/v1/heartbeats", body,
                              {"Content-Type": "application/x-ndjson"})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["rejected"], 0, r)
                accepted += r.json()["accepted"]
                if n % 10 == 9 and paused():
                    break
            if paused():
                break
            wait_until(lambda: writer_and_queue(v)[1]["depth"] == 0, timeout=120,
                       what="queue drained between rounds")
        w, q = writer_and_queue(v)
        self.assertEqual(q["dropped"], 0, "the queue overflowed: the pauses would prove nothing")
        self.assertGreater(w["shed_pauses"], 0,
                           "the writer shared a core with busy ingest and never paused")

        # Nothing was lost to the pausing: every accepted sample is stored.
        r = v.request("POST", "/v1/admin/rollup", token=v.token, timeout=120)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(v.sqlite_value("SELECT count(*) FROM heartbeats"), accepted)


if __name__ == "__main__":
    unittest.main()
