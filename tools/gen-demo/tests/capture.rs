//! Checks on the generated captures with a decoder written here, independent of the
//! generator: pcap framing, IPv4 header and TCP/UDP/ICMP checksums (RFC 1071 with the RFC 9293
//! / RFC 768 / RFC 8200 pseudo-headers), TCP sequence/acknowledgement consistency, and the
//! malware-like ClientHello's JA3/JA4 against the hand-derived values in rules/intel/.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use md5::{Digest, Md5};
use sha2::Sha256;
use tapir_gen_demo::{bench_bytes, demo_bytes, write_bench, write_demo, BenchConfig};

/// 2026-01-15T09:00:00Z as Unix seconds (date -u -d 2026-01-15T09:00:00Z +%s).
const START_SECS: u32 = 1_768_467_600;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Plain 16-bit one's-complement sum (RFC 1071 §4.1 reference loop), not folded-complemented.
fn ones_sum(chunks: &[&[u8]]) -> u32 {
    let mut all = Vec::new();
    for c in chunks {
        all.extend_from_slice(c);
    }
    if all.len() % 2 == 1 {
        all.push(0);
    }
    let mut sum: u32 = 0;
    for w in all.chunks(2) {
        sum += u32::from(w[0]) << 8 | u32::from(w[1]);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// A correct checksum makes the sum over the covered bytes, checksum included, 0xffff.
fn verifies(chunks: &[&[u8]]) -> bool {
    ones_sum(chunks) == 0xffff
}

struct Record<'a> {
    ts_sec: u32,
    ts_usec: u32,
    data: &'a [u8],
}

/// Walks classic pcap records, asserting the framing invariants on the way.
fn records(file: &[u8]) -> Vec<Record<'_>> {
    assert!(file.len() >= 24, "no global header");
    assert_eq!(
        le32(file, 0),
        0xa1b2_c3d4,
        "magic (microsecond, little-endian)"
    );
    assert_eq!(u16::from_le_bytes([file[4], file[5]]), 2, "major version");
    assert_eq!(u16::from_le_bytes([file[6], file[7]]), 4, "minor version");
    let snaplen = le32(file, 16);
    assert_eq!(le32(file, 20), 1, "LINKTYPE_ETHERNET");
    let mut at = 24usize;
    let mut out = Vec::new();
    while at < file.len() {
        assert!(at + 16 <= file.len(), "record header cut at {at}");
        let incl = le32(file, at + 8) as usize;
        let orig = le32(file, at + 12) as usize;
        assert_eq!(incl, orig, "nothing is truncated");
        assert!(incl as u32 <= snaplen);
        let usec = le32(file, at + 4);
        assert!(usec < 1_000_000);
        let data = &file[at + 16..at + 16 + incl];
        out.push(Record {
            ts_sec: le32(file, at),
            ts_usec: usec,
            data,
        });
        at += 16 + incl;
    }
    // Header plus every record header and record length add up to the file, exactly.
    assert_eq!(at, file.len());
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Endpoints {
    src: [u8; 16],
    dst: [u8; 16],
    sport: u16,
    dport: u16,
}

struct Tcp<'a> {
    ep: Endpoints,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &'a [u8],
}

#[derive(Default, Debug)]
struct Stats {
    ipv4: usize,
    ipv6: usize,
    vlan: usize,
    tcp: usize,
    udp: usize,
    icmp: usize,
}

