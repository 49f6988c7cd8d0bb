//! Intel lookups with realistic-to-large lists loaded: 1 000 000 IPs and CIDRs, 1 000 000
//! domains, 10 000 JA3 and 10 000 JA4. Lookups allocate nothing; this shows their cost per
//! query for each indicator type. Build time and resident bytes per indicator are printed once
//! (not a criterion measurement: a single build of 2 M indicators). Run:
//! `cargo bench -p tapir-benches --bench intel`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir_intel::{IndicatorKind, IntelDb};

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn lines() -> Vec<(IndicatorKind, String)> {
    let mut seed = 42u64;
    // Text first, so that the timing covers parsing and building, not generation.
    let mut lines: Vec<(IndicatorKind, String)> = Vec::with_capacity(2_020_000);
    for i in 0..1_000_000u32 {
        lines.push((
            IndicatorKind::Domain,
            format!("d{:x}.example{}.com", splitmix(&mut seed), i % 997),
        ));
    }
    for i in 0..1_000_000u32 {
        let r = splitmix(&mut seed);
        let text = match i % 10 {
            0 => format!(
                "{}/{}",
                Ipv6Addr::from((u128::from(r) << 64) | 0x2400 << 112),
                48 + (r % 17) as u8
            ),
            1..=3 => format!(
                "{}/{}",
                Ipv4Addr::from((r >> 8) as u32),
                [16, 20, 24, 28][(r % 4) as usize]
            ),
            _ => Ipv4Addr::from((r >> 8) as u32).to_string(),
        };
        lines.push((IndicatorKind::Ip, text));
    }
    for _ in 0..10_000 {
        lines.push((
            IndicatorKind::Ja3,
            format!("{:016x}{:016x}", splitmix(&mut seed), splitmix(&mut seed)),
        ));
        let a = splitmix(&mut seed);
        lines.push((
            IndicatorKind::Ja4,
            format!(
                "t13d{:02}{:02}h2_{:012x}_{:012x}",
                a % 99,
                (a >> 8) % 99,
                (a >> 16) & 0xffff_ffff_ffff,
                splitmix(&mut seed) & 0xffff_ffff_ffff
            ),
        ));
    }
    lines
}

fn build(lines: &[(IndicatorKind, String)]) -> IntelDb {
    let src: Arc<str> = Arc::from("bench");
    let before = rss_kib();
    let t = Instant::now();
    let mut b = IntelDb::builder();
    for (i, (k, v)) in lines.iter().enumerate() {
        let _ = b.add_line(*k, v, &src, i as u32);
    }
    let db = b.build();
    let secs = t.elapsed().as_secs_f64();
    let after = rss_kib();
    eprintln!(
        "intel build: {} indicators in {secs:.2} s; resident +{} MiB, {} bytes per indicator",
        db.len(),
        after.saturating_sub(before) / 1024,
        after.saturating_sub(before) * 1024 / db.len().max(1) as u64
    );
    db
}

/// The domains and IPs of `lines` as eight list files, one table each.
fn build_8_tables(lines: &[(IndicatorKind, String)]) -> IntelDb {
    let dir = std::env::temp_dir().join(format!("tapir-bench-tables-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut files: Vec<String> = vec![String::new(); 8];
    for (i, (k, v)) in lines.iter().enumerate() {
        let f = match k {
            IndicatorKind::Domain => i % 4,
            IndicatorKind::Ip => 4 + i % 4,
            _ => continue,
        };
        if let Some(t) = files.get_mut(f) {
            t.push_str(v);
            t.push('\n');
        }
    }
    for (i, text) in files.iter().enumerate() {
        let name = if i < 4 {
            format!("domains-{i}.txt")
        } else {
            format!("ips-{i}.txt")
        };
        std::fs::write(dir.join(name), text).expect("write list");
    }
    let (db, _) = IntelDb::load_paths(std::slice::from_ref(&dir)).expect("load 8 lists");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(db.table_count(), 8);
    db
}

fn intel(c: &mut Criterion) {
    let lines = lines();
    let db = build(&lines);
    let ja3 = db
        .iter()
        .find(|i| i.kind == IndicatorKind::Ja3)
        .map(|i| i.value.clone())
        .expect("ja3");
    let ja4 = db
        .iter()
        .find(|i| i.kind == IndicatorKind::Ja4)
        .map(|i| i.value.clone())
        .expect("ja4");
    let parent = db
        .iter()
        .find(|i| i.kind == IndicatorKind::Domain)
        .map(|i| format!("a.b.{}", i.value))
        .expect("domain");
    let mut g = c.benchmark_group("intel");
    g.throughput(Throughput::Elements(1));
    g.bench_function("domain_miss_4_labels", |b| {
        b.iter(|| black_box(db.match_domain(black_box("Www.Some-Host.Example.ORG."))))
    });
    g.bench_function("domain_hit_parent", |b| {
        b.iter(|| black_box(db.match_domain(black_box(&parent))))
    });
    g.bench_function("ip_v4_random", |b| {
        let mut s = 7u64;
        b.iter(|| black_box(db.match_ip(IpAddr::V4(Ipv4Addr::from(splitmix(&mut s) as u32)))))
    });
    g.bench_function("ip_v6_random", |b| {
        let mut s = 9u64;
        b.iter(|| {
            black_box(db.match_ip(IpAddr::V6(Ipv6Addr::from(
                (u128::from(splitmix(&mut s)) << 64) | 0x2400 << 112,
            ))))
        })
    });
    g.bench_function("ja3_hit", |b| {
        b.iter(|| black_box(db.match_ja3(black_box(&ja3))))
    });
    g.bench_function("ja3_miss", |b| {
        b.iter(|| black_box(db.match_ja3(black_box("0123456789abcdef0123456789abcdef"))))
    });
    g.bench_function("ja4_hit", |b| {
        b.iter(|| black_box(db.match_ja4(black_box(&ja4))))
    });
    g.finish();

    let db8 = build_8_tables(&lines);
    drop(lines);
    let mut g = c.benchmark_group("intel_8_tables");
    g.throughput(Throughput::Elements(1));
    g.bench_function("domain_miss_4_labels", |b| {
        b.iter(|| black_box(db8.match_domain(black_box("Www.Some-Host.Example.ORG."))))
    });
    g.bench_function("domain_hit_parent", |b| {
        b.iter(|| black_box(db8.match_domain(black_box(&parent))))
    });
    g.bench_function("ip_v4_random", |b| {
        let mut s = 7u64;
        b.iter(|| black_box(db8.match_ip(IpAddr::V4(Ipv4Addr::from(splitmix(&mut s) as u32)))))
    });
    g.bench_function("ja3_miss", |b| {
        b.iter(|| black_box(db8.match_ja3(black_box("0123456789abcdef0123456789abcdef"))))
    });
    g.finish();
}

criterion_group!(benches, intel);
criterion_main!(benches);
