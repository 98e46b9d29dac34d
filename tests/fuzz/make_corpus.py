#!/usr/bin/env python3
"""Writes the hand-made seed corpora tests/fuzz/corpus/<target>/ (valid and
near-valid inputs, from docs/api.md, docs/alerts.md and the tests). Run once;
the files are committed, and scripts/fuzz.sh fuzzes copies of them."""
import hashlib, hmac, os, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

HB = [
    b'{"worker_id":"gpu-17","group":"inference","instance":"3f2a","seq":812,"ttl_s":15,'
    b'"status":"ok","cpu":0.31,"mem":0.52,"thermal":"nominal","backlog":3,"capacity":8}',
    b'{"worker_id":"gpu-17","instance":"3f2a","exit_code":0}',
    b'{"worker_id":"a","group":"g"}',
    b'{"worker_id":"b b"}',
    b'{"worker_id":"c","cpu":2}',
    b'{"worker_id":"w1","jobs":["job-1","job-2"],"task_ms":812.5}',
    b'{"worker_id":"w1","jobs":[]}',
    b'{"worker_id":"w:1@h.x","mem_available_gb":12.5,"gpu_mem_active_gb":0.25,"in_flight":2,'
    b'"requests":100,"tokens":9007199254740992,"cpu_ticks":5}',
    b'{"worker_id":"w","thermal":"critical","status":"\\u00e9t\\u00e9 \\"hot\\""}',
    b'{"worker_id":"w","ttl_s":86400,"seq":0,"cpu":1.0,"mem":0e0}',
    b'{"worker_id":"w","ttl_s":0}',
    b'{"worker_id":"w","seq":3.5}',
    b'{"worker_id":"w","exit_code":-2147483648}',
    b'{"worker_id":null,"group":null}',
    b'{"worker_id":"w","instance":"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}',
    b'{"worker_id":"w","instance":"\xc0\xaf"}',
    b'[1,2,3]',
    b'{"worker_id":"w",',
    b'{"worker_id":"w","jobs":"a,b"}',
    b'{"worker_id":"w","unknown":{"deep":[1,{"x":null}]},"cpu":-0}',
]

UDP = [
    b'hb w1 group=batch cpu=0.3\n',
    b'hb w1 cpu=0.3\nhb w2 cpu=0.1 mem=0.4\n',
    b'bye w1 exit=0\n',
    b'bye w1 exit=3 status=done\r\n',
    b'hb w1 jobs=a,b,c task_ms=12\n\n\nhb w2 jobs=\n',
    b'hb w1\tcpu=2\n',
    b'ping w1\n',
    b'hb\n',
    b'hb w1 cpu\n',
    b'hb w1 thermal=fair worker_id=zz exit=4\n',
    b'sig 0000000000000000000000000000000000000000000000000000000000000000\nhb w1\n',
]

PING = [
    b'gpu-17', b'gpu-17/', b'nightly-backup/start?group=backups&ttl_s=7200',
    b'nightly-backup/0', b'w/fail', b'w/bye', b'w/255', b'w/256', b'w/-1', b'w/start/',
    b'w//', b'w/x/y', b'/start', b'w?cpu=0.5&mem=0.25&status=ok&jobs=j1,j2',
    b'w?exit_code=3&worker_id=other&cpu=', b'w/1?thermal=serious&seq=7&instance=i-1',
    b'w?ttl_s=99999', b'w?jobs=&task_ms=1e9',
]

QUERY = [
    b'from=2026-11-23T07:40:00Z&to=2026-11-23T09:40:00.123Z&limit=100',
    b'from=1795426800123&to=1795426800124',
    b'from=2026-11-23T09:40:00.5+00:00', b'to=2026-13-01T00:00:00Z', b'to=9999-12-31T23:59:59.999Z',
    b'points=600&names=fleet.alive,group.*', b'limit=0', b'limit=99999999999999999999',
    b'after_id=12&before_id=9223372036854775807', b'silence=1', b'silence=-1',
    b'min_score=0.5&max_score=1&min_uptime=0.99&min_p_stays=nan',
    b'stays_for=6h', b'stays_for=90s', b'stays_for=250ms', b'stays_for=7d', b'stays_for=1e400',
    b'hcursor=1795426800123:2', b'hcursor=1:', b'hcursor=007:01',
    b'group=inference&worker_id=gpu-17', b'group=b%20b',
    b'cpu=0.3&ttl_s=15&thermal=nominal&jobs=a,b', b'cursor=2026-11-23T07:00:00.000Z',
]

