-- wrk script: the first page of the ticket list; prints p99 in ms.
local token = os.getenv("BENCH_TOKEN")
request = function()
    return wrk.format("GET", "/api/v1/tickets?limit=50", { ["Authorization"] = "Bearer " .. token })
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
