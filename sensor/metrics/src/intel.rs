//! Intel loads and reloads, recorded process-wide.
//!
//! Loads happen in code shared by `replay` and `run` (the first load and the reload loop), so
//! they report here through free functions instead of a handle threaded through every caller.
//! Recording is a few stores under a lock; the per-feed indicator counts, a walk of the whole
//! set, are computed only when a scrape asks for them, once per loaded set.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tapir_intel::{IndicatorType, IntelDb};

use crate::labels::{is_plain_name, LabelCap, OTHER};

/// Most distinct feed names used as label values; further feeds are summed as `other`.
pub const MAX_FEEDS: usize = 256;

#[derive(Default)]
struct State {
    db: Option<Arc<IntelDb>>,
    loads: u64,
    reloads: u64,
    reload_failures: u64,
    last_duration: Option<Duration>,
    last_ok_unix: Option<f64>,
    /// Indicators by (feed, type) of `db`, once computed.
    per_feed: Option<Arc<BTreeMap<(String, &'static str), u64>>>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn state() -> MutexGuard<'static, Option<State>> {
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A set was built and swapped in (the first load, or a reload), after `took`.
pub fn intel_loaded(db: &Arc<IntelDb>, took: Duration) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut g = state();
    let s = g.get_or_insert_with(State::default);
    if s.loads > 0 {
        s.reloads += 1;
    }
    s.loads += 1;
    s.db = Some(Arc::clone(db));
    s.per_feed = None;
    s.last_duration = Some(took);
    s.last_ok_unix = Some(now);
}

/// A reload was refused (the old set stays), after `took`.
pub fn intel_load_failed(took: Duration) {
    let mut g = state();
    let s = g.get_or_insert_with(State::default);
    s.reload_failures += 1;
    s.last_duration = Some(took);
}

/// The set in use, as last recorded.
pub fn current_db() -> Option<Arc<IntelDb>> {
    state().as_ref().and_then(|s| s.db.clone())
}

/// What a scrape shows about intel loading.
#[derive(Debug, Clone, Default)]
pub struct IntelView {
    pub reloads: u64,
    pub reload_failures: u64,
    pub last_duration: Option<Duration>,
    pub last_ok_unix: Option<f64>,
    /// Indicators loaded by (feed, type); empty before the first load.
    pub per_feed: Arc<BTreeMap<(String, &'static str), u64>>,
}

/// The current numbers; counts indicators per feed the first time a set is looked at.
pub fn view() -> IntelView {
    let (db, cached) = {
        let g = state();
        match g.as_ref() {
            Some(s) => (s.db.clone(), s.per_feed.clone()),
            None => return IntelView::default(),
        }
    };
    let per_feed = match (cached, &db) {
        (Some(p), _) => p,
        (None, Some(db)) => {
            let p = Arc::new(count_per_feed(db));
            let mut g = state();
            if let Some(s) = g.as_mut() {
                // Only if no newer set arrived meanwhile.
                if s.db.as_ref().is_some_and(|d| Arc::ptr_eq(d, db)) {
                    s.per_feed = Some(Arc::clone(&p));
                }
            }
            p
        }
        (None, None) => Arc::default(),
    };
    let g = state();
    let s = g.as_ref();
    IntelView {
        reloads: s.map_or(0, |s| s.reloads),
        reload_failures: s.map_or(0, |s| s.reload_failures),
        last_duration: s.and_then(|s| s.last_duration),
        last_ok_unix: s.and_then(|s| s.last_ok_unix),
        per_feed,
    }
}

/// A feed name as a label value (names come from the configuration or a list's file path).
pub fn feed_label(cap: &mut LabelCap, feed: &str) -> String {
    if is_plain_name(feed) {
        cap.admit(feed)
    } else {
        OTHER.to_string()
    }
}

/// Indicators by (feed, type name): an indicator listed by several feeds counts once in each.
fn count_per_feed(db: &IntelDb) -> BTreeMap<(String, &'static str), u64> {
    let mut cap = LabelCap::new(MAX_FEEDS);
    let mut out: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    let mut feeds: Vec<&str> = Vec::new();
    for ind in db.iter() {
        feeds.clear();
        for p in &ind.provenance {
            if !feeds.contains(&&*p.feed) {
                feeds.push(&p.feed);
            }
        }
        for f in &feeds {
            *out.entry((feed_label(&mut cap, f), ind.type_name()))
                .or_insert(0) += 1;
        }
    }
    out
}

/// The indicator type named in an alert (`metadata.indicator_type`, `context.indicator.type`):
/// one of [`IndicatorType`]'s names, or `cidr`.
pub fn type_of_name(name: &str) -> Option<(IndicatorType, &'static str)> {
    if name == "cidr" {
        return Some((IndicatorType::Ip, "cidr"));
    }
    IndicatorType::ALL
        .into_iter()
        .find(|t| t.as_str() == name)
        .map(|t| (t, t.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for t in IndicatorType::ALL {
            assert_eq!(type_of_name(t.as_str()).map(|x| x.0), Some(t));
        }
        assert_eq!(type_of_name("cidr"), Some((IndicatorType::Ip, "cidr")));
        assert_eq!(type_of_name("evil.example"), None);
    }

    #[test]
    fn per_feed_counts_every_listing_feed() {
        let dir = std::env::temp_dir().join(format!("tapir-metrics-feeds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let a = dir.join("domains-a.txt");
        let b = dir.join("domains-b.txt");
        std::fs::write(&a, "one.example\nboth.example\n").expect("write");
        std::fs::write(&b, "both.example\n").expect("write");
        let (db, _) = IntelDb::load_paths(&[a.clone(), b.clone()]).expect("load");
        let counts = count_per_feed(&db);
        let fa = a.display().to_string();
        let fb = b.display().to_string();
        assert_eq!(counts.get(&(fa, "domain")), Some(&2), "{counts:?}");
        assert_eq!(counts.get(&(fb, "domain")), Some(&1), "{counts:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
