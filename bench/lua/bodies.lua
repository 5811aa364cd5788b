-- POST request bodies from a file, one JSON body per line, cycled in order.
--
--   wrk -s bench/lua/bodies.lua -t T -c C -d D URL -- BODIES_FILE CHECK THREADS [BEARER_KEY]
--
-- Thread t of THREADS sends lines t+1, t+1+THREADS, ...: a sweep that the harness wrote in order
-- stays in order within each thread. CHECK is what counts an answer as bad besides a non-200
-- HTTP status: "frame" (a Clubby response with a non-zero "status"), "jsonrpc" (an "error"
-- member) or "http" (the status alone). done() prints one JSON line with the figures, and the
-- first bad answer (if any) on a line starting "BAD ".

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local requests_ = {}
local next_index = 1
local check = "http"
bad = 0
bad_sample = ""

function init(args)
  local path, threads_total, key = args[1], tonumber(args[3]), args[4]
  check = args[2]
  local headers = { ["Content-Type"] = "application/json" }
  if key ~= nil and key ~= "" then
    headers["Authorization"] = "Bearer " .. key
  end
  local line_no = 0
  for line in io.lines(path) do
    if line ~= "" then
      if line_no % threads_total == tid then
        table.insert(requests_, wrk.format("POST", nil, headers, line))
      end
      line_no = line_no + 1
    end
  end
  if #requests_ == 0 then
    error("no request bodies for thread " .. tid .. " in " .. path)
  end
end

function request()
  local r = requests_[next_index]
  next_index = next_index + 1
  if next_index > #requests_ then
    next_index = 1
  end
  return r
end

local function mark_bad(status, body)
  bad = bad + 1
  if bad_sample == "" then
    bad_sample = "HTTP " .. status .. " " .. string.sub(body or "", 1, 400)
  end
end

function response(status, headers, body)
  if status ~= 200 then
    mark_bad(status, body)
  elseif check == "frame" then
    if string.find(body, '"status":%s*[1-9]') then
      mark_bad(status, body)
    end
  elseif check == "jsonrpc" then
    if string.find(body, '"error"', 1, true) then
      mark_bad(status, body)
    end
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  local sample = ""
  for _, thread in ipairs(threads) do
    total_bad = total_bad + (thread:get("bad") or 0)
    local s = thread:get("bad_sample")
    if sample == "" and s ~= nil then
      sample = s
    end
  end
  local e = summary.errors
  local p50, p90, p99 = 0, 0, 0
  if summary.requests > 0 then
    p50, p90, p99 = latency:percentile(50), latency:percentile(90), latency:percentile(99)
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "bad": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    total_bad, p50, p90, p99, latency.mean, latency.max))
  if sample ~= "" then
    io.write("BAD " .. string.gsub(sample, "\n", " ") .. "\n")
  end
end
