-- Complete authorization-code flows with PKCE, one connection per thread (wrk -t N -c N),
-- so that each answer belongs to the thread's one flow in progress. A flow:
--   GET /authorize -> [sign-in page -> POST the password -> resume] -> redirect with a code
--   -> POST /token (code + code_verifier) -> done; the next flow starts at once.
-- Counts completed flows (`done_units`), each flow's duration, and the duration of its
-- sign-in request alone (the POST of the password: the one request that verifies a hash).
--
--   -- authorize=/authorize?... redirect_uri=URI token_path=/token client_id=ID verifier=V
--      [cookie="name=value; ..."]      a signed-in browser's cookies, sent on every step
--      [people=FILE]                   password sign-ins: lines "email<TAB>password<TAB>cookie"
--      [xff=1]                         a different client address per flow (X-Forwarded-For)
--      [interaction_cookies=1]         node-oidc-provider: its two cookies carry the
--                                      interaction id, which is also in the redirect; wrk
--                                      shows only the last Set-Cookie of an answer
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup

local opts, people
local flow -- the flow in progress: {started, cookies, person, next}
done_units = 0
broken = 0
durations = {}
signins = {}
local counter = 0

function init(args)
  opts = common.parse_args(args)
  if opts.people then
    people = {}
    for _, line in ipairs(common.lines(opts.people)) do
      local email, password, cookie = line:match("^([^\t]*)\t([^\t]*)\t?(.*)$")
      people[#people + 1] = { email = email, password = password, cookie = cookie }
    end
  end
end

local function cookie_header()
  local parts = {}
  if opts.cookie and opts.cookie ~= "" then parts[#parts + 1] = opts.cookie end
  if flow.person and flow.person.cookie ~= "" then parts[#parts + 1] = flow.person.cookie end
  for name, value in pairs(flow.cookies) do parts[#parts + 1] = name .. "=" .. value end
  return table.concat(parts, "; ")
end

local function step(method, path, body)
  local headers = { Cookie = cookie_header() }
  if flow.xff then headers["X-Forwarded-For"] = flow.xff end
  if body then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return wrk.format(method, path, headers, body)
end

local function new_flow()
  counter = counter + 1
  flow = { started = common.now_ms(), cookies = {} }
  if people then flow.person = people[((counter * 7 + thread_id) % #people) + 1] end
  if opts.xff then
    -- TEST-NET-2 addresses: only a header, never a destination.
    local n = thread_id * 100003 + counter
    flow.xff = string.format("198.51.%d.%d", math.floor(n / 250) % 250, n % 250 + 1)
  end
  local state = string.format("s%d-%d", thread_id, counter)
  flow.next = step("GET", opts.authorize .. "&state=" .. state)
end

-- The flow cannot go on. An HTTP error is already counted by wrk; anything else (an
-- answer without the expected redirect, form or tokens) is counted here.
local function abandon(status)
  if not status or status < 400 then broken = broken + 1 end
  flow = nil
end

function request()
  if flow == nil or flow.next == nil then new_flow() end
  local req = flow.next
  flow.next = nil
  if flow.signing_in then flow.signin_sent = common.now_ms() end
  return req
end

local function remember_cookie(header)
  if not header then return end
  local name, value = header:match("^%s*([^=;]+)=([^;]*)")
  if not name then return end
  local lower = header:lower()
  if value == "" or lower:find("max%-age=0") or lower:find("expires=thu, 01 jan 1970") then
    flow.cookies[name] = nil
  else
    flow.cookies[name] = value
  end
end

local function path_of(location)
  local path = location:gsub("^https?://[^/]+", "")
  return path
end

local function unescape(s)
  local plain = s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  return plain
end

local function login_form(body)
  local form = body:match("<form[^>]-method=\"post\"[^>]*>(.-)</form>")
  local action = body:match("<form[^>]-method=\"post\"[^>]-action=\"([^\"]+)\"")
    or body:match("<form[^>]-action=\"([^\"]+)\"[^>]-method=\"post\"")
  if not form or not action or not form:find("name=\"password\"") then return nil end
  local fields = {}
  for tag in form:gmatch("<input[^>]*>") do
    if tag:find("type=\"hidden\"") then
      local name, value = tag:match("name=\"([^\"]+)\""), tag:match("value=\"([^\"]*)\"")
      if name then fields[#fields + 1] = { name, value or "" } end
    end
  end
  fields[#fields + 1] = { "email", flow.person.email }
  fields[#fields + 1] = { "password", flow.person.password }
  local target = action:gsub("&amp;", "&")
  return target, common.form(fields)
end

function response(status, headers, body)
  if flow == nil then return end
  if flow.signin_sent then
    signins[#signins + 1] = common.now_ms() - flow.signin_sent
    flow.signing_in, flow.signin_sent = nil, nil
  end
  remember_cookie(headers["Set-Cookie"] or headers["set-cookie"])
  if flow.exchanging then
    if status == 200 and body:find("\"access_token\"", 1, true) then
      done_units = done_units + 1
      durations[#durations + 1] = common.now_ms() - flow.started
      flow = nil
    else
      abandon(status)
    end
    return
  end
  local location = headers["Location"] or headers["location"]
  if status >= 300 and status < 400 and location then
    if location:sub(1, #opts.redirect_uri) == opts.redirect_uri then
      local code = location:match("[?&]code=([^&]+)")
      if not code then return abandon(status) end
      flow.exchanging = true
      flow.next = step("POST", opts.token_path, common.form({
        { "grant_type", "authorization_code" }, { "code", unescape(code) },
        { "redirect_uri", opts.redirect_uri }, { "client_id", opts.client_id }, { "code_verifier", opts.verifier },
      }))
      return
    end
    if opts.interaction_cookies then
      local uid = location:match("/interaction/([^/?]+)")
      if uid then
        flow.cookies["_interaction"] = uid
        flow.cookies["_interaction_resume"] = uid
      end
    end
    flow.next = step("GET", path_of(location))
    return
  end
  if status == 200 and people then
    local action, form = login_form(body)
    if action then
      flow.next = step("POST", path_of(action), form)
      flow.signing_in = true
      return
    end
  end
  abandon(status)
end

function done(summary, latency, requests)
  local all, signed = common.gather("durations"), common.gather("signins")
  table.sort(all)
  table.sort(signed)
  common.report(summary, latency, {
    units = common.sum("done_units"),
    broken = common.sum("broken"),
    p50_ms = common.percentile(all, 50),
    p99_ms = common.percentile(all, 99),
    signin_p50_ms = #signed > 0 and common.percentile(signed, 50) or nil,
  })
end
