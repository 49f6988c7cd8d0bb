//! From what the collector kept to a verdict per hypothesis.
//!
//! A hunt is **inconclusive** when an entry of its `needs` saw no event at all, **validated**
//! when its conditions hold for at least one key, **refuted** otherwise. Conditions are
//! evaluated per key: a condition holds when enough events matched it (`count`), `all` / `any`
//! / `not` combine, and `sequence` asks for its steps in time order. With a `window`, the whole
//! condition must hold inside one span of that length, tried from each stored match onwards.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;

use crate::collect::{Collected, Ev, FlowRec, Group, HuntState};
use crate::field::score_of;
use crate::report::{
    ActionOut, AlertOut, ConditionStat, DataSummary, Finding, FlowOut, HuntResult, Report,
    ScoreOut, Verdict, VerdictCounts,
};
use crate::rule::{Action, Cond, Hunt};
use crate::time::format_us;

/// Findings listed per hunt; more are counted.
const MAX_FINDINGS: usize = 200;
/// Events shown per finding; more are counted.
const MAX_EVENTS_SHOWN: usize = 50;
/// Window starts tried per key (spread over the stored matches).
const MAX_WINDOW_STARTS: usize = 256;
/// Flows listed per finding.
const MAX_FLOWS: usize = 500;
/// Intervals kept per finding for the histogram.
const MAX_INTERVALS: usize = 10_000;

/// The packets the evidence writer should fetch for one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSpec {
    pub proto: u8,
    pub a: IpAddr,
    pub a_port: u16,
    pub b: IpAddr,
    pub b_port: u16,
    /// Packet time range, microseconds.
    pub start_us: u64,
    pub end_us: u64,
}

/// Where a finding's evidence comes from: `(hunt index, finding index)` and its flows.
#[derive(Debug, Clone)]
pub struct EvidencePlan {
    pub hunt: usize,
    pub finding: usize,
    pub file: String,
    pub flows: Vec<FlowSpec>,
}

/// Inputs that are not in the event stream.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub captures: Vec<String>,
    pub rules: Vec<String>,
}

/// Evaluates every hunt and builds the report, and the evidence plan for validated findings.
pub fn evaluate(c: &Collected, info: &RunInfo) -> (Report, Vec<EvidencePlan>) {
    let mut results = Vec::new();
    let mut plans = Vec::new();
    let mut counts = VerdictCounts::default();
    for (hi, (hunt, st)) in c.hunts.iter().zip(&c.states).enumerate() {
        let (res, specs) = evaluate_hunt(hunt, st, c);
        match res.verdict {
            Verdict::Validated => counts.validated += 1,
            Verdict::Refuted => counts.refuted += 1,
            Verdict::Inconclusive => counts.inconclusive += 1,
        }
        for (fi, flows) in specs.into_iter().enumerate() {
            plans.push(EvidencePlan {
                hunt: hi,
                finding: fi,
                file: format!("{}-{:03}.pcap", hunt.id, fi + 1),
                flows,
            });
        }
        results.push(res);
    }
    let mut notes = Vec::new();
    if c.flows_dropped > 0 {
        notes.push(format!(
            "{} flows were not indexed (limit {} flow records): their details, plots and pcaps are missing from the evidence",
            c.flows_dropped, c.limits.max_flows
        ));
    }
    if c.unparsed > 0 {
        notes.push(format!(
            "{} event lines were not JSON and were skipped",
            c.unparsed
        ));
    }
    let report = Report {
        tool: "tapir hunt",
        version: env!("CARGO_PKG_VERSION"),
        captures: info.captures.clone(),
        rules: info.rules.clone(),
        data: DataSummary {
            events_total: c.events_total,
            events_by_type: c.events_by_type.clone(),
            unparsed_lines: c.unparsed,
            first_seen: c.first_us.map(format_us),
            last_seen: c.last_us.map(format_us),
            flows_indexed: c.flows.len() as u64,
            flows_not_indexed: c.flows_dropped,
        },
        summary: counts,
        hunts: results,
        evidence_dir: None,
        limits: c.limits,
        notes,
    };
    (report, plans)
}

