//! With any number of workers the set of events equals the set with one worker (order may
//! differ): flows are owned by one worker each, and every decision is made on packet time and
//! the flow's own packets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tapir_engine::{replay_with, EngineConfig, PipelineConfig, ReplayOptions};
use tapir_intel::IntelDb;

fn events(
    paths: &[PathBuf],
    intel: &Arc<IntelDb>,
    workers: usize,
    batch_packets: usize,
) -> (Vec<String>, u64) {
    let opts = ReplayOptions {
        pipeline: PipelineConfig {
            workers,
            batch_packets,
            ..PipelineConfig::default()
        },
        ..ReplayOptions::default()
    };
    let mut out = Vec::new();
    let r = replay_with(
        paths,
        intel.clone(),
        EngineConfig::default(),
        &opts,
        &mut out,
    )
    .expect("replay");
    let mut lines: Vec<String> = String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    (lines, r.stats.packets)
}

fn demo_intel() -> Arc<IntelDb> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/intel");
    Arc::new(IntelDb::load_paths(&[dir]).expect("demo intel").0)
}

#[test]
fn shared_captures_give_the_same_events_with_1_2_and_4_workers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/pcaps");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    let intel = demo_intel();
    for f in &files {
        let one = events(std::slice::from_ref(f), &intel, 1, 256);
        assert!(
            one.1 > 0 || f.to_string_lossy().contains("trunc"),
            "{f:?}: no packets"
        );
        for (w, batch) in [(2, 256), (4, 7)] {
            let n = events(std::slice::from_ref(f), &intel, w, batch);
            assert_eq!(one.1, n.1, "{f:?}: packet count differs with {w} workers");
            assert_eq!(one.0, n.0, "{f:?}: events differ with {w} workers");
        }
    }
    // All captures as one stream, too.
    let one = events(&files, &intel, 1, 256);
    let four = events(&files, &intel, 4, 64);
    assert_eq!(one.1, four.1);
    let only_one: Vec<&String> = one.0.iter().filter(|l| !four.0.contains(l)).collect();
    let only_four: Vec<&String> = four.0.iter().filter(|l| !one.0.contains(l)).collect();
    assert!(
        only_one.is_empty() && only_four.is_empty(),
        "all captures in one run: events differ with 4 workers:\nonly with 1:\n{}\nonly with 4:\n{}",
        only_one.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
        only_four.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
    println!(
        "{} captures, {} events, equal for 1, 2 and 4 workers",
        files.len(),
        one.0.len()
    );
}

#[test]
fn generated_capture_gives_the_same_events_with_1_2_and_4_workers() {
    let cfg = tapir_gen_demo::bench::BenchConfig {
        packets: 30_000,
        flows: 300,
        seed: 11,
        flood: false,
        ..Default::default()
    };
    let p = std::env::temp_dir().join(format!("tapir-workers-{}.pcap", std::process::id()));
    tapir_gen_demo::write_bench(&p, &cfg).expect("generate");
    let demo = std::env::temp_dir().join(format!("tapir-workers-demo-{}.pcap", std::process::id()));
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let paths = vec![demo.clone(), p.clone()];
    let intel = demo_intel();
    let one = events(&paths, &intel, 1, 256);
    assert!(
        one.0.iter().any(|l| l.contains("\"event_type\":\"alert\"")),
        "the demo part must alert"
    );
    for w in [2, 4] {
        let n = events(&paths, &intel, w, 100);
        assert_eq!(one.1, n.1);
        assert_eq!(one.0.len(), n.0.len(), "{w} workers: event count differs");
        assert_eq!(one.0, n.0, "{w} workers: events differ");
    }
    let _ = std::fs::remove_file(p);
    let _ = std::fs::remove_file(demo);
}
