"""The crash test of test_crash.py on PostgreSQL: vigild SIGKILLed VIGIL_CRASH_PG_CYCLES times
(default 8) under ~20,000 heartbeats/s, with its store in a throwaway cluster of the test's
own; then the store is compared with what the load generator saw accepted (same checks)."""
import os
import unittest

from harness import PgCluster
from test_crash import CrashBase

PG_CYCLES = int(os.environ.get("VIGIL_CRASH_PG_CYCLES", "8"))


class CrashPgTest(CrashBase):
    def test_postgres_sigkill_cycles(self):
        pg = PgCluster().start()
        try:
            self.crash(PG_CYCLES, {"VIGIL_DATABASE_URL": pg.schema("crash"),
                                   "VIGIL_NODE_ID": "node-c"}, "postgres")
        finally:
            pg.destroy()


if __name__ == "__main__":
    unittest.main(verbosity=2)
