// The Lua scripts of the Redis coordination (Redis 7.0: EVAL / EVALSHA; TIME is allowed since
// scripts replicate their effects). Every script reads the server's clock, so every process on
// every machine sees one time. A hold is stored as one hash field:
//   strategy \t amount \t state \t at \t expiresAt (-1: bound, never expires) \t coid,coid
import { luaScript } from "./redis-client.js";

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const HOLDS = `
local function decode(v)
  local f = {}
  for part in string.gmatch(v .. '\\t', '([^\\t]*)\\t') do f[#f + 1] = part end
  return { s = f[1], a = tonumber(f[2]), st = f[3], at = tonumber(f[4]), e = tonumber(f[5]), c = f[6] or '' }
end
local function encode(h)
  return table.concat({ h.s, string.format('%d', h.a), h.st, string.format('%d', h.at), string.format('%d', h.e), h.c }, '\\t')
end
local function live(key, now)
  local v = redis.call('HGET', KEYS[1], key)
  if not v then return nil end
  local h = decode(v)
  if h.e >= 0 and h.e <= now then
    redis.call('HDEL', KEYS[1], key)
    return nil
  end
  return h
end
local function purge(now)
  local all = redis.call('HGETALL', KEYS[1])
  local out = {}
  for i = 1, #all, 2 do
    local h = decode(all[i + 1])
    if h.e >= 0 and h.e <= now then
      redis.call('HDEL', KEYS[1], all[i])
    else
      out[#out + 1] = { all[i], h, all[i + 1] }
    end
  end
  return out
end
local function release(key, h, now, linger)
  if linger <= 0 then
    redis.call('HDEL', KEYS[1], key)
  else
    h.st = 'released'; h.at = now; h.e = now + linger
    redis.call('HSET', KEYS[1], key, encode(h))
  end
end
`;

/** KEYS: lease. ARGV: token, ttlMs. → {1} | {0, holder token, pttl}. */
export const LEASE_ACQUIRE = luaScript(
  "lease.acquire",
  `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}`,
);

/** KEYS: lease. ARGV: token, ttlMs. → 1 | 0. */
export const LEASE_RENEW = luaScript(
  "lease.renew",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`,
);

/** KEYS: lease. ARGV: token. → 1 | 0. */
export const LEASE_RELEASE = luaScript(
  "lease.release",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0`,
);

