-- wrk script: full-text search for a random vocabulary word (the seed's
-- pseudo-words 'w' .. md5(i)[1:6]); prints the p95 latency in ms.
local token = os.getenv("BENCH_TOKEN")
local words = {}
for line in io.lines(os.getenv("BENCH_WORDS")) do words[#words + 1] = line end
request = function()
    local w = words[math.random(1, #words)]
    return wrk.format("GET", "/api/v1/tickets?limit=50&q=" .. w, { ["Authorization"] = "Bearer " .. token })
end
response = function(status, headers, body)
    if status ~= 200 then error("status " .. status) end
end
done = function(summary, latency, requests)
    io.write(string.format("search_p95_ms=%.2f search_p50_ms=%.2f search_requests=%d errors=%d\n",
        latency:percentile(95) / 1000, latency:percentile(50) / 1000, summary.requests,
        summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
