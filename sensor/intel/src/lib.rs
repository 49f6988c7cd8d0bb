//! Threat-intel indicator store and plain-list loaders.
//!
//! Four indicator kinds are supported: domain names, IP addresses / CIDR prefixes, JA3 client
//! fingerprints (MD5, <https://github.com/salesforce/ja3>) and JA4 TLS client fingerprints
//! (<https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md>).
//!
//! **Lists** are plain text, one indicator per line (see [`IntelDb::load_paths`]): `#` starts a
//! comment (a whole line, or the rest of a line after whitespace), blank lines are skipped, and
//! the list type comes from the file name (`domains*`, `ips*`, `ja3*`, `ja4*`). Bad lines become
//! warnings naming `file:line` and the reason; the rest of the file loads. Richer feed formats
//! (CSV, Zeek intel, STIX, MISP) are out of scope here; they will produce the same [`Indicator`]
//! records through [`IntelBuilder`].
//!
//! **Store**: [`IntelDb`] is built once by an [`IntelBuilder`], is immutable afterwards and is
//! meant to be shared read-only by worker threads behind an `Arc`. Every `match_*` lookup is
//! allocation-free:
//! - IPs: longest-prefix match over per-prefix-length hash tables probed longest-first over the
//!   lengths actually present (at most 33 probes for IPv4, 129 for IPv6). IPv4-mapped IPv6
//!   addresses (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) also match IPv4 entries.
//! - Domains: every entry also matches its subdomains (`evil.com` matches `a.b.evil.com` but not
//!   `notevil.com`); the query is lowercased into a fixed stack buffer and its label suffixes are
//!   probed longest first, so the most specific entry wins.
//! - JA3 / JA4: exact, ASCII case-insensitive, on fixed-size keys.
//!
//! **Limits**: lines over [`MAX_LINE_BYTES`] are rejected; a list file is read up to
//! [`MAX_LIST_FILE_BYTES`]; a directory up to [`MAX_DIR_ENTRIES`] entries; the store holds at most
//! [`MAX_INDICATORS`]; a report keeps at most [`MAX_WARNINGS`] warnings (the rest are counted).
//! Domain names follow RFC 1035 §2.3.4 limits (63-byte labels, 253-byte names).

#![forbid(unsafe_code)]

mod db;
pub mod fuzzing;
mod load;
mod parse;

use std::fmt;
use std::sync::Arc;

pub use db::{Added, IntelBuilder, IntelDb};
pub use load::{infer_kind, IntelError, KindCounts, LoadReport, LoadWarning};
pub use parse::LineError;

/// Most indicators one store holds (ids are dense `u32`s); bounds memory at roughly 1 GiB.
pub const MAX_INDICATORS: usize = 8 * 1024 * 1024;
/// Longest accepted list line in bytes (after which the line is skipped with a warning).
pub const MAX_LINE_BYTES: usize = 4096;
/// Most bytes read from one list file; the rest is ignored with a warning.
pub const MAX_LIST_FILE_BYTES: u64 = 1 << 30;
/// Most directory entries considered per intel directory.
pub const MAX_DIR_ENTRIES: usize = 10_000;
/// Most warnings kept in a [`LoadReport`]; further ones are only counted.
pub const MAX_WARNINGS: usize = 1000;

/// What an indicator matches against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndicatorKind {
    /// A DNS name; also matches every subdomain.
    Domain,
    /// An IPv4/IPv6 address or CIDR prefix.
    Ip,
    /// A JA3 TLS client fingerprint (lowercase hex MD5).
    Ja3,
    /// A JA4 TLS client fingerprint (`t13d1516h2_8daaf6152771_b186095e22b6`).
    Ja4,
}

impl IndicatorKind {
    /// All kinds, in declaration order.
    pub const ALL: [IndicatorKind; 4] = [Self::Domain, Self::Ip, Self::Ja3, Self::Ja4];

    /// Lowercase name used in reports and EVE output.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Ip => "ip",
            Self::Ja3 => "ja3",
            Self::Ja4 => "ja4",
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Domain => 0,
            Self::Ip => 1,
            Self::Ja3 => 2,
            Self::Ja4 => 3,
        }
    }
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One loaded indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// Dense index into the store: `IntelDb::get(id)` returns this record.
    pub id: u32,
    pub kind: IndicatorKind,
    /// Normalised value: `evil.com`, `10.0.0.0/8`, `1.2.3.4`, `2001:db8::/32`, lowercase hex for
    /// JA3/JA4. Single addresses carry no prefix length.
    pub value: String,
    /// The list file the indicator came from, as the path was given.
    pub source: Arc<str>,
    /// 1-based line number in `source`.
    pub line: u32,
}
