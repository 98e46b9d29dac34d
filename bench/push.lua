-- bench/push.lua: wrk script for bench/compare.sh's Prometheus Pushgateway
-- case: one PUT per heartbeat, liveness kept as pushed metrics.
--
-- PUT /metrics/job/vigil_hb/worker_id/<id> replaces that worker's group with
-- the heartbeat's fields in the text exposition format (the numbers of
-- bench/hb.lua's body; strings become labels), worker_id rotating over
-- HB_WORKERS ids. A liveness check then reads push_time_seconds per group.
local N = tonumber(os.getenv("HB_WORKERS") or "10000")
local groups = { "inference", "training", "batch", "eval" }
local i = 0
wrk.method = "PUT"
wrk.headers["Content-Type"] = "text/plain; version=0.0.4"

local fmt = 'hb_seq{group="%s",instance="%08x",status="ok",thermal="nominal"} %d\n'
  .. "hb_ttl_s 15\nhb_cpu 0.31\nhb_mem 0.52\nhb_mem_available_gb 41.5\n"
  .. "hb_gpu_mem_active_gb 20.1\nhb_backlog 3\nhb_capacity 8\nhb_in_flight 2\n"
  .. "hb_requests %d\nhb_tokens %d\nhb_cpu_ticks %d\n"

function push_for(n)
  local w = n % N
  local lap = math.floor(n / N)
  local inst = (w * 2654435761 + 0x3f2a9c1e) % 4294967296
  return string.format("/metrics/job/vigil_hb/worker_id/gpu-%06d", w),
    string.format(fmt, groups[(w % #groups) + 1], inst, 812 + lap, 10421 + lap * 7,
      993120 + lap * 911, 58211 + lap * 3)
end

request = function()
  local path, body = push_for(i)
  i = i + 1
  return wrk.format(nil, path, nil, body)
end

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
done = function(summary, latency, requests)
  local _, b = push_for(0)
  bench_report(summary, latency, string.format(" body_bytes=%d", #b))
end
