/**
 * The Lua scripts of `RedisStore`. Each change runs as one script, so the rule hash, the version
 * counter, the budget and the published message change together or not at all. Every message is
 * `<version> <type> <payload>`; a subscriber that sees a version skip reloads the whole set.
 *
 * Keys: `<prefix>:rules` (hash id -> rule JSON), `<prefix>:version` (counter), `<prefix>:budget:<id>`
 * (hash left/used/times of a cluster `times` budget), `<prefix>:hits` (hash id -> the rule's hits saved
 * by every instance, kept across revisions; absent while they are the JSON's `hits`) and
 * `<prefix>:used` (hash id -> applications of `times` saved for the stored revision of a rule without
 * a budget). Counters live apart from the rule JSON so saving them never rewrites a rule, and a loader
 * reads them by id (HGETALL, or HMGET per batch).
 * Channel: `<prefix>:changes`.
 */

/**
 * KEYS rules, version, budget, used, hits; ARGV id, json, times ('' for none), channel, revision, hits
 * (the JSON's), share (of those hits Redis holds already, see `redis-shares.ts`; '' when unknown: the
 * replaced JSON's `hits`). Returns the version.
 * A new revision starts its `times` afresh. A new rule's hits are its JSON's; an update adds to the
 * saved total (the `hits` entry, or the replaced JSON's `hits` when none was saved) the update's hits
 * Redis does not hold yet, so hits other instances saved stay. The total goes to the `hits` entry only
 * when it differs from the JSON's (most rules have none: a load reads fewer entries).
 */
export const PUT = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
local hits = tonumber(ARGV[6])
if old then
  local ok, rule = pcall(cjson.decode, old)
  local stored = ok and type(rule) == 'table' and tonumber(rule.hits) or 0
  local base = tonumber(redis.call('HGET', KEYS[5], ARGV[1])) or stored
  hits = base + math.max(0, hits - (tonumber(ARGV[7]) or stored))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if hits == tonumber(ARGV[6]) then redis.call('HDEL', KEYS[5], ARGV[1]) else redis.call('HSET', KEYS[5], ARGV[1], string.format('%d', hits)) end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[4], ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], 'left', ARGV[3], 'used', 0, 'times', ARGV[3], 'revision', ARGV[5]) end
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[4], v .. ' put ' .. ARGV[2])
return v`;

/** KEYS rules, version, hits, used; ARGV channel, budget key prefix, ids... Returns the version after the removals. */
export const DELETE = `
for i = 3, #ARGV do
  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then
    redis.call('DEL', ARGV[2] .. ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('HDEL', KEYS[4], ARGV[i])
    local v = redis.call('INCR', KEYS[2])
    redis.call('PUBLISH', ARGV[1], v .. ' delete ' .. ARGV[i])
  end
end
return tonumber(redis.call('GET', KEYS[2]) or '0')`;

/** KEYS rules, version, hits, used; ARGV channel, budget key prefix. Returns the version of the reset. */
export const CLEAR = `
for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do redis.call('DEL', ARGV[2] .. id) end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], v .. ' reset -')
return v`;

/**
 * KEYS budget, rules, version, hits, used; ARGV id, wanted, used, channel, revision, request ('<origin>.<n>' or '').
 * Records `used`, then grants up to `wanted`, only when `revision` is the budget's. When every
 * application is used the rule is removed and an `exhausted` delete published. The last request of each
 * origin is kept with its grant (field `req:<origin>`): a repeat of it returns that grant and records
 * nothing, so a request whose answer was lost can be repeated safely.
 */
export const RESERVE = `
if redis.call('HGET', KEYS[1], 'revision') ~= ARGV[5] then return 0 end
local origin, n = string.match(ARGV[6], '^(.*)%.(%d+)$')
if origin then
  local last = redis.call('HGET', KEYS[1], 'req:' .. origin)
  if last then
    local seen, grant = string.match(last, '^(%d+) (%d+)$')
    if tonumber(seen) >= tonumber(n) then return tonumber(seen) == tonumber(n) and tonumber(grant) or 0 end
  end
end
local used = redis.call('HINCRBY', KEYS[1], 'used', ARGV[3])
if used >= tonumber(redis.call('HGET', KEYS[1], 'times')) then
  redis.call('DEL', KEYS[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HDEL', KEYS[5], ARGV[1])
  if redis.call('HDEL', KEYS[2], ARGV[1]) == 1 then
    local v = redis.call('INCR', KEYS[3])
    redis.call('PUBLISH', ARGV[4], v .. ' exhausted ' .. ARGV[1])
  end
  return 0
end
local left = tonumber(redis.call('HGET', KEYS[1], 'left'))
local granted = math.min(left, tonumber(ARGV[2]))
if granted > 0 then redis.call('HINCRBY', KEYS[1], 'left', -granted) end
if origin then redis.call('HSET', KEYS[1], 'req:' .. origin, n .. ' ' .. granted) end
return granted`;

/** KEYS budget; ARGV unused, revision. */
export const RELEASE = `
if redis.call('HGET', KEYS[1], 'revision') == ARGV[2] then redis.call('HINCRBY', KEYS[1], 'left', ARGV[1]) end
return 0`;

/**
 * KEYS rules, version, hits, used; ARGV channel, budget key prefix, then per rule: id, revision, hits,
 * used. Counts only deltas of the stored revision (read from the rule JSON); returns the positions
 * (from 1) of the deltas with hits it did not count. Hits start from the JSON's
 * `hits` (a rule stored before counters were saved). A rule whose saved uses reach its `times` is
 * removed and an `exhausted` delete published, as `RESERVE` does for budgets. Every rule is read and
 * decoded before the first write: a stored rule that is not JSON fails the script with nothing written
 * (Redis does not undo the writes of a script that fails halfway).
 */
export const SAVE_COUNTERS = `
local rules, gone, ignored = {}, {}, {}
for i = 3, #ARGV, 4 do
  local json = redis.call('HGET', KEYS[1], ARGV[i])
  rules[i] = json and cjson.decode(json) or false
end
for i = 3, #ARGV, 4 do
  local id, hits, used = ARGV[i], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local rule = rules[i]
  if rule and not gone[id] and (rule.revision or '') == ARGV[i + 1] then
    if hits > 0 then
      if redis.call('HEXISTS', KEYS[3], id) == 0 then redis.call('HSET', KEYS[3], id, string.format('%d', rule.hits or 0)) end
      redis.call('HINCRBY', KEYS[3], id, hits)
    end
    if used > 0 and type(rule.times) == 'number' and redis.call('HINCRBY', KEYS[4], id, used) >= rule.times then
      redis.call('HDEL', KEYS[1], id)
      redis.call('HDEL', KEYS[3], id)
      redis.call('HDEL', KEYS[4], id)
      redis.call('DEL', ARGV[2] .. id)
      gone[id] = true
      local v = redis.call('INCR', KEYS[2])
      redis.call('PUBLISH', ARGV[1], v .. ' exhausted ' .. id)
    end
  elseif tonumber(ARGV[i + 2]) > 0 then
    ignored[#ignored + 1] = (i - 3) / 4 + 1
  end
end
return ignored`;
