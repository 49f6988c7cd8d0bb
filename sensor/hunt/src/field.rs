//! Conditions applied to one EVE event (a `serde_json::Value`).

use std::net::IpAddr;

use serde_json::Value;

use crate::rule::{AlertMatch, FieldPred, Leaf, Op, Val};

/// The values at `path`; arrays met on the way are searched element by element, so
/// `dns.queries.rrname` reaches every query name. At most `LIMIT` values are returned, so a
/// hostile event with a huge array costs a bounded amount of work.
pub fn lookup<'a>(v: &'a Value, path: &[String]) -> Vec<&'a Value> {
    const LIMIT: usize = 256;
    let mut cur = vec![v];
    for seg in path {
        let mut next = Vec::new();
        for c in cur {
            let Some(child) = c.get(seg.as_str()) else {
                // A path through an array reaches into each element.
                if let Value::Array(items) = c {
                    for i in items.iter().take(LIMIT) {
                        if let Some(x) = i.get(seg.as_str()) {
                            next.push(x);
                        }
                    }
                }
                continue;
            };
            next.push(child);
        }
        next.truncate(LIMIT);
        cur = next;
        if cur.is_empty() {
            break;
        }
    }
    // A final array stands for its elements.
    let mut out = Vec::new();
    for c in cur {
        match c {
            Value::Array(items) => out.extend(items.iter().take(LIMIT)),
            Value::Null => {}
            _ => out.push(c),
        }
    }
    out.truncate(LIMIT);
    out
}

/// Whether the leaf matches this event (its type already checked by the caller).
pub fn leaf_matches(leaf: &Leaf, ev: &Value) -> bool {
    if let Some(a) = &leaf.alert {
        if !alert_matches(a, ev) {
            return false;
        }
    }
    leaf.preds.iter().all(|p| pred_matches(p, ev))
}

fn alert_matches(a: &AlertMatch, ev: &Value) -> bool {
    let alert = &ev["alert"];
    if !a.detector.is_empty() {
        let named = |d: &str| {
            alert["metadata"]["tapir_detector"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(d)))
                || alert["context"]["detector"].as_str() == Some(d)
        };
        if !a.detector.iter().any(|d| named(d)) {
            return false;
        }
    }
    if let Some(min) = a.min_score {
        if !score_of(ev).is_some_and(|s| s >= min) {
            return false;
        }
    }
    let ind = &alert["context"]["indicator"];
    if !a.intel_type.is_empty() {
        let Some(t) = ind["type"].as_str() else {
            return false;
        };
        // `ip` covers prefixes too: a CIDR entry is an IP indicator.
        if !a
            .intel_type
            .iter()
            .any(|w| w == t || (w == "ip" && t == "cidr"))
        {
            return false;
        }
    }
    if !a.feed.is_empty() {
        let Some(src) = ind["source"].as_str() else {
            return false;
        };
        if !a.feed.iter().any(|f| feed_matches(f, src)) {
            return false;
        }
    }
    if !a.signature_id.is_empty() {
        let Some(sid) = alert["signature_id"].as_u64() else {
            return false;
        };
        if !a.signature_id.contains(&sid) {
            return false;
        }
    }
    true
}

/// A feed is named by its configured name, its path, or the trailing components of the path
/// (`domains.txt` and `intel/domains.txt` both name `rules/intel/domains.txt`).
pub fn feed_matches(feed: &str, source: &str) -> bool {
    source == feed
        || (source.len() > feed.len()
            && source.ends_with(feed)
            && source.as_bytes().get(source.len() - feed.len() - 1) == Some(&b'/'))
}

/// The detector's score of a behaviour alert.
pub fn score_of(ev: &Value) -> Option<f64> {
    ev["alert"]["context"]["score"].as_f64()
}

fn pred_matches(p: &FieldPred, ev: &Value) -> bool {
    let vals = lookup(ev, &p.path);
    p.ops.iter().all(|op| op_matches(op, &vals))
}

fn op_matches(op: &Op, vals: &[&Value]) -> bool {
    match op {
        Op::Exists(want) => vals.is_empty() != *want,
        Op::Eq(x) => vals.iter().any(|v| val_eq(x, v)),
        Op::Ne(x) => !vals.is_empty() && !vals.iter().any(|v| val_eq(x, v)),
        Op::In(xs) => vals.iter().any(|v| xs.iter().any(|x| val_eq(x, v))),
        Op::NotIn(xs) => !vals.is_empty() && !vals.iter().any(|v| xs.iter().any(|x| val_eq(x, v))),
        Op::Contains(s) => strs(vals).any(|v| v.contains(s.as_str())),
        Op::StartsWith(s) => strs(vals).any(|v| v.starts_with(s.as_str())),
        Op::EndsWith(s) => strs(vals).any(|v| v.ends_with(s.as_str())),
        Op::Gt(n) => nums(vals).any(|v| v > *n),
        Op::Gte(n) => nums(vals).any(|v| v >= *n),
        Op::Lt(n) => nums(vals).any(|v| v < *n),
        Op::Lte(n) => nums(vals).any(|v| v <= *n),
        Op::InCidr(cs) => vals.iter().any(|v| {
            v.as_str()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_some_and(|ip| cs.iter().any(|c| c.contains(ip)))
        }),
    }
}

