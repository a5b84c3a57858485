-- wrk script: GET one ticket with its thread, a random one of 100,000.
-- Needs BENCH_TOKEN in the environment.
local token = os.getenv("BENCH_TOKEN")
local first = tonumber(os.getenv("BENCH_FIRST_ID") or "1")
local n = tonumber(os.getenv("BENCH_TICKETS") or "100000")
math.randomseed(os.time())
request = function()
    local id = first + math.random(0, n - 1)
    return wrk.format("GET", "/api/v1/tickets/" .. id, { ["Authorization"] = "Bearer " .. token })
end
response = function(status, headers, body)
    if status ~= 200 then error("status " .. status) end
end
done = function(summary, latency, requests)
    io.write(string.format("p99_ms=%.2f p50_ms=%.2f req_per_s=%.0f requests=%d errors=%d\n",
        latency:percentile(99) / 1000, latency:percentile(50) / 1000,
        summary.requests / (summary.duration / 1e6), summary.requests,
        summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
