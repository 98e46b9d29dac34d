#!/usr/bin/env python3
"""bench/seed_sessions.py: fill a stopped vigild's SQLite store with a fleet's history.

For bench/rollup.sh. The database must already have vigild's schema (start
vigild on it once); its tables are written directly, in one transaction:

  workers    --workers ids w-000000..., spread over --groups groups; ~10% joined
             part-way through the window (first_seen later), the rest at its start
  sessions   --min-sessions..--max-sessions per worker over the last --days days,
             back to back in time slots, each worker with its own typical uptime
             (30-99%); ends mostly clean_shutdown or timeout, some failed /
             restarted / evicted / monitor_gap; ~30% of workers have their last
             session still open, heartbeating until now
  groups     one row per group
  node_runs  replaced by two runs of --node-id covering the whole window but for
             one hour (7 days ago), so the rollup sees vigild's downtime once

Rows are generated in (worker_id, opened_ms) order, the order of the sessions
table's own indexes, so SQLite mostly appends. Deterministic for a given --seed
and --now-ms. Every worker's ttl_s is an hour, so nobody times out while the
benchmark runs (expiries would make vigild's writer busy during the measurements).

Prints one JSON object: counts, seconds taken, database size.
"""
import argparse
import json
import os
import random
import sqlite3
import sys
import time

REASONS = (  # cumulative probability, reason
    (0.55, "clean_shutdown"), (0.85, "timeout"), (0.94, "failed"), (0.98, "restarted"),
    (0.99, "evicted"), (1.01, "monitor_gap"))
TTL_S = 3600
HOUR = 3600 * 1000
DAY = 24 * HOUR


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--node-id", required=True)
    ap.add_argument("--workers", type=int, default=100000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--min-sessions", type=int, default=14)
    ap.add_argument("--max-sessions", type=int, default=40)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--open-share", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--now-ms", type=int, default=0, help="default: the current time")
    a = ap.parse_args()
    if not (a.workers > 0 and a.days > 0 and 1 <= a.min_sessions <= a.max_sessions
            and a.groups > 0):
        sys.exit("seed_sessions.py: bad counts")
    if not os.path.exists(a.db):
        sys.exit(f"seed_sessions.py: {a.db} does not exist (start vigild on it once first)")

    now = a.now_ms or int(time.time() * 1000)
    window = a.days * DAY
    rnd = random.Random(a.seed)
    groups = [f"group-{g:02d}" for g in range(a.groups)]
    stats = {"workers": a.workers, "sessions": 0, "open": 0, "groups": a.groups,
             "reasons": {r: 0 for _, r in REASONS}}
    workers = []

    def sessions():
        """All session rows, worker by worker; fills `workers` as a side effect."""
        for i in range(a.workers):
            wid = f"w-{i:06d}"
            grp = groups[rnd.randrange(a.groups)]
            late = rnd.random() < 0.1
            start = now - (int(window * rnd.uniform(0.1, 0.9)) if late else window)
            n = rnd.randint(a.min_sessions, a.max_sessions)
            slot = (now - start) / n
            quality = rnd.uniform(0.3, 0.99)  # this worker's typical share of a slot spent up
            is_open = rnd.random() < a.open_share
            reason = None
            for k in range(n):
                opened = int(start + k * slot + rnd.random() * slot * 0.05)
                inst = f"{i:06x}{k:02x}"
                if k == n - 1 and is_open:
                    last_hb = now - rnd.randrange(10000)
                    stats["open"] += 1
                    yield (wid, opened, grp, inst, a.node_id, None, None, None, last_hb, TTL_S)
                    reason = None
                    break
                closed = opened + int(slot * quality * rnd.uniform(0.8, 0.95))
                p = rnd.random()
                reason = next(r for c, r in REASONS if p < c)
                stats["reasons"][reason] += 1
                code = rnd.choice((1, 137, 143)) if reason == "failed" else None
                # A timeout is declared a TTL after the last heartbeat; a gap's end was not seen.
                last_hb = (closed - TTL_S * 1000 if reason == "timeout" else
                           closed - rnd.randrange(60000) if reason == "monitor_gap" else closed)
                yield (wid, opened, grp, inst, a.node_id, closed, reason, code,
                       max(last_hb, opened), TTL_S)
            stats["sessions"] += n
            state = ("alive" if reason is None else "left" if reason == "clean_shutdown" else
                     "evicted" if reason == "evicted" else "dead")
            since = now - rnd.randrange(60000) if reason is None else closed
            last_seen = last_hb if reason is None else closed
            workers.append((wid, grp, inst, state, since, start, last_seen, TTL_S))

    t0 = time.monotonic()
    db = sqlite3.connect(a.db, isolation_level=None)
    # vigild puts the file back in WAL mode when it opens it; meanwhile writing
    # the pages in place (a rollback journal of the few pages that existed)
    # saves writing the whole database twice.
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1048576")  # 1 GiB: the indexes stay in memory
    db.execute("BEGIN")
    for t in ("sessions", "workers", "\"groups\"", "node_runs"):
        db.execute(f"DELETE FROM {t}")
    db.executemany(
        "INSERT INTO sessions(worker_id, opened_ms, group_name, instance, node_id, closed_ms,"
        " reason, exit_code, last_hb_ms, ttl_s) VALUES(?,?,?,?,?,?,?,?,?,?)", sessions())
    db.executemany(
        "INSERT INTO workers(worker_id, group_name, instance, state, state_since_ms,"
        " first_seen_ms, last_seen_ms, ttl_s) VALUES(?,?,?,?,?,?,?,?)", workers)
    db.executemany("INSERT INTO \"groups\"(name, state, state_since_ms) VALUES(?, 'alive', ?)",
                   [(g, now - window) for g in groups])
    gap = now - 7 * DAY
    db.executemany("INSERT INTO node_runs(node_id, started_ms, alive_ms, stopped_ms)"
                   " VALUES(?,?,?,?)",
                   [(a.node_id, now - window - DAY, gap, gap),
                    (a.node_id, gap + HOUR, now, now)])
    db.execute("COMMIT")
    db.close()
    stats["seconds"] = round(time.monotonic() - t0, 1)
    stats["db_bytes"] = os.path.getsize(a.db)
    stats["now_ms"] = now
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
