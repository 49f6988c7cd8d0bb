//! Alerts by category and ATT&CK technique, and intel hits by feed and type, counted from the
//! EVE alert lines as the writer writes them (an [`EventTap`]): the same alerts the SIEM gets,
//! counted off the packet path.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;
use tapir_engine::tap::EventTap;

use crate::intel::{current_db, feed_label, type_of_name, MAX_FEEDS};
use crate::labels::{is_plain_name, is_technique_id, LabelCap, OTHER};

/// Most distinct alert categories kept as label values.
pub const MAX_CATEGORIES: usize = 64;
/// Most distinct ATT&CK technique ids kept as label values.
pub const MAX_TECHNIQUES: usize = 1024;
/// The technique label of an alert that names none.
pub const NO_TECHNIQUE: &str = "none";
/// The feed label of an intel hit whose indicator is no longer in the set in use.
pub const UNKNOWN_FEED: &str = "unknown";

/// Alert and intel-hit counters. Memory: bounded by the label caps (categories x techniques
/// and feeds x 10 types entries at most).
#[derive(Debug)]
pub struct AlertCounts {
    pub by_category: BTreeMap<String, u64>,
    pub by_technique: BTreeMap<(String, String), u64>,
    pub intel_hits: BTreeMap<(String, &'static str), u64>,
    categories: LabelCap,
    techniques: LabelCap,
    feeds: LabelCap,
}

impl Default for AlertCounts {
    fn default() -> Self {
        AlertCounts {
            by_category: BTreeMap::new(),
            by_technique: BTreeMap::new(),
            intel_hits: BTreeMap::new(),
            categories: LabelCap::new(MAX_CATEGORIES),
            techniques: LabelCap::new(MAX_TECHNIQUES),
            feeds: LabelCap::new(MAX_FEEDS),
        }
    }
}

#[derive(Deserialize)]
struct Line {
    alert: Option<Alert>,
}

#[derive(Deserialize)]
struct Alert {
    category: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    context: Option<Context>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    mitre_technique_id: Vec<String>,
}

#[derive(Deserialize)]
struct Context {
    indicator: Option<Indicator>,
}

#[derive(Deserialize)]
struct Indicator {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

impl AlertCounts {
    /// Counts one EVE alert line; lines that are not alerts, or not JSON, are ignored.
    pub fn count_line(&mut self, line: &[u8]) {
        let Ok(Line { alert: Some(a) }) = serde_json::from_slice::<Line>(line) else {
            return;
        };
        let category = match a.category.as_deref() {
            Some(c) if is_plain_name(c) => self.categories.admit(c),
            Some(_) => OTHER.to_string(),
            None => "none".to_string(),
        };
        *self.by_category.entry(category.clone()).or_insert(0) += 1;
        let mut techniques: Vec<String> = Vec::new();
        for t in &a.metadata.mitre_technique_id {
            let t = if is_technique_id(t) {
                self.techniques.admit(t)
            } else {
                OTHER.to_string()
            };
            if !techniques.contains(&t) {
                techniques.push(t);
            }
        }
        if techniques.is_empty() {
            techniques.push(NO_TECHNIQUE.to_string());
        }
        for t in techniques {
            *self.by_technique.entry((category.clone(), t)).or_insert(0) += 1;
        }
        if let Some(ind) = a.context.and_then(|c| c.indicator) {
            self.count_intel_hit(&ind.kind, &ind.value);
        }
    }

    /// One hit on the indicator (`type name`, `value`): once for each feed that lists it in the
    /// set in use. The value is only looked up, never used as a label.
    fn count_intel_hit(&mut self, kind: &str, value: &str) {
        let Some((ty, ty_name)) = type_of_name(kind) else {
            return;
        };
        let db = current_db();
        let ind = db.as_ref().and_then(|db| db.find(ty, value));
        let mut feeds: Vec<String> = Vec::new();
        for p in ind.map(|i| i.provenance.as_slice()).unwrap_or_default() {
            let f = feed_label(&mut self.feeds, &p.feed);
            if !feeds.contains(&f) {
                feeds.push(f);
            }
        }
        if feeds.is_empty() {
            feeds.push(UNKNOWN_FEED.to_string());
        }
        for f in feeds {
            *self.intel_hits.entry((f, ty_name)).or_insert(0) += 1;
        }
    }
}

/// The tap handed to the output writer; shares its counts with the metrics endpoint.
pub struct AlertTap {
    pub(crate) counts: Arc<Mutex<AlertCounts>>,
}

pub(crate) fn lock(m: &Mutex<AlertCounts>) -> MutexGuard<'_, AlertCounts> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EventTap for AlertTap {
    fn event(&mut self, line: &[u8]) {
        lock(&self.counts).count_line(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_and_techniques_are_checked_and_capped() {
        let mut c = AlertCounts::default();
        c.count_line(br#"{"event_type":"alert","alert":{"category":"Payload Pattern Match","metadata":{"mitre_technique_id":["T1071.004","T1071.004","c2.evil.example"]}}}"#);
        c.count_line(
            br#"{"event_type":"alert","alert":{"category":"Payload Pattern Match","metadata":{}}}"#,
        );
        c.count_line(br#"{"event_type":"alert","alert":{"category":"x\"y"}}"#);
        c.count_line(b"not json");
        c.count_line(br#"{"event_type":"dns","dns":{}}"#);
        assert_eq!(c.by_category.get("Payload Pattern Match"), Some(&2));
        assert_eq!(c.by_category.get(OTHER), Some(&1));
        let key = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            c.by_technique
                .get(&key("Payload Pattern Match", "T1071.004")),
            Some(&1),
            "a technique named twice counts once"
        );
        assert_eq!(
            c.by_technique.get(&key("Payload Pattern Match", OTHER)),
            Some(&1),
            "a malformed id is not a label"
        );
        assert_eq!(
            c.by_technique
                .get(&key("Payload Pattern Match", NO_TECHNIQUE)),
            Some(&1)
        );
        for i in 0..(MAX_CATEGORIES + 10) {
            c.count_line(format!(r#"{{"alert":{{"category":"cat {i}"}}}}"#).as_bytes());
        }
        assert!(
            c.by_category.len() <= MAX_CATEGORIES + 1,
            "{}",
            c.by_category.len()
        );
    }
}
