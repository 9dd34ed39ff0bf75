//! Compile-time parsing of duration literals: `"250ms"`, `"30s"`, `"1m30s"`.
//!
//! A literal is one or more `<whole number><unit>` parts with units from
//! largest to smallest, each at most once: `h`, `m`, `s`, `ms`, `us` (or
//! `µs`), `ns`. Arithmetic is checked: an overflow is an error, not a panic.

use std::fmt;

/// The help line every invalid-duration error ends with.
pub(crate) const HELP: &str = "help: write whole numbers with units, largest first: \
     \"250ms\", \"30s\", \"1m30s\", \"2h\" (units: h m s ms us ns)";

/// A parsed duration, as `Duration::new(secs, nanos)` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) secs: u64,
    /// Always below one second.
    pub(crate) nanos: u32,
}

/// Why a literal is not a duration.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    Empty,
    NoNumber(String),
    NoUnit(String),
    UnknownUnit(String),
    Fraction,
    Space,
    OutOfOrder {
        unit: &'static str,
        after: &'static str,
    },
    TooLarge,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("it is empty"),
            Problem::NoNumber(unit) => write!(f, "`{unit}` has no number before it"),
            Problem::NoUnit(number) => write!(f, "`{number}` has no unit after it"),
            Problem::UnknownUnit(unit) => write!(f, "`{unit}` is not a unit"),
            Problem::Space => f.write_str("spaces are not allowed (write \"1m30s\")"),
            Problem::Fraction => {
                f.write_str("fractions are not supported (write \"1s500ms\", not \"1.5s\")")
            }
            Problem::OutOfOrder { unit, after } => {
                write!(
                    f,
                    "`{unit}` comes after `{after}`; each unit may appear once, largest first"
                )
            }
            Problem::TooLarge => f.write_str("it does not fit in a `Duration`"),
        }
    }
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Units from largest to smallest, with their length in nanoseconds.
const UNITS: [(&str, u128); 7] = [
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
    ("ns", 1),
];

/// Parses a duration literal's text.
pub(crate) fn parse(text: &str) -> Result<Parsed, Problem> {
    if text.is_empty() {
        return Err(Problem::Empty);
    }
    let mut rest = text;
    let mut total: u128 = 0;
    // Index into `UNITS` of the previous part's unit: the next must be smaller.
    let mut previous: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at(digits);
        let letters = after_number
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(letters);
        if unit.starts_with(['.', ',']) {
            return Err(Problem::Fraction);
        }
        if unit.contains(char::is_whitespace) {
            return Err(Problem::Space);
        }
        if number.is_empty() {
            return Err(Problem::NoNumber(unit.to_owned()));
        }
        if unit.is_empty() {
            return Err(Problem::NoUnit(number.to_owned()));
        }
        let index = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| Problem::UnknownUnit(unit.to_owned()))?;
        if let Some(previous) = previous {
            if index <= previous || same_unit(index, previous) {
                return Err(Problem::OutOfOrder {
                    unit: UNITS[index].0,
                    after: UNITS[previous].0,
                });
            }
        }
        previous = Some(index);
        let value: u128 = number.parse().map_err(|_| Problem::TooLarge)?;
        let nanos = value.checked_mul(UNITS[index].1).ok_or(Problem::TooLarge)?;
        total = total.checked_add(nanos).ok_or(Problem::TooLarge)?;
        rest = after_unit;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| Problem::TooLarge)?;
    let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| Problem::TooLarge)?;
    Ok(Parsed { secs, nanos })
}

/// `us` and `µs` are one unit.
fn same_unit(a: usize, b: usize) -> bool {
    UNITS[a].1 == UNITS[b].1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (u64, u32) {
        let parsed = parse(text).map_err(|p| p.to_string());
        assert!(parsed.is_ok(), "{text}: {parsed:?}");
        let parsed = parsed.unwrap_or(Parsed { secs: 0, nanos: 0 });
        (parsed.secs, parsed.nanos)
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(ok("250ms"), (0, 250_000_000));
        assert_eq!(ok("30s"), (30, 0));
        assert_eq!(ok("2m"), (120, 0));
        assert_eq!(ok("1h"), (3_600, 0));
        assert_eq!(ok("1m30s"), (90, 0));
        assert_eq!(ok("1h2m3s"), (3_723, 0));
        assert_eq!(ok("1s500ms"), (1, 500_000_000));
        assert_eq!(ok("500us"), (0, 500_000));
        assert_eq!(ok("7µs"), (0, 7_000));
        assert_eq!(ok("10ns"), (0, 10));
        assert_eq!(ok("0s"), (0, 0));
        assert_eq!(ok("1500ms"), (1, 500_000_000));
    }

    #[test]
    fn rejects_malformed_literals() {
        assert_eq!(parse(""), Err(Problem::Empty));
        assert_eq!(parse("30"), Err(Problem::NoUnit("30".into())));
        assert_eq!(parse("s"), Err(Problem::NoNumber("s".into())));
        assert_eq!(parse("1.5s"), Err(Problem::Fraction));
        assert_eq!(parse("3 s"), Err(Problem::Space));
        assert_eq!(parse("1m 30s"), Err(Problem::Space));
        assert_eq!(parse("5sec"), Err(Problem::UnknownUnit("sec".into())));
        assert_eq!(parse("-5s"), Err(Problem::NoNumber("-".into())));
        assert_eq!(
            parse("30s1m"),
            Err(Problem::OutOfOrder {
                unit: "m",
                after: "s"
            })
        );
        assert_eq!(
            parse("1s1s"),
            Err(Problem::OutOfOrder {
                unit: "s",
                after: "s"
            })
        );
        assert_eq!(
            parse("1us1µs"),
            Err(Problem::OutOfOrder {
                unit: "µs",
                after: "us"
            })
        );
    }

    #[test]
    fn overflow_is_an_error() {
        assert_eq!(
            parse("99999999999999999999999999999999999999999h"),
            Err(Problem::TooLarge)
        );
        assert_eq!(parse("18446744073709551616s"), Err(Problem::TooLarge));
        assert_eq!(ok("18446744073709551615s"), (u64::MAX, 0));
        assert_eq!(parse("5124095576030432h"), Err(Problem::TooLarge));
    }
}
