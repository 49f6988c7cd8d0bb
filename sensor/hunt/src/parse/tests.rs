use super::*;

const GOOD: &str = r#"
id: intel-c2-beacon
title: Beaconing to a C2 destination
hypothesis: A host on the network beacons to a server whose JA4 is on a C2 feed.
techniques: [T1071, T1573.002]
needs: [flow, [tls, quic]]
severity: high
same: dest_ip
window: 1h
actions:
  block: dest_ip
when:
  all:
    - alert:
        detector: beacon
        min_score: 0.8
    - any:
        - alert: {intel_type: ja4, feed: ja4.txt}
        - event: tls
          where:
            tls.ja4: [t13d040800_ddb3979a63c6_b7dbbb63159c]
            tls.sni: {ends_with: .example, exists: true}
            dest_port: {gte: 1, lte: 65535}
            dest_ip: {in_cidr: [203.0.113.0/24]}
          count: 2
"#;

#[test]
fn a_full_hunt_parses_into_its_parts() {
    let (h, e) = parse_str("good.yaml", GOOD);
    assert!(e.is_empty(), "{e:?}");
    let h = h.first().expect("one hunt");
    assert_eq!(h.id, "intel-c2-beacon");
    assert_eq!(h.techniques, ["T1071", "T1573.002"]);
    assert_eq!(
        h.needs,
        vec![vec!["flow".to_string()], vec!["tls".into(), "quic".into()]]
    );
    assert_eq!(h.same, Some(Key::DestIp));
    assert_eq!(h.window_us, Some(3_600_000_000));
    assert_eq!(h.actions, vec![Action::Block(BlockTarget::DestIp)]);
    assert_eq!(h.leaves.len(), 3);
    assert_eq!(
        h.leaves[0].alert.as_ref().and_then(|a| a.min_score),
        Some(0.8)
    );
    assert_eq!(h.leaves[2].preds.len(), 4);
    assert_eq!(h.leaves[2].min_count, 2);
    assert_eq!(h.leaves[2].event_types, ["tls"]);
    assert_eq!((h.leaves[2].line, h.leaves[2].col), (19, 11));
    assert_eq!(
        h.when,
        Cond::All(vec![
            Cond::Leaf(0),
            Cond::Any(vec![Cond::Leaf(1), Cond::Leaf(2)])
        ])
    );
}

fn errors(text: &str) -> Vec<String> {
    parse_str("t.yaml", text)
        .1
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_error_of_a_file_is_reported_at_its_place() {
    let bad = r#"id: Bad Id
title: x
hypothesis: y
techniques: [T1071, X99]
needs: [flow, tcp]
severity: urgent
colour: red
when:
  all:
    - alert: {detector: beecon, min_score: 1.5}
    - event: tls
      where:
        dns.rrname: {ends_with: .example}
        tls.sni: {matches: x}
"#;
    let e = errors(bad);
    let want = [
        "t.yaml:1:5: id \"Bad Id\"",
        "t.yaml:4:21: technique \"X99\"",
        "t.yaml:5:15: unknown event type \"tcp\"",
        "t.yaml:6:11: severity \"urgent\"",
        "t.yaml:7:1: unknown key \"colour\"",
        "t.yaml:10:25: unknown detector \"beecon\"",
        "t.yaml:10:44: min_score 1.5",
        "t.yaml:13:9: field \"dns.rrname\" is not part of tls events",
        "t.yaml:14:19: unknown operator \"matches\"",
        "t.yaml:11:7: this condition reads tls events: list tls in needs",
    ];
    for w in want {
        assert!(
            e.iter().any(|x| x.starts_with(w)),
            "missing {w:?} in {e:#?}"
        );
    }
    assert_eq!(e.len(), want.len(), "{e:#?}");
}

#[test]
fn yaml_syntax_errors_have_a_position() {
    let e = errors("id: a\ntitle: [unclosed\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("t.yaml:"), "{e:?}");
    assert!(e[0].contains("YAML:"), "{e:?}");
    let e = errors("id: a\nid: b\n");
    assert!(e[0].contains("duplicated key"), "{e:?}");
}

#[test]
fn missing_keys_and_misplaced_not_are_refused() {
    let e = errors("id: a\n");
    assert!(
        e[0].contains(
            "missing required key(s): title, hypothesis, techniques, needs, severity, when"
        ),
        "{e:?}"
    );
    let only_not = "id: a\ntitle: t\nhypothesis: h\ntechniques: [T1046]\nneeds: [flow]\nseverity: low\nsame: src_ip\nwhen:\n  not:\n    alert: {detector: scan}\n";
    let e = errors(only_not);
    assert!(e.iter().any(|x| x.contains("not only `not`")), "{e:?}");
    let seq = "id: a\ntitle: t\nhypothesis: h\ntechniques: [T1046]\nneeds: [flow]\nseverity: low\nwhen:\n  sequence:\n    - alert: {detector: dga}\n    - any: [{alert: {detector: beacon}}]\n";
    let e = errors(seq);
    assert!(
        e.iter().any(|x| x.contains("t.yaml:10:7: sequence steps")),
        "{e:?}"
    );
}

#[test]
fn deep_nesting_is_refused_before_loading() {
    let deep = format!("id: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = errors(&deep);
    assert!(e[0].contains("nesting deeper than 64"), "{e:?}");
    let compact = format!("when:\n{}x\n", "- ".repeat(300));
    let e = errors(&compact);
    assert!(e[0].contains("indented past column 256"), "{e:?}");
}

#[test]
fn durations_and_techniques() {
    assert_eq!(parse_duration_us("90s"), Some(90_000_000));
    assert_eq!(parse_duration_us("500ms"), Some(500_000));
    assert_eq!(parse_duration_us("0s"), None);
    assert_eq!(parse_duration_us("10"), None);
    assert_eq!(parse_duration_us("1w"), None);
    assert_eq!(format_duration_us(86_400_000_000), "1d");
    assert_eq!(format_duration_us(5_400_000_000), "90m");
    assert_eq!(format_duration_us(500_000), "500ms");
    assert!(valid_technique("T1071.004"));
    assert!(!valid_technique("T107"));
    assert!(!valid_technique("TA0011"));
}

#[test]
fn eve_v2_dns_names_are_pointed_to_their_v3_place() {
    let text = "id: d\ntitle: t\nhypothesis: h\ntechniques: [T1071]\nneeds: [dns]\nseverity: low\nwhen:\n  event: dns\n  where:\n    dns.rrname: {ends_with: .example}\n";
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.yaml:10:5: field \"dns.rrname\": DNS records are under dns.queries"),
        "{e:?}"
    );
}
