//! Plain-list file and directory loading, and the load report.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::db::{Added, IntelBuilder};
use crate::parse::LineError;
use crate::{IndicatorKind, MAX_DIR_ENTRIES, MAX_LINE_BYTES, MAX_LIST_FILE_BYTES, MAX_WARNINGS};

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
}

/// A non-fatal problem: a bad line, a skipped file, a normalised value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    pub file: Arc<str>,
    /// 1-based line, or `None` for a whole-file warning.
    pub line: Option<u32>,
    pub message: String,
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
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

    fn bump(&mut self, kind: IndicatorKind) {
        let c = match kind {
            IndicatorKind::Domain => &mut self.domain,
            IndicatorKind::Ip => &mut self.ip,
            IndicatorKind::Ja3 => &mut self.ja3,
            IndicatorKind::Ja4 => &mut self.ja4,
        };
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
    /// New indicators per (resulting) kind.
    pub loaded: KindCounts,
    /// Lines whose normalised value was already loaded (first occurrence kept).
    pub duplicates: usize,
    /// List files read.
    pub files: usize,
}

impl LoadReport {
    pub fn warn(&mut self, file: &Arc<str>, line: Option<u32>, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(LoadWarning {
                file: Arc::clone(file),
                line,
                message,
            });
        } else {
            self.warnings_suppressed = self.warnings_suppressed.saturating_add(1);
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
    let stem = path.file_stem()?.to_str()?;
    let prefix = |p: &str| {
        stem.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    if prefix("domains") {
        Some(IndicatorKind::Domain)
    } else if prefix("ips") {
        Some(IndicatorKind::Ip)
    } else if prefix("ja3") {
        Some(IndicatorKind::Ja3)
    } else if prefix("ja4") {
        Some(IndicatorKind::Ja4)
    } else {
        None
    }
}

fn io_err(path: &Path, source: io::Error) -> IntelError {
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

pub(crate) fn load_path(
    b: &mut IntelBuilder,
    path: &Path,
    report: &mut LoadReport,
) -> Result<(), IntelError> {
    let meta = fs::metadata(path).map_err(|e| io_err(path, e))?;
    if !meta.is_dir() {
        let kind = infer_kind(path).ok_or_else(|| IntelError::UnknownType {
            path: path.to_path_buf(),
        })?;
        let file = fs::File::open(path).map_err(|e| io_err(path, e))?;
        let source: Arc<str> = path.display().to_string().into();
        return match read_list(b, kind, BufReader::new(file), &source, report) {
            Ok(()) => Ok(()),
            Err(ReadError::Io(e)) => Err(io_err(path, e)),
            Err(ReadError::Full { line }) => Err(IntelError::TooManyIndicators {
                path: path.to_path_buf(),
                line,
            }),
        };
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
    for p in entries {
        let source: Arc<str> = p.display().to_string().into();
        // metadata (not symlink_metadata) so that a symlinked list file loads like a file.
        match fs::metadata(&p) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                report.warn(&source, None, "not a regular file; skipped".into());
                continue;
            }
            Err(e) => {
                report.warn(&source, None, format!("{e}; skipped"));
                continue;
            }
        }
        let Some(kind) = infer_kind(&p) else {
            report.warn(
                &source,
                None,
                "cannot infer the list type from the file name (stem must start with domains, ips, ja3 or ja4); skipped"
                    .into(),
            );
            continue;
        };
        let file = match fs::File::open(&p) {
            Ok(f) => f,
            Err(e) => {
                report.warn(&source, None, format!("{e}; skipped"));
                continue;
            }
        };
        match read_list(b, kind, BufReader::new(file), &source, report) {
            Ok(()) => {}
            Err(ReadError::Io(e)) => report.warn(
                &source,
                None,
                format!("read error: {e}; rest of file skipped"),
            ),
            Err(ReadError::Full { line }) => {
                return Err(IntelError::TooManyIndicators { path: p, line })
            }
        }
    }
    Ok(())
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

/// Reads a list from any byte stream; the one line parser behind files and the fuzz entry.
/// Lines end at LF; a CR before it is dropped. Memory is bounded by [`MAX_LINE_BYTES`] per line
/// and reading stops after [`MAX_LIST_FILE_BYTES`].
pub(crate) fn read_list<R: BufRead>(
    b: &mut IntelBuilder,
    kind: IndicatorKind,
    mut reader: R,
    source: &Arc<str>,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    report.files = report.files.saturating_add(1);
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut line_no: u32 = 0;
    let mut total: u64 = 0;
    let mut routed_ips: usize = 0;
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
            match std::str::from_utf8(&buf) {
                Err(_) => report.warn(source, Some(line_no), LineError::NotUtf8.to_string()),
                Ok(text) => match b.add(kind, text, source, line_no) {
                    Ok(Added::Blank) => {}
                    Ok(Added::Duplicate { .. }) => {
                        report.duplicates = report.duplicates.saturating_add(1)
                    }
                    Ok(Added::New {
                        id,
                        kind: got,
                        host_bits,
                    }) => {
                        report.loaded.bump(got);
                        if got != kind {
                            routed_ips = routed_ips.saturating_add(1);
                        }
                        if host_bits {
                            let value = b.value_of(id).unwrap_or("");
                            report.warn(
                                source,
                                Some(line_no),
                                format!(
                                    "host bits set in {:?}; normalised to {value}",
                                    quote(text.trim())
                                ),
                            );
                        }
                    }
                    Err(LineError::TooManyIndicators) => {
                        return Err(ReadError::Full { line: line_no })
                    }
                    Err(e) => report.warn(
                        source,
                        Some(line_no),
                        format!("{e}: {:?}", quote(text.trim())),
                    ),
                },
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
    if routed_ips > 0 {
        report.warn(
            source,
            None,
            format!("{routed_ips} IP address entries in a {kind} list loaded as ip indicators"),
        );
    }
    Ok(())
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
fn quote(s: &str) -> &str {
    match s.char_indices().nth(MAX_QUOTE_CHARS) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}
