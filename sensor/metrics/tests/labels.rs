//! No metric label value comes from traffic: the demo capture (DNS, TLS, HTTP, QUIC, SSH with
//! intel and pattern alerts) goes through the pipeline with the board and the alert tap, and
//! every label of the resulting exposition is checked against what it may carry, and against
//! the addresses and names seen in the traffic.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tapir_engine::board::Board;
use tapir_engine::tap::TapWriter;
use tapir_engine::{replay_with, EngineConfig, PipelineConfig, ReplayOptions};
use tapir_intel::IntelDb;
use tapir_metrics::Metrics;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (metric name, labels) of every sample line.
fn samples(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => {
                out.push((line.split(' ').next().unwrap_or("").to_string(), Vec::new()));
                continue;
            }
        };
        let mut labels = Vec::new();
        let mut chars = rest.chars().peekable();
        loop {
            let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut val = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next()),
                    '"' => break,
                    c => val.push(c),
                }
            }
            labels.push((key.trim_start_matches(',').to_string(), val));
            if chars.peek() == Some(&'}') {
                break;
            }
        }
        out.push((name.to_string(), labels));
    }
    out
}

/// Addresses and names the traffic carried, from the EVE output.
fn traffic_strings(eve: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in eve.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("EVE line is JSON");
        for ptr in [
            "/src_ip",
            "/dest_ip",
            "/dns/rrname",
            "/dns/queries/0/rrname",
            "/tls/sni",
            "/quic/sni",
            "/http/hostname",
            "/http/url",
            "/http/http_user_agent",
            "/alert/context/indicator/value",
            "/alert/context/indicator/matched_value",
        ] {
            if let Some(s) = v.pointer(ptr).and_then(|x| x.as_str()) {
                out.insert(s.to_string());
            }
        }
    }
    out
}

#[test]
fn no_label_value_comes_from_traffic() {
    let dir = std::env::temp_dir().join(format!("tapir-metrics-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let capture = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&capture).expect("demo capture");

    let intel_dir = repo().join("rules/intel");
    let (db, _) = IntelDb::load_paths(std::slice::from_ref(&intel_dir)).expect("demo intel");
    let db = Arc::new(db);
    tapir_metrics::intel_loaded(&db, std::time::Duration::from_millis(1));
    let patterns = tapir_patterns::PatternSet::load_paths(
        &[repo().join("rules/patterns")],
        &tapir_patterns::BuildOptions { cache_dir: None },
    )
    .expect("demo patterns")
    .set;

    let board = Board::new();
    let metrics = Metrics::new(Arc::clone(&board)).expect("metrics");
    let opts = ReplayOptions {
        pipeline: PipelineConfig {
            workers: 2,
            ..PipelineConfig::default()
        },
        patterns: Some(patterns),
        pattern_depth: 1 << 20,
        board: Some(Arc::clone(&board)),
        ..ReplayOptions::default()
    };
    let mut out = TapWriter::new(Vec::new(), vec![metrics.alert_tap()]);
    let report =
        replay_with(&[capture], db, EngineConfig::default(), &opts, &mut out).expect("replay");
    let eve = String::from_utf8(out.finish()).expect("utf8");
    assert!(report.stats.alerts > 0, "the demo raises alerts");
    let text = String::from_utf8(metrics.render()).expect("utf8");

    let traffic = traffic_strings(&eve);
    assert!(
        traffic.iter().any(|s| s.parse::<IpAddr>().is_ok()) && traffic.len() > 10,
        "{traffic:?}"
    );
    let categories: BTreeSet<String> = eve
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.pointer("/alert/category")?.as_str().map(String::from))
        .collect();
    let intel_files: BTreeSet<String> = std::fs::read_dir(&intel_dir)
        .expect("intel dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path().display().to_string())
        .collect();
    let snake = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, labels) in samples(&text) {
        assert!(name.starts_with("tapir_"), "{name}");
        for (k, v) in labels {
            assert!(
                v.parse::<IpAddr>().is_err(),
                "{name}{{{k}={v:?}}} is an address"
            );
            for t in &traffic {
                // Short traffic strings (ports, "1") are no evidence either way.
                if t.len() >= 6 {
                    assert!(!v.contains(t.as_str()), "{name}{{{k}={v:?}}} carries {t:?}");
                }
            }
            let ok = match k.as_str() {
                "worker" => v.parse::<usize>().is_ok_and(|w| w < 2),
                "reason" | "protocol" => snake(&v),
                "category" => categories.contains(&v),
                "technique" => {
                    v == "none" || v == "other" || tapir_metrics::labels::is_technique_id(&v)
                }
                "feed" => intel_files.contains(&v) || v == "unknown",
                "type" => tapir_metrics::intel::type_of_name(&v).is_some(),
                "version" => v == env!("CARGO_PKG_VERSION"),
                other => panic!("{name}: unexpected label {other}"),
            };
            assert!(ok, "{name}{{{k}={v:?}}}");
            seen.entry(k).or_default().insert(v);
        }
    }
    // The check covered labels that have values at all.
    for k in [
        "worker",
        "reason",
        "protocol",
        "category",
        "technique",
        "feed",
        "type",
    ] {
        assert!(seen.contains_key(k), "no {k} label in\n{text}");
    }

    // The series agree with the replay's own counters.
    let value = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(
        value("tapir_capture_packets_total{") as u64,
        report.stats.packets
    );
    assert_eq!(
        value("tapir_capture_bytes_total{") as u64,
        report.stats.bytes
    );
    assert_eq!(
        value("tapir_flows_created_total ") as u64,
        report.stats.flows
    );
    assert_eq!(value("tapir_alerts_total{") as u64, report.stats.alerts);
    assert_eq!(
        value("tapir_flows_evicted_total{") as u64,
        report.stats.flows,
        "every flow ended by the end of the replay"
    );
    assert_eq!(value("tapir_workers_alive ") as u64, 0);
    let _ = std::fs::remove_dir_all(dir);
}
