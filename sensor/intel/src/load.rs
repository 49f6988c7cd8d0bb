//! Plain-list and hosts-file loading, file and directory dispatch, the shared line reader, and
//! the load report.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::db::{Added, Ctx, IntelBuilder};
use crate::formats::{self, FeedFormat};
use crate::parse::{self, LineError, Parsed};
use crate::{
    IndicatorKind, IndicatorType, ProvenanceMeta, MAX_DIR_ENTRIES, MAX_LINE_BYTES,
    MAX_LIST_FILE_BYTES, MAX_WARNINGS,
};

/// Longest slice of an offending line quoted in a warning.
const MAX_QUOTE_CHARS: usize = 80;

/// A load failure that stops loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntelError {
    #[error("{}: no such file or directory", .path.display())]
    NotFound { path: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{}: cannot infer the list type from the file name (stem must start with domains, ips, ja3 or ja4)",
        .path.display()
    )]
    UnknownType { path: PathBuf },
    #[error("{}:{line}: indicator limit of {max} reached", .path.display(), max = crate::MAX_INDICATORS)]
    TooManyIndicators { path: PathBuf, line: u32 },
    #[error("{}: {message}", .path.display())]
    Format { path: PathBuf, message: String },
    #[error("feed {name}: {message}")]
    Config { name: String, message: String },
}

/// A non-fatal problem: a bad line or object, a skipped file, a normalised value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    pub file: Arc<str>,
    /// 1-based line, or `None` for a whole-file or JSON-object warning.
    pub line: Option<u32>,
    /// The STIX/MISP object the warning is about (JSON formats).
    pub object: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.object) {
            (Some(l), _) => write!(f, "{}:{l}: {}", self.file, self.message),
            (None, Some(o)) => write!(f, "{}: {o}: {}", self.file, self.message),
            (None, None) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// New indicators per type name, as `intel check --json` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TypeCounts {
    pub ip: usize,
    pub cidr: usize,
    pub domain: usize,
    pub url: usize,
    pub ja3: usize,
    pub ja4: usize,
    pub cert_sha1: usize,
    pub hash: usize,
    pub ip_port: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub hassh: usize,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl TypeCounts {
    /// Count for a name from [`crate::Indicator::type_name`].
    pub fn get(&self, name: &str) -> usize {
        match name {
            "ip" => self.ip,
            "cidr" => self.cidr,
            "domain" => self.domain,
            "url" => self.url,
            "ja3" => self.ja3,
            "ja4" => self.ja4,
            "cert_sha1" => self.cert_sha1,
            "hash" => self.hash,
            "ip_port" => self.ip_port,
            "hassh" => self.hassh,
            _ => 0,
        }
    }

    pub(crate) fn bump(&mut self, ty: IndicatorType, cidr: bool) {
        let c = self.slot(ty, cidr);
        *c = c.saturating_add(1);
    }

    fn unbump(&mut self, ty: IndicatorType, cidr: bool) {
        let c = self.slot(ty, cidr);
        *c = c.saturating_sub(1);
    }

    fn slot(&mut self, ty: IndicatorType, cidr: bool) -> &mut usize {
        match ty {
            IndicatorType::Ip if cidr => &mut self.cidr,
            IndicatorType::Ip => &mut self.ip,
            IndicatorType::Domain => &mut self.domain,
            IndicatorType::Url => &mut self.url,
            IndicatorType::Ja3 => &mut self.ja3,
            IndicatorType::Ja4 => &mut self.ja4,
            IndicatorType::CertSha1 => &mut self.cert_sha1,
            IndicatorType::FileHash => &mut self.hash,
            IndicatorType::IpPort => &mut self.ip_port,
            IndicatorType::Hassh => &mut self.hassh,
        }
    }

    pub fn total(&self) -> usize {
        [
            self.ip,
            self.cidr,
            self.domain,
            self.url,
            self.ja3,
            self.ja4,
            self.cert_sha1,
            self.hash,
            self.ip_port,
            self.hassh,
        ]
        .iter()
        .fold(0usize, |a, &b| a.saturating_add(b))
    }
}

/// New indicators per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    pub domain: usize,
    pub ip: usize,
    pub ja3: usize,
    pub ja4: usize,
}

