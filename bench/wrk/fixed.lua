-- wrk script: every request carries the same header
--   Authorization: Bearer $BENCH_TOKEN   (no header when BENCH_TOKEN is empty)
--   Authorization: Basic $BENCH_BASIC    (when set: the control variant)
-- wrk sends one pre-built request: no Lua per request.
local token = os.getenv("BENCH_TOKEN") or ""
local basic = os.getenv("BENCH_BASIC") or ""
if basic ~= "" then
   wrk.headers["Authorization"] = "Basic " .. basic
elseif token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
