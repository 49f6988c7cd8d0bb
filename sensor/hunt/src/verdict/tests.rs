use super::*;
use crate::collect::{Collector, Limits};
use crate::parse::parse_str;
use serde_json::json;

const HEAD: &str = "title: t\nhypothesis: h\ntechniques: [T1071]\nseverity: high\n";

fn ts(sec: u64) -> String {
    format_us(1_768_467_600_000_000 + sec * 1_000_000)
}

fn beacon(sec: u64, src: &str, dst: &str, score: f64, flows: &[u64]) -> Value {
    json!({"timestamp": ts(sec), "event_type": "alert", "src_ip": src, "dest_ip": dst, "proto": "TCP",
           "alert": {"signature_id": 1630001, "signature": "TAPIR BEHAVIOUR beacon", "category": "Command and Control: Beaconing", "severity": 2,
                     "metadata": {"tapir_detector": ["beacon"], "mitre_technique_id": ["T1071"]},
                     "context": {"detector": "beacon", "score": score, "flow_ids": flows}}})
}

fn detector(sec: u64, name: &str, src: &str, dst: &str) -> Value {
    json!({"timestamp": ts(sec), "event_type": "alert", "src_ip": src, "dest_ip": dst,
           "alert": {"signature_id": 1630020, "signature": format!("TAPIR BEHAVIOUR {name}"), "severity": 2,
                     "metadata": {"tapir_detector": [name]}, "context": {"detector": name, "score": 0.9}}})
}

fn intel(sec: u64, src: &str, dst: &str, ty: &str, flow: u64) -> Value {
    json!({"timestamp": ts(sec), "flow_id": flow, "event_type": "alert", "src_ip": src, "src_port": 49730, "dest_ip": dst, "dest_port": 443, "proto": "TCP",
           "alert": {"signature_id": 1610006, "signature": "TAPIR INTEL JA4 x in tls.ja4 (rules/intel/ja4.txt:16)", "severity": 2,
                     "metadata": {"indicator_type": [ty]},
                     "context": {"indicator": {"type": ty, "value": "x", "source": "rules/intel/ja4.txt", "line": 16, "matched_field": "tls.ja4"}}}})
}

fn flow(id: u64, start: u64, src: &str, dst: &str) -> Value {
    json!({"timestamp": ts(start + 1), "flow_id": id, "event_type": "flow", "src_ip": src, "src_port": 40000 + id, "dest_ip": dst, "dest_port": 443, "proto": "TCP", "app_proto": "tls",
           "flow": {"start": ts(start), "end": ts(start + 1), "bytes_toserver": 500, "bytes_toclient": 700, "pkts_toserver": 5, "pkts_toclient": 5}})
}

fn run(rule: &str, events: &[Value]) -> (Report, Vec<EvidencePlan>) {
    let (hunts, errors) = parse_str("t.yaml", &format!("id: t\n{HEAD}{rule}"));
    assert!(errors.is_empty(), "{errors:?}");
    let mut c = Collector::new(hunts, Limits::default());
    for e in events {
        c.line(e.to_string().as_bytes());
    }
    evaluate(&c.into_collected(), &RunInfo::default())
}

const C2: &str = "needs: [flow, tls]\nsame: dest_ip\nactions: {block: dest_ip}\nwhen:\n  all:\n    - alert: {detector: beacon, min_score: 0.8}\n    - alert: {intel_type: ja4}\n";

fn base() -> Vec<Value> {
    let mut ev: Vec<Value> = (0..6)
        .map(|i| flow(i + 1, i * 60, "10.0.0.5", "203.0.113.66"))
        .collect();
    ev.push(json!({"timestamp": ts(2), "event_type": "tls", "src_ip": "10.0.0.5", "dest_ip": "203.0.113.66", "tls": {"ja4": "x"}}));
    ev
}

#[test]
fn intel_and_beacon_on_the_same_destination_validate_with_evidence() {
    let mut ev = base();
    ev.push(intel(3, "10.0.0.5", "203.0.113.66", "ja4", 1));
    ev.push(beacon(
        400,
        "10.0.0.5",
        "203.0.113.66",
        0.91,
        &[1, 2, 3, 4, 5, 6],
    ));
    // Noise on another destination must not join the finding.
    ev.push(beacon(401, "10.0.0.7", "198.51.100.9", 0.99, &[]));
    let (r, plans) = run(C2, &ev);
    let h = &r.hunts[0];
    assert_eq!(h.verdict, Verdict::Validated, "{}", h.reason);
    assert_eq!(h.findings.len(), 1);
    let f = &h.findings[0];
    assert_eq!(f.key, "203.0.113.66");
    assert_eq!(f.hosts, ["10.0.0.5", "203.0.113.66"]);
    assert_eq!(f.alerts.len(), 2);
    assert_eq!(f.scores.len(), 1);
    assert_eq!(f.scores[0].score, 0.91);
    assert_eq!(f.first_seen, ts(3));
    assert_eq!(f.last_seen, ts(400));
    // Six flows a minute apart: five gaps of 60 s, read from the flows' start times.
    assert_eq!(f.intervals_s, [60.0; 5]);
    assert_eq!(f.flows.len(), 6);
    assert!(f.flows.iter().all(|x| x.indexed));
    assert_eq!(h.actions[0].targets, ["203.0.113.66"]);
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].file, "t-001.pcap");
    assert_eq!(plans[0].flows.len(), 6);
    assert_eq!(r.summary.validated, 1);
}

