//! Load-speed check: writes 1M IPs/CIDRs and 1M domains as plain lists to a temp dir, loads them
//! with `IntelDb::load_paths`, and prints the time and the resident-memory growth per indicator
//! (Linux `/proc/self/statm`). Run: `cargo run --release -p tapir-intel --example load_speed`.

use std::io::Write;
use std::time::Instant;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    let n: u32 = 1_000_000;
    let dir = std::env::temp_dir().join(format!("tapir-load-speed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ips = dir.join("ips.txt");
    let doms = dir.join("domains.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&ips).unwrap());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let a = (x as u32).to_be_bytes();
        if i % 4 == 0 {
            writeln!(f, "{}.{}.{}.0/24", a[0], a[1], a[2]).unwrap();
        } else {
            writeln!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]).unwrap();
        }
    }
    drop(f);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&doms).unwrap());
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        writeln!(f, "d{:x}.example{}.com", x, i % 97).unwrap();
    }
    drop(f);
    let before = rss_bytes();
    let t = Instant::now();
    let (db, report) = tapir_intel::IntelDb::load_paths(&[ips, doms]).unwrap();
    let el = t.elapsed();
    let after = rss_bytes();
    println!(
        "loaded {} indicators ({} duplicates, {} warnings) in {:.3} s; RSS +{} MiB, {} bytes/indicator",
        db.len(),
        report.duplicates,
        report.warning_count(),
        el.as_secs_f64(),
        after.saturating_sub(before) >> 20,
        after.saturating_sub(before) / db.len().max(1) as u64
    );
    let _ = std::fs::remove_dir_all(&dir);
}
