-- refresh_token with rotation: every response's new refresh token is the next request's.
-- Each thread keeps a queue of live tokens (one chain per connection, from tokens=FILE);
-- a connection takes the oldest, and the answer puts its successor at the back, so the
-- connections of a thread can answer in any order.
--   -- tokens=FILE path=/token client_id=ID [resource=URI] [header="Authorization: ..."]
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup

local queue, head, tail = {}, 1, 0
local opts
broken = 0

function init(args)
  opts = common.parse_args(args)
  local threads = tonumber(opts.threads)
  local i = 0
  for _, token in ipairs(common.lines(opts.tokens)) do
    if i % threads == thread_id then
      tail = tail + 1
      queue[tail] = token
    end
    i = i + 1
  end
  opts.header["Content-Type"] = "application/x-www-form-urlencoded"
end

-- wrk calls request() once in thread 0 to check the script (wrk.c, script_verify_request)
-- and never sends that request: its token must stay in the queue.
local checked = false

function request()
  local token = "exhausted"
  if thread_id == 0 and not checked then
    checked = true
    token = queue[head] or token
  elseif head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  local fields = { { "grant_type", "refresh_token" }, { "refresh_token", token } }
  if opts.client_id then fields[#fields + 1] = { "client_id", opts.client_id } end
  if opts.resource then fields[#fields + 1] = { "resource", opts.resource } end
  return wrk.format("POST", opts.path, opts.header, common.form(fields))
end

function response(status, headers, body)
  local successor = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if successor then
    tail = tail + 1
    queue[tail] = successor
  elseif status < 400 then
    broken = broken + 1 -- an answer without a successor: this chain ends here
  end
  -- (an HTTP error is counted by wrk; the chain's later requests then count as errors too)
end

function done(summary, latency, requests)
  common.report(summary, latency, { broken = common.sum("broken") })
end