/** KEYS: lease. ARGV: token. → 1 | 0. */
export const LEASE_HOLDS = luaScript(
  "lease.holds",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0`,
);

/**
 * KEYS: holds, caps. ARGV: key, strategy, amount, capacity, ttlMs, request cap ('' for none), spent.
 * → {'ok', total, strategy total} | {'insufficient' | 'strategy_cap' | 'exists', available}.
 */
export const LEDGER_RESERVE = luaScript(
  "ledger.reserve",
  `${NOW}${HOLDS}
local key, strategy = ARGV[1], ARGV[2]
local amount, capacity, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local own, spent = tonumber(ARGV[6]), tonumber(ARGV[7]) or 0
local total, mine, live = 0, 0, 0
for _, item in ipairs(purge(now)) do
  if item[1] == key then return {'exists', 0} end
  total = total + item[2].a
  if item[2].s == strategy then
    mine = mine + item[2].a
    if item[2].st ~= 'released' then live = live + item[2].a end
  end
end
if total + amount > capacity then return {'insufficient', math.max(0, capacity - total)} end
local cap = redis.call('HGET', KEYS[2], strategy)
if cap and mine + amount > tonumber(cap) then return {'strategy_cap', math.max(0, tonumber(cap) - mine)} end
if own and live + spent + amount > own then return {'strategy_cap', math.max(0, own - live - spent)} end
redis.call('HSET', KEYS[1], key, encode({ s = strategy, a = amount, st = 'reserved', at = now, e = now + ttl, c = '' }))
return {'ok', total + amount, mine + amount}`,
);

/** KEYS: holds. ARGV: key, clientOrderId. → 1 (bound) | 0 (gone: expired or released). */
export const LEDGER_BIND = luaScript(
  "ledger.bind",
  `${NOW}${HOLDS}
local h = live(ARGV[1], now)
if not h or h.st == 'released' then return 0 end
local seen = false
for c in string.gmatch(h.c, '[^,]+') do if c == ARGV[2] then seen = true end end
if not seen then h.c = (h.c == '' and ARGV[2]) or (h.c .. ',' .. ARGV[2]) end
h.st = 'bound'; h.at = now; h.e = -1
redis.call('HSET', KEYS[1], ARGV[1], encode(h))
return 1`,
);

/** KEYS: holds. ARGV: key, lingerMs. → 1 | 0. */
export const LEDGER_RELEASE = luaScript(
  "ledger.release",
  `${NOW}${HOLDS}
local h = live(ARGV[1], now)
if not h or h.st == 'released' then return 0 end
release(ARGV[1], h, now, tonumber(ARGV[2]))
return 1`,
);

/** KEYS: holds. ARGV: graceMs, lingerMs, open client order ids... → the keys released. */
export const LEDGER_RECONCILE = luaScript(
  "ledger.reconcile",
  `${NOW}${HOLDS}
local grace, linger = tonumber(ARGV[1]), tonumber(ARGV[2])
local open = {}
for i = 3, #ARGV do open[ARGV[i]] = true end
local gone = {}
for _, item in ipairs(purge(now)) do
  local h = item[2]
  if h.st == 'bound' and h.at <= now - grace then
    local live = false
    for c in string.gmatch(h.c, '[^,]+') do if open[c] then live = true end end
    if not live then
      release(item[1], h, now, linger)
      gone[#gone + 1] = item[1]
    end
  end
end
return gone`,
);

/** KEYS: holds. → {now, key, encoded, key, encoded, ...} of the holds counted now. */
export const LEDGER_HOLDS = luaScript(
  "ledger.holds",
  `${NOW}${HOLDS}
local out = {now}
for _, item in ipairs(purge(now)) do out[#out + 1] = item[1]; out[#out + 1] = item[3] end
return out`,
);

/** KEYS: caps. ARGV: strategy, amount ('' removes). → 1. */
export const LEDGER_SET_CAP = luaScript(
  "ledger.setCap",
  `if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1`,
);

/** KEYS: bucket. ARGV: perMinute, cost. → 0 (taken) | ms to wait. */
export const RATE_TAKE = luaScript(
  "rate.take",
  `${NOW}
local per, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local rate = per / 60000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(v[1]) or per, tonumber(v[2]) or now
tokens = math.min(per, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = math.ceil((cost - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], 120000)
return wait`,
);

/** KEYS: list, generation. ARGV: from index. → {generation, length, entries from the index...}. */
export const JOURNAL_READ = luaScript(
  "journal.read",
  `local gen = redis.call('GET', KEYS[2]) or '0'
local out = {gen, redis.call('LLEN', KEYS[1])}
for _, e in ipairs(redis.call('LRANGE', KEYS[1], tonumber(ARGV[1]), -1)) do out[#out + 1] = e end
return out`,
);

/**
 * KEYS: list, generation, lease. ARGV: generation, length, fence token ('' for none), entries...
 * → new length | -1 (the list moved on: read again) | -2 (the fence token lost the lease).
 */
export const JOURNAL_APPEND = luaScript(
  "journal.append",
  `if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then return -2 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] or redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[2]) then return -1 end
for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
return redis.call('LLEN', KEYS[1])`,
);

/**
 * KEYS: list, generation, lease. ARGV: generation, length, fence token, kept entries...
 * → the new generation | -1 | -2, as for append.
 */
export const JOURNAL_REWRITE = luaScript(
  "journal.rewrite",
  `if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then return -2 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] or redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[2]) then return -1 end
redis.call('DEL', KEYS[1])
for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
return redis.call('INCR', KEYS[2])`,
);
