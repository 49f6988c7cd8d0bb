//! Line-level parsing and normalisation shared by every list loader.
//!
//! Input is one line of text; output is a normalised [`Parsed`] value or a [`LineError`] saying
//! why the line was rejected. Nothing here touches the store.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::IndicatorKind;

/// Longest DNS name in presentation form without the trailing dot (RFC 1035 §2.3.4: 255 octets
/// on the wire, which is 253 characters of text).
pub(crate) const MAX_DOMAIN_LEN: usize = 253;
/// Longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;
/// JA3 is the hex MD5 of the JA3 string.
pub(crate) const JA3_HEX_LEN: usize = 32;
/// JA4 `a_b_c`: 10 + 1 + 12 + 1 + 12 characters.
pub(crate) const JA4_LEN: usize = 36;

/// Why a list line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    #[error("line longer than {max} bytes", max = crate::MAX_LINE_BYTES)]
    TooLong,
    #[error("line is not valid UTF-8")]
    NotUtf8,
    #[error("more than one token on the line")]
    Whitespace,
    #[error("invalid IP address")]
    InvalidIp,
    #[error("invalid CIDR prefix length")]
    InvalidPrefix,
    #[error("invalid domain ({0})")]
    InvalidDomain(&'static str),
    #[error("invalid JA3 hash ({0})")]
    InvalidJa3(&'static str),
    #[error("invalid JA4 fingerprint ({0})")]
    InvalidJa4(&'static str),
    #[error("indicator limit of {max} reached", max = crate::MAX_INDICATORS)]
    TooManyIndicators,
}

/// An IP network in host byte order with its prefix length; host bits are always zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpNet {
    V4(u32, u8),
    V6(u128, u8),
}

impl IpNet {
    pub(crate) fn prefix_len(self) -> u8 {
        match self {
            Self::V4(_, l) | Self::V6(_, l) => l,
        }
    }

    /// The network address as an `IpAddr` (used by self-checks).
    pub(crate) fn addr(self) -> IpAddr {
        match self {
            Self::V4(a, _) => IpAddr::V4(Ipv4Addr::from(a)),
            Self::V6(a, _) => IpAddr::V6(Ipv6Addr::from(a)),
        }
    }

    /// Canonical text: the bare address for a full-length prefix, `addr/len` otherwise.
    pub(crate) fn to_value(self) -> String {
        match self {
            Self::V4(a, 32) => Ipv4Addr::from(a).to_string(),
            Self::V4(a, l) => format!("{}/{l}", Ipv4Addr::from(a)),
            Self::V6(a, 128) => Ipv6Addr::from(a).to_string(),
            Self::V6(a, l) => format!("{}/{l}", Ipv6Addr::from(a)),
        }
    }
}

/// Keeps the top `len` bits of a `width`-bit value; `len == 0` keeps nothing.
pub(crate) fn mask_u32(v: u32, len: u8) -> u32 {
    v & u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(len)))
        .unwrap_or(0)
}

pub(crate) fn mask_u128(v: u128, len: u8) -> u128 {
    v & u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(len)))
        .unwrap_or(0)
}

/// A successfully parsed list value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// Lowercase, no trailing dot, no leading `*.`/`.`.
    Domain(String),
    /// `host_bits` is true when the text had host bits set and was normalised to its network.
    Ip {
        net: IpNet,
        host_bits: bool,
    },
    Ja3([u8; JA3_HEX_LEN]),
    Ja4([u8; JA4_LEN]),
}

/// Removes a `#` comment and surrounding whitespace. A `#` only starts a comment at the start of
/// the (trimmed) line or right after whitespace, so a `#` glued to a value stays in it and the
/// value is then rejected rather than silently shortened.
pub(crate) fn strip_comment(line: &str) -> &str {
    let t = line.trim();
    if t.starts_with('#') {
        return "";
    }
    let mut prev_ws = false;
    for (i, c) in t.char_indices() {
        if c == '#' && prev_ws {
            return t.get(..i).unwrap_or("").trim_end();
        }
        prev_ws = c.is_whitespace();
    }
    t
}

/// Parses one comment-free, trimmed, non-empty token as an indicator of `kind`.
///
/// A domains list may carry bare IP addresses (real blocklists do; a dotted quad is never a valid
/// host name because RFC 3696 §2 forbids an all-numeric top-level label), so those become IP
/// indicators instead of being rejected.
pub(crate) fn parse_value(kind: IndicatorKind, text: &str) -> Result<Parsed, LineError> {
    if text.chars().any(char::is_whitespace) {
        return Err(LineError::Whitespace);
    }
    match kind {
        IndicatorKind::Ip => parse_ip(text),
        IndicatorKind::Domain => match parse_ip(text) {
            Ok(p) => Ok(p),
            Err(_) => parse_domain(text).map(Parsed::Domain),
        },
        IndicatorKind::Ja3 => parse_ja3(text).map(Parsed::Ja3),
        IndicatorKind::Ja4 => parse_ja4(text).map(Parsed::Ja4),
    }
}

