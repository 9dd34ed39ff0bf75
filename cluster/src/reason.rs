//! Cancel reasons as they cross nodes: bounded, and UTF-8 whatever Redis
//! hands back.
//!
//! A reason travels in a cancel marker and a pub/sub message, and every
//! renewal round that finds the marker reads it again: the cap keeps those
//! small whatever a caller passes (say an upstream error's whole body).
//! The reason is always the last field of both (see `scripts.rs`), so no
//! character in it can break their framing.

use std::sync::Arc;

/// The longest reason, in bytes, that
/// [`ClusterRegistry::cancel_with_reason`](crate::ClusterRegistry::cancel_with_reason)
/// sends: a longer one is cut at a character boundary and ends with `…`,
/// and the cut reason is the one every node (this one included) sees.
pub const MAX_REASON_LEN: usize = 4096;

const ELLIPSIS: &str = "…";

/// `reason` itself when it fits, else its longest prefix that leaves room
/// for `…` within [`MAX_REASON_LEN`] bytes, followed by `…`.
pub(crate) fn clip(reason: Arc<str>) -> Arc<str> {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    let mut cut = MAX_REASON_LEN - ELLIPSIS.len();
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + ELLIPSIS.len());
    out.push_str(&reason[..cut]);
    out.push_str(ELLIPSIS);
    out.into()
}

/// A reason read from Redis (a marker's tail): never trusted to be UTF-8
/// or short, since any client of the server may have written it.
pub(crate) fn from_bytes(bytes: &[u8]) -> Arc<str> {
    clip(String::from_utf8_lossy(bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reasons_pass_as_they_are() {
        for text in ["", "a b\nc", "état: 終了 ✓", &"x".repeat(MAX_REASON_LEN)] {
            let reason: Arc<str> = text.into();
            assert!(Arc::ptr_eq(&clip(reason.clone()), &reason), "{text:?}");
        }
    }

    /// Breaks if the cut ignores character boundaries (a panic) or the cap.
    #[test]
    fn long_reasons_are_cut_at_a_character_boundary_and_marked() {
        // 1, 2, 3 and 4 byte characters, so that the cut falls inside one
        // of them for some offsets.
        for pad in 0..4 {
            let text = format!("{}{}", "x".repeat(pad), "aé終🦀".repeat(MAX_REASON_LEN));
            let cut = clip(text.as_str().into());
            assert!(cut.len() <= MAX_REASON_LEN, "{}", cut.len());
            assert!(cut.len() > MAX_REASON_LEN - 3 - 4, "{}", cut.len());
            let kept = cut.strip_suffix(ELLIPSIS).expect("marked as cut");
            assert!(text.starts_with(kept));
        }
    }

    #[test]
    fn bytes_from_redis_become_bounded_utf8() {
        assert_eq!(&*from_bytes(b"fine \xe2\x9c\x93"), "fine ✓");
        assert_eq!(&*from_bytes(b"bad \xff end"), "bad \u{fffd} end");
        assert_eq!(
            from_bytes(&[b'y'; 3 * MAX_REASON_LEN]).len(),
            MAX_REASON_LEN
        );
    }
}
