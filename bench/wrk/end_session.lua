-- DELETE /api/v1/sessions/{id} with the bearer token of another session of the same account.
-- Usage: wrk ... -s end_session.lua URL -- POOL_FILE THREADS
-- POOL_FILE lines: "<bearer token> <session id>"; each line is used once, each thread takes
-- every THREADS-th line. A thread that runs out sets `exhausted` and starts over (those repeats
-- answer 204 "already ended" and are flagged in the results).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local reqs, i = {}, 0
exhausted = 0

function init(args)
  local nthreads = tonumber(args[2])
  for n, line in ipairs(read_lines(args[1])) do
    if (n - 1) % nthreads == (thread_id or 0) then
      local bearer, id = line:match("^(%S+) (%S+)$")
      reqs[#reqs + 1] = wrk.format("DELETE", "/api/v1/sessions/" .. id, { ["Authorization"] = "Bearer " .. bearer })
    end
  end
end

function request()
  i = i + 1
  if i > #reqs then
    i = 1
    exhausted = 1
  end
  return reqs[i]
end
