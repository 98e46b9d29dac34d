-- bench/report.lua: the one machine-readable "BENCH ..." line every wrk
-- script of bench/ prints from done() (ingest.sh and rollup.sh parse it).
-- extra: more " key=value" text to append, or nil.
function bench_report(summary, latency, extra)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f bytes=%d status_errors=%d connect_errors=%d "
      .. "read_errors=%d write_errors=%d timeouts=%d p50_us=%d p75_us=%d p90_us=%d p99_us=%d "
      .. "mean_us=%.1f max_us=%d%s\n",
    summary.requests, secs, summary.requests / secs, summary.bytes, e.status, e.connect,
    e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency.mean, latency.max, extra or ""))
end
