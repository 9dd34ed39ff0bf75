//! The Lua scripts: each check-then-act on a lease is one atomic script, so
//! no node ever extends or deletes a claim that is not its own.
//!
//! Values are `node|scope|fence|since_ms`; keys of one namespace share the
//! hash tag `{namespace}`, so one script may touch many of them.

use redis::Script;

/// `KEYS[1]` lease key, `KEYS[2]` fence counter; `ARGV[1]` `node|scope`,
/// `ARGV[2]` lease in ms. Returns `{1, value}` when acquired, `{0, holder}`
/// when held (numbers are formatted with `%d`: Lua's default `..` turns
/// 16 digits into an exponent).
///
/// Every grant's fence is the larger of the counter plus one and the
/// server's clock in µs, and becomes the counter. A counter brought back
/// by a rollback (a restart from an older snapshot, an asynchronous replica
/// promoted) or lost with a restart without persistence thus still issues
/// fences above every earlier one, as long as the server's clock has not
/// stepped back and grants came no faster than one per µs on average
/// (Redis runs far fewer scripts per µs). Both numbers stay below 2^53,
/// where Lua's doubles are exact.
pub(crate) const ACQUIRE: &str = r#"
local held = redis.call('GET', KEYS[1])
if held then return {0, held} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local fence = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
if fence < now then fence = now end
fence = string.format('%d', fence)
redis.call('SET', KEYS[2], fence)
local value = ARGV[1] .. '|' .. fence .. '|' .. string.format('%d', math.floor(now / 1000))
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
///
/// A marker is the cancelled holder's value, optionally followed by a space
/// and more (room for a reason later): it cancels that holder only, never
/// the key's next one.
pub(crate) const RENEW: &str = r#"
local out = {}
for i = 1, #KEYS, 2 do
  local value = ARGV[(i + 1) / 2 + 1]
  if redis.call('GET', KEYS[i]) == value then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    local marker = redis.call('GET', KEYS[i + 1])
    if marker and (marker == value or string.sub(marker, 1, #value + 1) == value .. ' ') then
      out[#out + 1] = 2
    else
      out[#out + 1] = 1
    end
  else
    out[#out + 1] = 0
  end
end
return out
"#;

/// `KEYS[1]` lease key, `KEYS[2]` its cancel marker; `ARGV[1]` marker TTL in
/// ms, `ARGV[2]` channel prefix. Leaves a marker naming the holder's value
/// (read at the holder's next renewal) and tells the holder's node by
/// pub/sub (at most once) with `value len key`, `len` the key's length in
/// bytes (a key may hold spaces; anything after it is left for later
/// fields). Returns the holder's value, or nil when free.
pub(crate) const CANCEL: &str = r#"
local held = redis.call('GET', KEYS[1])
if not held then return false end
redis.call('SET', KEYS[2], held, 'PX', ARGV[1])
local node = string.match(held, '^([^|]+)')
redis.call('PUBLISH', ARGV[2] .. node, held .. ' ' .. #KEYS[1] .. ' ' .. KEYS[1])
return held
"#;

/// Parses a cancel message (see [`CANCEL`]) into the holder's value and
/// the lease key; `None` for anything else.
pub(crate) fn parse_cancel(payload: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (value, rest) = text.split_once(' ')?;
    let (len, rest) = rest.split_once(' ')?;
    let key = rest.get(..len.parse::<usize>().ok()?)?;
    Some((value, key))
}

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

#[cfg(test)]
mod tests {
    use super::parse_cancel;

    #[test]
    fn cancel_messages_carry_keys_with_spaces_and_leave_room_for_more() {
        assert_eq!(
            parse_cancel(b"n-1|2|3|4 10 {ns}:k:a b"),
            Some(("n-1|2|3|4", "{ns}:k:a b"))
        );
        assert_eq!(
            parse_cancel(b"n-1|2|3|4 8 {ns}:k:a later fields"),
            Some(("n-1|2|3|4", "{ns}:k:a"))
        );
        for bad in [&b"v"[..], b"v x k", b"v 9 short", b"v -1 k", b"\xff 1 k"] {
            assert_eq!(parse_cancel(bad), None, "{bad:?}");
        }
    }
}
