-- GET /api/session/status with a session cookie, rotating over the tokens in a file
-- (one per line). Usage: wrk ... -s poll.lua URL -- TOKEN_FILE
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local reqs, i = {}, 0

function init(args)
  for _, token in ipairs(read_lines(args[1])) do
    reqs[#reqs + 1] = wrk.format("GET", "/api/session/status", { ["Cookie"] = "postern_session=" .. token })
  end
  -- Threads start at different places in the rotation.
  i = ((thread_id or 0) * 7919) % #reqs
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
