//! A node's id: a readable name and 128 random bits, so that no two
//! registries ever share one (a release matches claims on it).

/// The 64 characters of the id's random part (base64url: no `|`, no
/// space, nothing a channel name or a claim's value cannot hold).
const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `name.<22 digits>`, or the digits alone for an empty name: the name
/// keeps only `[A-Za-z0-9_-]` (the id is a field of `|`-separated values
/// and part of a channel name), then 128 random bits, 6 per digit (short:
/// the id is in every claim's value).
pub(crate) fn node_id(name: &str) -> Result<String, getrandom::Error> {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut bits = [0u8; 16];
    getrandom::fill(&mut bits)?;
    let bits = u128::from_le_bytes(bits);
    if !id.is_empty() {
        id.push('.');
    }
    for digit in 0..22 {
        id.push(char::from(DIGITS[(bits >> (6 * digit)) as usize & 63]));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::{node_id, DIGITS};

    fn random_part(id: &str) -> u128 {
        let random = id.split_once('.').map_or(id, |(_, random)| random);
        assert_eq!(random.len(), 22, "{id}");
        random.bytes().enumerate().fold(0, |bits, (i, c)| {
            let digit = DIGITS.iter().position(|&d| d == c).unwrap() as u128;
            bits | digit << (6 * i)
        })
    }

    /// Every one of the 128 bits varies across ids, and the name part is
    /// cleaned. (With 4,096 ids, a fair bit stuck at one value has odds of
    /// 2^-4095.)
    #[test]
    fn ids_carry_128_random_bits_after_a_clean_name() {
        let (mut any, mut all) = (0u128, u128::MAX);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..4096 {
            let id = node_id("web 1|x.y").unwrap();
            assert!(id.starts_with("web_1_x_y."), "{id}");
            let bits = random_part(&id);
            any |= bits;
            all &= bits;
            assert!(seen.insert(bits), "repeated id {id}");
        }
        assert_eq!(any, u128::MAX, "some bit is never 1");
        assert_eq!(all, 0, "some bit is never 0");
        let bare = node_id("").unwrap();
        assert!(!bare.contains('.'), "{bare}");
        random_part(&bare);
    }
}
