-- bench/hb.lua: wrk script for bench/ingest.sh.
--
-- POST /v1/heartbeat with a JSON heartbeat built per request. worker_id
-- rotates over HB_WORKERS ids (default 10,000) so vigild's registry does the
-- work it does in production (hash lookup, state update, phi sample, queued raw
-- sample). Each id keeps one instance string (a new instance would be a new
-- run and open a new session), and its seq and counters grow once per lap.
-- The same script, hence the same bytes, is sent to nginx.
--
-- done() prints one machine-readable "BENCH ..." line that ingest.sh parses;
-- status_errors is wrk's own count of responses with status > 399 (its
-- "Non-2xx or 3xx responses" line).

local N = tonumber(os.getenv("HB_WORKERS") or "10000")
local groups = { "inference", "training", "batch", "eval" }
local i = 0

wrk.method = "POST"
wrk.path = "/v1/heartbeat"
wrk.headers["Content-Type"] = "application/json"

local fmt = '{"worker_id":"gpu-%06d","group":"%s","instance":"%08x","seq":%d,"ttl_s":15,'
  .. '"status":"ok","cpu":0.31,"mem":0.52,"mem_available_gb":41.5,"gpu_mem_active_gb":20.1,'
  .. '"thermal":"nominal","backlog":3,"capacity":8,"in_flight":2,"requests":%d,'
  .. '"tokens":%d,"cpu_ticks":%d}'

-- instance per id: a fixed 8-hex-digit hash of the id (Knuth multiplicative)
local inst = {}
for w = 0, N - 1 do
  inst[w] = (w * 2654435761 + 0x3f2a9c1e) % 4294967296
end

function body_for(n)
  local w = n % N
  local lap = math.floor(n / N)
  return string.format(fmt, w, groups[(w % #groups) + 1], inst[w], 812 + lap,
    10421 + lap * 7, 993120 + lap * 911, 58211 + lap * 3)
end

request = function()
  local b = body_for(i)
  i = i + 1
  return wrk.format(nil, nil, nil, b)
end

-- The shared report line (bench/report.lua, next to this script).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

done = function(summary, latency, requests)
  bench_report(summary, latency, string.format(" body_bytes=%d", #body_for(0)))
end
