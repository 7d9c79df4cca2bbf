-- Shared by the benchmark's wrk scripts: arguments, a monotonic clock, form encoding and
-- the one JSON line that bench/load.py reads from wrk's output.
--
-- Arguments come after wrk's `--` as key=value pairs; a key may repeat (header=...).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")

local M = {}

function M.now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

function M.parse_args(args)
  local opts = { header = {} }
  -- wrk numbers the arguments from 0.
  local i = 0
  while args[i] ~= nil do
    local arg = args[i]
    i = i + 1
    local key, value = arg:match("^([^=]+)=(.*)$")
    if key == "header" then
      local name, v = value:match("^([^:]+):%s*(.*)$")
      opts.header[name] = v
    elseif key then
      opts[key] = value
    end
  end
  return opts
end

function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function M.form(fields)
  local parts = {}
  for _, kv in ipairs(fields) do
    parts[#parts + 1] = M.urlencode(kv[1]) .. "=" .. M.urlencode(kv[2])
  end
  return table.concat(parts, "&")
end

function M.lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

-- Threads are collected so that done() can read each one's counters (thread:get).
M.threads = {}
local next_id = 0
function M.setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  M.threads[#M.threads + 1] = thread
end

local function json_number(x)
  if x ~= x or x == math.huge or x == -math.huge then return "null" end
  return string.format("%.6g", x)
end

-- One line, prefixed so that it can be told apart from wrk's own report:
-- BENCH {"requests":..,"duration_us":..,"errors":{..},"p50_ms":..,"p99_ms":..,"units":..}
-- `units` is what the cell counts: requests, or completed flows (from the threads' `done_units`);
-- the password flows add "signin_p50_ms", their sign-in requests' median.
function M.report(summary, latency, extra)
  extra = extra or {}
  local e = summary.errors
  local fields = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"broken":%d}',
      e.connect, e.read, e.write, e.status, e.timeout, extra.broken or 0),
    '"p50_ms":' .. json_number(extra.p50_ms or latency:percentile(50) / 1000),
    '"p99_ms":' .. json_number(extra.p99_ms or latency:percentile(99) / 1000),
    string.format('"units":%d', extra.units or summary.requests),
  }
  if extra.signin_p50_ms then fields[#fields + 1] = '"signin_p50_ms":' .. json_number(extra.signin_p50_ms) end
  io.write("BENCH {" .. table.concat(fields, ",") .. "}\n")
end

-- Sums a numeric global over the threads, and concatenates a list global.
function M.sum(name)
  local total = 0
  for _, t in ipairs(M.threads) do total = total + (t:get(name) or 0) end
  return total
end

function M.gather(name)
  local all = {}
  for _, t in ipairs(M.threads) do
    local list = t:get(name)
    if list then for _, v in ipairs(list) do all[#all + 1] = v end end
  end
  return all
end

function M.percentile(sorted, p)
  if #sorted == 0 then return 0 / 0 end
  local i = math.max(1, math.ceil(#sorted * p / 100))
  return sorted[i]
end

return M
