-- wrk script for tests/bench: sends the endpoint token read from the file
-- named by BENCH_TOKEN_FILE (so it never appears in wrk's argv), keeps
-- wrk's precomputed request (no request() function: wrk stays static and
-- fast), and prints one machine-readable line after wrk's own report.
local path = os.getenv("BENCH_TOKEN_FILE")
if path and path ~= "" then
	local f = assert(io.open(path, "r"))
	local token = f:read("*a"):gsub("%s+$", "")
	f:close()
	wrk.headers["Authorization"] = token
end
-- BENCH_CONNECTION_CLOSE=1: one request per connection, as short-lived SDK
-- processes do (wrk reconnects after each response).
if os.getenv("BENCH_CONNECTION_CLOSE") == "1" then
	wrk.headers["Connection"] = "close"
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d non2xx=%d sockerr=%d " ..
		"p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
		summary.requests, summary.duration, e.status,
		e.connect + e.read + e.write + e.timeout,
		latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency.max))
end
