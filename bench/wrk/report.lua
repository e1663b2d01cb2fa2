-- Shared by the benchmark's wrk scripts (dofile'd): prints one machine-readable
-- line at the end of a run, parsed by tools/bench.sh. Latencies in microseconds;
-- "status" counts responses that were not 2xx/3xx (wrk's "Non-2xx or 3xx").
function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, secs > 0 and summary.requests / secs or 0,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