fn evaluate_hunt(h: &Hunt, st: &HuntState, c: &Collected) -> (HuntResult, Vec<Vec<FlowSpec>>) {
    let count_of = |t: &str| c.events_by_type.get(t).copied().unwrap_or(0);
    let mut examined = BTreeMap::new();
    let mut missing = Vec::new();
    for alts in &h.needs {
        for t in alts {
            examined.insert(t.clone(), count_of(t));
        }
        if alts.iter().all(|t| count_of(t) == 0) {
            missing.push(alts.join(" or "));
        }
    }
    if h.leaves
        .iter()
        .any(|l| l.event_types.iter().any(|t| t == "alert"))
    {
        examined.insert("alert".into(), count_of("alert"));
    }
    let conditions = h
        .leaves
        .iter()
        .enumerate()
        .map(|(i, l)| ConditionStat {
            condition: l.label.clone(),
            at: format!("{}:{}:{}", h.file, l.line, l.col),
            matches: st
                .groups
                .values()
                .filter_map(|g| g.hits.get(i))
                .map(|x| x.count)
                .sum(),
        })
        .collect();
    let mut notes = Vec::new();
    if st.keys_dropped > 0 {
        notes.push(format!(
            "{} matches for keys beyond the first {} were counted but not evaluated",
            st.keys_dropped, c.limits.max_keys_per_hunt
        ));
    }
    if st.events_dropped > 0 {
        notes.push(format!(
            "{} matching events were counted but not stored (limits: {} per hunt, {} per key and condition, {} bytes each){}",
            st.events_dropped,
            c.limits.max_events_per_hunt,
            c.limits.max_events_per_key,
            c.limits.max_event_bytes,
            if h.window_us.is_some() { "; windows and sequences see the stored ones" } else { "" }
        ));
    }
    if st.unkeyed > 0 {
        notes.push(format!(
            "{} matching events had no {} to correlate on",
            st.unkeyed,
            h.same.map_or("key", |k| k.as_str())
        ));
    }
    let mut findings = Vec::new();
    let mut specs = Vec::new();
    let mut held = 0u64;
    if missing.is_empty() {
        for key in &st.order {
            let Some(g) = st.groups.get(key) else {
                continue;
            };
            let Some(evidence) = holds(h, g) else {
                continue;
            };
            held += 1;
            if findings.len() >= MAX_FINDINGS {
                continue;
            }
            let (f, s) = finding(key, &evidence, c);
            findings.push(f);
            specs.push(s);
        }
    }
    let verdict = if !missing.is_empty() {
        Verdict::Inconclusive
    } else if held > 0 {
        Verdict::Validated
    } else {
        Verdict::Refuted
    };
    let examined_text = examined
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    let reason = match verdict {
        Verdict::Inconclusive => format!(
            "the input has no {} events, which this hypothesis needs",
            missing.join(", no ")
        ),
        Verdict::Validated => match h.same {
            Some(k) => format!(
                "held for {held} {} value(s) (examined {examined_text})",
                k.as_str()
            ),
            None => format!("held (examined {examined_text})"),
        },
        Verdict::Refuted if st.matches == 0 => format!(
            "the needed data was present and no event matched any condition: examined {examined_text}"
        ),
        Verdict::Refuted => format!(
            "the needed data was present but the hypothesis never held: examined {examined_text}; {} events matched single conditions",
            st.matches
        ),
    };
    let actions = h
        .actions
        .iter()
        .map(|a| match a {
            Action::Block(t) => {
                let field = t.as_str();
                let mut targets = BTreeSet::new();
                for f in &findings {
                    for a in &f.alerts {
                        targets.insert(if field == "src_ip" {
                            a.src_ip.clone()
                        } else {
                            a.dest_ip.clone()
                        });
                    }
                    for e in &f.events {
                        if let Some(s) = e[field].as_str() {
                            targets.insert(s.to_string());
                        }
                    }
                }
                ActionOut {
                    action: "block",
                    field,
                    targets: targets.into_iter().collect(),
                }
            }
        })
        .collect();
    let res = HuntResult {
        id: h.id.clone(),
        title: h.title.clone(),
        hypothesis: h.hypothesis.trim().to_string(),
        techniques: h.techniques.clone(),
        severity: h.severity.as_str(),
        needs: h.needs.iter().map(|a| a.join("|")).collect(),
        same: h.same.map(|k| k.as_str()),
        window: h.window_us.map(crate::parse::format_duration_us),
        source: format!("{}:{}", h.file, h.line),
        verdict,
        reason,
        missing,
        examined,
        conditions,
        findings_not_shown: held.saturating_sub(MAX_FINDINGS as u64),
        findings,
        actions,
        notes,
    };
    (res, specs)
}

