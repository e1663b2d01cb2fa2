-- wrk script: the fixed Bearer header of fixed.lua; after $BENCH_COUNT
-- responses the thread stops and creates the file $BENCH_DONE_FILE.
-- tools/bench.sh waits for that file and then sends wrk SIGINT, which ends
-- its wait for the duration (-d): wrk reports as usual, with exactly
-- BENCH_COUNT requests (the ones still in flight are not counted).
-- Use -t1 and a -d longer than the run can take.
local token = os.getenv("BENCH_TOKEN") or ""
local limit = tonumber(os.getenv("BENCH_COUNT") or "0")
local done_file = os.getenv("BENCH_DONE_FILE")
local seen = 0
if token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end

function response(status, headers, body)
   seen = seen + 1
   if seen == limit then
      wrk.thread:stop()
      local f = assert(io.open(done_file, "w"))
      f:close()
   end
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
