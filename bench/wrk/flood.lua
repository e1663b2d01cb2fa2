-- wrk script: a new random Bearer token on every request (none repeats),
-- sent on an open-loop schedule of $BENCH_RATE requests a second: every
-- delay() takes the next slot of one clock shared by all connections of the
-- thread, so a connection held up by a slow answer does not lower the rate
-- while others are free (a fixed per-connection delay would: the rate would
-- be connections / (delay + latency)). A schedule more than a second behind
-- starts again from now instead of bursting. The rate offered is what the
-- BENCH line's rps says (wrk's requests over its duration).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } ao2_timespec;
int clock_gettime(int clk, ao2_timespec *ts);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("ao2_timespec")

local rate = tonumber(os.getenv("BENCH_RATE") or "10000")
local interval = 1000 / rate -- ms between two requests of this thread
local n = 0
local prefix
local next_ms

local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

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
   local t = now_ms()
   if next_ms == nil or next_ms < t - 1000 then
      next_ms = t
   end
   local d = next_ms - t
   next_ms = next_ms + interval
   if d < 0 then
      return 0
   end
   return d
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
