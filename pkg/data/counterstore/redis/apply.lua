-- Applies one window of one source partition atomically (Redis runs a script without
-- interleaving other commands).
-- KEYS[1] fences hash, KEYS[2] outboxes hash, KEYS[3] last values hash, KEYS[4..] one hash per
-- counter.
-- ARGV[1] scope, ARGV[2] the window's last offset, ARGV[3] outbox ("" = none), ARGV[4] the
-- fence the writer expects (-1: none), then triples: index into KEYS of the counter's hash, key, delta.
-- Returns {0} when the stored fence is not the expected one (a replay, or another writer moved
-- it: nothing written), else
-- {1, new value as a string for each increment}.
local scope = ARGV[1]
local cur = redis.call('HGET', KEYS[1], scope) or '-1'
if cur ~= ARGV[4] then
  return {0}
end
local out = {1}
for i = 5, #ARGV, 3 do
  local h = KEYS[tonumber(ARGV[i])]
  redis.call('HINCRBY', h, ARGV[i + 1], ARGV[i + 2])
  -- HGET, not HINCRBY's reply: Lua numbers are doubles and would round above 2^53.
  out[#out + 1] = redis.call('HGET', h, ARGV[i + 1])
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