/// Decodes one frame, verifies every checksum in it, and returns the TCP part if any.
fn check_frame<'a>(frame: &'a [u8], stats: &mut Stats) -> Option<Tcp<'a>> {
    let mut ethertype = be16(frame, 12);
    let mut l3 = 14;
    if ethertype == 0x8100 {
        stats.vlan += 1;
        ethertype = be16(frame, 16);
        l3 = 18;
    }
    let (proto, src, dst, l4, pseudo): (u8, [u8; 16], [u8; 16], &[u8], Vec<u8>) = match ethertype {
        0x0800 => {
            stats.ipv4 += 1;
            let ip = &frame[l3..];
            assert_eq!(ip[0] >> 4, 4);
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(be16(ip, 2));
            assert_eq!(total, ip.len(), "IPv4 total length matches the frame");
            assert!(verifies(&[&ip[..ihl]]), "IPv4 header checksum");
            let l4 = &ip[ihl..total];
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s[..4].copy_from_slice(&ip[12..16]);
            d[..4].copy_from_slice(&ip[16..20]);
            let mut ph = ip[12..20].to_vec();
            ph.extend_from_slice(&[0, ip[9]]);
            ph.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            (ip[9], s, d, l4, ph)
        }
        0x86dd => {
            stats.ipv6 += 1;
            let ip = &frame[l3..];
            assert_eq!(ip[0] >> 4, 6);
            let plen = usize::from(be16(ip, 4));
            assert_eq!(plen + 40, ip.len(), "IPv6 payload length matches the frame");
            let l4 = &ip[40..];
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&ip[8..24]);
            d.copy_from_slice(&ip[24..40]);
            let mut ph = ip[8..40].to_vec();
            ph.extend_from_slice(&(l4.len() as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, ip[6]]);
            (ip[6], s, d, l4, ph)
        }
        other => panic!("unexpected ethertype {other:#06x}"),
    };
    match proto {
        6 => {
            stats.tcp += 1;
            assert!(verifies(&[&pseudo, l4]), "TCP checksum");
            let doff = usize::from(l4[12] >> 4) * 4;
            assert!((20..=60).contains(&doff));
            Some(Tcp {
                ep: Endpoints {
                    src,
                    dst,
                    sport: be16(l4, 0),
                    dport: be16(l4, 2),
                },
                seq: be32(l4, 4),
                ack: be32(l4, 8),
                flags: l4[13],
                payload: &l4[doff..],
            })
        }
        17 => {
            stats.udp += 1;
            assert_eq!(usize::from(be16(l4, 4)), l4.len(), "UDP length");
            assert_ne!(be16(l4, 6), 0, "UDP checksum present");
            assert!(verifies(&[&pseudo, l4]), "UDP checksum");
            None
        }
        1 => {
            stats.icmp += 1;
            assert!(verifies(&[l4]), "ICMP checksum");
            None
        }
        58 => {
            stats.icmp += 1;
            assert!(verifies(&[&pseudo, l4]), "ICMPv6 checksum");
            None
        }
        other => panic!("unexpected protocol {other}"),
    }
}

