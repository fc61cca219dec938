-- m4-ratelimit: check-and-record one request of one key, atomically, on the Redis server.
--
-- The algorithm is the in-memory limiter's (src/window.rs): a sliding log kept in groups of
-- G = ceil(N / 16) consecutive allowed requests, of which only the time of the latest request
-- is kept. A group stops counting once that time is W old. Never more than N requests are
-- allowed in any interval of length W; a request is refused only when at least N - G + 1 were
-- allowed in the last W.
--
-- KEYS[1]  the key, "{prefix}{sub}"
-- ARGV[1]  N: requests allowed in any interval of length W
-- ARGV[2]  G: requests per group, ceil(N / 16)
-- ARGV[3]  W: the window, in microseconds
-- ARGV[4]  absent in production; tests pass a time in microseconds here instead of TIME, to
--          compare this script with the in-memory limiter on exact timelines
--
-- Time is the Redis server's clock (TIME), in microseconds, so that every instance sharing this
-- Redis agrees on it whatever its own clock says.
--
-- State, a string value: "g c t1 t2 ... tk" where g is the group size it was written with,
-- c the requests in the newest group (1..g), and t1..tk (1 <= k <= 16) the time of the latest
-- request of each live group, oldest first. The key expires (SET ... PX) once its newest
-- request stops counting, so Redis holds only keys that still matter.
--
-- Reply: {1, remaining, reset_after_us} when the request is allowed and recorded,
--        {0, retry_after_us} when it is refused (nothing is written then).

-- Redis 3.2 to 4 need this to write after TIME; Redis 5 and later replicate effects anyway.
if redis.replicate_commands then
  redis.replicate_commands()
end

local limit = tonumber(ARGV[1])
local group = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local now
if ARGV[4] then
  now = tonumber(ARGV[4])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end

local stored_group = group
local count = 0
local lasts = {}
local raw = redis.call('GET', KEYS[1])
if raw then
  local fields = {}
  for field in string.gmatch(raw, '%S+') do
    local n = tonumber(field)
    if n == nil or n < 0 or n ~= math.floor(n) then
      fields = nil
      break
    end
    fields[#fields + 1] = n
  end
  if fields == nil or #fields < 3 or #fields > 18 or fields[1] < 1
      or fields[2] < 1 or fields[2] > fields[1] then
    return redis.error_reply('m4-ratelimit: the value at this key is not rate-limit state '
      .. '(another program writes under the same prefix?)')
  end
  stored_group = fields[1]
  count = fields[2]
  for i = 3, #fields do
    lasts[#lasts + 1] = fields[i]
  end
end
local n = #lasts

-- State written with another group size (N changed): keep it conservatively, as
-- min(requests it counted, N) requests all made at its newest time.
if n > 0 and stored_group ~= group then
  local used_before = (n - 1) * stored_group + count
  local kept = math.min(used_before, limit)
  local newest = lasts[n]
  n = math.ceil(kept / group)
  lasts = {}
  for i = 1, n do
    lasts[i] = newest
  end
  count = kept - (n - 1) * group
end

-- A request's time never goes back for one key, even if the server clock does.
local newest = lasts[n] or 0
local tau = math.max(now, newest)
local first = 1
if n == 0 or tau >= newest + window then
  -- Nothing counts any more.
  n = 0
  count = 0
else
  -- Drop the groups that stopped counting, oldest first; the newest one still counts.
  while n - first > 0 and lasts[first] + window <= tau do
    first = first + 1
  end
end
local groups = n - first + 1
if n == 0 then
  groups = 0
end
local used = 0
if groups > 0 then
  used = (groups - 1) * group + count
end

if used >= limit then
  -- Groups stop counting oldest first: wait for the oldest ones holding enough requests.
  local needed = math.ceil((used - limit + 1) / group)
  if needed > groups then
    needed = groups
  end
  return {0, lasts[first + needed - 1] + window - tau}
end

local live = {}
for i = first, n do
  live[#live + 1] = lasts[i]
end
if groups == 0 or count == group then
  live[#live + 1] = tau
  count = 1
else
  live[#live] = tau
  count = count + 1
end

local parts = {string.format('%.0f %.0f', group, count)}
for i = 1, #live do
  parts[#parts + 1] = string.format('%.0f', live[i])
end
-- Expire once the newest request stops counting (rounded up to whole milliseconds).
local ttl = math.ceil((tau + window - now) / 1000)
redis.call('SET', KEYS[1], table.concat(parts, ' '), 'PX', ttl)
return {1, limit - used - 1, live[1] + window - tau}
