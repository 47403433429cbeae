-- POST /api/v1/login (the mail app's login: argon2id verify + a new session), rotating over the
-- e-mail addresses in a file, all with the password given. Each request comes from another
-- client address (X-Forwarded-For; the benchmark's server trusts 127.0.0.1 as a proxy): a storm
-- of many people logging in, not one address guessing, which the login throttle would slow down.
-- Usage: wrk ... -s login.lua URL -- EMAIL_FILE PASSWORD
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local reqs, i = {}, 0

function init(args)
  local emails = read_lines(args[1])
  for n = 0, 4095 do
    local email = emails[(n % #emails) + 1]
    local body = string.format('{"email":"%s","password":"%s","device_name":"Bench phone"}', email, args[2])
    local ip = string.format("10.%d.%d.%d", thread_id or 0, math.floor(n / 256), n % 256)
    reqs[#reqs + 1] = wrk.format("POST", "/api/v1/login",
      { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip }, body)
  end
  i = ((thread_id or 0) * 13) % #reqs
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end

-- Logins are slow anyway: count the answers by status (a 429 is a login refused as throttled).
statuses = {}

function response(status, headers, body)
  local code = tostring(status)
  statuses[code] = (statuses[code] or 0) + 1
end
