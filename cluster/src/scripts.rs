//! The Lua scripts: each check-then-act on a lease is one atomic script, so
//! no node ever extends or deletes a claim that is not its own.
//!
//! Values are `node|scope|fence|since_ms`; keys of one namespace share the
//! hash tag `{namespace}`, so one script may touch many of them.

use std::sync::Arc;

use redis::{FromRedisValue, ParsingError, Script, Value};

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
/// status per pair: 0 lost, 1 extended, 2 extended but a cancel is pending,
/// `{2, reason}` the same with the cancel's reason. Idempotent: a round
/// whose reply was lost can be sent again.
///
/// A marker is the cancelled holder's value, optionally followed by a space
/// and the reason (the rest of the marker, spaces and newlines included): it
/// cancels that holder only, never the key's next one.
pub(crate) const RENEW: &str = r#"
local out = {}
for i = 1, #KEYS, 2 do
  local value = ARGV[(i + 1) / 2 + 1]
  if redis.call('GET', KEYS[i]) == value then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    local marker = redis.call('GET', KEYS[i + 1])
    if marker == value then
      out[#out + 1] = 2
    elseif marker and string.sub(marker, 1, #value + 1) == value .. ' ' then
      out[#out + 1] = {2, string.sub(marker, #value + 2)}
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
/// ms, `ARGV[2]` channel prefix, `ARGV[3]` (optional) the reason. Leaves a
/// marker naming the holder's value, with the reason after a space (read at
/// the holder's next renewal), and tells the holder's node by pub/sub (at
/// most once) with `value len key[ reason]`, `len` the key's length in
/// bytes (a key may hold spaces). The reason is the last field of both:
/// it may hold anything.
///
/// The first cancel of a holder wins, reason included: a marker already
/// naming this holder is kept (its TTL renewed), and the message carries
/// its reason, not this call's. Returns the marker, or nil when the key is
/// free.
pub(crate) const CANCEL: &str = r#"
local held = redis.call('GET', KEYS[1])
if not held then return false end
local marker = redis.call('GET', KEYS[2])
if not (marker == held or (marker and string.sub(marker, 1, #held + 1) == held .. ' ')) then
  marker = held
  if ARGV[3] then marker = held .. ' ' .. ARGV[3] end
end
redis.call('SET', KEYS[2], marker, 'PX', ARGV[1])
local node = string.match(held, '^([^|]+)')
local message = held .. ' ' .. #KEYS[1] .. ' ' .. KEYS[1] .. string.sub(marker, #held + 1)
redis.call('PUBLISH', ARGV[2] .. node, message)
return marker
"#;

/// A cancel message (see [`CANCEL`]): the holder's value, the lease key,
/// and the reason if one came.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CancelMessage<'a> {
    pub(crate) value: &'a str,
    pub(crate) rkey: &'a str,
    pub(crate) reason: Option<&'a str>,
}

/// Parses a cancel message; `None` for anything that is not one. Whatever
/// follows the key other than a space and the reason (a sender of another
/// version) is ignored.
pub(crate) fn parse_cancel(payload: &[u8]) -> Option<CancelMessage<'_>> {
    let text = std::str::from_utf8(payload).ok()?;
    let (value, rest) = text.split_once(' ')?;
    let (len, rest) = rest.split_once(' ')?;
    let len = len.parse::<usize>().ok()?;
    let rkey = rest.get(..len)?;
    let reason = rest.get(len..).and_then(|tail| tail.strip_prefix(' '));
    Some(CancelMessage {
        value,
        rkey,
        reason,
    })
}

/// A marker (see [`CANCEL`]) split into the holder's value and the reason.
pub(crate) fn split_marker(marker: &str) -> (&str, Option<&str>) {
    match marker.split_once(' ') {
        Some((value, reason)) => (value, Some(reason)),
        None => (marker, None),
    }
}

/// One key's status in a renewal round's reply (see [`RENEW`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Renewed {
    /// The key no longer holds this scope's value.
    Lost,
    /// Extended.
    Kept,
    /// Extended, and a cancel (with its reason, if one was given) is pending.
    Cancel(Option<Arc<str>>),
}

impl FromRedisValue for Renewed {
    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        match v {
            Value::Int(0) => Ok(Renewed::Lost),
            Value::Int(1) => Ok(Renewed::Kept),
            Value::Int(2) => Ok(Renewed::Cancel(None)),
            Value::Array(items) => match items.as_slice() {
                [Value::Int(2), Value::BulkString(reason)] => {
                    Ok(Renewed::Cancel(Some(crate::reason::from_bytes(reason))))
                }
                _ => Err(format!("renewal status {items:?}").into()),
            },
            other => Err(format!("renewal status {other:?}").into()),
        }
    }
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
    use super::*;

    fn message<'a>(value: &'a str, rkey: &'a str, reason: Option<&'a str>) -> CancelMessage<'a> {
        CancelMessage {
            value,
            rkey,
            reason,
        }
    }

    /// Breaks if the key is read up to a space rather than by its length,
    /// or the reason by anything but "the rest after one space".
    #[test]
    fn cancel_messages_carry_keys_with_spaces_and_any_reason() {
        assert_eq!(
            parse_cancel(b"n-1|2|3|4 10 {ns}:k:a b"),
            Some(message("n-1|2|3|4", "{ns}:k:a b", None))
        );
        assert_eq!(
            parse_cancel("n-1|2|3|4 8 {ns}:k:a the user\n said: 終わり ".as_bytes()),
            Some(message(
                "n-1|2|3|4",
                "{ns}:k:a",
                Some("the user\n said: 終わり ")
            ))
        );
        assert_eq!(
            parse_cancel(b"n-1|2|3|4 10 {ns}:k:a b "),
            Some(message("n-1|2|3|4", "{ns}:k:a b", Some("")))
        );
        // Not a space after the key: a field this version does not know.
        assert_eq!(
            parse_cancel(b"n-1|2|3|4 8 {ns}:k:a|later"),
            Some(message("n-1|2|3|4", "{ns}:k:a", None))
        );
        for bad in [&b"v"[..], b"v x k", b"v 9 short", b"v -1 k", b"\xff 1 k"] {
            assert_eq!(parse_cancel(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn markers_split_at_the_first_space() {
        assert_eq!(split_marker("n|1|2|3"), ("n|1|2|3", None));
        assert_eq!(split_marker("n|1|2|3 "), ("n|1|2|3", Some("")));
        assert_eq!(split_marker("n|1|2|3 a b\nc"), ("n|1|2|3", Some("a b\nc")));
    }

    #[test]
    fn renewal_statuses_parse_and_junk_is_an_error() {
        let parse = |v: Value| Renewed::from_redis_value(v);
        assert_eq!(parse(Value::Int(0)), Ok(Renewed::Lost));
        assert_eq!(parse(Value::Int(1)), Ok(Renewed::Kept));
        assert_eq!(parse(Value::Int(2)), Ok(Renewed::Cancel(None)));
        assert_eq!(
            parse(Value::Array(vec![
                Value::Int(2),
                Value::BulkString(b"why \xff".to_vec())
            ])),
            Ok(Renewed::Cancel(Some("why \u{fffd}".into())))
        );
        for junk in [
            Value::Int(3),
            Value::Nil,
            Value::Array(vec![Value::Int(1), Value::BulkString(vec![])]),
        ] {
            assert!(parse(junk).is_err());
        }
    }
}
