//! Deadline headers on the wire: gRPC's `grpc-timeout` and a plain-HTTP
//! milliseconds header. Parsing never panics and never overflows.

use std::fmt;
use std::time::Duration;

use http::HeaderValue;

/// The gRPC deadline header.
pub const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

/// The most digits `grpc-timeout` may carry (the gRPC HTTP/2 protocol spec).
const GRPC_MAX_DIGITS: usize = 8;

/// The most digits the milliseconds header may carry (as Connect's
/// `connect-timeout-ms` allows: ten digits, about 115 days).
const MS_MAX_DIGITS: usize = 10;

/// A deadline header that does not follow its format.
///
/// The layer answers such a request with HTTP 400 or gRPC `INVALID_ARGUMENT`
/// instead of running it without the deadline its caller meant to set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedTimeout {
    header: &'static str,
    expected: &'static str,
}

impl fmt::Display for MalformedTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed `{}` header: expected {}",
            self.header, self.expected
        )
    }
}

impl std::error::Error for MalformedTimeout {}

/// `true` if every byte is an ASCII digit. Checked by hand: `u64::from_str`
/// would also accept a leading `+`.
fn all_digits(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit)
}

/// The value of at most 19 ASCII digits (callers check the count and the
/// bytes first), so the result cannot overflow a `u64`.
fn digits_value(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
}

/// Parses a `grpc-timeout` value: 1 to 8 ASCII digits and one unit, `H`
/// (hours), `M` (minutes), `S` (seconds), `m` (milliseconds), `u`
/// (microseconds) or `n` (nanoseconds).
///
/// ```
/// use std::time::Duration;
/// use scoped_cancel::tower::parse_grpc_timeout;
///
/// assert_eq!(parse_grpc_timeout(b"250m"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_grpc_timeout(b"99999999H"), Ok(Duration::from_secs(99_999_999 * 3600)));
/// assert!(parse_grpc_timeout(b"+5S").is_err());
/// assert!(parse_grpc_timeout(b"123456789n").is_err()); // nine digits
/// ```
pub fn parse_grpc_timeout(value: &[u8]) -> Result<Duration, MalformedTimeout> {
    let malformed = MalformedTimeout {
        header: "grpc-timeout",
        expected: "1 to 8 ASCII digits and a unit (H, M, S, m, u or n)",
    };
    let Some((&unit, digits)) = value.split_last() else {
        return Err(malformed);
    };
    if digits.len() > GRPC_MAX_DIGITS || !all_digits(digits) {
        return Err(malformed);
    }
    // At most 99,999,999 of any unit: 99,999,999 hours is 3.6e11 seconds,
    // far inside a u64, so none of these multiplications can overflow.
    let n = digits_value(digits);
    Ok(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return Err(malformed),
    })
}

/// Parses a milliseconds header value: 1 to 10 ASCII digits.
///
/// ```
/// use std::time::Duration;
/// use scoped_cancel::tower::parse_timeout_ms;
///
/// assert_eq!(parse_timeout_ms(b"1500"), Ok(Duration::from_millis(1500)));
/// assert!(parse_timeout_ms(b"1.5").is_err());
/// ```
pub fn parse_timeout_ms(value: &[u8]) -> Result<Duration, MalformedTimeout> {
    if value.len() > MS_MAX_DIGITS || !all_digits(value) {
        return Err(MalformedTimeout {
            header: "timeout in milliseconds",
            expected: "1 to 10 ASCII digits",
        });
    }
    Ok(Duration::from_millis(digits_value(value)))
}

/// Encodes a budget as a `grpc-timeout` value: the finest unit whose count
/// fits in 8 digits, rounded *down*, so a budget passed along never grows.
///
/// ```
/// use std::time::Duration;
/// use scoped_cancel::tower::encode_grpc_timeout;
///
/// assert_eq!(encode_grpc_timeout(Duration::from_millis(250)), "250000u");
/// assert_eq!(encode_grpc_timeout(Duration::from_secs(3600)), "3600000m");
/// assert_eq!(encode_grpc_timeout(Duration::from_nanos(1_999)), "1999n");
/// ```
pub fn encode_grpc_timeout(budget: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = budget.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    let (count, unit) = units
        .iter()
        .map(|&(per, unit)| (nanos / per, unit))
        .find(|&(count, _)| count <= MAX)
        .unwrap_or((MAX, 'H'));
    header_value(format_args!("{count}{unit}"))
}

/// Encodes a budget as whole milliseconds, rounded down, for the plain-HTTP
/// header.
pub fn encode_timeout_ms(budget: Duration) -> HeaderValue {
    let ms = budget.as_millis().min(9_999_999_999);
    header_value(format_args!("{ms}"))
}

fn header_value(text: fmt::Arguments<'_>) -> HeaderValue {
    let text = text.to_string();
    // Digits and an ASCII letter: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("0n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_units_and_bounds() {
        let cases: [(&[u8], Duration); 7] = [
            (b"1H", Duration::from_secs(3600)),
            (b"2M", Duration::from_secs(120)),
            (b"3S", Duration::from_secs(3)),
            (b"4m", Duration::from_millis(4)),
            (b"5u", Duration::from_micros(5)),
            (b"6n", Duration::from_nanos(6)),
            (b"00000000S", Duration::ZERO),
        ];
        for (text, want) in cases {
            assert_eq!(parse_grpc_timeout(text), Ok(want), "{text:?}");
        }
        let bad: [&[u8]; 12] = [
            b"",
            b"S",
            b"5",
            b"5s",
            b"5h",
            b"+5S",
            b"-5S",
            b" 5S",
            b"5 S",
            b"123456789S",
            "５S".as_bytes(),
            b"5SS",
        ];
        for text in bad {
            assert!(parse_grpc_timeout(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn ms_header_bounds() {
        assert_eq!(parse_timeout_ms(b"0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_timeout_ms(b"9999999999"),
            Ok(Duration::from_millis(9_999_999_999))
        );
        for bad in [&b""[..], b"12345678901", b"+1", b"1e3", b"-1", b"1 "] {
            assert!(parse_timeout_ms(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn encoding_never_grows_and_round_trips_below_eight_digits() {
        let budgets = [
            Duration::ZERO,
            Duration::from_nanos(99_999_999),
            Duration::from_nanos(100_000_001),
            Duration::from_millis(1_234_567),
            Duration::from_secs(99_999_999),
            Duration::from_secs(u64::MAX),
            Duration::new(7, 123_456_789),
        ];
        for budget in budgets {
            let value = encode_grpc_timeout(budget);
            let back = parse_grpc_timeout(value.as_bytes()).unwrap();
            assert!(back <= budget, "{budget:?} -> {value:?} -> {back:?}");
            let ms = parse_timeout_ms(encode_timeout_ms(budget).as_bytes()).unwrap();
            assert!(ms <= budget);
        }
        assert_eq!(
            encode_grpc_timeout(Duration::from_secs(u64::MAX)),
            "99999999H"
        );
        assert_eq!(
            encode_grpc_timeout(Duration::new(7, 123_456_789)),
            "7123456u"
        );
    }
}
