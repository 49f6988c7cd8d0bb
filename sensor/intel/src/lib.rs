//! Threat-intel indicator store, feed-format loaders, lifecycle and sightings.
//!
//! **Indicator types** ([`IndicatorType`]): IP addresses / CIDR prefixes, domain names, URLs,
//! JA3 (<https://github.com/salesforce/ja3>) and JA4
//! (<https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md>) TLS client
//! fingerprints, HASSH SSH client fingerprints (<https://github.com/salesforce/hassh>), TLS
//! certificate SHA-1 fingerprints, `ip:port` pairs and file hashes (stored and counted, not
//! matched on traffic). [`IndicatorKind`] is the older four-way class kept for API compatibility;
//! [`Indicator::ty`] is authoritative.
//!
//! **Formats** ([`FeedFormat`], one module each under `formats`): plain lists and hosts files,
//! CSV with a [`CsvMapping`], Zeek Intel framework files, STIX 2.1 bundles, MISP event JSON, MISP
//! feed directories and MISP warninglists, and the abuse.ch exports (Feodo Tracker, SSLBL JA3 /
//! certificate / IP lists, URLhaus, ThreatFox CSV and JSON). [`detect_format`] picks one from
//! content and file name; [`load_feeds`] loads configured [`FeedConfig`]s, fetching URL feeds
//! through [`fetch::Fetcher`] (conditional GET, last good copy kept on disk).
//!
//! **Plain lists** are one indicator per line: `#` starts a comment (a whole line, or the rest of
//! a line after whitespace), blank lines are skipped, and the list type comes from the file name
//! (`domains*`, `ips*`, `ja3*`, `ja4*`, `urls*`, `hassh*`, `certs*`/`sha1*`, `hashes*`) or, when
//! loaded as a configured feed, from each value. Bad lines become warnings naming `file:line`
//! and the reason; the rest of the file loads.
//!
//! **Normalisation** (all formats): domains lowercased, IDNA converted to punycode (UTS #46 via
//! the `idna` crate), one trailing dot removed; defanged forms (`hxxp`, `[.]`, `(.)`, `{.}`,
//! `[dot]`, `[:]`) restored; `ip:port` values become [`IndicatorType::IpPort`]; URLs are split
//! into host and path (see [`IntelDb::match_url`] for the matching rule).
//!
//! **Merge and provenance**: one value is one indicator however many feeds list it; each listing
//! adds a [`Provenance`] (at most [`MAX_PROVENANCE`] per indicator; the rest are counted).
//!
//! **Store**: an [`IntelDb`] generation stacks one immutable table per feed (or per list file),
//! each built by an [`IntelBuilder`]; it is meant to be shared read-only by worker threads behind
//! an `Arc`. [`IntelLoader`] builds generations and keeps each source's table for as long as its
//! files are unchanged, so a hot reload re-parses, and holds a second copy of, only the feeds
//! that changed. A value listed by several feeds is one indicator whose record carries every
//! listing. Every `match_*` lookup is allocation-free and time-free and takes the best hit over
//! the tables (one probe per table holding that type); the engine checks [`IntelDb::is_live`] on
//! a hit only.
//! - IPs: longest-prefix match over per-prefix-length hash tables probed longest-first over the
//!   lengths actually present (at most 33 probes for IPv4, 129 for IPv6). IPv4-mapped IPv6
//!   addresses (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) also match IPv4 entries.
//! - Domains: every entry also matches its subdomains (`evil.com` matches `a.b.evil.com` but not
//!   `notevil.com`); the query is lowercased into a fixed stack buffer and its label suffixes are
//!   probed longest first, so the most specific entry wins.
//! - JA3 / JA4 / HASSH / certificate SHA-1: exact, ASCII case-insensitive, on fixed-size keys.
//!
//! **Limits**: lines over [`MAX_LINE_BYTES`] are rejected; a line-oriented file is read up to
//! [`MAX_LIST_FILE_BYTES`], a JSON document up to [`MAX_JSON_FILE_BYTES`]; a directory up to
//! [`MAX_DIR_ENTRIES`] entries; the store holds at most [`MAX_INDICATORS`]; a report keeps at most
//! [`MAX_WARNINGS`] warnings (the rest are counted). Domain names follow RFC 1035 §2.3.4 limits
//! (63-byte labels, 253-byte names); URLs are at most [`MAX_URL_LEN`] bytes.

#![forbid(unsafe_code)]

mod check;
mod db;
mod feeds;
pub mod fetch;
mod formats;
pub mod fuzzing;
mod load;
mod parse;
mod reload;
mod set;
mod sightings;
mod time;

use std::fmt;
use std::sync::Arc;

