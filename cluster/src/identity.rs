//! A node's id: a readable name and 128 random bits, so that no two
//! registries ever share one (a release matches claims on it).

/// `name-<32 hex digits>`; the name keeps only `[A-Za-z0-9_-]` (the id is
/// a field of `|`-separated values and part of a channel name).
pub(crate) fn node_id(name: &str) -> Result<String, getrandom::Error> {
    let clean: String = name
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
    Ok(format!("{clean}-{:032x}", u128::from_le_bytes(bits)))
}

#[cfg(test)]
mod tests {
    use super::node_id;

    /// Every one of the 128 bits varies across ids, and the name part is
    /// cleaned. (With 4,096 ids, a fair bit stuck at one value has odds of
    /// 2^-4095.)
    #[test]
    fn ids_carry_128_random_bits_after_a_clean_name() {
        let (mut any, mut all) = (0u128, u128::MAX);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..4096 {
            let id = node_id("web 1|x").unwrap();
            let (name, random) = id.rsplit_once('-').unwrap();
            assert_eq!(name, "web_1_x");
            assert_eq!(random.len(), 32, "{id}");
            let bits = u128::from_str_radix(random, 16).unwrap();
            any |= bits;
            all &= bits;
            assert!(seen.insert(bits), "repeated id {id}");
        }
        assert_eq!(any, u128::MAX, "some bit is never 1");
        assert_eq!(all, 0, "some bit is never 0");
    }
}
