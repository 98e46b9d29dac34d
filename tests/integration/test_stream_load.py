"""200 stream subscribers under ingest load are all served, and ingest goes
on: heartbeats are posted by two load processes over keep-alive connections
while 200 open /v1/stream subscribers (a third process reading them all)
receive their snapshot and the changes after it (1 % of the heartbeats come
from new workers: sessions opening, groups' counts).

What the subscribers cost ingest (vigild's CPU per heartbeat with them vs
without, target within 10 %) is a figure, so it is measured by
bench/stream_load.py in `make bench` (this test's load is that script's),
not asserted here: on a shared 2-core machine that ratio moved past its
bound by chance (CI, ASan: 6 to 16 ticks per 1000 heartbeats between rounds
of one run; plain build: 4.8-5.6 vs 4.1-4.3 in one run, passing in the
next). It is printed."""
import os
import sys
import unittest

from harness import Vigild, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import stream_load  # noqa: E402

ROUND_S = 3.0
SUBSCRIBERS = 200


class StreamLoad(unittest.TestCase):
    def test_200_subscribers_are_served_while_heartbeats_flow(self):
        v = Vigild().start()
        self.addCleanup(v.cleanup)
        run = stream_load.Run(v.port, v.token, v.proc.pid, ROUND_S, 2, SUBSCRIBERS)
        base = run.rate()  # also the warm-up: workers registered, connections warm
        (rate, cost, _), streams = run.with_subscribers()
        print(f"ingest without subscribers {base[0]:.0f}/s, {base[1]:.3f} CPU ticks per 1000 "
              f"heartbeats; with {SUBSCRIBERS}: {rate:.0f}/s, {cost:.3f} (not asserted: "
              f"bench/stream_load.py)")
        self.assertIsNotNone(streams, "not every subscriber got its snapshot and a summary")
        self.assertEqual(len(streams), SUBSCRIBERS)
        # every subscriber was served: its snapshot and the changes after it
        self.assertTrue(all(n > 1000 for n in streams), sorted(streams)[:5])
        self.assertEqual(run.failed, 0, "heartbeats answered other than 200")
        # ingest went on while they were open: the loaders' heartbeats were taken
        self.assertGreater(rate, 0)
        # none was cut off for falling behind (the reader keeps up), and
        # vigild lets every one go once its socket closed
        wait_until(lambda: v.get("/v1/snapshot")["sections"]["stream"]["subscribers"] == 0, timeout=15,
                   what="the closed streams gone from /v1/snapshot")
        self.assertEqual(v.get("/v1/snapshot")["sections"]["stream"]["cut_off"], 0)


if __name__ == "__main__":
    unittest.main()
