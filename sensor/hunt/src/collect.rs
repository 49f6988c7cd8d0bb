//! What an event tap on the sensor output feeds ([`Collector::line`]): reads every EVE line once, counts events by type, keeps flow records, and
//! for each hunt keeps the events that match one of its conditions, grouped by the hunt's
//! correlation key. Nothing else is kept.
//!
//! Memory is bounded by [`Limits`]: at most `max_events_per_hunt` stored events per hunt
//! (each at most `max_event_bytes` of JSON, shared between hunts that keep the same event),
//! at most `max_keys_per_hunt` keys per hunt, and `max_flows` flow records (about 150 bytes
//! each). What a bound turns away is counted and shown in the report.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::field::leaf_matches;
use crate::rule::{Hunt, Key};
use crate::time::parse_us;

/// Bounds on what the collector keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Matching events stored per hunt; later matches are counted, not kept.
    pub max_events_per_hunt: usize,
    /// Stored events per key and condition (window and sequence checks read these).
    pub max_events_per_key: usize,
    /// Distinct correlation keys per hunt; matches for further keys are counted, not kept.
    pub max_keys_per_hunt: usize,
    /// Flow records (from `flow` events) kept for evidence, plots and pcaps.
    pub max_flows: usize,
    /// Events longer than this (bytes of JSON) match but are not stored.
    pub max_event_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events_per_hunt: 2000,
            max_events_per_key: 64,
            max_keys_per_hunt: 10_000,
            max_flows: 100_000,
            max_event_bytes: 16 * 1024,
        }
    }
}

/// Distinct event types counted by name; more are counted as `other` (the names come from
/// the sensor, but the bound keeps a foreign EVE stream harmless).
const MAX_TYPES: usize = 64;

/// A stored event.
#[derive(Debug)]
pub struct Ev {
    pub ts_us: u64,
    pub value: Value,
}

/// What the report and the evidence writer need of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRec {
    pub proto: u8,
    pub src: IpAddr,
    pub src_port: u16,
    pub dest: IpAddr,
    pub dest_port: u16,
    pub start_us: u64,
    pub end_us: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub app_proto: Option<Box<str>>,
}

/// Matches of one condition for one key.
#[derive(Debug, Default)]
pub struct LeafHits {
    pub count: u64,
    pub first_us: u64,
    pub last_us: u64,
    pub events: Vec<Arc<Ev>>,
}

/// Per key: the hits of each condition of the hunt.
#[derive(Debug)]
pub struct Group {
    pub hits: Vec<LeafHits>,
}

/// One hunt's matches.
#[derive(Debug, Default)]
pub struct HuntState {
    pub groups: HashMap<String, Group>,
    /// Keys in order of first match, so reports list findings in time order.
    pub order: Vec<String>,
    pub stored: usize,
    pub matches: u64,
    pub keys_dropped: u64,
    pub events_dropped: u64,
    /// Matching events without a value for the correlation key.
    pub unkeyed: u64,
}

/// Everything the collector learnt from the stream.
#[derive(Debug, Default)]
pub struct Collected {
    pub hunts: Vec<Hunt>,
    pub states: Vec<HuntState>,
    pub events_by_type: BTreeMap<String, u64>,
    pub events_total: u64,
    pub unparsed: u64,
    pub first_us: Option<u64>,
    pub last_us: Option<u64>,
    pub flows: HashMap<u64, FlowRec>,
    pub flows_dropped: u64,
    pub limits: Limits,
}

/// Feeds EVE lines to the hunts.
pub struct Collector {
    c: Collected,
    /// event type -> (hunt, leaf) pairs that read it.
    by_type: HashMap<String, Vec<(usize, usize)>>,
}

impl Collector {
    pub fn new(hunts: Vec<Hunt>, limits: Limits) -> Self {
        let mut by_type: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (h, hunt) in hunts.iter().enumerate() {
            for (l, leaf) in hunt.leaves.iter().enumerate() {
                for t in &leaf.event_types {
                    by_type.entry(t.clone()).or_default().push((h, l));
                }
            }
        }
        let states = hunts.iter().map(|_| HuntState::default()).collect();
        Collector {
            c: Collected {
                hunts,
                states,
                limits,
                ..Collected::default()
            },
            by_type,
        }
    }