pub use check::{check_path, check_path_as, check_paths, FileCheck};
pub use db::{Added, IntelBuilder, MAX_LAYERS};
pub use feeds::{load_feeds, parse_duration, FeedConfig, FeedInfo, FeedOptions};
pub use fetch::{FetchOutcome, FetchState, Fetcher};
pub use formats::csv::{Column, CsvKind, CsvMapping};
pub use formats::{detect_format, FeedFormat};
pub use load::{infer_kind, IntelError, KindCounts, LoadReport, LoadWarning, TypeCounts};
pub use parse::LineError;
pub use reload::{IntelLoader, ReloadStats};
pub use set::IntelDb;
pub use sightings::{write_atomic, FeedStats, Sightings, StatsReport, TopHit};
pub use time::parse_timestamp;

/// Most indicators one table holds, and one generation over all its tables (ids are `u32`s:
/// this many per table, [`MAX_LAYERS`] tables). An indicator takes about 250-300 bytes for
/// typical values (benches/README.md) and more for long ones (~1.2 KB for a 253-byte name), so
/// this bounds the store at 2-10 GiB; the feeds configured decide how much of it is used.
pub const MAX_INDICATORS: usize = 8 * 1024 * 1024;
/// Longest accepted list line in bytes (after which the line is skipped with a warning).
pub const MAX_LINE_BYTES: usize = 4096;
/// Most bytes read from one list file; the rest is ignored with a warning.
pub const MAX_LIST_FILE_BYTES: u64 = 1 << 30;
/// Most directory entries considered per intel directory.
pub const MAX_DIR_ENTRIES: usize = 10_000;
/// Most warnings kept in a [`LoadReport`]; further ones are only counted.
pub const MAX_WARNINGS: usize = 1000;
/// Most bytes of one JSON document (STIX bundle, MISP event, ThreatFox export) parsed in memory.
pub const MAX_JSON_FILE_BYTES: u64 = 256 << 20;
/// Most provenance records kept per indicator; further listings are counted only.
pub const MAX_PROVENANCE: usize = 16;
/// Longest URL indicator in bytes (longer ones are rejected).
pub const MAX_URL_LEN: usize = 2048;
/// Most tags kept per provenance record.
pub const MAX_TAGS: usize = 32;

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
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an indicator is and which traffic field it is matched against. Serde names are the
/// [`as_str`](Self::as_str) names (`cidr` and `file_hash` are accepted as aliases).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorType {
    /// An IPv4/IPv6 address or CIDR prefix ([`Indicator::is_cidr`] tells which).
    #[serde(alias = "cidr")]
    Ip,
    /// A DNS name; also matches every subdomain.
    Domain,
    /// An HTTP(S) URL, matched on HTTP requests by host and path ([`IntelDb::match_url`]).
    Url,
    /// JA3 TLS client fingerprint (lowercase hex MD5).
    Ja3,
    /// JA4 TLS client fingerprint.
    Ja4,
    /// SHA-1 of a DER certificate, lowercase hex without separators.
    CertSha1,
    /// An address and a TCP/UDP port (`192.0.2.1:443`, `[2001:db8::1]:443`).
    IpPort,
    /// MD5 / SHA-1 / SHA-256 / SHA-512 file hash (lowercase hex); stored, not matched on traffic.
    #[serde(rename = "hash", alias = "file_hash")]
    FileHash,
    /// HASSH SSH client fingerprint (lowercase hex MD5).
    Hassh,
}

impl IndicatorType {
    /// All types, in declaration order.
    pub const ALL: [IndicatorType; 9] = [
        Self::Ip,
        Self::Domain,
        Self::Url,
        Self::Ja3,
        Self::Ja4,
        Self::CertSha1,
        Self::IpPort,
        Self::FileHash,
        Self::Hassh,
    ];

    /// Name used in reports, `intel check --json` and EVE output. CIDRs are `ip` here; see
    /// [`Indicator::type_name`] for the name that tells them apart.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Domain => "domain",
            Self::Url => "url",
            Self::Ja3 => "ja3",
            Self::Ja4 => "ja4",
            Self::CertSha1 => "cert_sha1",
            Self::IpPort => "ip_port",
            Self::FileHash => "hash",
            Self::Hassh => "hassh",
        }
    }

    /// The legacy four-way class: the matcher family whose input is closest (URLs are keyed by
    /// host name, `ip:port` by address, and the fingerprint hashes group with JA3).
    pub const fn legacy_kind(self) -> IndicatorKind {
        match self {
            Self::Ip | Self::IpPort => IndicatorKind::Ip,
            Self::Domain | Self::Url => IndicatorKind::Domain,
            Self::Ja3 | Self::CertSha1 | Self::FileHash | Self::Hassh => IndicatorKind::Ja3,
            Self::Ja4 => IndicatorKind::Ja4,
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Ip => 0,
            Self::Domain => 1,
            Self::Url => 2,
            Self::Ja3 => 3,
            Self::Ja4 => 4,
            Self::CertSha1 => 5,
            Self::IpPort => 6,
            Self::FileHash => 7,
            Self::Hassh => 8,
        }
    }
}

