//! Fetching URL feeds: conditional GET (`If-None-Match` with the last ETag, `If-Modified-Since`
//! with the last `Last-Modified`, RFC 9110 §13.1), a timeout for the whole request, exponential
//! backoff after failures, and a last good copy kept in a cache directory.
//!
//! Cache layout per feed `NAME`: `NAME.body` (the last good copy, what [`crate::load_feeds`]
//! reads) and `NAME.meta` (JSON: ETag, Last-Modified, fetch time). Both are written to a
//! temporary file and renamed, so a reader never sees a partial copy, and a failed or cut-short
//! fetch leaves the previous copy in place. Bodies are capped at [`MAX_FETCH_BYTES`].
//!
//! Blocking (`ureq`); run it off the packet path, e.g. on the refresh thread.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::FeedConfig;

/// Largest feed body accepted.
pub const MAX_FETCH_BYTES: u64 = crate::MAX_LIST_FILE_BYTES;
/// Default whole-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// First retry delay after a failure; doubles per consecutive failure.
pub const BACKOFF_BASE_SECS: i64 = 60;
/// Longest retry delay.
pub const BACKOFF_MAX_SECS: i64 = 6 * 3600;

/// Where the last good copy of feed `name` is kept.
pub fn cache_body_path(cache_dir: &Path, name: &str) -> PathBuf {
    cache_dir.join(format!("{name}.body"))
}

fn cache_meta_path(cache_dir: &Path, name: &str) -> PathBuf {
    cache_dir.join(format!("{name}.meta"))
}

/// Validators and retry state of one feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FetchState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Unix seconds of the last 200 or 304.
    pub last_ok: Option<i64>,
    #[serde(skip)]
    pub failures: u32,
    /// No attempt before this Unix time (backoff).
    #[serde(skip)]
    pub next_attempt: i64,
    #[serde(skip)]
    pub last_error: Option<String>,
}

/// What one fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// 2xx: a new copy was stored.
    Updated { bytes: u64 },
    /// 304: the cached copy is current.
    NotModified,
    /// Error status, timeout, network error or oversize body; the last good copy (if any) is
    /// kept and the next attempt is delayed.
    Failed { error: String, have_copy: bool },
    /// Not due yet (refresh interval or backoff); nothing was sent.
    NotDue,
}

/// Fetches URL feeds into a cache directory.
pub struct Fetcher {
    cache_dir: PathBuf,
    states: HashMap<String, FetchState>,
}

impl Fetcher {
    /// Uses (and creates) `cache_dir`; validators of earlier runs are read from `*.meta`.
    pub fn new(cache_dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(cache_dir)?;
        Ok(Self {
            cache_dir: cache_dir.to_path_buf(),
            states: HashMap::new(),
        })
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    pub fn state(&self, name: &str) -> Option<&FetchState> {
        self.states.get(name)
    }

    fn state_mut(&mut self, name: &str) -> &mut FetchState {
        if !self.states.contains_key(name) {
            let st = fs::read(cache_meta_path(&self.cache_dir, name))
                .ok()
                .and_then(|b| serde_json::from_slice::<FetchState>(&b).ok())
                .unwrap_or_default();
            self.states.insert(name.to_string(), st);
        }
        self.states.entry(name.to_string()).or_default()
    }

    /// Fetches `feed` when its refresh interval has passed since the last success and no
    /// backoff is pending; `now` is Unix seconds.
    pub fn fetch_if_due(&mut self, feed: &FeedConfig, now: i64) -> FetchOutcome {
        let Some(url) = feed.url.as_deref() else {
            return FetchOutcome::NotDue;
        };
        let refresh = feed
            .refresh
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let have = cache_body_path(&self.cache_dir, &feed.name).is_file();
        let st = self.state_mut(&feed.name);
        if now < st.next_attempt {
            return FetchOutcome::NotDue;
        }
        if have && st.last_ok.is_some_and(|t| now < t.saturating_add(refresh)) {
            return FetchOutcome::NotDue;
        }
        let timeout = feed.timeout.unwrap_or(DEFAULT_TIMEOUT);
        self.fetch(&feed.name, url, timeout, now)
    }

    /// Fetches now, whatever the schedule says.
    pub fn fetch(&mut self, name: &str, url: &str, timeout: Duration, now: i64) -> FetchOutcome {
        let body_path = cache_body_path(&self.cache_dir, name);
        let meta_path = cache_meta_path(&self.cache_dir, name);
        let have_copy = body_path.is_file();
        let st = self.state_mut(name).clone();
        let result = get(url, timeout, &st, have_copy, &body_path);
        let st = self.state_mut(name);
        match result {
            Ok(Got::NotModified) => {
                st.failures = 0;
                st.next_attempt = 0;
                st.last_error = None;
                st.last_ok = Some(now);
                let _ = save_meta(&meta_path, st);
                FetchOutcome::NotModified
            }
            Ok(Got::Body {
                bytes,
                etag,
                last_modified,
            }) => {
                st.failures = 0;
                st.next_attempt = 0;
                st.last_error = None;
                st.last_ok = Some(now);
                st.etag = etag;
                st.last_modified = last_modified;
                let _ = save_meta(&meta_path, st);
                FetchOutcome::Updated { bytes }
            }
            Err(error) => {
                st.failures = st.failures.saturating_add(1);
                let exp = st.failures.saturating_sub(1).min(20);
                let delay = BACKOFF_BASE_SECS
                    .saturating_mul(1i64 << exp)
                    .min(BACKOFF_MAX_SECS);
                st.next_attempt = now.saturating_add(delay);
                st.last_error = Some(error.clone());
                FetchOutcome::Failed { error, have_copy }
            }
        }
    }
}

enum Got {
    NotModified,
    Body {
        bytes: u64,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

fn save_meta(path: &Path, st: &FetchState) -> io::Result<()> {
    let data = serde_json::to_vec(st).map_err(io::Error::other)?;
    crate::sightings::write_atomic(path, &data)
}

fn get(
    url: &str,
    timeout: Duration,
    st: &FetchState,
    have_copy: bool,
    body_path: &Path,
) -> Result<Got, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("tapir/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut req = agent.get(url);
    // Validators only make sense while the copy they describe is still on disk.
    if have_copy {
        if let Some(e) = &st.etag {
            req = req.header("If-None-Match", e.as_str());
        }
        if let Some(m) = &st.last_modified {
            req = req.header("If-Modified-Since", m.as_str());
        }
    }
    let resp = req.call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    if status == 304 && have_copy {
        return Ok(Got::NotModified);
    }
    if !(200..300).contains(&status) {
        return Err(format!("HTTP status {status}"));
    }
    let header = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header("etag");
    let last_modified = header("last-modified");
    let mut reader = resp
        .into_body()
        .into_with_config()
        .limit(MAX_FETCH_BYTES)
        .reader();
    let dir = body_path.parent().unwrap_or(Path::new("."));
    let name = body_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("feed");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let copied = (|| -> io::Result<u64> {
        let mut f = fs::File::create(&tmp)?;
        let n = io::copy(&mut reader.by_ref(), &mut f)?;
        f.flush()?;
        f.sync_all()?;
        Ok(n)
    })();
    match copied {
        Ok(bytes) => {
            fs::rename(&tmp, body_path).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                format!("storing the copy: {e}")
            })?;
            Ok(Got::Body {
                bytes,
                etag,
                last_modified,
            })
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(format!("reading the body: {e}"))
        }
    }
}
