/**
 * The Lua steps the limit scripts share, written once: each script that
 * needs a step includes its text and calls it, so the request window, the
 * daily quota, the cost bucket and the one-round-trip check of all three
 * (requestLimits.ts) cannot drift apart.
 */

/**
 * `admit(key, n, limit, windowMs)`: counts `n` in the window `key` when they
 * all fit under `limit` (and starts the window's expiry), otherwise counts
 * nothing. Returns the count, the window's time left (ms) and 1 when admitted.
 */
export const ADMIT = `
local function admit(key, n, limit, windowMs)
  local count = tonumber(redis.call('GET', key) or '0')
  local allowed = 0
  if count + n <= limit then
    count = redis.call('INCRBY', key, n)
    allowed = 1
  end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 and allowed == 1 then redis.call('PEXPIRE', key, windowMs) end
  if ttl < 0 then ttl = windowMs end
  return count, ttl, allowed
end
`;

/**
 * `bucket(key, mode, capacity, perSecond, amount)`: the leaky bucket of cost
 * points. Refills by elapsed time on Redis' own clock (so every router
 * agrees), then takes, checks, refunds or only looks (`mode`). Returns 1
 * when allowed, the points left (as a string: they are fractional) and, when
 * refused, the ms until enough are back.
 */
export const BUCKET = `
local function bucket(key, mode, capacity, perSecond, amount)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local rate = perSecond / 1000
  local stored = redis.call('HMGET', key, 'points', 'at')
  local points = tonumber(stored[1]) or capacity
  local at = tonumber(stored[2]) or now
  points = math.min(capacity, points + math.max(0, now - at) * rate)
  local allowed = 1
  local retry = 0
  if mode == 'take' or mode == 'check' then
    if amount > points then allowed = 0; retry = math.ceil((amount - points) / rate)
    elseif mode == 'take' then points = points - amount end
  elseif mode == 'refund' then
    points = math.min(capacity, points + amount)
  end
  redis.call('HSET', key, 'points', tostring(points), 'at', now)
  redis.call('PEXPIRE', key, math.ceil((capacity - points) / rate) + 1000)
  return allowed, tostring(points), retry
end
`;
