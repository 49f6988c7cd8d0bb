//! Cost of `Detectors::observe` per observation on a mixed stream: 25 hosts browsing for two
//! hours (bursty flows, DNS, TLS) with every attack scenario of `tests/support` mixed in.

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::{background, scenarios, Rng, Stream};
use tapir_detect::{DetectConfig, Detectors, Observation};

fn mixed() -> Vec<Observation> {
    let mut s = Stream::new();
    let mut rng = Rng::new(42);
    background(&mut s, &mut rng, 25, 2);
    for sc in scenarios().iter().filter(|sc| sc.attack && !sc.limit) {
        (sc.build)(&mut s, &mut rng);
    }
    s.finish()
}

fn observe(c: &mut Criterion) {
    let obs = mixed();
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(obs.len() as u64));
    g.bench_function("observe_mixed", |b| {
        b.iter(|| {
            let mut d = Detectors::new(DetectConfig::default());
            let mut out = Vec::new();
            for o in &obs {
                d.observe(o, &mut out);
            }
            d.finish(&mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, observe);
criterion_main!(benches);