/// Evidence for one key: the events that made the condition hold, or `None`.
fn holds(h: &Hunt, g: &Group) -> Option<Vec<Arc<Ev>>> {
    let Some(w) = h.window_us else {
        return eval(&h.when, h, g, None);
    };
    let mut starts: Vec<u64> = g
        .hits
        .iter()
        .flat_map(|x| x.events.iter().map(|e| e.ts_us))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let step = starts.len().div_ceil(MAX_WINDOW_STARTS).max(1);
    let mut all: Vec<Arc<Ev>> = Vec::new();
    let mut any = false;
    for s in starts.iter().step_by(step) {
        if let Some(ev) = eval(&h.when, h, g, Some((*s, s.saturating_add(w)))) {
            any = true;
            all.extend(ev);
        }
    }
    any.then(|| dedup(all))
}

fn in_range(e: &Ev, r: Option<(u64, u64)>) -> bool {
    match r {
        None => true,
        Some((lo, hi)) => e.ts_us >= lo && e.ts_us <= hi,
    }
}

fn eval(c: &Cond, h: &Hunt, g: &Group, r: Option<(u64, u64)>) -> Option<Vec<Arc<Ev>>> {
    match c {
        Cond::Leaf(i) => {
            let hits = g.hits.get(*i)?;
            let need = h.leaves.get(*i).map_or(1, |l| l.min_count);
            let evs: Vec<Arc<Ev>> = hits
                .events
                .iter()
                .filter(|e| in_range(e, r))
                .cloned()
                .collect();
            // Without a window the exact count (stored or not) decides.
            let n = if r.is_none() {
                hits.count
            } else {
                evs.len() as u64
            };
            (n >= need).then_some(evs)
        }
        Cond::All(v) => {
            let mut out = Vec::new();
            for c in v {
                out.extend(eval(c, h, g, r)?);
            }
            Some(out)
        }
        Cond::Any(v) => {
            let mut out = Vec::new();
            let mut ok = false;
            for c in v {
                if let Some(e) = eval(c, h, g, r) {
                    ok = true;
                    out.extend(e);
                }
            }
            ok.then_some(out)
        }
        Cond::Not(c) => match eval(c, h, g, r) {
            Some(_) => None,
            None => Some(Vec::new()),
        },
        Cond::Sequence(steps) => {
            // Greedy: the earliest possible completion of each step leaves the most room for
            // the next, so it finds an order whenever one exists.
            let mut after = 0u64;
            let mut begin = None;
            for i in steps {
                let hits = g.hits.get(*i)?;
                let need = h.leaves.get(*i).map_or(1, |l| l.min_count) as usize;
                let mut ts: Vec<u64> = hits
                    .events
                    .iter()
                    .filter(|e| in_range(e, r) && e.ts_us >= after)
                    .map(|e| e.ts_us)
                    .collect();
                ts.sort_unstable();
                let done = *ts.get(need.checked_sub(1)?)?;
                begin.get_or_insert(ts.first().copied().unwrap_or(done));
                after = done;
            }
            // Evidence: every stored match of the steps from the sequence's start on.
            let begin = begin.unwrap_or(0);
            let out = steps
                .iter()
                .filter_map(|i| g.hits.get(*i))
                .flat_map(|x| x.events.iter())
                .filter(|e| in_range(e, r) && e.ts_us >= begin)
                .cloned()
                .collect();
            Some(out)
        }
    }
}