/// String values, lower-cased: string operators ignore ASCII case (names and hex digests).
fn strs<'a>(vals: &'a [&'a Value]) -> impl Iterator<Item = String> + 'a {
    vals.iter()
        .filter_map(|v| v.as_str().map(str::to_ascii_lowercase))
}

fn nums<'a>(vals: &'a [&'a Value]) -> impl Iterator<Item = f64> + 'a {
    vals.iter().filter_map(|v| v.as_f64())
}

fn val_eq(x: &Val, v: &Value) -> bool {
    match (x, v) {
        (Val::Num(n), Value::Number(m)) => m.as_f64() == Some(*n),
        (Val::Bool(b), Value::Bool(c)) => b == c,
        (Val::Str(s), Value::String(t)) => s.eq_ignore_ascii_case(t),
        // `dest_port: "443"` in a rule still means the number.
        (Val::Str(s), Value::Number(m)) => s.parse::<f64>().ok() == m.as_f64(),
        (Val::Num(n), Value::String(t)) => t.parse::<f64>().ok() == Some(*n),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_str;
    use serde_json::json;

    fn leaf(cond: &str, needs: &str) -> Leaf {
        let text = format!(
            "id: t\ntitle: t\nhypothesis: h\ntechniques: [T1071]\nneeds: [{needs}]\nseverity: low\nwhen:\n{cond}"
        );
        let (h, e) = parse_str("t.yaml", &text);
        assert!(e.is_empty(), "{e:?}");
        h.into_iter()
            .next()
            .and_then(|h| h.leaves.into_iter().next())
            .expect("a leaf")
    }

    #[test]
    fn dns_names_are_reached_through_arrays_and_compared_without_case() {
        let l = leaf(
            "  event: dns\n  where:\n    dns.queries.rrname: {ends_with: .Badcdn.example}\n    dns.type: request\n",
            "dns",
        );
        let ev = json!({"event_type":"dns","dns":{"type":"request","queries":[{"rrname":"x.example.com"},{"rrname":"C2.badcdn.example"}]}});
        assert!(leaf_matches(&l, &ev));
        let other = json!({"event_type":"dns","dns":{"type":"request","queries":[{"rrname":"badcdn.example.org"}]}});
        assert!(!leaf_matches(&l, &other));
    }

    #[test]
    fn numbers_lists_cidrs_and_negations() {
        let l = leaf(
            "  event: flow\n  where:\n    flow.bytes_toserver: {gt: 1000}\n    dest_port: [443, 8443]\n    dest_ip: {in_cidr: [203.0.113.0/24], ne: 203.0.113.1}\n    app_proto: {not_in: [dns]}\n    flow.alerted: false\n",
            "flow",
        );
        let mut ev = json!({"event_type":"flow","dest_ip":"203.0.113.66","dest_port":443,"app_proto":"tls","flow":{"bytes_toserver":5000,"alerted":false}});
        assert!(leaf_matches(&l, &ev));
        ev["flow"]["bytes_toserver"] = json!(999);
        assert!(!leaf_matches(&l, &ev));
        ev["flow"]["bytes_toserver"] = json!(1001);
        ev["dest_ip"] = json!("203.0.113.1");
        assert!(!leaf_matches(&l, &ev));
        ev["dest_ip"] = json!("198.51.100.1");
        assert!(!leaf_matches(&l, &ev));
        ev["dest_ip"] = json!("203.0.113.2");
        ev["app_proto"] = json!("dns");
        assert!(!leaf_matches(&l, &ev));
        // A field that is absent fails `not_in` and `ne` too: absence is not evidence.
        ev.as_object_mut().map(|o| o.remove("app_proto"));
        assert!(!leaf_matches(&l, &ev));
    }

    #[test]
    fn alert_filters_for_detectors_and_intel() {
        let beacon = json!({"event_type":"alert","alert":{"signature_id":1630001,"metadata":{"tapir_detector":["beacon"]},"context":{"detector":"beacon","score":0.91}}});
        let intel = json!({"event_type":"alert","alert":{"signature_id":1610006,"metadata":{"indicator_type":["ja4"]},"context":{"indicator":{"type":"ja4","source":"rules/intel/ja4.txt"}}}});
        let cidr = json!({"event_type":"alert","alert":{"signature_id":1610001,"context":{"indicator":{"type":"cidr","source":"feeds/c2-ips.csv"}}}});
        let b = leaf("  alert: {detector: beacon, min_score: 0.9}\n", "flow");
        assert!(leaf_matches(&b, &beacon));
        assert!(!leaf_matches(&b, &intel));
        let b95 = leaf("  alert: {detector: beacon, min_score: 0.95}\n", "flow");
        assert!(!leaf_matches(&b95, &beacon));
        let j = leaf("  alert: {intel_type: ja4, feed: intel/ja4.txt}\n", "tls");
        assert!(leaf_matches(&j, &intel));
        assert!(!leaf_matches(&j, &beacon));
        let wrong_feed = leaf("  alert: {intel_type: ja4, feed: a4.txt}\n", "tls");
        assert!(!leaf_matches(&wrong_feed, &intel));
        let ip = leaf(
            "  alert: {intel_type: ip, signature_id: [1610001]}\n",
            "flow",
        );
        assert!(leaf_matches(&ip, &cidr));
        assert!(!leaf_matches(&ip, &intel));
        let any = leaf("  alert:\n", "flow");
        assert!(leaf_matches(&any, &beacon) && leaf_matches(&any, &intel));
    }

    #[test]
    fn lookup_is_bounded_on_huge_arrays() {
        let big: Vec<Value> = (0..10_000)
            .map(|i| json!({"rrname": format!("n{i}")}))
            .collect();
        let ev = json!({"dns": {"queries": big}});
        assert_eq!(
            lookup(&ev, &["dns".into(), "queries".into(), "rrname".into()]).len(),
            256
        );
    }
}
