-- bench/etcd.lua: wrk script for bench/compare.sh's etcd case: liveness as
-- leases, one keep-alive per heartbeat.
--
-- POST /v3/lease/keepalive {"ID":"<lease>"} through etcd's HTTP/JSON gateway
-- (the same port as gRPC), rotating over the lease IDs in the file named by
-- ETCD_LEASES (one per line, granted beforehand with a TTL). A lease renewal
-- carries no payload: that is what etcd offers for liveness.
local ids = {}
for line in io.lines(os.getenv("ETCD_LEASES")) do
  ids[#ids + 1] = string.format('{"ID":"%s"}', line)
end
local i = 0
wrk.method = "POST"
wrk.path = "/v3/lease/keepalive"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, ids[(i % #ids) + 1])
end
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
done = function(summary, latency, requests)
  bench_report(summary, latency, string.format(" leases=%d", #ids))
end