/// `addr` or `addr/len`. IPv4-mapped IPv6 entries become IPv4 so that they share one table with
/// plain IPv4 entries.
pub(crate) fn parse_ip(text: &str) -> Result<Parsed, LineError> {
    let (addr_text, len_text) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| LineError::InvalidIp)?;
    let max = match addr {
        IpAddr::V4(_) => 32u8,
        IpAddr::V6(_) => 128u8,
    };
    let len = match len_text {
        None => max,
        Some(l) => {
            // u8::from_str would also take "+8"; prefix lengths are plain decimal digits.
            if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                return Err(LineError::InvalidPrefix);
            }
            let v: u8 = l.parse().map_err(|_| LineError::InvalidPrefix)?;
            if v > max {
                return Err(LineError::InvalidPrefix);
            }
            v
        }
    };
    let (net, host_bits) = match addr {
        IpAddr::V4(a) => {
            let raw = u32::from(a);
            let n = mask_u32(raw, len);
            (IpNet::V4(n, len), n != raw)
        }
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) if len >= 96 => {
                let l4 = len.saturating_sub(96);
                let raw = u32::from(v4);
                let n = mask_u32(raw, l4);
                (IpNet::V4(n, l4), n != raw)
            }
            _ => {
                let raw = u128::from(a);
                let n = mask_u128(raw, len);
                (IpNet::V6(n, len), n != raw)
            }
        },
    };
    Ok(Parsed::Ip { net, host_bits })
}

/// Validates and normalises a domain entry (RFC 1035 §2.3.4 lengths; letters, digits, `-` and
/// `_`, which real names such as `_dmarc` records use). Labels that start or end with `-` are
/// accepted: they violate RFC 952 but resolve in practice and appear in real feeds.
pub(crate) fn parse_domain(text: &str) -> Result<String, LineError> {
    if !text.is_ascii() {
        return Err(LineError::InvalidDomain(
            "non-ASCII character; use the xn-- form",
        ));
    }
    let mut t = text.strip_suffix('.').unwrap_or(text);
    t = t
        .strip_prefix("*.")
        .or_else(|| t.strip_prefix('.'))
        .unwrap_or(t);
    if t.is_empty() {
        return Err(LineError::InvalidDomain("empty name"));
    }
    if t.len() > MAX_DOMAIN_LEN {
        return Err(LineError::InvalidDomain("name longer than 253 bytes"));
    }
    let mut last = "";
    for label in t.split('.') {
        if label.is_empty() {
            return Err(LineError::InvalidDomain("empty label"));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(LineError::InvalidDomain("label longer than 63 bytes"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(LineError::InvalidDomain("illegal character"));
        }
        last = label;
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LineError::InvalidDomain("all-numeric top-level label"));
    }
    Ok(t.to_ascii_lowercase())
}

/// 32 hex digits, stored lowercase.
pub(crate) fn parse_ja3(text: &str) -> Result<[u8; JA3_HEX_LEN], LineError> {
    let b = text.as_bytes();
    if b.len() != JA3_HEX_LEN {
        return Err(LineError::InvalidJa3("expected 32 hex digits"));
    }
    let mut out = [0u8; JA3_HEX_LEN];
    for (o, &c) in out.iter_mut().zip(b) {
        if !c.is_ascii_hexdigit() {
            return Err(LineError::InvalidJa3("non-hex character"));
        }
        *o = c.to_ascii_lowercase();
    }
    Ok(out)
}

/// `[tq][0-9a-z]{2}[di][0-9]{2}[0-9]{2}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}`, matched after ASCII
/// lowercasing (JA4 section a: protocol, TLS version, SNI flag, cipher count, extension count,
/// ALPN first+last character; sections b and c: truncated SHA-256 hex).
pub(crate) fn parse_ja4(text: &str) -> Result<[u8; JA4_LEN], LineError> {
    let b = text.as_bytes();
    if b.len() != JA4_LEN {
        return Err(LineError::InvalidJa4("expected 36 characters"));
    }
    let mut out = [0u8; JA4_LEN];
    for (o, &c) in out.iter_mut().zip(b) {
        *o = c.to_ascii_lowercase();
    }
    let lower_alnum = |c: u8| c.is_ascii_digit() || c.is_ascii_lowercase();
    let lower_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    for (i, &c) in out.iter().enumerate() {
        let (ok, why) = match i {
            0 => (c == b't' || c == b'q', "protocol must be t or q"),
            1 | 2 | 8 | 9 => (lower_alnum(c), "version/ALPN must be [0-9a-z]"),
            3 => (c == b'd' || c == b'i', "SNI flag must be d or i"),
            4..=7 => (c.is_ascii_digit(), "cipher/extension counts must be digits"),
            10 | 23 => (c == b'_', "sections must be separated by _"),
            _ => (lower_hex(c), "hash sections must be 12 hex digits"),
        };
        if !ok {
            return Err(LineError::InvalidJa4(why));
        }
    }
    Ok(out)
}