    /// One EVE line (without its newline).
    pub fn line(&mut self, line: &[u8]) {
        self.c.events_total += 1;
        // Most events are read by no hunt: they are counted from two header fields, unparsed.
        if let (Some(ty), Some(ts)) = (
            header_str(line, b"event_type"),
            header_str(line, b"timestamp"),
        ) {
            if !self.by_type.contains_key(ty) {
                if ty == "flow" {
                    // Only the flow index reads it: a typed parse of the few fields it keeps.
                    match serde_json::from_slice::<FlowLine<'_>>(line) {
                        Ok(f) => index_flow(&mut self.c, f),
                        Err(_) => {
                            self.c.unparsed += 1;
                            return;
                        }
                    }
                }
                self.count(ty, parse_us(ts).unwrap_or(0));
                return;
            }
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => self.event(v, line.len()),
            Err(_) => self.c.unparsed += 1,
        }
    }

    fn count(&mut self, ty: &str, ts: u64) {
        let c = &mut self.c;
        let name = if c.events_by_type.contains_key(ty) || c.events_by_type.len() < MAX_TYPES {
            ty
        } else {
            "other"
        };
        match c.events_by_type.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                c.events_by_type.insert(name.to_string(), 1);
            }
        }
        if ts > 0 {
            c.first_us = Some(c.first_us.map_or(ts, |f| f.min(ts)));
            c.last_us = Some(c.last_us.map_or(ts, |l| l.max(ts)));
        }
    }

    /// One parsed event; `size` is its length as JSON text.
    pub fn event(&mut self, v: Value, size: usize) {
        let ty = v["event_type"].as_str().unwrap_or("").to_string();
        let ts = v["timestamp"].as_str().and_then(parse_us).unwrap_or(0);
        self.count(&ty, ts);
        let c = &mut self.c;
        if ty == "flow" {
            if let Ok(f) = FlowLine::deserialize(&v) {
                index_flow(c, f);
            }
        }
        let Some(cands) = self.by_type.get(&ty) else {
            return;
        };
        let mut shared: Option<Arc<Ev>> = None;
        let mut value = Some(v);
        for &(h, l) in cands {
            let (Some(hunt), Some(state)) = (c.hunts.get(h), c.states.get_mut(h)) else {
                continue;
            };
            let ev_ref = match (&shared, &value) {
                (Some(s), _) => &s.value,
                (None, Some(v)) => v,
                (None, None) => continue,
            };
            let Some(leaf) = hunt.leaves.get(l) else {
                continue;
            };
            if !leaf_matches(leaf, ev_ref) {
                continue;
            }
            state.matches += 1;
            let keys = keys_of(hunt.same, ev_ref);
            if keys.is_empty() {
                state.unkeyed += 1;
                continue;
            }
            let n_leaves = hunt.leaves.len();
            for key in keys {
                if !state.groups.contains_key(&key) {
                    if state.groups.len() >= c.limits.max_keys_per_hunt {
                        state.keys_dropped += 1;
                        continue;
                    }
                    state.order.push(key.clone());
                    state.groups.insert(
                        key.clone(),
                        Group {
                            hits: (0..n_leaves).map(|_| LeafHits::default()).collect(),
                        },
                    );
                }
                let Some(hits) = state.groups.get_mut(&key).and_then(|g| g.hits.get_mut(l)) else {
                    continue;
                };
                if hits.count == 0 {
                    hits.first_us = ts;
                }
                hits.count += 1;
                hits.first_us = hits.first_us.min(ts);
                hits.last_us = hits.last_us.max(ts);
                let room = hits.events.len() < c.limits.max_events_per_key
                    && state.stored < c.limits.max_events_per_hunt
                    && size <= c.limits.max_event_bytes;
                if !room {
                    state.events_dropped += 1;
                    continue;
                }
                let arc = match &shared {
                    Some(s) => Arc::clone(s),
                    None => {
                        let Some(v) = value.take() else { continue };
                        let s = Arc::new(Ev {
                            ts_us: ts,
                            value: v,
                        });
                        shared = Some(Arc::clone(&s));
                        s
                    }
                };
                hits.events.push(arc);
                state.stored += 1;
            }
        }
    }

    pub fn into_collected(self) -> Collected {
        self.c
    }
}

