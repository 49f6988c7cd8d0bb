//! Line-level parsing and normalisation shared by every list loader.
//!
//! Input is one line of text; output is a normalised [`Parsed`] value or a [`LineError`] saying
//! why the line was rejected. Nothing here touches the store.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{IndicatorType, MAX_URL_LEN};

/// Longest DNS name in presentation form without the trailing dot (RFC 1035 §2.3.4: 255 octets
/// on the wire, which is 253 characters of text).
pub(crate) const MAX_DOMAIN_LEN: usize = 253;
/// Longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;
/// JA3 is the hex MD5 of the JA3 string.
pub(crate) const JA3_HEX_LEN: usize = 32;
/// JA4 `a_b_c`: 10 + 1 + 12 + 1 + 12 characters.
pub(crate) const JA4_LEN: usize = 36;
/// SHA-1 digest bytes.
pub(crate) const SHA1_LEN: usize = 20;

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
    #[error("invalid URL ({0})")]
    InvalidUrl(&'static str),
    #[error("invalid ip:port ({0})")]
    InvalidIpPort(&'static str),
    #[error("invalid hash ({0})")]
    InvalidHash(&'static str),
    #[error("cannot tell the indicator type of this value")]
    UnknownType,
    #[error("defanged more than once (a marker such as [.] is left after refanging)")]
    NestedDefang,
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
            Self::V4(a, l) => {
                // Hand-rolled: `Display` for Ipv4Addr goes through the formatter machinery and
                // was the largest single cost of loading big IP lists.
                let mut s = String::with_capacity(18);
                for (i, o) in a.to_be_bytes().iter().enumerate() {
                    if i > 0 {
                        s.push('.');
                    }
                    push_dec(&mut s, u32::from(*o));
                }
                if l != 32 {
                    s.push('/');
                    push_dec(&mut s, u32::from(l));
                }
                s
            }
            Self::V6(a, 128) => Ipv6Addr::from(a).to_string(),
            Self::V6(a, l) => format!("{}/{l}", Ipv6Addr::from(a)),
        }
    }
}

/// Appends `v` (< 1000) in decimal.
fn push_dec(s: &mut String, v: u32) {
    let d = |x: u32| char::from_digit(x % 10, 10).unwrap_or('0');
    if v >= 100 {
        s.push(d(v / 100));
    }
    if v >= 10 {
        s.push(d(v / 10));
    }
    s.push(d(v));
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
    Url(UrlParts),
    CertSha1([u8; SHA1_LEN]),
    /// Address as IPv6 (IPv4 mapped to `::ffff:a.b.c.d`) and port.
    IpPort(u128, u16),
    /// Lowercase hex of 32, 40, 64 or 128 digits.
    FileHash(String),
    Hassh([u8; JA3_HEX_LEN]),
}

impl Parsed {
    pub(crate) fn ty(&self) -> IndicatorType {
        match self {
            Self::Domain(_) => IndicatorType::Domain,
            Self::Ip { .. } => IndicatorType::Ip,
            Self::Ja3(_) => IndicatorType::Ja3,
            Self::Ja4(_) => IndicatorType::Ja4,
            Self::Url(_) => IndicatorType::Url,
            Self::CertSha1(_) => IndicatorType::CertSha1,
            Self::IpPort(..) => IndicatorType::IpPort,
            Self::FileHash(_) => IndicatorType::FileHash,
            Self::Hassh(_) => IndicatorType::Hassh,
        }
    }
}

/// A normalised URL split for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts {
    /// `scheme://host[:port]/path[?query]`, default ports dropped, fragment dropped.
    pub value: String,
    /// Lowercase host without port; IPv6 without brackets, in canonical form.
    pub host: String,
    /// Path and query exactly as listed (percent-encoding kept); at least `/`.
    pub path: String,
    /// A query was listed, so the request target must equal `path` rather than start with it.
    pub exact: bool,
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

