//! Recall and false positives of every detector on the synthetic scenarios of
//! `tests/support` (attacks, hard variants, benign look-alikes, each over background
//! traffic), with the default configuration. `cargo run -p tapir-detect --example eval [SEEDS]`
//! prints a Markdown table; sensor/detect/README.md quotes it.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use support::{background_findings, fired, run, scenarios, stream};
use tapir_detect::DetectConfig;

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let cfg = DetectConfig::default();
    // detector -> (attack runs, detected, benign runs, benign fired)
    let mut per: BTreeMap<&str, (u64, u64, u64, u64)> = BTreeMap::new();
    let mut bg_runs = 0u64;
    let mut bg_findings = 0u64;
    let mut bg_by_detector: BTreeMap<&str, u64> = BTreeMap::new();
    let mut limits = Vec::new();
    println!("| detector | scenario | kind | fired / runs |");
    println!("|---|---|---|---|");
    for sc in scenarios() {
        let mut hits = 0;
        for seed in 1..=seeds {
            let obs = stream(&sc, seed);
            let found = run(&cfg, &obs);
            if fired(&found, sc.detector) {
                hits += 1;
            }
            let bg = background_findings(&found);
            bg_runs += 1;
            bg_findings += bg.len() as u64;
            for f in bg {
                *bg_by_detector.entry(f.detector).or_default() += 1;
            }
        }
        let kind = if sc.attack { "attack" } else { "benign" };
        if sc.limit {
            limits.push(format!(
                "| {} | {} | {} | {}/{} |",
                sc.detector, sc.name, kind, hits, seeds
            ));
            continue;
        }
        let e = per.entry(sc.detector).or_default();
        if sc.attack {
            e.0 += seeds;
            e.1 += hits;
        } else {
            e.2 += seeds;
            e.3 += hits;
        }
        println!(
            "| {} | {} | {} | {}/{} |",
            sc.detector, sc.name, kind, hits, seeds
        );
    }
    println!();
    println!("| detector | recall | false positives (benign look-alikes) | findings on background hosts |");
    println!("|---|---|---|---|");
    for (det, (a, d, b, fp)) in &per {
        println!(
            "| {det} | {d}/{a} ({:.0} %) | {fp}/{b} | {} |",
            100.0 * *d as f64 / (*a).max(1) as f64,
            bg_by_detector.get(det).copied().unwrap_or(0)
        );
    }
    println!();
    println!("Documented limits (not counted above):");
    println!();
    println!("| detector | scenario | kind | fired / runs |");
    println!("|---|---|---|---|");
    for l in &limits {
        println!("{l}");
    }
    println!();
    println!(
        "{bg_findings} findings on background hosts over {bg_runs} runs \
         (25 hosts, 2 h of browsing, DNS and TLS each)."
    );
}