impl KindCounts {
    pub fn get(&self, kind: IndicatorKind) -> usize {
        match kind {
            IndicatorKind::Domain => self.domain,
            IndicatorKind::Ip => self.ip,
            IndicatorKind::Ja3 => self.ja3,
            IndicatorKind::Ja4 => self.ja4,
        }
    }

    fn slot(&mut self, kind: IndicatorKind) -> &mut usize {
        match kind {
            IndicatorKind::Domain => &mut self.domain,
            IndicatorKind::Ip => &mut self.ip,
            IndicatorKind::Ja3 => &mut self.ja3,
            IndicatorKind::Ja4 => &mut self.ja4,
        }
    }

    fn bump(&mut self, kind: IndicatorKind) {
        let c = self.slot(kind);
        *c = c.saturating_add(1);
    }

    pub fn total(&self) -> usize {
        self.domain
            .saturating_add(self.ip)
            .saturating_add(self.ja3)
            .saturating_add(self.ja4)
    }
}

/// What a load did. `Display` prints one warning per line (`file:line: message`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// At most [`MAX_WARNINGS`]; see `warnings_suppressed`.
    pub warnings: Vec<LoadWarning>,
    /// Warnings dropped once `warnings` was full.
    pub warnings_suppressed: usize,
    /// New indicators per legacy kind (only the four legacy types are counted here).
    pub loaded: KindCounts,
    /// New indicators per type name (`ip`, `cidr`, `domain`, ...).
    pub by_type: TypeCounts,
    /// Records whose normalised value was already loaded: merged into the existing indicator
    /// as one more provenance.
    pub duplicates: usize,
    /// Files read.
    pub files: usize,
    /// Accepted records (new or merged) per source-native type: `Intel::ADDR`, `ip-dst`,
    /// `ipv4-addr:value`, `hosts`, `list`, `feodo:ip`, ...
    pub records_by_type: BTreeMap<String, usize>,
    /// Configured feeds that could not be loaded at all: (feed name, error). A caller doing a
    /// hot reload may refuse a set with failed feeds and keep the previous one.
    pub failed_feeds: Vec<(String, String)>,
    /// Records skipped because their source type is not an indicator tapir handles (MISP
    /// `link`, Zeek `Intel::EMAIL`, STIX `file:name`, MISP attributes without `to_ids`, ...).
    pub skipped_by_type: BTreeMap<String, usize>,
}

impl LoadReport {
    pub fn warn(&mut self, file: &Arc<str>, line: Option<u32>, message: String) {
        self.push_warning(file, line, None, message);
    }

    /// A warning about a JSON object (STIX id, MISP uuid).
    pub fn warn_object(&mut self, file: &Arc<str>, object: &str, message: String) {
        self.push_warning(file, None, Some(object.to_string()), message);
    }

    fn push_warning(
        &mut self,
        file: &Arc<str>,
        line: Option<u32>,
        object: Option<String>,
        message: String,
    ) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(LoadWarning {
                file: Arc::clone(file),
                line,
                object,
                message,
            });
        } else {
            self.warnings_suppressed = self.warnings_suppressed.saturating_add(1);
        }
    }

    /// Warnings kept plus suppressed.
    pub fn warning_count(&self) -> usize {
        self.warnings.len().saturating_add(self.warnings_suppressed)
    }

    pub(crate) fn skipped(&mut self, source_type: &str) {
        bump_map(&mut self.skipped_by_type, source_type);
    }

    /// Counts a new indicator.
    pub(crate) fn note_new(&mut self, ty: IndicatorType, cidr: bool) {
        self.by_type.bump(ty, cidr);
        if let Some(k) = legacy(ty) {
            self.loaded.bump(k);
        }
    }

    /// A value counted as new in its feed's table turned out to be listed by an earlier feed
    /// too: one indicator, the listing merged.
    pub(crate) fn note_merged(&mut self, ty: IndicatorType, cidr: bool) {
        self.by_type.unbump(ty, cidr);
        if let Some(k) = legacy(ty) {
            let c = self.loaded.slot(k);
            *c = c.saturating_sub(1);
        }
        self.duplicates = self.duplicates.saturating_add(1);
    }
}

