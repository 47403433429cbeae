-- A fixed request (path and headers from the wrk command line), e.g. /healthz or a page.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
