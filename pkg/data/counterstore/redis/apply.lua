-- Applies one window of one source partition atomically (Redis runs a script without
-- interleaving other commands).
-- KEYS[1] fences hash, KEYS[2] outboxes hash, KEYS[3] last values hash, KEYS[4..] one hash per
-- counter.
-- A counter's hash at KEYS[i] has its peaks hash at KEYS[i+1]: the value a key held before its
-- first fall, raised at each later fall past it (absent for a key that never fell).
-- ARGV[1] scope, ARGV[2] the window's last offset, ARGV[3] outbox ("" = none), ARGV[4] the
-- fence the writer expects (-1: none), then triples: index into KEYS of the counter's hash, key, delta.
-- Returns {0} when the stored fence is not the expected one (a replay, or another writer moved
-- it: nothing written), else
-- {1, for each increment its new value as a string, or "new:peak" when the key's peak before
-- this increment is above its old value}.
local scope = ARGV[1]
local cur = redis.call('HGET', KEYS[1], scope) or '-1'
if cur ~= ARGV[4] then
  return {0}
end
-- gt compares two decimal integers held as strings (no leading zeros) exactly: Lua numbers are
-- doubles and would round above 2^53.
local function gt(a, b)
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then return nb end
  if #a ~= #b then
    if na then return #a < #b end
    return #a > #b
  end
  if na then return a < b end
  return a > b
end
local out = {1}
for i = 5, #ARGV, 3 do
  local slot = tonumber(ARGV[i])
  local h, ph, key, delta = KEYS[slot], KEYS[slot + 1], ARGV[i + 1], ARGV[i + 2]
  local falls = delta:sub(1, 1) == '-'
  local peak = redis.call('HGET', ph, key)
  -- The old value is needed only by a fall or a key with a peak (the common key, which only
  -- ever grew, costs one HGET for its peak more than the increment itself).
  local old = '0'
  if falls or peak then
    old = redis.call('HGET', h, key) or '0'
  end
  redis.call('HINCRBY', h, key, delta)
  -- HGET, not HINCRBY's reply: Lua numbers are doubles and would round above 2^53.
  local new = redis.call('HGET', h, key)
  if falls and (not peak or gt(old, peak)) then
    redis.call('HSET', ph, key, old)
  end
  if peak and gt(peak, old) then
    out[#out + 1] = new .. ':' .. peak
  else
    out[#out + 1] = new
  end
end
redis.call('HSET', KEYS[1], scope, ARGV[2])
-- The new values, kept with the fence: what the write returned, for a caller that crashed
-- before acting on it.
redis.call('HSET', KEYS[3], scope, table.concat(out, ',', 2))
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], scope)
else
  redis.call('HSET', KEYS[2], scope, ARGV[3])
end
return out