fn legacy(ty: IndicatorType) -> Option<IndicatorKind> {
    match ty {
        IndicatorType::Ip => Some(IndicatorKind::Ip),
        IndicatorType::Domain => Some(IndicatorKind::Domain),
        IndicatorType::Ja3 => Some(IndicatorKind::Ja3),
        IndicatorType::Ja4 => Some(IndicatorKind::Ja4),
        _ => None,
    }
}

fn bump_map(m: &mut BTreeMap<String, usize>, k: &str) {
    match m.get_mut(k) {
        Some(c) => *c = c.saturating_add(1),
        None => {
            m.insert(k.to_string(), 1);
        }
    }
}

/// Where a record sits in its file, for warnings.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Loc<'a> {
    Line(u32),
    Object(&'a str),
}

/// The indicator limit was reached; loading must stop.
#[derive(Debug)]
pub(crate) struct Full {
    pub line: u32,
}

/// Stores one parsed record (or reports why it was rejected) and keeps the report's counts:
/// the one place every format loader goes through.
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_record(
    b: &mut IntelBuilder,
    report: &mut LoadReport,
    ctx: &Ctx,
    source_type: &str,
    loc: Loc<'_>,
    raw: &str,
    parsed: Result<Parsed, LineError>,
    confidence: Option<u8>,
    meta: Option<Box<ProvenanceMeta>>,
) -> Result<bool, Full> {
    let line = match loc {
        Loc::Line(l) => l,
        Loc::Object(_) => 0,
    };
    // Plain lists keep the historic `reason: "value"` text; other formats name the record type.
    let suffix = || {
        let plain =
            source_type == "list" || IndicatorType::ALL.iter().any(|t| t.as_str() == source_type);
        if plain {
            String::new()
        } else {
            format!(" [{source_type}]")
        }
    };
    let fail = |report: &mut LoadReport, msg: String| match loc {
        Loc::Line(l) => report.warn(&ctx.source, Some(l), msg),
        Loc::Object(o) => report.warn_object(&ctx.source, o, msg),
    };
    let p = match parsed {
        Ok(p) => p,
        Err(LineError::TooManyIndicators) => return Err(Full { line }),
        Err(e) => {
            fail(report, format!("{e}: {:?}{}", quote(raw.trim()), suffix()));
            return Ok(false);
        }
    };
    let prov = ctx.prov(line, confidence, meta);
    match b.insert(p, prov) {
        Ok(Added::Blank) => Ok(false),
        Ok(Added::Duplicate { .. }) => {
            report.duplicates = report.duplicates.saturating_add(1);
            bump_map(&mut report.records_by_type, source_type);
            Ok(true)
        }
        Ok(Added::New { id, host_bits, .. }) => {
            bump_map(&mut report.records_by_type, source_type);
            let (ty, cidr, value) = match b.get(id) {
                Some(i) => (i.ty, i.is_cidr(), i.value.as_str()),
                None => return Ok(true),
            };
            if host_bits {
                let msg = format!(
                    "host bits set in {:?}; normalised to {value}",
                    quote(raw.trim())
                );
                fail(report, msg);
            }
            report.note_new(ty, cidr);
            Ok(true)
        }
        Err(LineError::TooManyIndicators) => Err(Full { line }),
        Err(e) => {
            fail(report, format!("{e}: {:?}{}", quote(raw.trim()), suffix()));
            Ok(false)
        }
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.warnings {
            writeln!(f, "{w}")?;
        }
        if self.warnings_suppressed > 0 {
            writeln!(f, "({} more warnings suppressed)", self.warnings_suppressed)?;
        }
        Ok(())
    }
}

