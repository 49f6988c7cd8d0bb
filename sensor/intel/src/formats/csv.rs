//! CSV feeds: a small RFC 4180 field splitter (double-quote aware, `""` escapes, spaces around
//! quoted fields tolerated as in ThreatFox exports) and the configured-mapping loader.
//!
//! Limits: one record per line (a quoted field may not span lines; such a row is a warning);
//! at most [`MAX_CSV_FIELDS`] fields per row; lines are bounded by [`crate::MAX_LINE_BYTES`].

use std::collections::BTreeMap;
use std::io::BufRead;

use crate::db::{Ctx, IntelBuilder};
use crate::load::{add_record, for_each_line, Full, LoadReport, Loc, ReadError};
use crate::{parse, IndicatorType, ProvenanceMeta, MAX_TAGS};

/// Most fields split from one row; the rest of the row is ignored with a warning.
pub const MAX_CSV_FIELDS: usize = 64;

/// The indicator type named in a CSV mapping (`ip`, `domain`, `url`, `ja3`, `ja4`, `cert_sha1`,
/// `ip_port`, `hash`, `hassh`).
pub type CsvKind = IndicatorType;

/// A column by 0-based index or by header name (needs `has_header`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum Column {
    Index(usize),
    Name(String),
}

/// How to read a CSV feed. Deserialised from the feed's `[feeds.csv]` table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// The indicator value.
    pub value_column: Column,
    /// A column naming each row's type; values are looked up in `type_map`, then as tapir type
    /// names (and ThreatFox/MISP spellings: `ip:port`, `ip-dst`, `md5_hash`, ...).
    #[serde(default)]
    pub type_column: Option<Column>,
    /// Fixed type for every row when there is no `type_column`; `None` guesses from each value.
    #[serde(default)]
    pub kind: Option<CsvKind>,
    #[serde(default)]
    pub type_map: BTreeMap<String, CsvKind>,
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    #[serde(default)]
    pub has_header: bool,
    /// Lines starting with this (after leading spaces) are comments; empty = none.
    #[serde(default = "default_comment")]
    pub comment_prefix: String,
    #[serde(default)]
    pub first_seen_column: Option<Column>,
    #[serde(default)]
    pub last_seen_column: Option<Column>,
    #[serde(default)]
    pub confidence_column: Option<Column>,
    /// Tags, split on `,`, `;` or `|`.
    #[serde(default)]
    pub tags_column: Option<Column>,
    #[serde(default)]
    pub description_column: Option<Column>,
    #[serde(default)]
    pub reference_column: Option<Column>,
}

fn default_delimiter() -> char {
    ','
}

fn default_comment() -> String {
    "#".into()
}

impl CsvMapping {
    /// A mapping reading column `value_column` (0-based) as `kind`, no header, `#` comments.
    pub fn new(value_column: usize, kind: Option<CsvKind>) -> Self {
        Self {
            value_column: Column::Index(value_column),
            type_column: None,
            kind,
            type_map: BTreeMap::new(),
            delimiter: ',',
            has_header: false,
            comment_prefix: "#".into(),
            first_seen_column: None,
            last_seen_column: None,
            confidence_column: None,
            tags_column: None,
            description_column: None,
            reference_column: None,
        }
    }
}

/// Why a row could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitError {
    Unterminated,
    JunkAfterQuote,
    TooManyFields,
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unterminated => "unterminated quoted field (multi-line fields are not supported)",
            Self::JunkAfterQuote => "text after a closing quote",
            Self::TooManyFields => "too many fields",
        })
    }
}

/// Splits one CSV line into `out` (cleared first). Unquoted fields are trimmed.
pub(crate) fn split_row(line: &str, delim: char, out: &mut Vec<String>) -> Result<(), SplitError> {
    out.clear();
    let mut chars = line.chars().peekable();
    loop {
        if out.len() >= MAX_CSV_FIELDS {
            return Err(SplitError::TooManyFields);
        }
        while chars.peek().is_some_and(|&c| c == ' ' || c == '\t') && delim != '\t' {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(SplitError::Unterminated),
                    Some('"') => {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            field.push('"');
                        } else {
                            break;
                        }
                    }
                    Some(c) => field.push(c),
                }
            }
            while chars.peek().is_some_and(|&c| c == ' ' || c == '\t') && delim != '\t' {
                chars.next();
            }
            match chars.next() {
                None => {
                    out.push(field);
                    return Ok(());
                }
                Some(c) if c == delim => out.push(field),
                Some(_) => return Err(SplitError::JunkAfterQuote),
            }
        } else {
            let mut ended = true;
            for c in chars.by_ref() {
                if c == delim {
                    ended = false;
                    break;
                }
                field.push(c);
            }
            out.push(field.trim().to_string());
            if ended {
                return Ok(());
            }
        }
    }
}

