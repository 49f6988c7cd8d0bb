//! Feed formats: detection and dispatch to one loader module per format.
//!
//! Every loader turns records into [`crate::Provenance`]-carrying indicators through
//! `load::add_record`, so normalisation, merging and counting are the same for all formats.

pub(crate) mod abusech;
pub mod csv;
pub(crate) mod misp;
pub(crate) mod stix;
pub(crate) mod zeek;

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::db::{Ctx, IntelBuilder};
use crate::load::{self, io_err, IntelError, LoadReport};
use crate::MAX_JSON_FILE_BYTES;

/// Bytes read from the start of a file to detect its format.
const SNIFF_BYTES: u64 = 16 * 1024;

/// A feed's format. `Auto` detects from content (then file name); any other value forces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedFormat {
    #[default]
    Auto,
    /// One value per line; the type comes from the file name or from each value.
    Plain,
    /// hosts(5) style: `0.0.0.0 name`.
    Hosts,
    /// CSV with a configured [`csv::CsvMapping`].
    Csv,
    /// Zeek Intel framework (`#fields indicator indicator_type ...`).
    ZeekIntel,
    /// STIX 2.1 bundle.
    Stix21,
    /// MISP event JSON (`{"Event": {...}}`).
    MispEvent,
    /// MISP feed directory (`manifest.json` + `<uuid>.json`).
    MispFeed,
    /// MISP warninglist JSON (`{"list": [...], "type": "cidr" | "hostname" | "string"}`).
    MispWarninglist,
    /// abuse.ch Feodo Tracker botnet C2 IP blocklist (CSV).
    Feodo,
    /// abuse.ch SSLBL JA3 fingerprint blacklist (CSV).
    SslblJa3,
    /// abuse.ch SSLBL SSL certificate blacklist (SHA-1, CSV).
    SslblCert,
    /// abuse.ch SSLBL botnet C2 IP blacklist (CSV).
    SslblIp,
    /// abuse.ch URLhaus database dump (CSV).
    Urlhaus,
    /// abuse.ch ThreatFox CSV export.
    ThreatfoxCsv,
    /// abuse.ch ThreatFox JSON export (or API `data` array).
    ThreatfoxJson,
}

impl FeedFormat {
    /// The config / `--json` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Plain => "plain",
            Self::Hosts => "hosts",
            Self::Csv => "csv",
            Self::ZeekIntel => "zeek-intel",
            Self::Stix21 => "stix21",
            Self::MispEvent => "misp-event",
            Self::MispFeed => "misp-feed",
            Self::MispWarninglist => "misp-warninglist",
            Self::Feodo => "feodo",
            Self::SslblJa3 => "sslbl-ja3",
            Self::SslblCert => "sslbl-cert",
            Self::SslblIp => "sslbl-ip",
            Self::Urlhaus => "urlhaus",
            Self::ThreatfoxCsv => "threatfox-csv",
            Self::ThreatfoxJson => "threatfox-json",
        }
    }
}

impl std::fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Detects the format of a file (or a MISP feed directory) from its first bytes, then its name.
/// Never returns `Auto`.
pub fn detect_format(path: &Path) -> std::io::Result<FeedFormat> {
    if path.is_dir() {
        return Ok(if path.join("manifest.json").is_file() {
            FeedFormat::MispFeed
        } else {
            FeedFormat::Plain
        });
    }
    let mut head = Vec::new();
    fs::File::open(path)?
        .take(SNIFF_BYTES)
        .read_to_end(&mut head)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(detect_bytes(&name, &head))
}

/// Content sniffing behind [`detect_format`]; `name` is the lowercase file name.
pub(crate) fn detect_bytes(name: &str, head: &[u8]) -> FeedFormat {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    let has = |s: &str| text.contains(s);
    if t.starts_with('{') || t.starts_with('[') {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let chas = |s: &str| compact.contains(s);
        if chas("\"type\":\"bundle\"") || (chas("\"spec_version\":\"2.") && chas("\"objects\"")) {
            return FeedFormat::Stix21;
        }
        if chas("\"Event\":{") || chas("\"Attribute\":[") && chas("\"to_ids\"") {
            return FeedFormat::MispEvent;
        }
        if chas("\"ioc_value\"") || (chas("\"query_status\"") && chas("\"ioc_type\"")) {
            return FeedFormat::ThreatfoxJson;
        }
        // Warninglists put `type` and `matching_attributes` after a possibly huge `list`.
        if chas("\"matching_attributes\"") || chas("\"list\":[") {
            return FeedFormat::MispWarninglist;
        }
        if name == "manifest.json" || chas("\"Orgc\":{") {
            return FeedFormat::MispFeed;
        }
        return FeedFormat::Plain;
    }
    if t.lines()
        .any(|l| l.starts_with("#fields") && l.contains("indicator_type"))
    {
        return FeedFormat::ZeekIntel;
    }
    // abuse.ch files open with a banner naming the list.
    if has("abuse.ch") || has("abuse.ch/") {
        if has("Feodo Tracker") {
            return FeedFormat::Feodo;
        }
        if has("JA3 Fingerprint") {
            return FeedFormat::SslblJa3;
        }
        if has("SSL Certificate Blacklist") {
            return FeedFormat::SslblCert;
        }
        if has("SSL IPBL") || (has("sslbl") && has("IP Blacklist")) {
            return FeedFormat::SslblIp;
        }
        if has("URLhaus") {
            return FeedFormat::Urlhaus;
        }
        if has("ThreatFox") {
            return FeedFormat::ThreatfoxCsv;
        }
    }
    if has("\"ioc_value\"") && has("\"ioc_type\"") || has("ioc_value,ioc_type") {
        return FeedFormat::ThreatfoxCsv;
    }
    if name.ends_with(".intel") {
        return FeedFormat::ZeekIntel;
    }
    // hosts(5): the first data line is `ADDRESS NAME...`.
    let first = t
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    if let Some(l) = first {
        let mut toks = l.split_whitespace();
        if let (Some(a), Some(_)) = (toks.next(), toks.next()) {
            if a.parse::<std::net::IpAddr>().is_ok() {
                return FeedFormat::Hosts;
            }
        }
    }
    FeedFormat::Plain
}

