-- wrk script: GET one path (wrk's URL) and report latency percentiles in
-- milliseconds (bench/metrics.sh).  Any status but 200 is an error.
response = function(status, headers, body)
    if status ~= 200 then error("status " .. status) end
end
done = function(summary, latency, requests)
    io.write(string.format("p50_ms=%.2f p99_ms=%.2f max_ms=%.2f req_per_s=%.0f requests=%d errors=%d\n",
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        summary.requests / (summary.duration / 1e6), summary.requests,
        summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