fn dedup(mut v: Vec<Arc<Ev>>) -> Vec<Arc<Ev>> {
    let mut seen = HashSet::new();
    v.retain(|e| seen.insert(Arc::as_ptr(e) as usize));
    v.sort_by_key(|e| e.ts_us);
    v
}

fn finding(key: &str, evidence: &[Arc<Ev>], c: &Collected) -> (Finding, Vec<FlowSpec>) {
    let evidence = dedup(evidence.to_vec());
    let first = evidence
        .iter()
        .map(|e| e.ts_us)
        .filter(|&t| t > 0)
        .min()
        .unwrap_or(0);
    let last = evidence.iter().map(|e| e.ts_us).max().unwrap_or(0);
    let mut hosts = BTreeSet::new();
    let mut flow_ids: Vec<u64> = Vec::new();
    let push_flow = |ids: &mut Vec<u64>, id: u64| {
        if !ids.contains(&id) && ids.len() < MAX_FLOWS {
            ids.push(id);
        }
    };
    let mut scores = Vec::new();
    let mut alerts = Vec::new();
    let mut beacon_series: Vec<Vec<u64>> = Vec::new();
    for e in &evidence {
        let v = &e.value;
        for k in ["src_ip", "dest_ip"] {
            if let Some(s) = v[k].as_str() {
                hosts.insert(s.to_string());
            }
        }
        if let Some(id) = v["flow_id"].as_u64() {
            push_flow(&mut flow_ids, id);
        }
        let ctx_ids: Vec<u64> = v["alert"]["context"]["flow_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).take(MAX_FLOWS).collect())
            .unwrap_or_default();
        for id in &ctx_ids {
            push_flow(&mut flow_ids, *id);
        }
        if v["event_type"].as_str() == Some("alert") {
            let detector = detector_of(v);
            let score = score_of(v);
            if let (Some(d), Some(s)) = (&detector, score) {
                scores.push(ScoreOut {
                    detector: d.clone(),
                    score: s,
                    timestamp: format_us(e.ts_us),
                });
            }
            if detector.as_deref() == Some("beacon") && ctx_ids.len() >= 2 {
                beacon_series.push(ctx_ids.clone());
            }
            let a = &v["alert"];
            alerts.push(AlertOut {
                timestamp: format_us(e.ts_us),
                signature_id: a["signature_id"].as_u64().unwrap_or(0),
                signature: a["signature"].as_str().unwrap_or("").to_string(),
                category: a["category"].as_str().unwrap_or("").to_string(),
                severity: a["severity"].as_u64().unwrap_or(0),
                detector,
                score,
                src_ip: v["src_ip"].as_str().unwrap_or("").to_string(),
                src_port: v["src_port"].as_u64(),
                dest_ip: v["dest_ip"].as_str().unwrap_or("").to_string(),
                dest_port: v["dest_port"].as_u64(),
                flow_id: v["flow_id"].as_u64(),
                evidence: None,
            });
        }
    }
    let flows: Vec<FlowOut> = flow_ids
        .iter()
        .map(|id| flow_out(*id, c.flows.get(id)))
        .collect();
    let intervals_s = intervals(&beacon_series, c);
    let mut specs: Vec<FlowSpec> = flow_ids
        .iter()
        .filter_map(|id| c.flows.get(id))
        .map(|f| FlowSpec {
            proto: f.proto,
            a: f.src,
            a_port: f.src_port,
            b: f.dest,
            b_port: f.dest_port,
            start_us: f.start_us,
            end_us: f.end_us,
        })
        .collect();
    // Events whose flow was not indexed still name a 5-tuple: fetch it around their time.
    for e in &evidence {
        let v = &e.value;
        // Only an event about one flow (a flow id, both ports) names a 5-tuple.
        let Some(id) = v["flow_id"].as_u64() else {
            continue;
        };
        if c.flows.contains_key(&id) || v["src_port"].is_null() || v["dest_port"].is_null() {
            continue;
        }
        let ip = |k: &str| v[k].as_str().and_then(|s| s.parse::<IpAddr>().ok());
        let port = |k: &str| {
            v[k].as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0)
        };
        if let (Some(a), Some(b)) = (ip("src_ip"), ip("dest_ip")) {
            let spec = FlowSpec {
                proto: v["proto"].as_str().map_or(0, crate::collect::proto_number),
                a,
                a_port: port("src_port"),
                b,
                b_port: port("dest_port"),
                start_us: c.first_us.unwrap_or(0),
                end_us: c.last_us.unwrap_or(u64::MAX),
            };
            if spec.proto != 0 && !specs.contains(&spec) {
                specs.push(spec);
            }
        }
    }
    let shown: Vec<Value> = evidence
        .iter()
        .take(MAX_EVENTS_SHOWN)
        .map(|e| e.value.clone())
        .collect();
    let f = Finding {
        key: key.to_string(),
        first_seen: format_us(first),
        last_seen: format_us(last),
        hosts: hosts.into_iter().collect(),
        flows,
        scores,
        alerts,
        events_not_shown: evidence.len().saturating_sub(shown.len()) as u64,
        events: shown,
        intervals_s,
        evidence: None,
        evidence_packets: None,
    };
    (f, specs)
}