/// The value of a top-level string field written `"key":"value"` (as the sensor writes its
/// header), without parsing the line; `None` when it is not written that way or is escaped.
fn header_str<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a str> {
    let mut pat = Vec::with_capacity(key.len() + 5);
    pat.push(b'"');
    pat.extend_from_slice(key);
    pat.extend_from_slice(b"\":\"");
    let at = line
        .windows(pat.len())
        .position(|w| w.first() == Some(&b'"') && w == pat.as_slice())?
        + pat.len();
    let rest = line.get(at..)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let v = rest.get(..end)?;
    if v.contains(&b'\\') {
        return None;
    }
    std::str::from_utf8(v).ok()
}

/// The parts of a `flow` event the index keeps (typed, so most of the line is skipped).
#[derive(serde::Deserialize)]
struct FlowLine<'a> {
    flow_id: Option<u64>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    src_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    dest_ip: Option<Cow<'a, str>>,
    src_port: Option<u64>,
    dest_port: Option<u64>,
    #[serde(borrow)]
    proto: Option<Cow<'a, str>>,
    #[serde(borrow)]
    app_proto: Option<Cow<'a, str>>,
    #[serde(borrow)]
    flow: Option<FlowPart<'a>>,
}

#[derive(serde::Deserialize)]
struct FlowPart<'a> {
    #[serde(borrow)]
    start: Option<Cow<'a, str>>,
    #[serde(borrow)]
    end: Option<Cow<'a, str>>,
    bytes_toserver: Option<u64>,
    bytes_toclient: Option<u64>,
    pkts_toserver: Option<u64>,
    pkts_toclient: Option<u64>,
}

