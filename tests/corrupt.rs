//! Corrupt captures: every capture in ../shared/testdata, mutated (bit flips, byte runs,
//! truncations, absurd record lengths, spliced records), replayed with 1 and 3 workers: no
//! panic, no hang, and what is read is counted. Deterministic (seeded).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tapir_engine::{replay_with, EngineConfig, PipelineConfig, ReplayOptions};
use tapir_intel::IntelDb;

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One mutation of `orig`, chosen by `r`.
fn mutate(orig: &[u8], r: &mut u64) -> Vec<u8> {
    let mut v = orig.to_vec();
    let n = v.len().max(1);
    match splitmix(r) % 6 {
        0 => {
            for _ in 0..1 + splitmix(r) % 16 {
                let i = (splitmix(r) as usize) % n;
                if let Some(b) = v.get_mut(i) {
                    *b ^= 1 << (splitmix(r) % 8);
                }
            }
        }
        1 => v.truncate((splitmix(r) as usize) % n),
        2 => {
            // A run of random bytes past the file header.
            let start = 24 + (splitmix(r) as usize) % n;
            for i in start..(start + 64).min(v.len()) {
                v[i] = splitmix(r) as u8;
            }
        }
        3 => {
            // An absurd length word somewhere (record caplen/len, block length, IP length).
            let i = (splitmix(r) as usize) % n;
            for (k, b) in [0xffu8, 0xff, 0xff, 0x7f].iter().enumerate() {
                if let Some(x) = v.get_mut(i + k) {
                    *x = *b;
                }
            }
        }
        4 => {
            // Splice: a slice of the file copied over another place.
            let a = (splitmix(r) as usize) % n;
            let b = (splitmix(r) as usize) % n;
            let len = (splitmix(r) as usize % 512).min(n - a.max(b));
            let chunk = orig[a..a + len].to_vec();
            v[b..b + len].copy_from_slice(&chunk);
        }
        _ => {
            // Zeroes over a random range.
            let a = (splitmix(r) as usize) % n;
            let end = (a + (splitmix(r) as usize % 256)).min(v.len());
            v[a..end].fill(0);
        }
    }
    v
}

#[test]
fn mutated_captures_never_panic_or_hang() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/pcaps");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    let intel = Arc::new(IntelDb::empty());
    let tmp = std::env::temp_dir().join(format!("tapir-corrupt-{}.pcap", std::process::id()));
    let mut seed = 0x7a91_u64;
    let (mut runs, mut refused, mut packets, mut decode_errors) = (0u64, 0u64, 0u64, 0u64);
    let per_file = 100;
    for f in &files {
        let orig = std::fs::read(f).expect("read capture");
        for i in 0..per_file {
            let bytes = mutate(&orig, &mut seed);
            std::fs::write(&tmp, &bytes).expect("write");
            let workers = if i % 2 == 0 { 1 } else { 3 };
            let opts = ReplayOptions {
                pipeline: PipelineConfig {
                    workers,
                    batch_packets: 16,
                    ..PipelineConfig::default()
                },
                ..ReplayOptions::default()
            };
            let started = Instant::now();
            let mut out = Vec::new();
            match replay_with(
                std::slice::from_ref(&tmp),
                intel.clone(),
                EngineConfig::default(),
                &opts,
                &mut out,
            ) {
                Ok(r) => {
                    packets += r.stats.packets;
                    decode_errors += r.stats.decode_error_total();
                    // Every output line stays a whole JSON object.
                    for l in String::from_utf8(out).expect("utf8").lines() {
                        serde_json::from_str::<serde_json::Value>(l).expect("whole JSON line");
                    }
                }
                Err(_) => refused += 1,
            }
            // A few MB of input must never take long, whatever the damage.
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{f:?} mutation {i}: too slow"
            );
            runs += 1;
        }
    }
    let _ = std::fs::remove_file(tmp);
    println!("{runs} mutated replays: {refused} refused at open, {packets} packets, {decode_errors} decode errors counted");
    assert!(
        decode_errors > 0,
        "mutations must produce counted decode errors"
    );
}
