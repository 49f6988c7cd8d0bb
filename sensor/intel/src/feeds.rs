//! Configured feeds: the serde types the sensor's TOML config deserialises into, duration
//! strings, and [`load_feeds`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::db::{Ctx, IntelBuilder};
use crate::formats::{self, csv::CsvMapping, FeedFormat};
use crate::load::{IntelError, LoadReport};
use crate::IntelDb;

/// Longest accepted duration (10 years), so that `now + expire_after` cannot overflow.
const MAX_DURATION_SECS: u64 = 10 * 366 * 86_400;

/// One configured feed (`[[intel.feeds]]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Names the feed in provenance, stats and the fetch cache (`[A-Za-z0-9._-]`, at most 64).
    pub name: String,
    /// A local file or directory. Exactly one of `path` and `url`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// An `http://` or `https://` URL, fetched into the cache directory.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub format: FeedFormat,
    /// How often a URL feed is refetched (`"1h"`, `"30m"`); the sensor's refresh loop uses it.
    #[serde(default, deserialize_with = "de_duration")]
    pub refresh: Option<Duration>,
    /// Default confidence 0-100 for records that carry none.
    #[serde(default)]
    pub confidence: Option<u8>,
    /// Alert severity 1 (highest) to 4.
    #[serde(default)]
    pub severity: Option<u8>,
    /// Tags applied to every indicator of the feed (kept once per feed, see
    /// [`IntelDb::feed`]).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Listings without their own `valid_until` expire this long after their last-seen time
    /// (or the load time when the feed gives none).
    #[serde(default, deserialize_with = "de_duration")]
    pub expire_after: Option<Duration>,
    /// Column mapping for `format = "csv"`.
    #[serde(default)]
    pub csv: Option<CsvMapping>,
    /// MISP: also load attributes without `to_ids`.
    #[serde(default)]
    pub include_non_ids: bool,
    /// Fetch timeout for URL feeds (default 60 s).
    #[serde(default, deserialize_with = "de_duration")]
    pub timeout: Option<Duration>,
}

impl FeedConfig {
    /// A local feed with defaults.
    pub fn local(name: &str, path: impl Into<PathBuf>, format: FeedFormat) -> Self {
        Self {
            name: name.into(),
            path: Some(path.into()),
            url: None,
            format,
            refresh: None,
            confidence: None,
            severity: None,
            tags: Vec::new(),
            expire_after: None,
            csv: None,
            include_non_ids: false,
            timeout: None,
        }
    }

    /// Checks the fields that serde cannot: one of path/url, ranges, the name's characters.
    pub fn validate(&self) -> Result<(), IntelError> {
        let err = |m: &str| IntelError::Config {
            name: self.name.clone(),
            message: m.into(),
        };
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
            || self.name.starts_with('.')
        {
            return Err(err(
                "name must be 1-64 characters of [A-Za-z0-9._-], not starting with .",
            ));
        }
        match (&self.path, &self.url) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(err("set exactly one of path and url"))
            }
            (None, Some(u)) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err(err("url must start with http:// or https://"))
            }
            _ => {}
        }
        if self.confidence.is_some_and(|c| c > 100) {
            return Err(err("confidence must be 0-100"));
        }
        if self.severity.is_some_and(|s| !(1..=4).contains(&s)) {
            return Err(err("severity must be 1-4"));
        }
        if self.format == FeedFormat::Csv && self.csv.is_none() {
            return Err(err("format csv needs a [csv] column mapping"));
        }
        Ok(())
    }

    /// Per-load options derived from this config.
    pub fn options(&self) -> FeedOptions {
        FeedOptions {
            confidence: self.confidence,
            severity: self.severity,
            expire_after_secs: self
                .expire_after
                .map(|d| i64::try_from(d.as_secs().min(MAX_DURATION_SECS)).unwrap_or(i64::MAX)),
            include_non_ids: self.include_non_ids,
        }
    }
}

/// The feed defaults that shape each listing's provenance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedOptions {
    pub confidence: Option<u8>,
    pub severity: Option<u8>,
    pub expire_after_secs: Option<i64>,
    pub include_non_ids: bool,
}

