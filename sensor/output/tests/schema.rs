//! Network records (the EVE line plus `host` and the event id) still validate against
//! Suricata's EVE schema, which refuses unknown top-level keys: the id sits in
//! `metadata.pktvars`. Checked on every event of the demo capture and of the shared captures.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tapir_engine::EngineConfig;
use tapir_intel::IntelDb;
use tapir_output::record::{event_id, flow_id};
use tapir_output::Identity;

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    p.join("eve-schema/schema.json").is_file().then_some(p)
}

/// EVE lines of each capture replayed against the demo intel (so that alerts are among them).
fn eve_lines(captures: &[PathBuf]) -> Vec<Vec<u8>> {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/intel");
    let (db, _) = IntelDb::load_paths(&[rules]).expect("demo intel");
    let intel = Arc::new(db);
    let mut out = Vec::new();
    for c in captures {
        let mut buf = Vec::new();
        tapir_engine::replay(
            std::slice::from_ref(c),
            Arc::clone(&intel),
            EngineConfig::default(),
            &mut buf,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        out.extend(
            buf.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    out
}

#[test]
fn decorated_records_validate_against_the_eve_schema() {
    let Some(shared) = shared() else {
        println!("skipped: ../shared/eve-schema not found");
        return;
    };
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("eve-schema/schema.json")).expect("schema"),
    )
    .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("compile schema");
    let dir = std::env::temp_dir().join(format!("tapir-output-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let demo = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo capture");
    let mut caps = vec![demo];
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(shared.join("testdata/pcaps"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    pcaps.sort();
    caps.extend(pcaps);
    let lines = eve_lines(&caps);
    let _ = std::fs::remove_dir_all(&dir);
    let id = Identity::new(Some("edge \"quoted\" \u{e9}"));
    let mut failures = Vec::new();
    let mut types = std::collections::BTreeSet::new();
    let mut ids = std::collections::HashSet::new();
    for line in &lines {
        let rec = id.decorate(line);
        let v: Value = serde_json::from_slice(&rec).expect("decorated record is JSON");
        let plain: Value = serde_json::from_slice(line).expect("EVE line");
        types.insert(v["event_type"].as_str().unwrap_or("?").to_string());
        assert_eq!(v["host"], "edge \"quoted\" \u{e9}");
        assert_eq!(v["event_type"], plain["event_type"]);
        assert_eq!(v["flow_id"], plain["flow_id"]);
        assert_eq!(
            flow_id(&rec).map(|f| f.to_vec()),
            flow_id(line).map(|f| f.to_vec())
        );
        let eid = event_id(&rec).expect("event id").to_string();
        assert_eq!(
            v["metadata"]["pktvars"]
                .as_array()
                .and_then(|a| a.iter().find_map(|p| p["tapir_event_id"].as_str())),
            Some(eid.as_str())
        );
        assert!(ids.insert(eid), "event id repeated");
        for err in validator.iter_errors(&v) {
            failures.push(format!("{err} at {}: {v}", err.instance_path()));
        }
    }
    println!("validated {} records: {types:?}", lines.len());
    assert!(lines.len() > 100, "only {} records", lines.len());
    for t in ["alert", "dns", "tls", "http", "flow"] {
        assert!(types.contains(t), "no {t} records");
    }
    assert!(
        failures.is_empty(),
        "{} schema errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
