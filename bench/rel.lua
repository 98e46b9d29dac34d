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

-- The shared report line (bench/report.lua, next to this script).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

done = function(summary, latency, requests)
  bench_report(summary, latency, nil)
end