/// Per direction, the ACKs sent never acknowledge bytes the other side has not sent, and, when
/// every connection ran to its end (`complete`), each side that acknowledges has finally
/// acknowledged everything the other sent (FIN included).
fn check_tcp_numbers(segments: &[Tcp<'_>], complete: bool) {
    // End of the sequence space each direction has used: seq + len (+1 for SYN and FIN).
    let mut sent_end: HashMap<Endpoints, u32> = HashMap::new();
    let mut last_ack: HashMap<Endpoints, u32> = HashMap::new();
    for s in segments {
        let len = s.payload.len() as u32 + u32::from(s.flags & 0x03 != 0);
        let end = s.seq.wrapping_add(len);
        let e = sent_end.entry(s.ep).or_insert(end);
        if end.wrapping_sub(*e) as i32 > 0 {
            *e = end;
        }
        if s.flags & 0x10 != 0 {
            let rev = Endpoints {
                src: s.ep.dst,
                dst: s.ep.src,
                sport: s.ep.dport,
                dport: s.ep.sport,
            };
            let peer_end = *sent_end
                .get(&rev)
                .expect("ACK before the peer sent anything");
            assert!(
                peer_end.wrapping_sub(s.ack) as i32 >= 0,
                "ACK {} beyond what the peer sent ({peer_end})",
                s.ack
            );
            last_ack.insert(s.ep, s.ack);
        }
    }
    if !complete {
        return;
    }
    for (ep, ack) in &last_ack {
        let rev = Endpoints {
            src: ep.dst,
            dst: ep.src,
            sport: ep.dport,
            dport: ep.sport,
        };
        assert_eq!(
            Some(ack),
            sent_end.get(&rev),
            "final ACK covers the peer's data"
        );
    }
}

/// The payload stream (in sequence order, retransmissions dropped) of the connection direction
/// that starts with a TLS ClientHello record and contains `needle`.
fn client_stream(segments: &[Tcp<'_>], needle: &[u8]) -> Vec<u8> {
    let mut by_flow: HashMap<Endpoints, Vec<(u32, &[u8])>> = HashMap::new();
    for s in segments.iter().filter(|s| !s.payload.is_empty()) {
        by_flow.entry(s.ep).or_default().push((s.seq, s.payload));
    }
    for segs in by_flow.values_mut() {
        segs.sort_by_key(|(seq, _)| *seq);
        segs.dedup_by_key(|(seq, _)| *seq);
        let stream: Vec<u8> = segs.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        if stream.first() == Some(&22)
            && stream.get(5) == Some(&1)
            && stream.windows(needle.len()).any(|w| w == needle)
        {
            return stream;
        }
    }
    panic!(
        "no client stream containing {:?}",
        String::from_utf8_lossy(needle)
    );
}

struct Hello {
    version: u16,
    ciphers: Vec<u16>,
    exts: Vec<u16>,
    groups: Vec<u16>,
    formats: Vec<u8>,
    sigalgs: Vec<u16>,
    versions: Vec<u16>,
    alpn: Option<Vec<u8>>,
}

fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Parses the ClientHello at the start of a TLS stream (RFC 8446 §4.1.2).
fn parse_hello(stream: &[u8]) -> Hello {
    assert_eq!(stream[0], 22, "handshake record");
    let rec_len = usize::from(be16(stream, 3));
    let hs = &stream[5..5 + rec_len];
    assert_eq!(hs[0], 1, "ClientHello");
    let body = &hs[4..];
    let version = be16(body, 0);
    let mut p = 2 + 32;
    p += 1 + usize::from(body[p]);
    let cs_len = usize::from(be16(body, p));
    let ciphers = body[p + 2..p + 2 + cs_len]
        .chunks(2)
        .map(|c| be16(c, 0))
        .collect();
    p += 2 + cs_len;
    p += 1 + usize::from(body[p]);
    let ext_end = p + 2 + usize::from(be16(body, p));
    p += 2;
    let mut h = Hello {
        version,
        ciphers,
        exts: vec![],
        groups: vec![],
        formats: vec![],
        sigalgs: vec![],
        versions: vec![],
        alpn: None,
    };
    while p < ext_end {
        let ty = be16(body, p);
        let len = usize::from(be16(body, p + 2));
        let e = &body[p + 4..p + 4 + len];
        h.exts.push(ty);
        let u16s = |b: &[u8]| b.chunks(2).map(|c| be16(c, 0)).collect::<Vec<_>>();
        match ty {
            0x000a => h.groups = u16s(&e[2..]),
            0x000b => h.formats = e[1..].to_vec(),
            0x000d => h.sigalgs = u16s(&e[2..]),
            0x002b => h.versions = u16s(&e[1..]),
            0x0010 => h.alpn = Some(e[3..3 + usize::from(e[2])].to_vec()),
            _ => {}
        }
        p += 4 + len;
    }
    h
}

fn join<T: ToString>(v: impl IntoIterator<Item = T>, sep: &str) -> String {
    v.into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// JA3 string per the Salesforce definition (decimal, GREASE removed, wire order).
fn ja3_string(h: &Hello) -> String {
    let ng = |v: &[u16]| {
        v.iter()
            .copied()
            .filter(|x| !is_grease(*x))
            .collect::<Vec<_>>()
    };
    format!(
        "{},{},{},{},{}",
        h.version,
        join(ng(&h.ciphers), "-"),
        join(ng(&h.exts), "-"),
        join(ng(&h.groups), "-"),
        join(h.formats.iter(), "-")
    )
}

/// JA4 per FoxIO technical_details/JA4.md (TCP, no-ALPN and ALPN cases).
fn ja4(h: &Hello) -> String {
    let hex = |v: &[u16]| join(v.iter().map(|x| format!("{x:04x}")), ",");
    let ciphers: Vec<u16> = h
        .ciphers
        .iter()
        .copied()
        .filter(|x| !is_grease(*x))
        .collect();
    let exts: Vec<u16> = h.exts.iter().copied().filter(|x| !is_grease(*x)).collect();
    let version = h
        .versions
        .iter()
        .copied()
        .filter(|x| !is_grease(*x))
        .max()
        .unwrap_or(h.version);
    let v = match version {
        0x0304 => "13",
        0x0303 => "12",
        _ => "00",
    };
    let sni = if exts.contains(&0) { "d" } else { "i" };
    let alpn = match &h.alpn {
        Some(a) if !a.is_empty() => format!("{}{}", a[0] as char, a[a.len() - 1] as char),
        _ => "00".into(),
    };
    let mut sc = ciphers.clone();
    sc.sort_unstable();
    let mut se: Vec<u16> = exts
        .iter()
        .copied()
        .filter(|x| *x != 0 && *x != 0x10)
        .collect();
    se.sort_unstable();
    let sha12 = |s: &str| {
        let d = Sha256::digest(s.as_bytes());
        join(d.iter().map(|b| format!("{b:02x}")), "")[..12].to_string()
    };
    format!(
        "t{v}{sni}{:02}{:02}{alpn}_{}_{}",
        ciphers.len(),
        exts.len(),
        sha12(&hex(&sc)),
        sha12(&format!("{}_{}", hex(&se), hex(&h.sigalgs)))
    )
}

/// The indicator lines (non-comment, non-blank) of a demo intel list.
fn intel_lines(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../rules/intel")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

fn check_capture(file: &[u8]) -> (Vec<Record<'_>>, Vec<Tcp<'_>>, Stats) {
    let recs = records(file);
    let mut stats = Stats::default();
    let mut tcp = Vec::new();
    let mut prev = (0, 0);
    for r in &recs {
        assert!((r.ts_sec, r.ts_usec) >= prev, "timestamps never go back");
        prev = (r.ts_sec, r.ts_usec);
        if let Some(t) = check_frame(r.data, &mut stats) {
            tcp.push(t);
        }
    }
    (recs, tcp, stats)
}

#[test]
fn demo_is_byte_identical_and_matches_the_file() {
    let a = demo_bytes().unwrap();
    let b = demo_bytes().unwrap();
    assert_eq!(a, b);
    let dir = std::env::temp_dir().join(format!("tapir-gen-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("demo.pcap");
    let summary = write_demo(&path).unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(on_disk, a);
    assert_eq!(summary.bytes, a.len() as u64);
    assert_eq!(summary.packets, records(&a).len() as u64);
}

#[test]
fn demo_framing_checksums_and_tcp_numbers() {
    let file = demo_bytes().unwrap();
    let (recs, tcp, stats) = check_capture(&file);
    assert_eq!(recs[0].ts_sec, START_SECS);
    assert_eq!(recs[0].ts_usec, 0);
    // Every kind of frame the brief asks for is there.
    assert!(
        stats.ipv4 > 0 && stats.ipv6 > 0 && stats.vlan > 0,
        "{stats:?}"
    );
    assert!(
        stats.tcp > 0 && stats.udp > 0 && stats.icmp > 0,
        "{stats:?}"
    );
    check_tcp_numbers(&tcp, true);
    // Every connection that sent data was opened with SYN and closed with FIN or RST.
    let syns: HashSet<_> = tcp
        .iter()
        .filter(|t| t.flags & 0x02 != 0)
        .map(|t| t.ep)
        .collect();
    let ends: HashSet<_> = tcp
        .iter()
        .filter(|t| t.flags & 0x05 != 0)
        .map(|t| t.ep)
        .collect();
    for t in tcp.iter().filter(|t| !t.payload.is_empty()) {
        assert!(syns.contains(&t.ep) && ends.contains(&t.ep));
    }
}

#[test]
fn demo_has_a_retransmission_and_a_reordered_segment() {
    let file = demo_bytes().unwrap();
    let (_, tcp, _) = check_capture(&file);
    let mut seen: HashSet<(Endpoints, u32)> = HashSet::new();
    let mut highest: HashMap<Endpoints, u32> = HashMap::new();
    let (mut retrans, mut reordered) = (0, 0);
    for t in tcp.iter().filter(|t| !t.payload.is_empty()) {
        if !seen.insert((t.ep, t.seq)) {
            retrans += 1;
        } else if highest.get(&t.ep).is_some_and(|h| t.seq < *h) {
            reordered += 1;
        }
        let h = highest.entry(t.ep).or_insert(t.seq);
        *h = (*h).max(t.seq);
    }
    assert_eq!((retrans, reordered), (1, 1));
}

#[test]
fn demo_hello_matches_hand_derived_ja3_and_ja4() {
    let file = demo_bytes().unwrap();
    let (_, tcp, _) = check_capture(&file);
    let hello = parse_hello(&client_stream(&tcp, b"c2.badcdn.example"));
    let ja3 = ja3_string(&hello);
    // Written out by hand in rules/intel/ja3.txt from the JA3 definition.
    assert_eq!(
        ja3,
        "771,4865-49195-49199-53,0-11-10-23-13-43-45-51,29-23,0"
    );
    let md5: String = Md5::digest(ja3.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(intel_lines("ja3.txt"), vec![md5]);
    assert_eq!(intel_lines("ja4.txt"), vec![ja4(&hello)]);
    assert!(hello.alpn.is_none(), "malware-like client sends no ALPN");

    // The browser-like hello: GREASE in ciphers, ALPN h2 first, split over two segments.
    let browser = parse_hello(&client_stream(&tcp, b"www.example.com"));
    assert!(is_grease(browser.ciphers[0]));
    assert_eq!(browser.alpn.as_deref(), Some(&b"h2"[..]));
    assert!(!intel_lines("ja3.txt").contains(&ja3_string(&browser)));
    let split = tcp
        .iter()
        .filter(|t| t.payload.first() == Some(&22) && t.ep.dport == 443)
        .any(|t| usize::from(be16(t.payload, 3)) + 5 > t.payload.len());
    assert!(split, "one ClientHello record spans two segments");
}

#[test]
fn demo_carries_the_certificate_and_dns_over_tcp() {
    let file = demo_bytes().unwrap();
    let der = include_bytes!("../data/demo-cert.der");
    // DER SEQUENCE with a two-byte length that covers the whole file (X.690 §8.1.3.5).
    assert_eq!(&der[..2], &[0x30, 0x82]);
    assert_eq!(usize::from(be16(der, 2)) + 4, der.len());
    assert!(file.windows(der.len()).any(|w| w == der.as_slice()));

    let (_, tcp, _) = check_capture(&file);
    let dns_tcp: Vec<_> = tcp
        .iter()
        .filter(|t| t.ep.dport == 53 && !t.payload.is_empty())
        .collect();
    assert_eq!(dns_tcp.len(), 1);
    let p = dns_tcp[0].payload;
    // RFC 7766 §8: two-byte length, then the message; QDCOUNT 1.
    assert_eq!(usize::from(be16(p, 0)) + 2, p.len());
    assert_eq!(be16(p, 6), 1);
}

#[test]
fn intel_lists_are_clean() {
    for l in intel_lines("domains.txt") {
        assert!(l.ends_with(".example") || l.ends_with(".test"), "{l}");
    }
    for l in intel_lines("ips.txt") {
        let doc = ["192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:"];
        assert!(doc.iter().any(|p| l.starts_with(p)), "{l}");
    }
    for l in intel_lines("ja3.txt") {
        assert!(
            l.len() == 32 && l.bytes().all(|b| b.is_ascii_hexdigit()),
            "{l}"
        );
    }
    for l in intel_lines("ja4.txt") {
        assert_eq!(l.split('_').count(), 3, "{l}");
    }
}

fn bench_cfg(packets: u64, flood: bool) -> BenchConfig {
    BenchConfig {
        packets,
        flows: 200,
        seed: 42,
        flood,
    }
}

#[test]
fn bench_is_deterministic_with_exact_count_and_valid_frames() {
    let cfg = bench_cfg(20_000, false);
    let a = bench_bytes(&cfg).unwrap();
    assert_eq!(a, bench_bytes(&cfg).unwrap());
    let other = BenchConfig {
        seed: 43,
        ..cfg.clone()
    };
    assert_ne!(a, bench_bytes(&other).unwrap());
    let (recs, tcp, stats) = check_capture(&a);
    assert_eq!(recs.len(), 20_000);
    // The capture stops mid-flow for the flows still open at the packet budget.
    check_tcp_numbers(&tcp, false);
    assert!(
        stats.udp > 0 && stats.ipv6 > 0 && stats.vlan > 0,
        "{stats:?}"
    );
    // A realistic size mix: plenty of small ACKs and of full-size data segments.
    let small = recs.iter().filter(|r| r.data.len() <= 100).count();
    let full = recs.iter().filter(|r| r.data.len() >= 1400).count();
    assert!(
        small > recs.len() / 5 && full > recs.len() / 5,
        "{small} {full}"
    );

    let dir = std::env::temp_dir().join(format!("tapir-gen-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.pcap");
    let s = write_bench(&path, &cfg).unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(on_disk, a);
    assert_eq!((s.packets, s.bytes), (20_000, a.len() as u64));
}

#[test]
fn flood_is_all_syns_with_fresh_tuples() {
    let a = bench_bytes(&bench_cfg(5_000, true)).unwrap();
    let (recs, tcp, _) = check_capture(&a);
    assert_eq!(recs.len(), 5_000);
    assert_eq!(tcp.len(), 5_000);
    assert!(tcp.iter().all(|t| t.flags == 0x02));
    let tuples: HashSet<_> = tcp.iter().map(|t| t.ep).collect();
    assert_eq!(tuples.len(), 5_000);
}

#[test]
fn checksum_checker_rejects_a_flipped_bit() {
    let file = demo_bytes().unwrap();
    let recs = records(&file);
    // First TCP payload frame (the pipelined GETs): flip one payload bit.
    let frame = recs
        .iter()
        .map(|r| r.data.to_vec())
        .find(|d| d.len() > 200 && d[23] == 6)
        .expect("an IPv4 TCP frame with payload");
    let mut stats = Stats::default();
    assert!(check_frame(&frame, &mut stats).is_some());
    let mut bad = frame.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let r = std::panic::catch_unwind(|| check_frame(&bad, &mut Stats::default()).is_some());
    assert!(r.is_err(), "a corrupted TCP payload must fail the checksum");
    let mut bad_ip = frame;
    bad_ip[14 + 8] ^= 0x01; // TTL
    let r = std::panic::catch_unwind(|| check_frame(&bad_ip, &mut Stats::default()).is_some());
    assert!(r.is_err(), "a corrupted IPv4 header must fail its checksum");
}
