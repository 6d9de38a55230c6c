-- wrk: POST the signup form with a new address each time (302 expected), as a browser
-- behind the TLS proxy would: CSRF cookie and field, HTTPS Referer. RATE (optional)
-- paces it like web_paced.lua.
local token = "benchCSRFsecret0123456789abcdefX"  -- 32 characters: an unmasked CSRF secret
local run = os.getenv("RUN_ID") or tostring(os.time())
local rate = tonumber(os.getenv("RATE") or "0")
local connections = tonumber(os.getenv("CONNECTIONS") or "30")
local counter = 0
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("thread_no", thread_no)
end

function delay()
  if rate > 0 then return connections * 1000 / rate end
  return 0
end

request = function()
  counter = counter + 1
  local body = "csrfmiddlewaretoken=" .. token
    .. "&email=bench-" .. run .. "-" .. tostring(thread_no) .. "-" .. counter .. "%40example.com"
    .. "&interests=diffusion+models%2C+retrieval&digest_size=10&frequency=daily"
    .. "&weekday=0&send_hour=7&timezone=UTC&website="
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. token,
    ["Referer"] = "https://" .. wrk.host .. ":" .. wrk.port .. "/",
    ["X-Forwarded-Proto"] = "https",
  }
  return wrk.format("POST", "/", headers, body)
end
