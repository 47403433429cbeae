-- POST /api/fn/signup (the sign-up form, as a browser without JavaScript sends it) with the most
-- expensive password there is for the strength estimate: 256 characters of punctuation and digits,
-- most of them l33t substitutes that zxcvbn tries to read as letters (issue 11, item 1). Every
-- request is a new e-mail address from another client address (X-Forwarded-For; the benchmark's
-- server trusts 127.0.0.1 as a proxy and raises the sign-up limit), so each one runs the whole
-- sign-up: the estimate, the argon2id hash, a new account and session.
-- Usage: wrk ... -s signup.lua URL -- TAG   (TAG keeps the addresses of several runs apart)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local tag, n = "s", 0
local passwords = {}

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  tag = args[1] or tag
  -- Several passwords, so that nothing along the way can answer from a cache.
  local alphabet = "4@8({[<3&6910!|17+%2$5#*/=?^~;:,.-_"
  for p = 1, 16 do
    local chars = {}
    for i = 1, 256 do
      local k = ((i * 7 + math.floor(i / 5) + p * 11) % #alphabet) + 1
      chars[i] = alphabet:sub(k, k)
    end
    passwords[p] = urlencode(table.concat(chars))
  end
end

function request()
  n = n + 1
  local t = thread_id or 0
  local password = passwords[(n % #passwords) + 1]
  local body = string.format("name=Bench+Signup&email=%s-t%d-%d%%40bench.example&password=%s&repeat_password=%s",
    tag, t, n, password, password)
  local ip = string.format("10.%d.%d.%d", 100 + t, math.floor(n / 256) % 256, n % 256)
  return wrk.format("POST", "/api/fn/signup", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Sec-Fetch-Site"] = "same-origin",
    ["X-Forwarded-For"] = ip,
  }, body)
end

-- A sign-up that created an account answers 200 and sets cookies (the session's and the device's;
-- wrk keeps only the last header of a name, so any Set-Cookie counts); a refused one answers 4xx
-- with the JSON error. Count the created ones apart from the rest.
statuses = {}

function response(status, headers, body)
  local code = tostring(status)
  if status == 200 and (headers["set-cookie"] or headers["Set-Cookie"]) then code = "created" end
  statuses[code] = (statuses[code] or 0) + 1
end
