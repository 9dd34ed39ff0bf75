//! The Lua scripts: each check-then-act on a lease is one atomic script, so
//! no node ever extends or deletes a claim that is not its own.
//!
//! Values are `node|scope|fence|since_ms`; keys of one namespace share the
//! hash tag `{namespace}`, so one script may touch many of them.

use redis::Script;

/// `KEYS[1]` lease key, `KEYS[2]` fence counter; `ARGV[1]` `node|scope`,
/// `ARGV[2]` lease in ms. Returns `{1, value}` when acquired, `{0, holder}`
/// when held (numbers are formatted with `%d`: Lua's default `..` turns
/// 16 digits into an exponent). The fence counter starts at the server's clock in µs, so a
/// counter lost with a restart without persistence resumes above any token
/// it issued before (unless more than one grant per µs was made).
pub(crate) const ACQUIRE: &str = r#"
local held = redis.call('GET', KEYS[1])
if held then return {0, held} end
local t = redis.call('TIME')
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], t[1] .. string.rep('0', 6 - #t[2]) .. t[2])
end
local fence = redis.call('INCR', KEYS[2])
local since = string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))
local value = ARGV[1] .. '|' .. string.format('%d', fence) .. '|' .. since
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {1, value}
"#;

/// `KEYS` = lease keys; `ARGV` = their claims' `node|scope|` prefixes
/// (unique per scope, known even when a claim's reply was lost). Deletes
/// each key whose value still starts with its prefix. Returns how many.
pub(crate) const RELEASE: &str = r#"
local n = 0
for i = 1, #KEYS do
  local held = redis.call('GET', KEYS[i])
  if held and string.sub(held, 1, #ARGV[i]) == ARGV[i] then
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
return n
"#;

/// `KEYS` = pairs (lease key, cancel marker); `ARGV[1]` lease in ms, then
/// one value per pair. Extends each key still holding its value. Returns one
/// status per pair: 0 lost, 1 extended, 2 extended but a cancel is pending.
/// Idempotent: a round whose reply was lost can be sent again.
pub(crate) const RENEW: &str = r#"
local out = {}
for i = 1, #KEYS, 2 do
  local value = ARGV[(i + 1) / 2 + 1]
  if redis.call('GET', KEYS[i]) == value then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    if redis.call('GET', KEYS[i + 1]) == value then out[#out + 1] = 2 else out[#out + 1] = 1 end
  else
    out[#out + 1] = 0
  end
end
return out
"#;

/// `KEYS[1]` lease key, `KEYS[2]` its cancel marker; `ARGV[1]` marker TTL in
/// ms, `ARGV[2]` channel prefix. Leaves a marker naming the holder's value
/// (read at the holder's next renewal) and tells the holder's node by
/// pub/sub (at most once). Returns the holder's value, or nil when free.
pub(crate) const CANCEL: &str = r#"
local held = redis.call('GET', KEYS[1])
if not held then return false end
redis.call('SET', KEYS[2], held, 'PX', ARGV[1])
local node = string.match(held, '^([^|]+)')
redis.call('PUBLISH', ARGV[2] .. node, held .. ' ' .. KEYS[1])
return held
"#;

/// The four scripts, hashed once per registry.
pub(crate) struct Scripts {
    pub(crate) acquire: Script,
    pub(crate) release: Script,
    pub(crate) renew: Script,
    pub(crate) cancel: Script,
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        Scripts {
            acquire: Script::new(ACQUIRE),
            release: Script::new(RELEASE),
            renew: Script::new(RENEW),
            cancel: Script::new(CANCEL),
        }
    }
}