fn detector_of(v: &Value) -> Option<String> {
    let a = &v["alert"];
    a["metadata"]["tapir_detector"]
        .as_array()
        .and_then(|l| l.first())
        .and_then(Value::as_str)
        .or_else(|| a["context"]["detector"].as_str())
        .map(str::to_string)
}

/// Gaps between successive connection starts of each beacon alert's flows (the flows it
/// names, looked up in the flow index). Successive alerts name overlapping series; a gap is
/// counted once.
fn intervals(series: &[Vec<u64>], c: &Collected) -> Vec<f64> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for ids in series {
        let mut g: Vec<u64> = ids
            .iter()
            .filter_map(|id| c.flows.get(id))
            .map(|f| f.start_us)
            .collect();
        g.sort_unstable();
        for w in g.windows(2) {
            if let [a, b] = w {
                if seen.insert((*a, *b)) {
                    out.push(b.saturating_sub(*a) as f64 / 1e6);
                }
            }
        }
    }
    out.truncate(MAX_INTERVALS);
    out
}

fn flow_out(id: u64, f: Option<&FlowRec>) -> FlowOut {
    match f {
        None => FlowOut {
            flow_id: id,
            indexed: false,
            proto: None,
            src_ip: None,
            src_port: None,
            dest_ip: None,
            dest_port: None,
            app_proto: None,
            start: None,
            end: None,
            start_us: None,
            end_us: None,
            bytes_toserver: None,
            bytes_toclient: None,
        },
        Some(f) => FlowOut {
            flow_id: id,
            indexed: true,
            proto: Some(f.proto),
            src_ip: Some(f.src.to_string()),
            src_port: Some(f.src_port),
            dest_ip: Some(f.dest.to_string()),
            dest_port: Some(f.dest_port),
            app_proto: f.app_proto.as_deref().map(str::to_string),
            start: Some(format_us(f.start_us)),
            end: Some(format_us(f.end_us)),
            start_us: Some(f.start_us),
            end_us: Some(f.end_us),
            bytes_toserver: Some(f.bytes_toserver),
            bytes_toclient: Some(f.bytes_toclient),
        },
    }
}

#[cfg(test)]
mod tests;
