//! Splitting query names at the registrable domain (public-suffix aware).
//!
//! `psl` compiles Mozilla's Public Suffix List into a match tree: no list file to ship or
//! parse at start-up, no allocation per lookup, and new releases follow the upstream list, so
//! `cargo update` keeps it current (the `publicsuffix` crate needs the list supplied at run
//! time). RITA does the same cut with ClickHouse's `cutToFirstSignificantSubdomain`.

/// `a.b.example.co.uk` -> registrable `example.co.uk`, label `example`, sub `a.b`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Split<'a> {
    pub registrable: &'a str,
    /// The label registered under the public suffix (what a DGA generates).
    pub label: &'a str,
    /// Everything left of the registrable domain, without the joining dot ("" when none).
    pub sub: &'a str,
}

pub(crate) fn split(name: &str) -> Option<Split<'_>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let d = psl::domain(name.as_bytes())?;
    let reg_len = d.as_bytes().len();
    let suffix_len = d.suffix().as_bytes().len();
    let registrable = name.get(name.len().checked_sub(reg_len)?..)?;
    let label = registrable.get(..reg_len.checked_sub(suffix_len + 1)?)?;
    let sub = name.get(..name.len() - reg_len)?;
    let sub = sub.strip_suffix('.').unwrap_or(sub);
    Some(Split {
        registrable,
        label,
        sub,
    })
}

/// `name` is `suffix` or ends with `.suffix`.
pub(crate) fn under(name: &str, suffix: &str) -> bool {
    name.strip_suffix(suffix)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_public_suffix() {
        assert_eq!(
            split("a.b.example.co.uk"),
            Some(Split {
                registrable: "example.co.uk",
                label: "example",
                sub: "a.b"
            })
        );
        assert_eq!(
            split("example.com."),
            Some(Split {
                registrable: "example.com",
                label: "example",
                sub: ""
            })
        );
        assert_eq!(split("com"), None);
        assert!(under("1.0.0.10.in-addr.arpa", "in-addr.arpa"));
        assert!(!under("xin-addr.arpa", "in-addr.arpa"));
        assert!(under("arpa", "arpa"));
    }
}
