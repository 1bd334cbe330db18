-- wrk script: replays a pool of pre-signed Twilio webhooks (bench_tool's format,
-- "<path>\t<X-Twilio-Signature>\t<form body>" a line), each thread its own share in order,
-- so every request carries a distinct MessageSid and the senders rotate.
--   wrk -t2 -c16 -d10s -s bench/wrk/pool.lua http://127.0.0.1:PORT -- POOL_FILE THREADS [HOST]
-- At the end it prints one line "WRK {...}" with the figures bench/run reads.
local threads_made = 0

function setup(thread)
  thread:set("thread_id", threads_made)
  threads_made = threads_made + 1
end

function init(args)
  local path, nthreads, host = args[1], tonumber(args[2]), args[3] or "hotline.example.org"
  reqs = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == thread_id then
      local p, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      if p then
        reqs[#reqs + 1] = wrk.format("POST", p, {
          ["Host"] = host,
          ["Content-Type"] = "application/x-www-form-urlencoded",
          ["X-Twilio-Signature"] = sig,
        }, body)
      end
    end
    i = i + 1
  end
  next_req = 0
end

function request()
  next_req = next_req % #reqs + 1
  return reqs[next_req]
end

function done(summary, latency, requests)
  local errors = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'WRK {"requests":%d,"seconds":%.3f,"rps":%.1f,"non2xx":%d,"socket_errors":%d,' ..
    '"p50":%.3f,"p90":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f,"mean":%.3f}\n',
    summary.requests, seconds, summary.requests / seconds, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000))
end
