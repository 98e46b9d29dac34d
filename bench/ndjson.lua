-- bench/ndjson.lua: wrk script for bench/compare.sh's NDJSON case.
--
-- POST /v1/heartbeats (application/x-ndjson), each body NDJSON_LINES
-- heartbeats (default 1000), byte for byte the lines bench/hb.lua sends one
-- per request (body_for from hb.lua), worker_id rotating over HB_WORKERS ids.
-- BODIES distinct bodies are built up front and cycled, so wrk measures the
-- server, not Lua string building. Heartbeats/s = requests/s × lines.
local L = tonumber(os.getenv("NDJSON_LINES") or "1000")
local BODIES = 8
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"

-- hb.lua defines body_for() and the wrk request shape; reuse it, then take over.
dofile(dir .. "hb.lua")
wrk.path = "/v1/heartbeats"
wrk.headers["Content-Type"] = "application/x-ndjson"

local bodies, n = {}, 0
for b = 1, BODIES do
  local t = {}
  for j = 1, L do
    t[j] = body_for(n)
    n = n + 1
  end
  bodies[b] = table.concat(t, "\n") .. "\n"
end
local k = 0
request = function()
  k = k + 1
  return wrk.format(nil, nil, nil, bodies[(k % BODIES) + 1])
end

done = function(summary, latency, requests)
  bench_report(summary, latency, string.format(" lines=%d body_bytes=%d", L, #bodies[1]))
end
