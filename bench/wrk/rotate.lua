-- wrk script: rotates over the tokens in $BENCH_TOKEN_FILE (one a line), one
-- per request, in order; each connection's thread starts at the first. The
-- requests are formatted once, in init(): request() only picks the next.
local reqs = {}
local i = 0

function init(args)
   local file = os.getenv("BENCH_TOKEN_FILE")
   for line in io.lines(file) do
      if line ~= "" then
         reqs[#reqs + 1] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. line })
      end
   end
   if #reqs == 0 then
      error("no tokens in " .. tostring(file))
   end
end

function request()
   i = i % #reqs + 1
   return reqs[i]
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