#[test]
fn a_low_score_or_another_destination_refutes_and_says_what_was_examined() {
    let mut ev = base();
    ev.push(intel(3, "10.0.0.5", "203.0.113.66", "ja4", 1));
    ev.push(beacon(400, "10.0.0.5", "203.0.113.66", 0.7, &[1, 2]));
    ev.push(beacon(401, "10.0.0.5", "198.51.100.9", 0.95, &[]));
    let (r, plans) = run(C2, &ev);
    let h = &r.hunts[0];
    assert_eq!(h.verdict, Verdict::Refuted);
    assert!(
        h.reason.contains("6 flow") && h.reason.contains("1 tls") && h.reason.contains("3 alert"),
        "{}",
        h.reason
    );
    assert_eq!(h.examined.get("flow"), Some(&6));
    assert_eq!(h.conditions[0].matches, 1);
    assert_eq!(h.conditions[1].matches, 1);
    assert!(plans.is_empty());
    assert!(h.actions[0].targets.is_empty());
}

#[test]
fn missing_data_is_inconclusive_and_named() {
    let ev = vec![flow(1, 0, "10.0.0.5", "203.0.113.66")];
    let (r, _) = run(C2, &ev);
    let h = &r.hunts[0];
    assert_eq!(h.verdict, Verdict::Inconclusive);
    assert_eq!(h.missing, ["tls"]);
    assert!(h.reason.contains("no tls events"), "{}", h.reason);
    let alt = "needs: [flow, [tls, quic]]\nwhen:\n  alert: {detector: beacon}\n";
    let (r, _) = run(alt, &ev);
    assert_eq!(r.hunts[0].missing, ["tls or quic"]);
}

const SEQ: &str = "needs: [dns, flow]\nsame: src_ip\nwindow: 1h\nwhen:\n  sequence:\n    - alert: {detector: dga}\n    - alert: {detector: beacon}\n";

fn with_data(mut v: Vec<Value>) -> Vec<Value> {
    v.push(flow(1, 0, "10.0.0.5", "203.0.113.66"));
    v.push(json!({"timestamp": ts(0), "event_type": "dns", "src_ip": "10.0.0.5", "dest_ip": "10.0.0.2"}));
    v
}

#[test]
fn sequences_need_their_order_and_the_window() {
    let in_order = with_data(vec![
        detector(10, "dga", "10.0.0.5", "10.0.0.2"),
        beacon(1000, "10.0.0.5", "203.0.113.66", 0.9, &[]),
    ]);
    assert_eq!(run(SEQ, &in_order).0.hunts[0].verdict, Verdict::Validated);
    let reversed = with_data(vec![
        beacon(10, "10.0.0.5", "203.0.113.66", 0.9, &[]),
        detector(1000, "dga", "10.0.0.5", "10.0.0.2"),
    ]);
    assert_eq!(run(SEQ, &reversed).0.hunts[0].verdict, Verdict::Refuted);
    let too_far = with_data(vec![
        detector(10, "dga", "10.0.0.5", "10.0.0.2"),
        beacon(10 + 3601, "10.0.0.5", "203.0.113.66", 0.9, &[]),
    ]);
    assert_eq!(run(SEQ, &too_far).0.hunts[0].verdict, Verdict::Refuted);
    let other_host = with_data(vec![
        detector(10, "dga", "10.0.0.6", "10.0.0.2"),
        beacon(100, "10.0.0.5", "203.0.113.66", 0.9, &[]),
    ]);
    assert_eq!(run(SEQ, &other_host).0.hunts[0].verdict, Verdict::Refuted);
}

#[test]
fn not_count_and_flow_id_correlation() {
    // Two scans from one host and none followed by a beacon: `not` holds for that key only.
    let rule = "needs: [flow]\nsame: src_ip\nwhen:\n  all:\n    - alert: {detector: scan}\n      count: 2\n    - not:\n        alert: {detector: beacon}\n";
    let ev = with_data(vec![
        detector(1, "scan", "10.0.0.5", "10.0.0.9"),
        detector(2, "scan", "10.0.0.5", "10.0.0.10"),
        detector(3, "scan", "10.0.0.6", "10.0.0.9"),
        detector(4, "scan", "10.0.0.6", "10.0.0.10"),
        beacon(5, "10.0.0.6", "203.0.113.66", 0.9, &[]),
        detector(6, "scan", "10.0.0.7", "10.0.0.9"),
    ]);
    let (r, _) = run(rule, &ev);
    let keys: Vec<&str> = r.hunts[0].findings.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["10.0.0.5"]);
    // A beacon alert correlates by flow id with an event of one of its flows.
    let rule = "needs: [flow, tls]\nsame: flow_id\nwhen:\n  all:\n    - alert: {detector: beacon}\n    - event: tls\n      where: {tls.sni: {ends_with: .example}}\n";
    let ev = vec![
        flow(7, 0, "10.0.0.5", "203.0.113.66"),
        json!({"timestamp": ts(0), "flow_id": 7, "event_type": "tls", "src_ip": "10.0.0.5", "dest_ip": "203.0.113.66", "tls": {"sni": "c2.badcdn.EXAMPLE"}}),
        beacon(50, "10.0.0.5", "203.0.113.66", 0.9, &[5, 6, 7]),
    ];
    let (r, _) = run(rule, &ev);
    assert_eq!(r.hunts[0].verdict, Verdict::Validated);
    assert_eq!(r.hunts[0].findings[0].key, "7");
}
