//! Intel lookups against large lists: 200 000 domains, 100 000 IPv4 CIDRs of mixed lengths.
//! Lookups allocate nothing; this shows their cost per query. Run:
//! `cargo bench -p tapir-benches --bench intel`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir_intel::{IndicatorKind, IntelDb};

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn intel(c: &mut Criterion) {
    let src: Arc<str> = Arc::from("bench");
    let mut b = IntelDb::builder();
    let mut seed = 42u64;
    for i in 0..200_000u32 {
        let _ = b.add_line(
            IndicatorKind::Domain,
            &format!("d{:x}.example{}.com", splitmix(&mut seed), i % 97),
            &src,
            i,
        );
    }
    for i in 0..100_000u32 {
        let r = splitmix(&mut seed);
        let len = [16, 20, 24, 28, 32][(r % 5) as usize];
        let ip = Ipv4Addr::from((r >> 8) as u32);
        let _ = b.add_line(IndicatorKind::Ip, &format!("{ip}/{len}"), &src, i);
    }
    let db = b.build();
    let mut g = c.benchmark_group("intel");
    g.throughput(Throughput::Elements(1));
    g.bench_function("domain_miss_4_labels", |b| {
        b.iter(|| black_box(db.match_domain(black_box("Www.Some-Host.Example.ORG."))))
    });
    g.bench_function("domain_hit_parent", |b| {
        let name = db
            .iter()
            .find(|i| i.kind == IndicatorKind::Domain)
            .map(|i| format!("a.b.{}", i.value))
            .expect("domain");
        b.iter(|| black_box(db.match_domain(black_box(&name))))
    });
    g.bench_function("ip_v4_lookup", |b| {
        let mut s = 7u64;
        b.iter(|| black_box(db.match_ip(IpAddr::V4(Ipv4Addr::from(splitmix(&mut s) as u32)))))
    });
    g.finish();
}

criterion_group!(benches, intel);
criterion_main!(benches);
