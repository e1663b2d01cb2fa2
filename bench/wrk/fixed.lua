-- wrk script: every request carries the same header
--   Authorization: Bearer $BENCH_TOKEN   (no header when BENCH_TOKEN is empty)
-- wrk sends one pre-built request: no Lua per request.
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