CFG = [
    open(os.path.join(os.path.dirname(root), "..", "..", "contrib", "vigil.ini.example"), "rb").read(),
    b'[server]\nlisten = 127.0.0.1:9470\nhttp_threads = 2\nmetrics_public = true\n'
    b'udp_listen = 127.0.0.1:9471\nudp_secret = s3cret\n',
    b'[liveness]\ndefault_ttl_s = 15\nphi_threshold = 8\nsweep_interval_ms = 50\n',
    b'[sink "hook"]\ntype = webhook\nurl = http://127.0.0.1:1/hook\nsecret = s3cret\n\n'
    b'[group "fast"]\nttl_s = 1\n\n[rule "lost"]\ntype = worker_lost\ngroup = fast\n'
    b'severity = critical\nsinks = hook\n',
    b'[rule "down"]\ntype = group_down\ngroup = fast\n',
    b'[rule "weak"]\ntype = score_below\nvalue = 0.99\n',
    b'[sink "chat"]\ntype = slack\nurl = http://127.0.0.1:1/slack\n[sink "mail"]\ntype = smtp\n'
    b'url = smtp://127.0.0.1:25\nfrom = vigil@example.org\nto = oncall@example.org\n'
    b'[sink "am"]\ntype = alertmanager\nurl = http://127.0.0.1:9093\n'
    b'[rule "lost"]\ntype = worker_lost\nsinks = hook, chat, mail, am\n',
    b'[rule "x"]\ntype = worker_gone\n',
    b'[rule "x"]\ntype = worker_lost\nsinks = nowhere\n',
    b'[rule "x"]\ntype = threshold\nfield = cpu\nvalue = 1\nfor = 5 minutes\n',
    b'[server]\nlisten = [::1]:0\n[store]\nurl = sqlite:/tmp/x.db\nqueue_size = 0\n',
    b'[server\nlisten\n= x\n;c\n#c\n  [alerts]\ngrace_s = -1\n',
    b'[group ""]\nttl_s = 5\n[group "a b"]\nttl_s=x\n',
]

SSE_ID = [b'1795426800123-42', b'0-0', b'9223372036854775807-18446744073709551615',
          b'9223372036854775808-1', b'1-18446744073709551616', b'-1', b'1-', b'1--2',
          b'01-002', b' 1-2', b'1-2\n', b'abc']

SSEP = [
    b'\x00id: 1795426800123-1\nevent: snapshot\ndata: {"workers":[]}\n\n',
    b'\x03: keep-alive\n\nevent: change\ndata: {"a":1}\ndata: {"b":2}\n\n',
    b'\x05\xef\xbb\xbfdata: bom\r\n\r\n',
    b'\x07retry: 1500\nid: 9-9\ndata\n\nretry: x\ndata:  two spaces\r\rdata:x\n\n',
    b'\x01id: a\x00b\ndata: nul id ignored\n\nfield without colon\n\n',
    b'\x02data: ' + b'x' * 300 + b'\n\ndata: after\n\n',
    b'\x04event: forget\ndata: {"worker_id":"gpu-17"}\n\nevent\n\ndata\ndata\n\n',
]

# Inputs of bugs the fuzzers found, kept as regression seeds (docs/reliability.md).
REGRESS = {
    "fuzz_query": {"tfmt_negative_hour": b'from=2026-11-23T-1:40:00Z',
                   "tfmt_feb_31": b'to=2026-02-31T00:00:00Z',
                   "tfmt_blank_hour": b'to=2026-11-23T 7:40:00Z'},
}

def sign(secret, body):
    return b'sig ' + hmac.new(secret, body, hashlib.sha256).hexdigest().encode() + b'\n'

def write(target, items):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, "seed%02d" % i), "wb") as f:
            f.write(data)

write("fuzz_hb", HB)
write("fuzz_ndjson", [b"\n".join(HB[0:3]) + b"\n", b"\r\n".join(HB[3:8]) + b"\r\n",
                      b"\n\n  \n" + HB[8] + b"\n\t\n" + HB[9], HB[10] + b"\n" + HB[11] + b"\n" + HB[12],
                      b'{"worker_id":"a"}\r\r\n{"worker_id":"b"}\n\n\n', b"\n".join(HB)])
# fuzz_udpl: first byte 0 no secret, 1 secret as given, 2 the harness signs.
write("fuzz_udpl", [bytes([m]) + u for m in (0, 2) for u in UDP] +
      [b'\x01' + sign(b'fuzz-secret', u) + u for u in UDP[:3]] + [b'\x01' + UDP[0]])
def h1(path, body, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1:9470\r\nContent-Type: application/json\r\n"
            + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
H1 = [h1(b"/v1/heartbeat", HB[0]), h1(b"/v1/bye", HB[1]),
      h1(b"/v1/heartbeat", HB[2], b"Authorization: Bearer tok\r\nConnection: keep-alive\r\n"),
      h1(b"/v1/heartbeat", HB[2]) + h1(b"/v1/bye", HB[1]),
      h1(b"/v1/heartbeat", HB[2], b"Transfer-Encoding: chunked\r\n"),
      h1(b"/v1/heartbeats", HB[2]), h1(b"/v1/heartbeat", HB[2])[:40]]
write("fuzz_h1", H1)
write("fuzz_ping", PING)
write("fuzz_query", QUERY)
write("fuzz_cfg", CFG)
write("fuzz_sse_id", SSE_ID)
write("fuzz_ssep", SSEP)
for target, items in REGRESS.items():
    for name, data in items.items():
        with open(os.path.join(root, target, "regress_" + name), "wb") as f:
            f.write(data)
