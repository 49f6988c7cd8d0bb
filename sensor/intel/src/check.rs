//! `tapir intel check`: load each file on its own and report its format, indicators by type and
//! warnings.

use std::path::{Path, PathBuf};

use crate::db::{Ctx, IntelBuilder};
use crate::formats::{self, FeedFormat};
use crate::load::{io_err, IntelError, LoadReport, LoadWarning, TypeCounts};

/// The result for one file. Serialises (for `--json`) as
/// `{"file", "format", "indicators": {TYPE: COUNT}, "warnings": COUNT}`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileCheck {
    pub file: String,
    pub format: FeedFormat,
    /// Distinct indicators in this file by type name.
    pub indicators: TypeCounts,
    /// Kept warnings (`file:line: message` or `file: object: message` via `Display`).
    #[serde(rename = "warnings", serialize_with = "count")]
    pub warnings: Vec<LoadWarning>,
    /// Warnings beyond the kept ones.
    #[serde(skip)]
    pub warnings_suppressed: usize,
    #[serde(skip)]
    pub report: LoadReport,
}

fn count<S: serde::Serializer>(w: &[LoadWarning], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(w.len()).unwrap_or(u64::MAX))
}

impl FileCheck {
    /// Kept plus suppressed warnings.
    pub fn warning_count(&self) -> usize {
        self.warnings.len().saturating_add(self.warnings_suppressed)
    }
}

/// Checks one file (or MISP feed directory) with format detection.
pub fn check_path(path: &Path) -> Result<FileCheck, IntelError> {
    check_path_as(path, FeedFormat::Auto)
}

/// Checks one file in a given format (`Auto` detects).
pub fn check_path_as(path: &Path, format: FeedFormat) -> Result<FileCheck, IntelError> {
    std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    let source = path.display().to_string();
    let ctx = Ctx::plain(&source.as_str().into());
    let mut b = IntelBuilder::new();
    let mut report = LoadReport::default();
    let format = formats::load_file(&mut b, path, format, &ctx, None, &mut report)?;
    Ok(FileCheck {
        file: source,
        format,
        indicators: report.by_type,
        warnings: report.warnings.clone(),
        warnings_suppressed: report.warnings_suppressed,
        report,
    })
}

/// Checks every path; a directory that is not a MISP feed expands to its regular files in name
/// order. Each entry is `Err` for a file that cannot be read at all.
pub fn check_paths(paths: &[PathBuf]) -> Vec<Result<FileCheck, IntelError>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() && !p.join("manifest.json").is_file() {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|f| f.is_file())
                    .take(crate::MAX_DIR_ENTRIES)
                    .collect(),
                Err(e) => {
                    out.push(Err(io_err(p, e)));
                    continue;
                }
            };
            files.sort();
            out.extend(files.iter().map(|f| check_path(f)));
        } else {
            out.push(check_path(p));
        }
    }
    out
}