/// Loads one file (or MISP feed directory) in `format` into `b`. Returns the format used (the
/// detected one for `Auto`). A broken JSON document is a warning, not an error.
pub(crate) fn load_file(
    b: &mut IntelBuilder,
    path: &Path,
    format: FeedFormat,
    ctx: &Ctx,
    csv: Option<&csv::CsvMapping>,
    report: &mut LoadReport,
) -> Result<FeedFormat, IntelError> {
    let format = match format {
        FeedFormat::Auto => detect_format(path).map_err(|e| io_err(path, e))?,
        f => f,
    };
    let lines = || load::open_lines(path);
    let r = match format {
        FeedFormat::Auto | FeedFormat::Plain => {
            if path.is_dir() {
                return Err(IntelError::Format {
                    path: path.to_path_buf(),
                    message: "a directory is not a plain list".into(),
                });
            }
            let ty = load::infer_type(path);
            if let (Some(t), Ok(m)) = (ty, fs::metadata(path)) {
                // Typical list lines: ~14 bytes for IPs, ~24 for names.
                let per = if t == crate::IndicatorType::Ip {
                    14
                } else {
                    24
                };
                let est = usize::try_from(m.len() / per).unwrap_or(usize::MAX);
                b.reserve_for(t, est);
            }
            load::read_plain(b, ty, lines()?, ctx, report)
        }
        FeedFormat::Hosts => load::read_hosts(b, lines()?, ctx, report),
        FeedFormat::Csv => {
            let m = csv.ok_or_else(|| IntelError::Format {
                path: path.to_path_buf(),
                message: "format csv needs a column mapping ([feeds.csv])".into(),
            })?;
            csv::read_mapped(b, m, lines()?, ctx, report)
        }
        FeedFormat::ZeekIntel => zeek::read(b, lines()?, ctx, report),
        FeedFormat::Feodo
        | FeedFormat::SslblJa3
        | FeedFormat::SslblCert
        | FeedFormat::SslblIp
        | FeedFormat::Urlhaus
        | FeedFormat::ThreatfoxCsv => abusech::read_csv(b, format, lines()?, ctx, report),
        FeedFormat::MispFeed => {
            let dir = if path.is_dir() {
                path
            } else {
                path.parent().unwrap_or(path)
            };
            return misp::load_feed_dir(b, dir, ctx, report).map(|()| format);
        }
        FeedFormat::Stix21
        | FeedFormat::MispEvent
        | FeedFormat::MispWarninglist
        | FeedFormat::ThreatfoxJson => {
            report.files = report.files.saturating_add(1);
            let Some(doc) = read_json(path, ctx, report)? else {
                return Ok(format);
            };
            match format {
                FeedFormat::Stix21 => stix::load(b, &doc, ctx, report),
                FeedFormat::MispEvent => misp::load_event_doc(b, &doc, ctx, report),
                FeedFormat::MispWarninglist => misp::load_warninglist(b, &doc, ctx, report),
                _ => abusech::load_threatfox_json(b, &doc, ctx, report),
            }
        }
    };
    r.map_err(|e| e.into_intel(path))?;
    Ok(format)
}

/// Reads and parses a JSON document, bounded by [`MAX_JSON_FILE_BYTES`]. Syntax errors become
/// a warning (with serde's line:column) and `None`.
pub(crate) fn read_json(
    path: &Path,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<Option<serde_json::Value>, IntelError> {
    let f = fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut data = Vec::new();
    f.take(MAX_JSON_FILE_BYTES.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| io_err(path, e))?;
    if u64::try_from(data.len()).unwrap_or(u64::MAX) > MAX_JSON_FILE_BYTES {
        report.warn(
            &ctx.source,
            None,
            format!("JSON document larger than {MAX_JSON_FILE_BYTES} bytes; not loaded"),
        );
        return Ok(None);
    }
    let body = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&data);
    match serde_json::from_slice(body) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            report.warn(
                &ctx.source,
                u32::try_from(e.line()).ok().filter(|&l| l > 0),
                format!("broken JSON: {e}; nothing loaded from this file"),
            );
            Ok(None)
        }
    }
}

/// Small helpers for reading loosely typed JSON feeds.
pub(crate) mod js {
    use serde_json::Value;

    pub fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
        v.get(k)?.as_str()
    }

    /// A JSON string or number as text (MISP writes numbers as strings, others do not).
    pub fn text_of(v: &Value, k: &str) -> Option<String> {
        match v.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// `true`, `"1"`, `"true"`, `1`.
    pub fn truthy(v: Option<&Value>) -> bool {
        match v {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "1" | "true" | "True"),
            Some(Value::Number(n)) => n.as_u64() == Some(1),
            _ => false,
        }
    }

    pub fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
        v.get(k)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// A 0-100 confidence from a number or numeric string.
    pub fn confidence(v: Option<&Value>) -> Option<u8> {
        let n = match v? {
            Value::Number(n) => n.as_u64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        u8::try_from(n.min(100)).ok()
    }
}
