-- Shared by every benchmark script: numbers each thread, collects per-thread flags, and prints
-- one machine-readable line (BENCHJSON {...}) that bench/bench.py parses. Latencies are in µs.
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

-- Requests are built once in init() and only looked up per request (wrk's advice for fast
-- servers). delay() exists only when BENCH_PACE_MS is set: each connection then waits that many
-- milliseconds before each request, so the offered load is about connections / (pace + latency).
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "0")
if pace > 0 then
  function delay() return pace end
end

function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  return lines
end

function done(summary, latency, requests)
  local exhausted = 0
  local statuses = {}
  for _, t in ipairs(threads) do
    exhausted = exhausted + (t:get("exhausted") or 0)
    for code, n in pairs(t:get("statuses") or {}) do statuses[code] = (statuses[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(statuses) do parts[#parts + 1] = string.format('"%s":%d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"p999_us":%d,"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"exhausted":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, exhausted, table.concat(parts, ",")))
end
