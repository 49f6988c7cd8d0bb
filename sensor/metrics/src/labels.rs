//! Label values with a hard cap on how many distinct ones a metric may grow.
//!
//! Every label value of tapir's metrics comes from code (reasons, protocols), configuration
//! (feed names, worker indices) or rule files (categories, ATT&CK ids), never from packets.
//! Values parsed back out of EVE lines are still checked and capped here, so a bug upstream
//! cannot turn a metric into an unbounded series per domain or address.

use std::collections::BTreeSet;

/// The value used once a label has reached its cap, or for a value that fails its check.
pub const OTHER: &str = "other";

/// Distinct values of one label, at most `cap`.
#[derive(Debug)]
pub struct LabelCap {
    seen: BTreeSet<String>,
    cap: usize,
}

impl LabelCap {
    pub fn new(cap: usize) -> Self {
        LabelCap {
            seen: BTreeSet::new(),
            cap,
        }
    }

    /// `value` when it is already known or there is room for it, else [`OTHER`].
    pub fn admit(&mut self, value: &str) -> String {
        if self.seen.contains(value) {
            return value.to_string();
        }
        if self.seen.len() >= self.cap {
            return OTHER.to_string();
        }
        self.seen.insert(value.to_string());
        value.to_string()
    }
}

/// An ATT&CK technique or sub-technique id: `T` + 4 digits, optionally `.` + 3 digits.
pub fn is_technique_id(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..5]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..9]),
        _ => false,
    }
}

/// A category or feed name fit for a label: printable ASCII, at most 128 bytes, no quotes or
/// backslashes (those would only need escaping, but no legitimate name carries them).
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_and_checks() {
        let mut c = LabelCap::new(2);
        assert_eq!(c.admit("a"), "a");
        assert_eq!(c.admit("b"), "b");
        assert_eq!(c.admit("c"), OTHER);
        assert_eq!(c.admit("a"), "a");
        assert!(is_technique_id("T1071"));
        assert!(is_technique_id("T1071.004"));
        assert!(!is_technique_id("T107"));
        assert!(!is_technique_id("T1071.04"));
        assert!(!is_technique_id("evil.example"));
        assert!(is_plain_name("Threat Intelligence Indicator Match"));
        assert!(!is_plain_name("a\"b"));
        assert!(!is_plain_name(""));
        assert!(!is_plain_name(&"x".repeat(129)));
    }
}