/// Splits tags on `,`, `;` or `|`, dropping empties and the literal `None` (URLhaus).
pub(crate) fn split_tags(s: &str) -> Vec<String> {
    s.split([',', ';', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "None")
        .take(MAX_TAGS)
        .map(str::to_string)
        .collect()
}

/// Maps a type column value to a tapir type: tapir names, then ThreatFox, MISP and Zeek
/// spellings.
pub(crate) fn type_alias(s: &str) -> Option<IndicatorType> {
    let l = s.trim().to_ascii_lowercase();
    Some(match l.as_str() {
        "ip" | "cidr" | "ipv4" | "ipv6" | "ip-src" | "ip-dst" | "ipv4-addr" | "ipv6-addr"
        | "intel::addr" | "intel::subnet" | "subnet" | "addr" => IndicatorType::Ip,
        "domain" | "hostname" | "fqdn" | "domain-name" | "intel::domain" => IndicatorType::Domain,
        "url" | "uri" | "intel::url" => IndicatorType::Url,
        "ja3" | "ja3-fingerprint-md5" | "intel::ja3" => IndicatorType::Ja3,
        "ja4" => IndicatorType::Ja4,
        "cert_sha1" | "x509-fingerprint-sha1" | "sha1_cert" | "intel::cert_hash" => {
            IndicatorType::CertSha1
        }
        "ip_port" | "ip:port" | "ip-dst|port" | "ip-src|port" => IndicatorType::IpPort,
        "hash" | "file_hash" | "md5" | "sha1" | "sha256" | "sha512" | "md5_hash" | "sha1_hash"
        | "sha256_hash" | "intel::file_hash" => IndicatorType::FileHash,
        "hassh" | "hassh-md5" | "intel::hassh" => IndicatorType::Hassh,
        _ => return None,
    })
}

/// Resolves a [`Column`] against the header.
fn resolve(c: &Column, header: &[String]) -> Option<usize> {
    match c {
        Column::Index(i) => Some(*i),
        Column::Name(n) => header.iter().position(|h| h.trim().eq_ignore_ascii_case(n)),
    }
}

/// Resolved column indices of a mapping.
struct Cols {
    value: usize,
    ty: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    conf: Option<usize>,
    tags: Option<usize>,
    desc: Option<usize>,
    reference: Option<usize>,
}

impl Cols {
    fn resolve(m: &CsvMapping, header: &[String]) -> Result<Self, String> {
        let opt = |c: &Option<Column>, what: &str| -> Result<Option<usize>, String> {
            match c {
                None => Ok(None),
                Some(c) => resolve(c, header)
                    .map(Some)
                    .ok_or_else(|| format!("{what} column {c:?} not in the header")),
            }
        };
        Ok(Self {
            value: resolve(&m.value_column, header)
                .ok_or_else(|| format!("value column {:?} not in the header", m.value_column))?,
            ty: opt(&m.type_column, "type")?,
            first: opt(&m.first_seen_column, "first_seen")?,
            last: opt(&m.last_seen_column, "last_seen")?,
            conf: opt(&m.confidence_column, "confidence")?,
            tags: opt(&m.tags_column, "tags")?,
            desc: opt(&m.description_column, "description")?,
            reference: opt(&m.reference_column, "reference")?,
        })
    }
}

/// Reads a CSV feed through a configured mapping. With a header, rows whose field count differs
/// from the header's are rejected (a shifted row would put the wrong text in the value column).
pub(crate) fn read_mapped<R: BufRead>(
    b: &mut IntelBuilder,
    m: &CsvMapping,
    reader: R,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    let mut fields: Vec<String> = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut cols: Option<Cols> = if m.has_header {
        None
    } else {
        match Cols::resolve(m, &[]) {
            Ok(c) => Some(c),
            Err(e) => {
                report.warn(
                    &ctx.source,
                    None,
                    format!("csv mapping: {e}; nothing loaded"),
                );
                return Ok(());
            }
        }
    };
    let mut dead = false;
    for_each_line(reader, &ctx.source, report, |report, line_no, text| {
        if dead {
            return Ok(());
        }
        let t = text.trim();
        if t.is_empty() || (!m.comment_prefix.is_empty() && t.starts_with(&m.comment_prefix)) {
            return Ok(());
        }
        if let Err(e) = split_row(t, m.delimiter, &mut fields) {
            report.warn(&ctx.source, Some(line_no), format!("csv: {e}"));
            return Ok(());
        }
        let Some(c) = cols.as_ref() else {
            match Cols::resolve(m, &fields) {
                Ok(c) => {
                    cols = Some(c);
                    header = Some(fields.clone());
                }
                Err(e) => {
                    report.warn(
                        &ctx.source,
                        Some(line_no),
                        format!("csv mapping: {e}; nothing loaded"),
                    );
                    dead = true;
                }
            }
            return Ok(());
        };
        if let Some(h) = &header {
            if h.len() != fields.len() {
                report.warn(
                    &ctx.source,
                    Some(line_no),
                    format!(
                        "csv: {} fields, header has {}; row skipped",
                        fields.len(),
                        h.len()
                    ),
                );
                return Ok(());
            }
        }
        let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).map(String::as_str);
        let Some(value) = get(Some(c.value)) else {
            report.warn(
                &ctx.source,
                Some(line_no),
                format!(
                    "csv: no column {} in a row of {} fields",
                    c.value,
                    fields.len()
                ),
            );
            return Ok(());
        };
        let ty = match (c.ty, m.kind) {
            (Some(_), _) => {
                let tname = get(c.ty).unwrap_or("");
                match m.type_map.get(tname).copied().or_else(|| type_alias(tname)) {
                    Some(t) => Some(t),
                    None => {
                        report.skipped(&format!("csv:{tname}"));
                        return Ok(());
                    }
                }
            }
            (None, k) => k,
        };
        let parsed = match ty {
            Some(t) => parse::parse_typed(t, value),
            None => parse::parse_auto(value),
        };
        let ts = |i| get(i).and_then(crate::time::parse_timestamp);
        let meta = ProvenanceMeta {
            first_seen: ts(c.first),
            last_seen: ts(c.last),
            tags: get(c.tags).map(split_tags).unwrap_or_default(),
            description: get(c.desc).filter(|s| !s.is_empty()).map(str::to_string),
            reference: get(c.reference)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            ..ProvenanceMeta::default()
        };
        let conf = get(c.conf)
            .and_then(|s| s.trim().parse::<u64>().ok())
            .and_then(|n| u8::try_from(n.min(100)).ok());
        let meta = if meta == ProvenanceMeta::default() {
            None
        } else {
            Some(Box::new(meta))
        };
        add_record(
            b,
            report,
            ctx,
            ty.map_or("csv", |t| t.as_str()),
            Loc::Line(line_no),
            value,
            parsed,
            conf,
            meta,
        )
        .map(|_| ())
    })
}

/// Rows of a fixed-layout CSV (the abuse.ch exports): comment lines skipped, each row split and
/// handed to `f`; split errors are warnings.
pub(crate) fn for_each_row<R: BufRead>(
    reader: R,
    ctx: &Ctx,
    report: &mut LoadReport,
    mut f: impl FnMut(&mut LoadReport, u32, &[String]) -> Result<(), Full>,
) -> Result<(), ReadError> {
    let mut fields: Vec<String> = Vec::new();
    for_each_line(reader, &ctx.source, report, |report, line_no, text| {
        let t = text.trim();
        if t.is_empty() || t.starts_with('#') {
            return Ok(());
        }
        if let Err(e) = split_row(t, ',', &mut fields) {
            report.warn(&ctx.source, Some(line_no), format!("csv: {e}"));
            return Ok(());
        }
        f(report, line_no, &fields)
    })
}
