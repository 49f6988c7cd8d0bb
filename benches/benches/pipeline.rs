//! Whole data plane on a generated capture held in memory, against a baseline that only walks
//! the pcap records (the cost every sensor pays). Run: `cargo bench -p tapir-benches --bench pipeline`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir_benches::records;
use tapir_capture::RawPacket;
use tapir_engine::{Engine, EngineConfig};
use tapir_gen_demo::bench::BenchConfig;
use tapir_intel::IntelDb;
use tapir_wire::LinkType;

fn pipeline(c: &mut Criterion) {
    let cfg = BenchConfig {
        packets: 100_000,
        flows: 1_000,
        seed: 7,
        flood: false,
        ..BenchConfig::default()
    };
    let pcap = tapir_gen_demo::bench_bytes(&cfg).expect("generate");
    let recs = records(&pcap);
    let bytes: u64 = recs.iter().map(|r| u64::from(r.wire_len)).sum();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("read_records_baseline", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for r in &recs {
                sum += u64::from(pcap[r.range.clone()][0]) + u64::from(r.wire_len);
            }
            black_box(sum)
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &recs {
                if tapir_wire::decode(LinkType::Ethernet, &pcap[r.range.clone()]).is_ok() {
                    n += 1;
                }
            }
            black_box(n)
        })
    });
    let intel = Arc::new(IntelDb::empty());
    g.bench_function("engine_eve", |b| {
        b.iter(|| {
            let mut e = Engine::new(EngineConfig::default(), intel.clone());
            let mut sink = std::io::sink();
            for (i, r) in recs.iter().enumerate() {
                let pkt = RawPacket {
                    ts_us: r.ts_us,
                    wire_len: r.wire_len,
                    data: &pcap[r.range.clone()],
                };
                e.process(LinkType::Ethernet, &pkt, i as u64 + 1);
                if e.pending_output() > 1 << 18 {
                    let _ = e.drain_to(&mut sink);
                }
            }
            e.finish(0);
            let _ = e.drain_to(&mut sink);
            black_box(e.stats().packets)
        })
    });
    g.finish();
    eprintln!(
        "pipeline input: {} packets, {} bytes ({} B mean frame)",
        recs.len(),
        bytes,
        bytes / recs.len().max(1) as u64
    );
}

/// Flow lookup: 10 000 established TCP flows, then 20 rounds of pure ACKs (no payload, no
/// events): per packet, decode plus one flow-table lookup and counter updates.
fn flow_lookup(c: &mut Criterion) {
    use tapir_gen_demo::session::{Dir, TcpConn, Trace};
    use tapir_gen_demo::wire::L2;
    let mut tr = Trace::new(Vec::new(), 1_768_467_600_000_000).expect("trace");
    let l2 = L2 {
        src: [2, 0, 0, 0, 0, 1],
        dst: [2, 0, 0, 0, 0, 2],
        vlan: None,
    };
    let mut conns: Vec<TcpConn> = (0..10_000u32)
        .map(|i| {
            let client = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let server = std::net::Ipv4Addr::from(0xc633_6400 + (i % 200));
            TcpConn::new(
                l2,
                (client.into(), 40_000 + (i % 20_000) as u16),
                (server.into(), 443),
                [i, i ^ 0xffff],
                1000,
            )
        })
        .collect();
    for c in conns.iter_mut() {
        c.handshake(&mut tr).expect("handshake");
    }
    let warm = tr.packets() as usize;
    for _ in 0..20 {
        for c in conns.iter_mut() {
            c.ack(&mut tr, Dir::Up).expect("ack");
        }
    }
    let pcap = tr.finish().expect("pcap");
    let recs = records(&pcap);
    let (setup, acks) = recs.split_at(warm);
    let mut g = c.benchmark_group("flow_lookup");
    g.sample_size(10);
    g.throughput(Throughput::Elements(acks.len() as u64));
    let intel = Arc::new(IntelDb::empty());
    g.bench_function("acks_on_10k_established_flows", |b| {
        b.iter_batched(
            || {
                let mut e = Engine::new(EngineConfig::default(), intel.clone());
                for (i, r) in setup.iter().enumerate() {
                    let pkt = RawPacket {
                        ts_us: r.ts_us,
                        wire_len: r.wire_len,
                        data: &pcap[r.range.clone()],
                    };
                    e.process(LinkType::Ethernet, &pkt, i as u64 + 1);
                }
                e
            },
            |mut e| {
                for (i, r) in acks.iter().enumerate() {
                    let pkt = RawPacket {
                        ts_us: r.ts_us,
                        wire_len: r.wire_len,
                        data: &pcap[r.range.clone()],
                    };
                    e.process(LinkType::Ethernet, &pkt, i as u64 + 1);
                }
                black_box(e.flow_count())
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, pipeline, flow_lookup);
criterion_main!(benches);