/// Restores common defanged spellings (`hxxp://`, `[.]`, `(.)`, `{.}`, `[dot]`, `(dot)`, `[:]`,
/// `[://]`). Borrows when there is nothing to restore, which is the common case.
pub(crate) fn refang(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    // Only a scheme counts (`hxxp` or `hxxps`, then `:` or a bracketed `[:]` / `[://]`), so a
    // host such as `hxxpsite.com`, or `hxxps` itself, is left alone: otherwise `.hxxps` would
    // be stored as the domain `hxxps` and refang to `https` when read back (a fuzz finding).
    let scheme_end = |at: usize| matches!(b.get(at), Some(b':' | b'['));
    let hx = b.get(..4).is_some_and(|x| x.eq_ignore_ascii_case(b"hxxp"))
        && (scheme_end(4) || (matches!(b.get(4), Some(b's' | b'S')) && scheme_end(5)));
    if !hx && !b.iter().any(|&c| matches!(c, b'[' | b'(' | b'{')) {
        return Cow::Borrowed(text);
    }
    let mut s = text.to_string();
    if hx {
        // hxxp / hXXp / hxxps -> http(s); only at the start, where a scheme is.
        s.replace_range(0..3, "htt");
    }
    for (from, to) in DEFANG_MARKERS {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    Cow::Owned(s)
}

/// What [`refang`] replaces, and with what.
const DEFANG_MARKERS: [(&str, &str); 8] = [
    ("[://]", "://"),
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("[DOT]", "."),
    ("[:]", ":"),
];

/// [`refang`] once, refusing a value that still holds a marker afterwards (`[[.]]`): refanging
/// it again would change it, so its normalised form would not read back as itself (a fuzz
/// finding). One pass, linear in the length, unlike refanging to a fixed point.
fn refang_once(text: &str) -> Result<Cow<'_, str>, LineError> {
    let t = refang(text);
    if let Cow::Owned(o) = &t {
        if DEFANG_MARKERS.iter().any(|(from, _)| o.contains(from)) {
            return Err(LineError::NestedDefang);
        }
    }
    Ok(t)
}

/// A domain that may be Unicode (IDNA, converted to its punycode form per UTS #46) or defanged.
pub(crate) fn parse_domain_any(text: &str) -> Result<String, LineError> {
    if text.is_ascii() {
        return parse_domain(text);
    }
    let t = text.strip_suffix('.').unwrap_or(text);
    match idna::domain_to_ascii(t) {
        Ok(a) if !a.is_empty() => parse_domain(&a),
        _ => Err(LineError::InvalidDomain("invalid internationalised name")),
    }
}

/// Parses `value` as an indicator of type `ty` after refanging. Domain values that are IP
/// addresses become IP indicators (see [`parse_value`]).
pub(crate) fn parse_typed(ty: IndicatorType, text: &str) -> Result<Parsed, LineError> {
    let t = refang_once(text.trim())?;
    let t = t.as_ref();
    if t.is_empty() {
        return Err(LineError::UnknownType);
    }
    match ty {
        IndicatorType::Url => parse_url(t).map(Parsed::Url),
        IndicatorType::IpPort => parse_ip_port(t),
        IndicatorType::CertSha1 => parse_sha1(t).map(Parsed::CertSha1),
        IndicatorType::FileHash => parse_file_hash(t).map(Parsed::FileHash),
        IndicatorType::Hassh => parse_ja3(t)
            .map(Parsed::Hassh)
            .map_err(|_| LineError::InvalidHash("HASSH must be 32 hex digits")),
        IndicatorType::Domain => {
            if t.chars().any(char::is_whitespace) {
                return Err(LineError::Whitespace);
            }
            match parse_ip(t) {
                Ok(p) => Ok(p),
                Err(_) => parse_domain_any(t).map(Parsed::Domain),
            }
        }
        IndicatorType::Ip => {
            if t.chars().any(char::is_whitespace) {
                return Err(LineError::Whitespace);
            }
            parse_ip(t)
        }
        IndicatorType::Ja3 => parse_ja3(t).map(Parsed::Ja3),
        IndicatorType::Ja4 => parse_ja4(t).map(Parsed::Ja4),
    }
}

