//! Streaming scan of ~64 MiB of HTTP-like and random payload, in 1460-byte chunks, flows of 64
//! chunks, with 1,000 literals and 200 IDS-style regexes loaded: bare Hyperscan (the `hyperscan`
//! crate called directly, same expressions and flags) against this crate's `Scanner` API
//! (scope checks, per-stream dedupe, stream bookkeeping). The ratio of the two medians is the
//! cost of our plumbing. Run: `cargo bench -p tapir-patterns --bench patterns`
//! (`TAPIR_BENCH_MIB` changes the payload size).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hyperscan::{Builder as _, Matching, Pattern, PatternFlags, Patterns, StreamingDatabase};
use tapir_patterns::{Direction, PatternDef, PatternSet, Ports, Scanner, StreamState};

const CHUNK: usize = 1460;
const CHUNKS_PER_FLOW: usize = 64;

fn rng(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn word(x: &mut u64, len: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| A[(rng(x) % A.len() as u64) as usize] as char)
        .collect()
}

fn defs(seed: &mut u64) -> Vec<PatternDef> {
    let mut v = Vec::new();
    for i in 0..1000u32 {
        let len = 8 + (rng(seed) % 12) as usize;
        let w = word(seed, len);
        v.push(PatternDef::literal(i + 1, &w, w.as_bytes(), i % 4 == 0));
    }
    for i in 0..200u32 {
        let len = 5 + (rng(seed) % 4) as usize;
        let w = word(seed, len);
        let expr = match i % 5 {
            0 => format!(r"/{w}\.php\?id=[0-9]{{1,8}}&"),
            1 => format!(r"User-Agent: [^\r\n]{{0,64}}{w}"),
            2 => format!(r"{w}[0-9a-f]{{16}}"),
            3 => format!(r"Cookie: [a-z]+={w}[A-Za-z0-9+/]{{8,}}"),
            _ => format!(
                r"\x{:02x}\x{:02x}{w}.{{2,6}}\x00\x00",
                rng(seed) as u8,
                rng(seed) as u8
            ),
        };
        v.push(PatternDef::regex(2000 + i, &w, &expr));
    }
    v
}

fn payload(seed: &mut u64, bytes: usize, plant: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut n = 0u64;
    while out.len() < bytes {
        n += 1;
        if n & 1 == 0 {
            let host = word(seed, 10);
            let path = word(seed, 12);
            let ua = word(seed, 20);
            out.extend_from_slice(
                format!(
                    "GET /{path}/index.html?q={} HTTP/1.1\r\nHost: {host}.example.com\r\nUser-Agent: Mozilla/5.0 ({ua})\r\nAccept: */*\r\nCookie: sid={}\r\n\r\n",
                    rng(seed), word(seed, 24)
                )
                .as_bytes(),
            );
            let body = 200 + (rng(seed) % 1500) as usize;
            for _ in 0..body / 8 {
                out.extend_from_slice(&rng(seed).to_le_bytes());
            }
        } else {
            let len = 500 + (rng(seed) % 3000) as usize;
            out.extend(word(seed, len).bytes());
        }
        if n % 500 == 499 {
            out.extend_from_slice(&plant[(rng(seed) % plant.len() as u64) as usize]);
        }
    }
    out.truncate(bytes);
    out
}

fn bare_patterns(defs: &[PatternDef]) -> Patterns {
    Patterns(
        defs.iter()
            .enumerate()
            .map(|(i, d)| {
                let mut flags = PatternFlags::SINGLEMATCH;
                let expression = match &d.matcher {
                    tapir_patterns::Matcher::Literal { bytes, nocase } => {
                        if *nocase {
                            flags |= PatternFlags::CASELESS;
                        }
                        bytes.iter().map(|b| format!("\\x{b:02x}")).collect()
                    }
                    tapir_patterns::Matcher::Regex { expr, .. } => expr.clone(),
                };
                Pattern {
                    expression,
                    flags,
                    id: Some(i),
                    ext: Default::default(),
                    som: None,
                }
            })
            .collect(),
    )
}

