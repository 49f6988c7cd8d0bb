//! App-layer parsers on messages taken from the generated demo capture.
//! Run: `cargo bench -p tapir-benches --bench proto`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir_benches::records;
use tapir_proto::{dns, http, tls};
use tapir_wire::{Decoded, LinkType, L4};

/// First TCP/UDP payload of the demo capture that satisfies `pred`.
fn payload(pcap: &[u8], udp: bool, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    for r in records(pcap) {
        if let Ok(Decoded::Packet(p)) = tapir_wire::decode(LinkType::Ethernet, &pcap[r.range]) {
            let is_udp = matches!(p.l4, L4::Udp { .. });
            if is_udp == udp && pred(p.payload) {
                return p.payload.to_vec();
            }
        }
    }
    panic!("demo capture lacks the wanted payload")
}

fn proto(c: &mut Criterion) {
    let demo = tapir_gen_demo::demo_bytes().expect("demo");
    // A whole ClientHello record in one segment (the malware-like client's).
    let hello = payload(&demo, false, |p| {
        p.len() > 9 && p[0] == 0x16 && p[5] == 1 && {
            let len = usize::from(u16::from_be_bytes([p[3], p[4]]));
            p.len() >= len + 5
        }
    });
    let dns_resp = payload(&demo, true, |p| {
        dns::parse_message(p).is_ok_and(|m| m.qr && !m.answers.is_empty())
    });
    let http_req = payload(&demo, false, http::looks_like_http_request);

    let mut g = c.benchmark_group("proto");
    g.throughput(Throughput::Bytes(hello.len() as u64));
    g.bench_function("tls_client_hello_ja3_ja4", |b| {
        b.iter(|| {
            let mut s = tls::TlsStream::new();
            let mut out = Vec::new();
            s.feed(black_box(&hello), &mut out);
            black_box(out.len())
        })
    });
    g.throughput(Throughput::Bytes(dns_resp.len() as u64));
    g.bench_function("dns_response", |b| {
        b.iter(|| black_box(dns::parse_message(black_box(&dns_resp)).is_ok()))
    });
    g.bench_function("dns_detect", |b| {
        b.iter(|| black_box(dns::looks_like_dns(black_box(&dns_resp))))
    });
    g.throughput(Throughput::Bytes(http_req.len() as u64));
    g.bench_function("http_request_head", |b| {
        b.iter(|| {
            let mut s = http::HttpStream::new(http::Direction::ToServer);
            let mut out = Vec::new();
            s.feed(black_box(&http_req), &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, proto);
criterion_main!(benches);