/// Guesses the type of a bare value: URL (has `://`), IP/CIDR, `ip:port`, JA4, hex hash (a file
/// hash: a bare 32-digit hex string could be a JA3 or HASSH too, so those need a typed list),
/// `host/path` (a scheme-less URL, as Zeek writes them), else a domain.
pub(crate) fn parse_auto(text: &str) -> Result<Parsed, LineError> {
    let t = refang_once(text.trim())?;
    let t = t.as_ref();
    if t.is_empty() {
        return Err(LineError::UnknownType);
    }
    if t.chars().any(char::is_whitespace) {
        return Err(LineError::Whitespace);
    }
    if t.contains("://") {
        return parse_url(t).map(Parsed::Url);
    }
    if let Ok(p) = parse_ip(t) {
        return Ok(p);
    }
    if let Ok(p) = parse_ip_port(t) {
        return Ok(p);
    }
    if t.len() == JA4_LEN {
        if let Ok(k) = parse_ja4(t) {
            return Ok(Parsed::Ja4(k));
        }
    }
    if t.bytes().all(|c| c.is_ascii_hexdigit()) && matches!(t.len(), 32 | 40 | 64 | 128) {
        return parse_file_hash(t).map(Parsed::FileHash);
    }
    if t.contains('/') {
        return parse_url(t).map(Parsed::Url);
    }
    parse_domain_any(t).map(Parsed::Domain)
}

/// `a.b.c.d:port` or `[v6]:port`; port 1-65535 in plain decimal.
pub(crate) fn parse_ip_port(text: &str) -> Result<Parsed, LineError> {
    let (addr, port) = if let Some(rest) = text.strip_prefix('[') {
        let (a, p) = rest
            .split_once("]:")
            .ok_or(LineError::InvalidIpPort("expected [address]:port"))?;
        let a: Ipv6Addr = a
            .parse()
            .map_err(|_| LineError::InvalidIpPort("bad IPv6 address"))?;
        (IpAddr::V6(a), p)
    } else {
        let (a, p) = text
            .rsplit_once(':')
            .ok_or(LineError::InvalidIpPort("expected address:port"))?;
        let a: Ipv4Addr = a
            .parse()
            .map_err(|_| LineError::InvalidIpPort("bad IPv4 address"))?;
        (IpAddr::V4(a), p)
    };
    let port = parse_port(port).ok_or(LineError::InvalidIpPort("bad port"))?;
    Ok(Parsed::IpPort(ip_key(addr), port))
}

/// 1-65535, decimal digits only.
pub(crate) fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&v| v != 0)
}

/// The address as a 128-bit key, IPv4 mapped (RFC 4291 §2.5.5.2) so that both families share a
/// table and a mapped query finds an IPv4 entry.
pub(crate) fn ip_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_ipv6_mapped()),
            None => u128::from(v6),
        },
    }
}

/// Text form of an `ip:port` key.
pub(crate) fn ip_port_value(addr: u128, port: u16) -> String {
    let v6 = Ipv6Addr::from(addr);
    match v6.to_ipv4_mapped() {
        Some(v4) => format!("{v4}:{port}"),
        None => format!("[{v6}]:{port}"),
    }
}

/// 40 hex digits, optionally with `:` between byte pairs (`AA:BB:..`, as certificate tools and
/// tapir's own TLS log print them).
pub(crate) fn parse_sha1(text: &str) -> Result<[u8; SHA1_LEN], LineError> {
    hex_sha1(text.as_bytes()).ok_or(LineError::InvalidHash(
        "SHA-1 must be 40 hex digits, optionally colon-separated",
    ))
}