fn bench(c: &mut Criterion) {
    let mib: usize = std::env::var("TAPIR_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let mut seed = 7u64;
    let defs = defs(&mut seed);
    let plant: Vec<Vec<u8>> = defs
        .iter()
        .filter_map(|d| match &d.matcher {
            tapir_patterns::Matcher::Literal { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .take(50)
        .collect();
    let data = payload(&mut seed, mib << 20, &plant);
    let flows: Vec<&[u8]> = data.chunks(CHUNK * CHUNKS_PER_FLOW).collect();

    let bare_db: StreamingDatabase = bare_patterns(&defs).build().expect("bare compile");
    let bare_scratch = bare_db.alloc_scratch().expect("scratch");
    let loaded = PatternSet::build(defs.clone()).expect("build");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let set = loaded.set;
    let mut scanner = Scanner::new(&set).expect("scanner");
    let ports = Ports {
        src: 40000,
        dst: 80,
    };

    let mut g = c.benchmark_group("patterns_stream");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("bare_hyperscan", |b| {
        b.iter(|| {
            let mut hits = 0u64;
            for flow in &flows {
                let s = bare_db.open_stream().expect("open");
                for chunk in flow.chunks(CHUNK) {
                    s.scan(chunk, &bare_scratch, |_, _, _, _| {
                        hits += 1;
                        Matching::Continue
                    })
                    .expect("scan");
                }
                s.close(&bare_scratch, |_, _, _, _| {
                    hits += 1;
                    Matching::Continue
                })
                .expect("close");
            }
            black_box(hits)
        })
    });
    g.bench_function("tapir_scanner", |b| {
        b.iter(|| {
            let mut hits = 0u64;
            for flow in &flows {
                let mut st = StreamState::new();
                for chunk in flow.chunks(CHUNK) {
                    scanner.scan_stream(&mut st, chunk, Direction::ToServer, ports, |_| hits += 1);
                }
                scanner.close(&mut st, |_| hits += 1);
            }
            black_box(hits)
        })
    });
    g.finish();
    assert_eq!(set.open_streams(), 0);

    // A reload with every stream open: each flow's first chunk is scanned on one set, then the
    // scanner switches to a set built apart from the same definitions and the rest is scanned
    // with the old set's stream carried beside the new one (the worst case of a reload: every
    // byte up to the depth scanned twice). Baseline: the same open-all-then-scan order, no
    // switch. Sets alternate between iterations so that every iteration is a real reload.
    let other = PatternSet::build(defs.clone()).expect("build").set;
    let sets = [set, other];
    let mut cur = 0usize;
    let mut scanner = Scanner::new(&sets[cur]).expect("scanner");
    let mut g = c.benchmark_group("patterns_reload");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    let mut states: Vec<StreamState> = Vec::with_capacity(flows.len());
    for (name, reload) in [
        ("all_streams_open_no_reload", false),
        ("all_streams_carried", true),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut hits = 0u64;
                states.clear();
                for flow in &flows {
                    let mut st = StreamState::new();
                    let first = &flow[..flow.len().min(CHUNK)];
                    scanner.scan_stream(&mut st, first, Direction::ToServer, ports, |_| hits += 1);
                    states.push(st);
                }
                if reload {
                    cur ^= 1;
                    scanner.switch_set(&sets[cur]).expect("switch");
                }
                for (flow, st) in flows.iter().zip(states.iter_mut()) {
                    for chunk in flow.chunks(CHUNK).skip(1) {
                        scanner.scan_stream(st, chunk, Direction::ToServer, ports, |_| hits += 1);
                    }
                    scanner.close(st, |_| hits += 1);
                }
                black_box(hits)
            })
        });
    }
    g.finish();
    let carried = scanner.stats().streams_carried;
    assert!(carried > 0, "no stream was carried");
}

criterion_group!(benches, bench);
criterion_main!(benches);
