-- wrk script of the benchmark (bench/run.sh): POSTs one JSON body again and
-- again, each request naming an account of its own thread's pool, and checks
-- every body.
--
--   wrk -t T ... -s bench/wrk/chat.lua URL -- BODYFILE TOKENS MUST ERROR PATH T
--
-- TOKENS is a number N (refresh tokens "<i>-<thread>", i < N, for the
-- server, which leases one account per answer and queues a request whose
-- account is busy) or a file of tokens, one per line (access tokens for the
-- mock, which refuses a second stream of the same account: the threads
-- share the file out, and N >= 4 x connections per thread keeps requests of
-- one account apart), or "list:N" (every request names the same N refresh
-- tokens "pool-<i>" in one Authorization header), or "none" (no
-- Authorization header: the server's own accounts). MUST is a string every 200 body must contain
-- ("[DONE]" for a stream); ERROR one it must not (an error event); either
-- may be "". T repeats wrk's thread count (a thread's init() may run before
-- the next thread's setup(), so the script cannot count them itself).
-- done() prints one line "BENCH key=value ...".

local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a")
  f:close()
  must = args[3] ~= "" and args[3] or nil
  bad_marker = args[4] ~= "" and args[4] or nil
  local path = args[5]
  local nthr = tonumber(args[6])
  local toks = {}
  local n = tonumber(args[2])
  if args[2] == "none" then
    toks[1] = false
  elseif args[2]:sub(1, 5) == "list:" then
    local list = {}
    for j = 0, tonumber(args[2]:sub(6)) - 1 do list[#list + 1] = "pool-" .. j end
    toks[1] = table.concat(list, ",")
  elseif n then
    for i = 0, n - 1 do toks[#toks + 1] = i .. "-" .. tid end
  else
    -- threads take every nthreads-th line, starting at their own
    local k = 0
    for line in io.lines(args[2]) do
      if k % nthr == tid then toks[#toks + 1] = line end
      k = k + 1
    end
  end
  reqs = {}
  for i, t in ipairs(toks) do
    local h = {
      ["Host"] = wrk.host .. ":" .. wrk.port,
      ["Content-Type"] = "application/json",
    }
    if t then h["Authorization"] = "Bearer " .. t end
    reqs[i] = wrk.format("POST", path, h, body)
  end
  nreq = #reqs
  i = 0
  bad = 0
end

function request()
  i = i + 1
  if i > nreq then i = 1 end
  return reqs[i]
end

function response(status, headers, body)
  if status == 200 then
    if (must and not string.find(body, must, 1, true)) or
       (bad_marker and string.find(body, bad_marker, 1, true)) then
      bad = bad + 1
    end
  end
end

function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + (t:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f bytes=%d err_connect=%d err_read=%d err_write=%d " ..
    "err_status=%d err_timeout=%d err_body=%d lat_p50_ms=%.3f lat_p99_ms=%.3f lat_max_ms=%.3f\n",
    summary.requests, summary.duration / 1e6, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, b, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3))
end
