-- wrk, offered-rate style: each connection waits so that all of them together offer about
-- RATE requests/s (Debian's wrk has no -R; wrk2 does). Set RATE and CONNECTIONS in the env.
-- The wait comes after each response, so a slow server is offered less (closed loop):
-- compare the achieved Requests/sec with the offered rate.
local rate = tonumber(os.getenv("RATE") or "300")
local connections = tonumber(os.getenv("CONNECTIONS") or "30")
local pause_ms = connections * 1000 / rate
local forwarded = { ["X-Forwarded-Proto"] = "https" }

function delay()
  return pause_ms
end

request = function()
  return wrk.format("GET", nil, forwarded)
end