/// The list kind implied by a file name, from its stem's prefix.
pub fn infer_kind(path: &Path) -> Option<IndicatorKind> {
    match infer_type(path)? {
        IndicatorType::Domain => Some(IndicatorKind::Domain),
        IndicatorType::Ip => Some(IndicatorKind::Ip),
        IndicatorType::Ja3 => Some(IndicatorKind::Ja3),
        IndicatorType::Ja4 => Some(IndicatorKind::Ja4),
        _ => None,
    }
}

/// The list type implied by a file name stem: `domains*`, `ips*`, `ja3*`, `ja4*`, `urls*`,
/// `hassh*`, `certs*` / `sha1*` (certificate SHA-1), `hashes*` (file hashes).
pub(crate) fn infer_type(path: &Path) -> Option<IndicatorType> {
    let stem = path.file_stem()?.to_str()?;
    let prefix = |p: &str| {
        stem.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    [
        ("domains", IndicatorType::Domain),
        ("ips", IndicatorType::Ip),
        ("ja3", IndicatorType::Ja3),
        ("ja4", IndicatorType::Ja4),
        ("urls", IndicatorType::Url),
        ("hassh", IndicatorType::Hassh),
        ("certs", IndicatorType::CertSha1),
        ("sha1", IndicatorType::CertSha1),
        ("hashes", IndicatorType::FileHash),
    ]
    .into_iter()
    .find(|(p, _)| prefix(p))
    .map(|(_, t)| t)
}

pub(crate) fn io_err(path: &Path, source: io::Error) -> IntelError {
    if source.kind() == io::ErrorKind::NotFound {
        IntelError::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        IntelError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The format of a file loaded without configuration: a typed plain list when the file name
/// says so, else whatever the content shows, else `None`.
fn implicit_format(path: &Path) -> Option<FeedFormat> {
    if infer_type(path).is_some() {
        return Some(FeedFormat::Plain);
    }
    match formats::detect_format(path).ok()? {
        FeedFormat::Plain | FeedFormat::Auto => None,
        f => Some(f),
    }
}

pub(crate) fn load_path(
    b: &mut IntelBuilder,
    path: &Path,
    report: &mut LoadReport,
) -> Result<(), IntelError> {
    for f in list_files(path, report)? {
        load_list_file(b, &f, report)?;
    }
    Ok(())
}

/// A list file to load: named explicitly (its errors stop the load) or found in a directory
/// (its errors are warnings and it is skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListFile {
    pub path: PathBuf,
    pub explicit: bool,
}

/// The list files behind one `--intel` path: the path itself (a file, or a MISP feed directory
/// with its `manifest.json`), or the regular files of a directory in name order, at most
/// [`MAX_DIR_ENTRIES`]. Entries that are not regular files are warnings.
pub(crate) fn list_files(
    path: &Path,
    report: &mut LoadReport,
) -> Result<Vec<ListFile>, IntelError> {
    let meta = fs::metadata(path).map_err(|e| io_err(path, e))?;
    if !meta.is_dir() || path.join("manifest.json").is_file() {
        return Ok(vec![ListFile {
            path: path.to_path_buf(),
            explicit: true,
        }]);
    }
    let dir_src: Arc<str> = path.display().to_string().into();
    let mut entries = Vec::new();
    for e in fs::read_dir(path).map_err(|e| io_err(path, e))? {
        let e = e.map_err(|e| io_err(path, e))?;
        if entries.len() >= MAX_DIR_ENTRIES {
            report.warn(
                &dir_src,
                None,
                format!("more than {MAX_DIR_ENTRIES} entries; the rest are ignored"),
            );
            break;
        }
        entries.push(e.path());
    }
    entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut out = Vec::new();
    for p in entries {
        let source: Arc<str> = p.display().to_string().into();
        // metadata (not symlink_metadata) so that a symlinked list file loads like a file.
        match fs::metadata(&p) {
            Ok(m) if m.is_file() => out.push(ListFile {
                path: p,
                explicit: false,
            }),
            Ok(_) => report.warn(&source, None, "not a regular file; skipped".into()),
            Err(e) => report.warn(&source, None, format!("{e}; skipped")),
        }
    }
    Ok(out)
}

/// Loads one list file in its implicit format (see [`list_files`] for which errors stop).
pub(crate) fn load_list_file(
    b: &mut IntelBuilder,
    f: &ListFile,
    report: &mut LoadReport,
) -> Result<(), IntelError> {
    let source: Arc<str> = f.path.display().to_string().into();
    let Some(format) = implicit_format(&f.path) else {
        if f.explicit {
            return Err(IntelError::UnknownType {
                path: f.path.clone(),
            });
        }
        report.warn(
            &source,
            None,
            "cannot infer the list type from the file name (stem must start with domains, ips, ja3 or ja4) or the content; skipped"
                .into(),
        );
        return Ok(());
    };
    let ctx = Ctx::plain(&source);
    match formats::load_file(b, &f.path, format, &ctx, None, report) {
        Ok(_) => Ok(()),
        Err(e) if f.explicit => Err(e),
        Err(e @ IntelError::TooManyIndicators { .. }) => Err(e),
        Err(e) => {
            report.warn(&source, None, format!("{e}; skipped"));
            Ok(())
        }
    }
}

pub(crate) enum ReadError {
    Io(io::Error),
    Full { line: u32 },
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<Full> for ReadError {
    fn from(f: Full) -> Self {
        Self::Full { line: f.line }
    }
}

impl ReadError {
    pub(crate) fn into_intel(self, path: &Path) -> IntelError {
        match self {
            Self::Io(e) => io_err(path, e),
            Self::Full { line } => IntelError::TooManyIndicators {
                path: path.to_path_buf(),
                line,
            },
        }
    }
}

/// Calls `f(report, line_no, text)` for every line of `reader`: the one line reader behind every
/// line-oriented format. Lines end at LF; a CR before it and a UTF-8 byte-order mark at the start
/// of the file are dropped. Over-long and non-UTF-8 lines are warnings. Memory is bounded by
/// [`MAX_LINE_BYTES`] per line and reading stops after [`MAX_LIST_FILE_BYTES`].
pub(crate) fn for_each_line<R: BufRead>(
    mut reader: R,
    source: &Arc<str>,
    report: &mut LoadReport,
    mut f: impl FnMut(&mut LoadReport, u32, &str) -> Result<(), Full>,
) -> Result<(), ReadError> {
    report.files = report.files.saturating_add(1);
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut line_no: u32 = 0;
    let mut total: u64 = 0;
    let cap = u64::try_from(MAX_LINE_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    loop {
        buf.clear();
        let n = (&mut reader).take(cap).read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        total = total.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        line_no = line_no.saturating_add(1);
        if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE_BYTES {
            total = total.saturating_add(skip_line(&mut reader)?);
            report.warn(source, Some(line_no), LineError::TooLong.to_string());
        } else {
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            let mut text: &[u8] = &buf;
            if line_no == 1 {
                text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
            }
            match std::str::from_utf8(text) {
                Err(_) => report.warn(source, Some(line_no), LineError::NotUtf8.to_string()),
                Ok(t) => f(report, line_no, t)?,
            }
        }
        if total > MAX_LIST_FILE_BYTES {
            report.warn(
                source,
                Some(line_no),
                format!("file larger than {MAX_LIST_FILE_BYTES} bytes; the rest is ignored"),
            );
            break;
        }
    }
    Ok(())
}

/// Reads a legacy typed list (the [`IntelBuilder::load_reader`] entry and the fuzz target).
pub(crate) fn read_list<R: BufRead>(
    b: &mut IntelBuilder,
    kind: IndicatorKind,
    reader: R,
    source: &Arc<str>,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    let ctx = Ctx::plain(source);
    read_plain(b, Some(IndicatorType::from(kind)), reader, &ctx, report)
}

/// Reads a plain list: one value per line, `#` comments. `ty` is the list's type (IPs in a
/// domain list become IP indicators, with one summary warning); `None` guesses each value's type.
pub(crate) fn read_plain<R: BufRead>(
    b: &mut IntelBuilder,
    ty: Option<IndicatorType>,
    reader: R,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    let mut routed_ips: usize = 0;
    let src_type = ty.map_or("list", |t| t.as_str());
    for_each_line(reader, &ctx.source, report, |report, line_no, text| {
        let t = parse::strip_comment(text);
        if t.is_empty() {
            return Ok(());
        }
        let parsed = match ty {
            Some(ty) => parse::parse_typed(ty, t),
            None => parse::parse_auto(t),
        };
        if ty == Some(IndicatorType::Domain) && matches!(parsed, Ok(Parsed::Ip { .. })) {
            routed_ips = routed_ips.saturating_add(1);
        }
        add_record(
            b,
            report,
            ctx,
            src_type,
            Loc::Line(line_no),
            t,
            parsed,
            None,
            None,
        )
        .map(|_| ())
    })?;
    if routed_ips > 0 {
        report.warn(
            &ctx.source,
            None,
            format!("{routed_ips} IP address entries in a domain list loaded as ip indicators"),
        );
    }
    Ok(())
}

/// Names that hosts files map to themselves or to the local machine, not blocklist entries.
const HOSTS_LOCAL_NAMES: [&str; 8] = [
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-allnodes",
];

/// Reads a hosts file (`ADDRESS NAME [NAME...]`, hosts(5)): every name is a domain indicator
/// whatever address it is sunk to (`0.0.0.0`, `127.0.0.1`, `::`); local names are skipped.
pub(crate) fn read_hosts<R: BufRead>(
    b: &mut IntelBuilder,
    reader: R,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    for_each_line(reader, &ctx.source, report, |report, line_no, text| {
        let t = parse::strip_comment(text);
        let mut toks = t.split_whitespace();
        let Some(addr) = toks.next() else {
            return Ok(());
        };
        if addr.parse::<std::net::IpAddr>().is_err() {
            report.warn(
                &ctx.source,
                Some(line_no),
                format!("hosts: first field is not an address: {:?}", quote(t)),
            );
            return Ok(());
        }
        let mut any = false;
        for name in toks {
            any = true;
            if HOSTS_LOCAL_NAMES
                .iter()
                .any(|l| l.eq_ignore_ascii_case(name))
            {
                report.skipped("hosts-local-name");
                continue;
            }
            let parsed = parse::parse_typed(IndicatorType::Domain, name);
            add_record(
                b,
                report,
                ctx,
                "hosts",
                Loc::Line(line_no),
                name,
                parsed,
                None,
                None,
            )?;
        }
        if !any {
            report.warn(
                &ctx.source,
                Some(line_no),
                "hosts: no name after the address".into(),
            );
        }
        Ok(())
    })
}

/// Discards the rest of an over-long line without buffering it; returns the bytes skipped.
fn skip_line<R: BufRead>(reader: &mut R) -> io::Result<u64> {
    let mut skipped: u64 = 0;
    loop {
        let avail = reader.fill_buf()?;
        if avail.is_empty() {
            return Ok(skipped);
        }
        let (used, done) = match avail.iter().position(|&c| c == b'\n') {
            Some(i) => (i.saturating_add(1), true),
            None => (avail.len(), false),
        };
        reader.consume(used);
        skipped = skipped.saturating_add(u64::try_from(used).unwrap_or(u64::MAX));
        if done || skipped > MAX_LIST_FILE_BYTES {
            return Ok(skipped);
        }
    }
}

/// The start of an offending value, for a warning (`{:?}` then escapes control characters).
pub(crate) fn quote(s: &str) -> &str {
    match s.char_indices().nth(MAX_QUOTE_CHARS) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// Opens `path` for line reading.
pub(crate) fn open_lines(path: &Path) -> Result<BufReader<fs::File>, IntelError> {
    fs::File::open(path)
        .map(|f| BufReader::with_capacity(1 << 16, f))
        .map_err(|e| io_err(path, e))
}
