#[path = "../tests/support/mod.rs"]
mod support;
use support::{run, scenarios, stream};
use tapir_detect::DetectConfig;
fn main() {
    let want = std::env::args().nth(1).unwrap_or_default();
    let seeds: u64 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut cfg = DetectConfig::default();
    let low = std::env::var("LOWTH").is_ok();
    if low { cfg.beacon.score_threshold = 0.01; cfg.beacon.sloth_score_threshold = 0.01; cfg.beacon.rereport_step = 0.0; cfg.beacon.min_median_gap_s = 0.0; cfg.beacon.confirmations = 1; }
    let n: usize = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(3);
    for sc in scenarios() {
        if !sc.name.contains(&want) { continue; }
        let mut maxes = Vec::new();
        for seed in 1..=seeds {
            let found = run(&cfg, &stream(&sc, seed));
            let mine: Vec<_> = found.iter().filter(|f| f.src == support::ATTACKER || std::env::var("BG").is_ok()).collect();
            let m = mine.iter().filter(|f| f.detector == sc.detector).filter_map(|f| f.score).fold(0.0f64, f64::max);
            maxes.push((m * 1000.0).round() / 1000.0);
            if seed == 1 { println!("== {} : {} findings", sc.name, found.len());
            for f in mine.iter().take(n) {
                println!("{} sid={} sev={} score={:?} {}", f.signature, f.signature_id, f.severity, f.score, serde_json::Value::Object(f.context.clone()));
            } }
        }
        maxes.sort_by(f64::total_cmp);
        println!("max scores per seed: {:?}", maxes);
    }
}
