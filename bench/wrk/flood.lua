-- wrk script: a new random Bearer token on every request (none repeats), paced
-- so that all connections together send about $BENCH_RATE requests a second
-- (wrk's delay() is per connection, in whole milliseconds).
local rate = tonumber(os.getenv("BENCH_RATE") or "10000")
local conns = tonumber(os.getenv("BENCH_CONNS") or "32")
local n = 0
local prefix

function init(args)
   math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
   prefix = string.format("flood-%08x", math.random(0, 0x7fffffff))
end

function request()
   n = n + 1
   local tok = string.format("%s-%08x-%d", prefix, math.random(0, 0x7fffffff), n)
   return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tok })
end

function delay()
   return conns * 1000 / rate
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
