-- One fixed request, sent as fast as the server answers: discovery, JWKS,
-- client_credentials, introspection, userinfo.
--   -- method=POST path=/token body=... header="Authorization: Basic ..."
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup

function init(args)
  local opts = common.parse_args(args)
  wrk.method = opts.method or "GET"
  wrk.path = opts.path or "/"
  wrk.body = opts.body ~= "" and opts.body or nil
  for name, value in pairs(opts.header) do wrk.headers[name] = value end
  if wrk.body then wrk.headers["Content-Type"] = "application/x-www-form-urlencoded" end
end

function done(summary, latency, requests)
  common.report(summary, latency)
end