/// Allocation-free SHA-1 decode used by both the loader and the traffic matcher.
pub(crate) fn hex_sha1(b: &[u8]) -> Option<[u8; SHA1_LEN]> {
    let colons = match b.len() {
        40 => false,
        59 => true,
        _ => return None,
    };
    let mut out = [0u8; SHA1_LEN];
    let step = if colons { 3 } else { 2 };
    for (i, o) in out.iter_mut().enumerate() {
        let at = i.checked_mul(step)?;
        let hi = hex_val(*b.get(at)?)?;
        let lo = hex_val(*b.get(at.checked_add(1)?)?)?;
        if colons && i + 1 < SHA1_LEN && *b.get(at.checked_add(2)?)? != b':' {
            return None;
        }
        *o = (hi << 4) | lo;
    }
    Some(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn sha1_hex(k: &[u8; SHA1_LEN]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(40);
    for b in k {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// MD5 / SHA-1 / SHA-256 / SHA-512 hex, stored lowercase.
pub(crate) fn parse_file_hash(text: &str) -> Result<String, LineError> {
    if !matches!(text.len(), 32 | 40 | 64 | 128) {
        return Err(LineError::InvalidHash(
            "expected 32, 40, 64 or 128 hex digits",
        ));
    }
    if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(LineError::InvalidHash("non-hex character"));
    }
    Ok(text.to_ascii_lowercase())
}

/// Normalises a URL; a missing scheme means `http` (Zeek's `Intel::URL` omits it).
///
/// Userinfo and fragment are dropped (never sent in a request target), the host is normalised
/// like a domain or an IP, default ports (80 for http, 443 for https) are dropped, an empty path
/// becomes `/`, and path and query are kept byte for byte so that percent-encoding matches what
/// a client puts on the wire. Both the text and the normalised value are at most
/// [`MAX_URL_LEN`] bytes.
pub(crate) fn parse_url(text: &str) -> Result<UrlParts, LineError> {
    if text.len() > MAX_URL_LEN {
        return Err(LineError::InvalidUrl("longer than the URL limit"));
    }
    // Unicode spaces and C1 controls too: `find` and the loaders trim Unicode whitespace, so a
    // URL ending in one (its fragment dropped) would not read back as itself (a fuzz finding).
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(LineError::InvalidUrl("whitespace or control character"));
    }
    let (scheme, rest) = match text.split_once("://") {
        Some((s, r)) => {
            if s.is_empty()
                || !s
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
            {
                return Err(LineError::InvalidUrl("bad scheme"));
            }
            (s.to_ascii_lowercase(), r)
        }
        None => ("http".to_string(), text),
    };
    let rest = rest.split('#').next().unwrap_or("");
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, path) = rest.split_at(auth_end);
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let (host_text, port_text) = if let Some(r) = auth.strip_prefix('[') {
        let (h, after) = r
            .split_once(']')
            .ok_or(LineError::InvalidUrl("unclosed [ in host"))?;
        let port = match after {
            "" => None,
            a => Some(
                a.strip_prefix(':')
                    .ok_or(LineError::InvalidUrl("junk after ]"))?,
            ),
        };
        (h, port)
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (auth, None),
        }
    };
    if host_text.is_empty() {
        return Err(LineError::InvalidUrl("empty host"));
    }
    let (host, bracket) = match host_text.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => (a.to_string(), false),
        Ok(IpAddr::V6(a)) => (a.to_string(), true),
        Err(_) => (
            parse_domain_any(host_text).map_err(|_| LineError::InvalidUrl("bad host"))?,
            false,
        ),
    };
    let port = match port_text {
        None | Some("") => None,
        Some(p) => Some(parse_port(p).ok_or(LineError::InvalidUrl("bad port"))?),
    };
    let port = match (scheme.as_str(), port) {
        ("http", Some(80)) | ("https", Some(443)) => None,
        (_, p) => p,
    };
    let path = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let exact = path.contains('?');
    let mut value = String::with_capacity(scheme.len() + host.len() + path.len() + 10);
    value.push_str(&scheme);
    value.push_str("://");
    if bracket {
        value.push('[');
        value.push_str(&host);
        value.push(']');
    } else {
        value.push_str(&host);
    }
    if let Some(p) = port {
        value.push(':');
        value.push_str(&p.to_string());
    }
    value.push_str(&path);
    // Normalising can lengthen a URL (`http://` added to a scheme-less one, `/` before a bare
    // query), and a stored value must read back as itself, under the same limit (a fuzz finding).
    if value.len() > MAX_URL_LEN {
        return Err(LineError::InvalidUrl(
            "longer than the URL limit once normalised",
        ));
    }
    Ok(UrlParts {
        value,
        host,
        path,
        exact,
    })
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