/// What the store remembers about a configured feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedInfo {
    pub name: Arc<str>,
    pub format: FeedFormat,
    pub tags: Vec<String>,
    pub confidence: Option<u8>,
    pub severity: Option<u8>,
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    let raw: Option<Raw> = serde::Deserialize::deserialize(d)?;
    match raw {
        None => Ok(None),
        Some(Raw::Secs(s)) if s <= MAX_DURATION_SECS => Ok(Some(Duration::from_secs(s))),
        Some(Raw::Secs(_)) => Err(serde::de::Error::custom("duration too long")),
        Some(Raw::Text(t)) => parse_duration(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Parses `"90s"`, `"15m"`, `"1h"`, `"7d"`, `"2w"`, `"1h30m"` or bare seconds (`"3600"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t.bytes().all(|c| c.is_ascii_digit()) {
        let s: u64 = t.parse().map_err(|_| format!("bad duration {t:?}"))?;
        return check_len(s, t);
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in t.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = num.unwrap_or(0);
            num = Some(
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d)))
                    .ok_or_else(|| format!("bad duration {t:?}"))?,
            );
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            ' ' => continue,
            _ => return Err(format!("bad duration {t:?} (units: s, m, h, d, w)")),
        };
        let n = num.take().ok_or_else(|| format!("bad duration {t:?}"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {t:?} too long"))?;
    }
    if num.is_some() {
        return Err(format!("bad duration {t:?}: number without a unit"));
    }
    check_len(total, t)
}

fn check_len(s: u64, t: &str) -> Result<Duration, String> {
    if s > MAX_DURATION_SECS {
        Err(format!("duration {t:?} too long"))
    } else {
        Ok(Duration::from_secs(s))
    }
}

/// Loads every configured feed into one store: local paths directly, URL feeds from their last
/// good copy in `cache_dir` (written by [`crate::fetch::Fetcher`]; a URL feed never fetched is a
/// failed feed). Identical values from several feeds merge into one indicator with one
/// provenance per listing. A feed that cannot be loaded at all is recorded in
/// `report.failed_feeds` and the others still load.
pub fn load_feeds(feeds: &[FeedConfig], cache_dir: &Path) -> (IntelDb, LoadReport) {
    let mut loader = crate::reload::IntelLoader::from_feeds(feeds.to_vec(), cache_dir.into());
    match loader.load() {
        Ok(r) => r,
        Err(e) => {
            let mut report = LoadReport::default();
            report.failed_feeds.push(("intel".into(), e.to_string()));
            (IntelDb::empty(), report)
        }
    }
}

/// Loads one configured feed into `b`, with `now` as the load time for `expire_after`.
pub(crate) fn load_feed(
    b: &mut IntelBuilder,
    f: &FeedConfig,
    cache_dir: &Path,
    now: i64,
    report: &mut LoadReport,
) -> Result<FeedFormat, IntelError> {
    f.validate()?;
    let path = match (&f.path, &f.url) {
        (Some(p), _) => p.clone(),
        (None, Some(_)) => {
            let p = crate::fetch::cache_body_path(cache_dir, &f.name);
            if !p.is_file() {
                return Err(IntelError::Config {
                    name: f.name.clone(),
                    message: "URL feed has no fetched copy yet".into(),
                });
            }
            p
        }
        (None, None) => unreachable_config(f)?,
    };
    let opts = f.options();
    let source: Arc<str> = path.display().to_string().into();
    let ctx = Ctx {
        feed: f.name.as_str().into(),
        source,
        confidence: opts.confidence,
        severity: opts.severity,
        expire_after: opts.expire_after_secs,
        load_time: now,
        include_non_ids: opts.include_non_ids,
    };
    let format = if path.is_dir() && f.format != FeedFormat::MispFeed {
        if path.join("manifest.json").is_file() {
            formats::load_file(b, &path, FeedFormat::MispFeed, &ctx, None, report)?
        } else {
            load_dir(b, &path, f, &ctx, report)?
        }
    } else {
        formats::load_file(b, &path, f.format, &ctx, f.csv.as_ref(), report)?
    };
    b.register_feed(FeedInfo {
        name: Arc::clone(&ctx.feed),
        format,
        tags: f.tags.clone(),
        confidence: f.confidence,
        severity: f.severity,
    });
    Ok(format)
}

fn unreachable_config(f: &FeedConfig) -> Result<PathBuf, IntelError> {
    Err(IntelError::Config {
        name: f.name.clone(),
        message: "set exactly one of path and url".into(),
    })
}

/// A feed directory: every regular file in name order, each in the feed's format.
fn load_dir(
    b: &mut IntelBuilder,
    dir: &Path,
    f: &FeedConfig,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<FeedFormat, IntelError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| crate::load::io_err(dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .take(crate::MAX_DIR_ENTRIES)
        .collect();
    files.sort();
    let mut last = f.format;
    for p in files {
        let c = Ctx {
            source: p.display().to_string().into(),
            ..ctx.clone()
        };
        match formats::load_file(b, &p, f.format, &c, f.csv.as_ref(), report) {
            Ok(fm) => last = fm,
            Err(e @ IntelError::TooManyIndicators { .. }) => return Err(e),
            Err(e) => report.warn(&c.source, None, format!("{e}; skipped")),
        }
    }
    Ok(last)
}
