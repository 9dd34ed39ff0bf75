//! URLs shown in `Debug` output without their secrets.

/// `url` with the password of its user part (`redis://user:pw@host`, or
/// `redis://pw@host`, which redis-rs reads as a password too) and any
/// `password`/`pass` query value replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (user, host) = authority.split_at(at);
            match user.split_once(':') {
                Some((name, _)) => format!("{name}:***{host}"),
                None => format!("***{host}"),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _))
                        if k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("pass") =>
                    {
                        format!("{k}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_replaced_and_the_rest_kept() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
            ("redis://u:s3cret@h:6379/0", "redis://u:***@h:6379/0"),
            ("redis://:s3cret@h:6379", "redis://:***@h:6379"),
            ("rediss://s3cret@h", "rediss://***@h"),
            ("redis://u:p@ss:w@rd@h/", "redis://u:***@h/"),
            (
                "redis+unix:///tmp/r.sock?db=1&pass=s3cret",
                "redis+unix:///tmp/r.sock?db=1&pass=***",
            ),
            ("redis://h/?password=s3cret", "redis://h/?password=***"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
