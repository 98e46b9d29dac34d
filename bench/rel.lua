-- bench/rel.lua: wrk script for bench/rollup.sh.
--
-- GET the URL given to wrk (/v1/reliability?limit=50) with the admin token
-- from $VIGIL_TOKEN, over keep-alive connections. The read side always needs
-- the token, so without it every answer would be a cheap 401.
--
-- No response() callback: defining one makes wrk hand every body to Lua,
-- which would make the client the bottleneck. done() prints one
-- machine-readable "BENCH ..." line that rollup.sh parses, in the same shape
-- as bench/hb.lua's; status_errors counts answers > 399; bytes includes
-- headers.

local token = os.getenv("VIGIL_TOKEN")
if not token or token == "" then
  io.stderr:write("rel.lua: VIGIL_TOKEN is not set\n")
  os.exit(2)
end

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f bytes=%d status_errors=%d connect_errors=%d "
      .. "read_errors=%d write_errors=%d timeouts=%d p50_us=%d p75_us=%d p90_us=%d p99_us=%d "
      .. "mean_us=%.1f max_us=%d\n",
    summary.requests, secs, summary.requests / secs, summary.bytes, e.status, e.connect,
    e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