fn index_flow(c: &mut Collected, f: FlowLine<'_>) {
    let Some(id) = f.flow_id else {
        return;
    };
    if !c.flows.contains_key(&id) && c.flows.len() >= c.limits.max_flows {
        c.flows_dropped += 1;
        return;
    }
    let ip = |s: &Option<Cow<'_, str>>| s.as_deref().and_then(|s| s.parse::<IpAddr>().ok());
    let (Some(src), Some(dest)) = (ip(&f.src_ip), ip(&f.dest_ip)) else {
        return;
    };
    let port = |p: Option<u64>| p.and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
    let t = |s: Option<&Cow<'_, str>>| s.and_then(|s| parse_us(s));
    let ts = t(f.timestamp.as_ref()).unwrap_or(0);
    let part = f.flow.as_ref();
    let start_us = t(part.and_then(|p| p.start.as_ref())).unwrap_or(ts);
    let n = |g: fn(&FlowPart<'_>) -> Option<u64>| part.and_then(g).unwrap_or(0);
    let rec = FlowRec {
        proto: f.proto.as_deref().map_or(0, proto_number),
        src,
        src_port: port(f.src_port),
        dest,
        dest_port: port(f.dest_port),
        start_us,
        end_us: t(part.and_then(|p| p.end.as_ref()))
            .unwrap_or(start_us)
            .max(start_us),
        bytes_toserver: n(|p| p.bytes_toserver),
        bytes_toclient: n(|p| p.bytes_toclient),
        pkts_toserver: n(|p| p.pkts_toserver),
        pkts_toclient: n(|p| p.pkts_toclient),
        app_proto: f
            .app_proto
            .as_deref()
            .filter(|s| s.len() <= 32)
            .map(Into::into),
    };
    c.flows.insert(id, rec);
}

/// EVE's protocol names (Suricata's) to IP protocol numbers.
pub fn proto_number(s: &str) -> u8 {
    match s {
        "TCP" => 6,
        "UDP" => 17,
        "ICMP" => 1,
        "IPv6-ICMP" | "ICMPv6" => 58,
        "SCTP" => 132,
        "GRE" => 47,
        "ESP" => 50,
        _ => s.parse().unwrap_or(0),
    }
}

/// Values of the correlation key in this event (none: the event cannot be correlated).
pub fn keys_of(same: Option<Key>, ev: &Value) -> Vec<String> {
    let s = |k: &str| ev[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    match same {
        None => vec![String::new()],
        Some(Key::SrcIp) => s("src_ip").into_iter().collect(),
        Some(Key::DestIp) => s("dest_ip").into_iter().collect(),
        Some(Key::Pair) => match (s("src_ip"), s("dest_ip")) {
            (Some(a), Some(b)) => {
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                vec![format!("{lo} <-> {hi}")]
            }
            _ => Vec::new(),
        },
        Some(Key::FlowId) => {
            let mut out: Vec<String> = ev["flow_id"]
                .as_u64()
                .map(|f| f.to_string())
                .into_iter()
                .collect();
            // A behaviour alert rests on several flows; it correlates with each of them.
            if let Some(ids) = ev["alert"]["context"]["flow_ids"].as_array() {
                for id in ids.iter().take(256).filter_map(Value::as_u64) {
                    let id = id.to_string();
                    if !out.contains(&id) {
                        out.push(id);
                    }
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_str;
    use serde_json::json;

    fn hunts(text: &str) -> Vec<Hunt> {
        let (h, e) = parse_str("t.yaml", text);
        assert!(e.is_empty(), "{e:?}");
        h
    }

    const KEYED: &str = "id: k\ntitle: t\nhypothesis: h\ntechniques: [T1071]\nneeds: [flow]\nseverity: low\nsame: flow_id\nwhen:\n  alert: {detector: beacon}\n";

    #[test]
    fn behaviour_alerts_correlate_with_each_of_their_flows() {
        let mut c = Collector::new(hunts(KEYED), Limits::default());
        let ev = json!({"timestamp":"2026-01-15T09:00:05.000000+0000","event_type":"alert","src_ip":"10.0.0.5","dest_ip":"203.0.113.9","alert":{"metadata":{"tapir_detector":["beacon"]},"context":{"detector":"beacon","score":0.9,"flow_ids":[11,12,12,13]}}});
        c.line(ev.to_string().as_bytes());
        c.line(b"{not json");
        let got = c.into_collected();
        let st = &got.states[0];
        let mut keys: Vec<&String> = st.groups.keys().collect();
        keys.sort();
        assert_eq!(keys, ["11", "12", "13"]);
        assert_eq!(st.stored, 3);
        // The three groups share one stored copy of the event.
        let a = &st.groups["11"].hits[0].events[0];
        let b = &st.groups["13"].hits[0].events[0];
        assert!(Arc::ptr_eq(a, b));
        assert_eq!(got.unparsed, 1);
        assert_eq!(got.events_by_type.get("alert"), Some(&1));
    }

    #[test]
    fn unread_event_types_are_counted_without_parsing() {
        let mut c = Collector::new(hunts(KEYED), Limits::default());
        c.line(br#"{"timestamp":"2026-01-15T09:00:05.000000+0000","event_type":"dns","dns":{"rrname":"a\"b"}}"#);
        c.line(br#"{"timestamp":"2026-01-15T09:00:07.000000+0000","event_type":"tls","tls":{}}"#);
        let got = c.into_collected();
        assert_eq!(got.events_by_type.get("dns"), Some(&1));
        assert_eq!(got.events_by_type.get("tls"), Some(&1));
        assert_eq!(got.last_us, Some(1_768_467_607_000_000));
        assert_eq!(
            header_str(br#"{"a":"x\"y","event_type":"flow"}"#, b"a"),
            None
        );
        assert_eq!(
            header_str(br#"{"a":"x","event_type":"flow"}"#, b"event_type"),
            Some("flow")
        );
    }

    #[test]
    fn bounds_are_kept_and_counted() {
        let limits = Limits {
            max_events_per_hunt: 5,
            max_events_per_key: 3,
            max_keys_per_hunt: 2,
            max_flows: 2,
            max_event_bytes: 16 * 1024,
        };
        let text = KEYED.replace("same: flow_id", "same: src_ip");
        let mut c = Collector::new(hunts(&text), limits);
        for i in 0..20 {
            let ev = json!({"event_type":"alert","src_ip":format!("10.0.0.{}", i % 4),"alert":{"metadata":{"tapir_detector":["beacon"]}}});
            c.line(ev.to_string().as_bytes());
            let fl = json!({"event_type":"flow","flow_id":i,"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"TCP","flow":{"start":"2026-01-15T09:00:05.000000+0000"}});
            c.line(fl.to_string().as_bytes());
        }
        let got = c.into_collected();
        let st = &got.states[0];
        assert_eq!(st.groups.len(), 2);
        assert_eq!(st.keys_dropped, 10);
        assert_eq!(st.stored, 5);
        assert_eq!(st.matches, 20);
        assert_eq!(st.events_dropped, 5);
        assert_eq!(got.flows.len(), 2);
        assert_eq!(got.flows_dropped, 18);
        assert_eq!(got.flows.get(&0).map(|f| f.proto), Some(6));
    }
}