impl From<IndicatorKind> for IndicatorType {
    fn from(k: IndicatorKind) -> Self {
        match k {
            IndicatorKind::Domain => Self::Domain,
            IndicatorKind::Ip => Self::Ip,
            IndicatorKind::Ja3 => Self::Ja3,
            IndicatorKind::Ja4 => Self::Ja4,
        }
    }
}

impl fmt::Display for IndicatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one listing of an indicator came from. The rarely present fields live behind `meta` so
/// that a bare list entry costs 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Configured feed name (the file path for lists loaded without a feed config).
    pub feed: Arc<str>,
    pub source_file: Arc<str>,
    /// 1-based line, or 0 for JSON formats (see `meta.object_id`).
    pub line: u32,
    /// 0-100, from the record or the feed default.
    pub confidence: Option<u8>,
    /// 1 (highest) to 4 as in Suricata's alert severity, from the feed default.
    pub severity: Option<u8>,
    /// Unix seconds after which this listing no longer vouches for the indicator: the record's
    /// own `valid_until`, else (last seen or load time) + the feed's `expire_after`.
    pub expires_at: Option<i64>,
    pub meta: Option<Box<ProvenanceMeta>>,
}

/// The optional parts of a [`Provenance`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvenanceMeta {
    /// STIX object id, MISP attribute uuid, URLhaus/ThreatFox id.
    pub object_id: Option<String>,
    /// STIX `indicator` id, used as `sighting_of_ref` when writing sightings.
    pub stix_id: Option<String>,
    /// Unix seconds.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    /// Feed tags, STIX labels / `kill-chain:NAME:PHASE`, MISP tags (at most [`MAX_TAGS`]).
    pub tags: Vec<String>,
    /// MITRE ATT&CK technique ids (`T1071`, `T1071.001`) from STIX external references and MISP
    /// galaxy tags.
    pub attack: Vec<String>,
    /// A URL or report name for the analyst.
    pub reference: Option<String>,
    /// Free text: listing reason, malware family, Zeek `meta.desc`.
    pub description: Option<String>,
}

impl Provenance {
    pub fn first_seen(&self) -> Option<i64> {
        self.meta.as_ref().and_then(|m| m.first_seen)
    }
    pub fn last_seen(&self) -> Option<i64> {
        self.meta.as_ref().and_then(|m| m.last_seen)
    }
    pub fn valid_until(&self) -> Option<i64> {
        self.meta.as_ref().and_then(|m| m.valid_until)
    }
    pub fn stix_id(&self) -> Option<&str> {
        self.meta.as_ref().and_then(|m| m.stix_id.as_deref())
    }
    pub fn tags(&self) -> &[String] {
        self.meta.as_ref().map_or(&[], |m| m.tags.as_slice())
    }
    /// True unless `now` is at or past `expires_at`.
    pub fn is_live(&self, now: i64) -> bool {
        !matches!(self.expires_at, Some(e) if now >= e)
    }
}

/// One loaded indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// Dense index into the store: `IntelDb::get(id)` returns this record.
    pub id: u32,
    /// Legacy class ([`IndicatorType::legacy_kind`]); use `ty`.
    pub kind: IndicatorKind,
    pub ty: IndicatorType,
    /// Normalised value: `evil.com`, `10.0.0.0/8`, `1.2.3.4`, `2001:db8::/32`, lowercase hex for
    /// hashes and fingerprints, `http://host[:port]/path?query` for URLs, `1.2.3.4:443` /
    /// `[2001:db8::1]:443` for `ip:port`. Single addresses carry no prefix length.
    pub value: String,
    /// The file the indicator was first listed in (= `provenance[0].source_file`).
    pub source: Arc<str>,
    /// 1-based line number in `source` (0 for JSON formats).
    pub line: u32,
    /// Every listing, first one first; at most [`MAX_PROVENANCE`].
    pub provenance: Vec<Provenance>,
    /// Latest `expires_at` over the provenance, `None` when any listing never expires.
    pub expires: Option<i64>,
}

impl Indicator {
    /// An IP indicator with a prefix shorter than the address width.
    pub fn is_cidr(&self) -> bool {
        self.ty == IndicatorType::Ip && self.value.contains('/')
    }

    /// `cidr` for CIDR prefixes, [`IndicatorType::as_str`] otherwise.
    pub fn type_name(&self) -> &'static str {
        if self.is_cidr() {
            "cidr"
        } else {
            self.ty.as_str()
        }
    }
}
