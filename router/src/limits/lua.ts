/**
 * The Lua steps the limit scripts share, written once: each script that
 * needs a step includes its text and calls it, so the request window, the
 * daily quota, the cost bucket and the one-round-trip check of all three
 * (requestLimits.ts) cannot drift apart.
 *
 * Each step works on a key's state read once (`…Load`) and written back
 * once (`…Store`): a script that asks one key once calls the one-shot form
 * (`admit`, `bucket`); the request limits' script asks a viewer's keys for
 * every check of a batch, reading each key once and writing it once at the
 * end, with the answers the one-shot forms would give one after the other.
 */

/**
 * A counting window's state: `windowLoad(key)` reads its count and time
 * left; `windowAdmit(w, n, limit, windowMs)` counts `n` when they all fit
 * under `limit` (and starts the window's expiry), otherwise counts nothing,
 * and returns the count, the window's time left (ms) and 1 when admitted;
 * `windowRelease(w, n)` gives back `n` and returns the count;
 * `windowStore(w)` writes what changed. `admit(key, n, limit, windowMs)`:
 * all of it for one key, once.
 */
export const ADMIT = `
local function windowLoad(key)
  return {key = key, count = tonumber(redis.call('GET', key) or '0'), ttl = redis.call('PTTL', key), delta = 0}
end
local function windowAdmit(w, n, limit, windowMs)
  local allowed = 0
  if w.count + n <= limit then
    w.count = w.count + n
    w.delta = w.delta + n
    w.written = true
    if w.ttl < 0 then
      w.expire = windowMs
      w.ttl = windowMs
    end
    allowed = 1
  end
  local ttl = w.ttl
  if ttl < 0 then ttl = windowMs end
  return w.count, ttl, allowed
end
local function windowRelease(w, n)
  w.count = w.count - n
  w.delta = w.delta - n
  return w.count
end
local function windowStore(w)
  if not w.written then return end
  redis.call('INCRBY', w.key, w.delta)
  if w.expire then redis.call('PEXPIRE', w.key, w.expire) end
end
local function admit(key, n, limit, windowMs)
  local w = windowLoad(key)
  local count, ttl, allowed = windowAdmit(w, n, limit, windowMs)
  windowStore(w)
  return count, ttl, allowed
end
`;

/**
 * The leaky bucket of cost points: `bucketLoad(key)` reads it with Redis'
 * own clock (so every router agrees); `bucketUse(b, mode, capacity,
 * perSecond, amount)` refills it by the time elapsed, then takes, checks,
 * refunds or only looks (`mode`), and returns 1 when allowed, the points
 * left (as a string: they are fractional) and, when refused, the ms until
 * enough are back; `bucketStore(b)` writes it. `bucket(key, mode, capacity,
 * perSecond, amount)`: all of it for one key, once.
 */
export const BUCKET = `
local function bucketLoad(key)
  local t = redis.call('TIME')
  local stored = redis.call('HMGET', key, 'points', 'at')
  return {
    key = key,
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000),
    points = tonumber(stored[1]),
    at = tonumber(stored[2]),
  }
end
local function bucketUse(b, mode, capacity, perSecond, amount)
  local rate = perSecond / 1000
  local points = b.points or capacity
  local at = b.at or b.now
  points = math.min(capacity, points + math.max(0, b.now - at) * rate)
  local allowed = 1
  local retry = 0
  if mode == 'take' or mode == 'check' then
    if amount > points then allowed = 0; retry = math.ceil((amount - points) / rate)
    elseif mode == 'take' then points = points - amount end
  elseif mode == 'refund' then
    points = math.min(capacity, points + amount)
  end
  local left = tostring(points)
  -- Kept as the next use would read it back from the hash.
  b.points = tonumber(left)
  b.at = b.now
  b.capacity = capacity
  b.rate = rate
  return allowed, left, retry
end
local function bucketStore(b)
  if not b.rate then return end
  redis.call('HSET', b.key, 'points', tostring(b.points), 'at', b.now)
  redis.call('PEXPIRE', b.key, math.ceil((b.capacity - b.points) / b.rate) + 1000)
end
local function bucket(key, mode, capacity, perSecond, amount)
  local b = bucketLoad(key)
  local allowed, left, retry = bucketUse(b, mode, capacity, perSecond, amount)
  bucketStore(b)
  return allowed, left, retry
end
`;
