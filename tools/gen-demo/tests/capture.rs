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
    sni: Option<Vec<u8>>,
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
        sni: None,
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
            // RFC 6066 §3: list length, name_type 0, name length, name.
            0x0000 => h.sni = Some(e[5..5 + usize::from(be16(e, 3))].to_vec()),
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
        ..BenchConfig::default()
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

// ---- Benchmark captures: size, mean frame, planted indicators, intel lists ----

use std::net::IpAddr;
use tapir_gen_demo::bench_bytes_with_summary;
use tapir_gen_demo::intel::{write_intel, IntelConfig};
use tapir_gen_demo::truth;

/// Transport view of one frame (checksums are checked separately by `check_frame`).
struct View<'a> {
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &'a [u8],
}

fn view(frame: &[u8]) -> View<'_> {
    let mut l3 = 14;
    let mut et = be16(frame, 12);
    if et == 0x8100 {
        et = be16(frame, 16);
        l3 = 18;
    }
    let ip = &frame[l3..];
    let (proto, src, dst, l4) = if et == 0x0800 {
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let s: [u8; 4] = ip[12..16].try_into().unwrap();
        let d: [u8; 4] = ip[16..20].try_into().unwrap();
        (ip[9], IpAddr::from(s), IpAddr::from(d), &ip[ihl..])
    } else {
        let s: [u8; 16] = ip[8..24].try_into().unwrap();
        let d: [u8; 16] = ip[24..40].try_into().unwrap();
        (ip[6], IpAddr::from(s), IpAddr::from(d), &ip[40..])
    };
    let (flags, payload) = if proto == 6 {
        (l4[13], &l4[usize::from(l4[12] >> 4) * 4..])
    } else {
        (0, &l4[8..])
    };
    View {
        proto,
        src,
        dst,
        sport: be16(l4, 0),
        dport: be16(l4, 2),
        flags,
        payload,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// RFC 1035 §3.1 label encoding of a dotted name.
fn dns_labels(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name.split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out
}

/// The question name of a DNS message (RFC 1035 §4.1.2; questions are never compressed here).
fn dns_qname(msg: &[u8]) -> String {
    let mut p = 12;
    let mut labels = Vec::new();
    while msg[p] != 0 {
        let n = usize::from(msg[p]);
        labels.push(String::from_utf8_lossy(&msg[p + 1..p + 1 + n]).into_owned());
        p += 1 + n;
    }
    labels.join(".")
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A ClientHello whose first record is wholly inside this payload.
fn whole_hello(p: &[u8]) -> Option<Hello> {
    let whole = p.len() > 5 && p[0] == 22 && p[5] == 1 && usize::from(be16(p, 3)) + 5 <= p.len();
    whole.then(|| parse_hello(p))
}

fn plant_cfg() -> BenchConfig {
    BenchConfig {
        packets: 30_000,
        flows: 150,
        seed: 9,
        plant: 6,
        ..BenchConfig::default()
    }
}

#[test]
fn bench_size_limit_is_honoured() {
    let cfg = BenchConfig {
        packets: u64::MAX,
        max_bytes: 3 << 20,
        flows: 300,
        seed: 5,
        ..BenchConfig::default()
    };
    let (file, s) = bench_bytes_with_summary(&cfg).unwrap();
    assert_eq!(s.bytes, file.len() as u64);
    // Stops at the first record that reaches the size: within one record (16 + 1518) of it.
    assert!(file.len() as u64 >= 3 << 20);
    assert!(
        (file.len() as u64) < (3 << 20) + 16 + 1518,
        "{}",
        file.len()
    );
    let (recs, _, _) = check_capture(&file);
    assert_eq!(recs.len() as u64, s.packets);
    // Both limits: the packet count wins when it comes first.
    let both = BenchConfig {
        packets: 1_000,
        ..cfg
    };
    let (file, _) = bench_bytes_with_summary(&both).unwrap();
    assert_eq!(records(&file).len(), 1_000);
}

#[test]
fn bench_mean_frame_is_within_ten_percent_of_the_target() {
    for target in [0u32, 300, 700, 1_200] {
        let cfg = BenchConfig {
            packets: 20_000,
            flows: 300,
            seed: 11,
            mean_frame: target,
            ..BenchConfig::default()
        };
        let file = bench_bytes(&cfg).unwrap();
        let recs = records(&file);
        let mean = recs.iter().map(|r| r.data.len()).sum::<usize>() as f64 / recs.len() as f64;
        if target == 0 {
            // The uncontrolled mix still has ACKs and full segments, so a middling mean.
            assert!((400.0..1_200.0).contains(&mean), "uncontrolled mean {mean}");
        } else {
            let t = f64::from(target);
            assert!((mean - t).abs() <= t * 0.10, "target {target}: mean {mean}");
        }
    }
    // Out-of-range targets are refused, not silently clamped.
    let bad = BenchConfig {
        packets: 10,
        mean_frame: 50,
        ..BenchConfig::default()
    };
    assert!(bench_bytes(&bad).is_err());
}

#[test]
fn bench_mix_has_every_profile_and_protocol() {
    let cfg = BenchConfig {
        packets: 40_000,
        flows: 300,
        seed: 3,
        ..BenchConfig::default()
    };
    let file = bench_bytes(&cfg).unwrap();
    let (recs, _, stats) = check_capture(&file);
    assert!(
        stats.ipv6 > 0 && stats.vlan > 0 && stats.udp > 0,
        "{stats:?}"
    );
    let mut ja3s = HashSet::new();
    let (mut grease, mut dns_answers, mut http) = (0, 0, 0);
    for r in &recs {
        let v = view(r.data);
        if let Some(h) = whole_hello(v.payload) {
            ja3s.insert(md5_hex(&ja3_string(&h)));
            grease += usize::from(h.ciphers.iter().any(|c| is_grease(*c)));
        }
        if v.proto == 17 && v.sport == 53 && be16(v.payload, 6) > 0 {
            dns_answers += 1;
        }
        if v.proto == 6 && v.payload.starts_with(b"HTTP/1.1 ") {
            http += 1;
        }
    }
    // Chromium's hello spans two segments (ML-KEM share), so whole hellos come from the
    // other three profiles.
    assert!(ja3s.len() >= 3, "{ja3s:?}");
    assert_eq!(grease, 0, "only the split Chromium hello carries GREASE");
    let split_hello = recs.iter().any(|r| {
        let v = view(r.data);
        v.payload.len() > 5
            && v.payload[0] == 22
            && v.payload[5] == 1
            && usize::from(be16(v.payload, 3)) + 5 > v.payload.len()
    });
    assert!(split_hello);
    assert!(dns_answers > 0 && http > 0, "{dns_answers} {http}");
}

#[test]
fn planted_truth_matches_the_capture_and_nothing_else_carries_it() {
    let cfg = plant_cfg();
    let (file, s) = bench_bytes_with_summary(&cfg).unwrap();
    let (file2, s2) = bench_bytes_with_summary(&cfg).unwrap();
    assert!(
        file == file2 && s == s2,
        "same seed, same capture and truth"
    );
    assert_eq!(s.packets, 30_000);
    let (recs, tcp, _) = check_capture(&file);
    check_tcp_numbers(&tcp, false);
    let views: Vec<View<'_>> = recs.iter().map(|r| view(r.data)).collect();
    let frame = |n: u64| &views[usize::try_from(n).unwrap() - 1];

    // 6 plants: each has DNS query, DNS answer IP, flow IP, SNI, JA3, JA4, HTTP Host and a pattern.
    assert_eq!(s.planted.len(), 6 * 8);
    let kinds: HashSet<_> = s.planted.iter().map(|p| (p.kind, p.field)).collect();
    assert_eq!(kinds.len(), 9, "{kinds:?}");
    assert!(s.planted.iter().any(|p| p.split));
    assert!(s
        .planted
        .iter()
        .any(|p| p.kind == "ip" && p.value.contains(':')));
    for p in &s.planted {
        assert!(!p.frames.is_empty(), "{p:?}");
        for &n in &p.frames {
            let v = frame(n);
            let fwd = (v.src, v.sport, v.dst, v.dport)
                == (p.flow.src, p.flow.sport, p.flow.dst, p.flow.dport);
            let rev = (v.dst, v.dport, v.src, v.sport)
                == (p.flow.src, p.flow.sport, p.flow.dst, p.flow.dport);
            assert!(fwd || rev, "frame {n} is not in the flow of {p:?}");
            assert_eq!(v.proto, if p.flow.proto == "tcp" { 6 } else { 17 });
        }
        let first = frame(p.frames[0]);
        match p.field {
            "dns.query" => {
                for &n in &p.frames {
                    assert_eq!(dns_qname(frame(n).payload), p.value);
                }
            }
            "dns.answer" => {
                let ip: IpAddr = p.value.parse().unwrap();
                let octets = match ip {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                assert!(contains(first.payload, &octets));
                assert!(be16(first.payload, 6) >= 1, "ANCOUNT");
            }
            "flow.dst" => {
                assert_eq!(first.dst, p.value.parse::<IpAddr>().unwrap());
                assert_eq!(first.flags, 0x02, "the SYN");
            }
            "tls.sni" => {
                let h = whole_hello(first.payload).expect("malware-like hello fits one segment");
                assert_eq!(h.sni.as_deref(), Some(p.value.as_bytes()));
            }
            "tls.ja3" => {
                let h = whole_hello(first.payload).unwrap();
                assert_eq!(md5_hex(&ja3_string(&h)), p.value);
                assert!(h.alpn.is_none() && h.versions.is_empty());
            }
            "tls.ja4" => {
                let h = whole_hello(first.payload).unwrap();
                assert_eq!(ja4(&h), p.value);
            }
            "http.host" => {
                let line = format!("\r\nHost: {}\r\n", p.wire);
                assert!(contains(first.payload, line.as_bytes()));
                assert!(p.wire.ends_with(&format!(".{}", p.value)));
            }
            "http.body" | "tcp.payload" => {
                let pat = p.value.as_bytes();
                if p.split {
                    assert_eq!(p.frames.len(), 2);
                    let second = frame(p.frames[1]);
                    assert!(!contains(first.payload, pat) && !contains(second.payload, pat));
                    let joined = [first.payload, second.payload].concat();
                    assert!(contains(&joined, pat), "{p:?}");
                } else {
                    assert_eq!(p.frames.len(), 1);
                    assert!(contains(first.payload, pat));
                }
                if p.field == "http.body" {
                    // Split bodies straddle the end of the request's first segment.
                    assert_eq!(p.split, first.payload.starts_with(b"POST "));
                } else {
                    assert_eq!(p.flow.dport, 4444);
                }
            }
            other => panic!("unknown field {other}"),
        }
    }

    // Nothing else: planted names, addresses, patterns and the malware JA3 appear only in
    // the frames and flows the truth names.
    let listed: HashSet<u64> = s.planted.iter().flat_map(|p| p.frames.clone()).collect();
    let flows: HashSet<_> = s
        .planted
        .iter()
        .map(|p| (p.flow.src, p.flow.sport, p.flow.dst, p.flow.dport))
        .collect();
    let planted_ja3: HashSet<&str> = s
        .planted
        .iter()
        .filter(|p| p.kind == "ja3")
        .map(|p| p.value.as_str())
        .collect();
    assert_eq!(planted_ja3.len(), 1);
    for (i, v) in views.iter().enumerate() {
        let n = i as u64 + 1;
        for p in &s.planted {
            match p.kind {
                "domain" => {
                    let label = p.value.split('.').next().unwrap();
                    if contains(v.payload, label.as_bytes()) {
                        assert!(listed.contains(&n), "frame {n} carries {label}");
                    }
                }
                "pattern" if contains(v.payload, &p.value.as_bytes()[..8]) => {
                    assert!(
                        listed.contains(&n) || p.split,
                        "frame {n} carries a pattern"
                    );
                }
                "ip" => {
                    let ip: IpAddr = p.value.parse().unwrap();
                    if v.src == ip || v.dst == ip {
                        let t = if v.dst == ip {
                            (v.src, v.sport, v.dst, v.dport)
                        } else {
                            (v.dst, v.dport, v.src, v.sport)
                        };
                        assert!(flows.contains(&t), "frame {n} talks to planted {ip}");
                    }
                }
                _ => {}
            }
        }
        if let Some(h) = whole_hello(v.payload) {
            let j = md5_hex(&ja3_string(&h));
            assert_eq!(
                planted_ja3.contains(j.as_str()),
                listed.contains(&n),
                "frame {n}"
            );
        }
    }
    // The planted DNS names are in label form in the capture, as the truth says.
    for p in s.planted.iter().filter(|p| p.field == "dns.query") {
        assert!(contains(&file, &dns_labels(&p.value)));
    }

    // The JSON document round-trips the distinct values.
    let doc = truth::to_json(
        "x.pcap", cfg.seed, s.packets, s.bytes, cfg.plant, &s.planted,
    );
    let values = truth::values(&doc).unwrap();
    let distinct: HashSet<_> = s
        .planted
        .iter()
        .map(|p| (p.kind, p.value.as_str()))
        .collect();
    assert_eq!(values.len(), distinct.len());
    assert!(truth::values("{\"format\": \"other\"}").is_err());
}

#[test]
fn write_bench_puts_the_truth_beside_the_capture() {
    let dir = std::env::temp_dir().join(format!("tapir-gen-truth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("planted.pcap");
    let s = write_bench(&path, &plant_cfg()).unwrap();
    let doc = std::fs::read_to_string(dir.join("planted.pcap.truth.json")).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["format"], "tapir-gen-demo-truth/1");
    assert_eq!(v["capture"], "planted.pcap");
    assert_eq!(v["packets"], s.packets);
    assert_eq!(v["indicators"].as_array().unwrap().len(), s.planted.len());
    let e = &v["indicators"][0];
    for k in [
        "plant", "type", "value", "field", "wire", "flow", "frames", "split",
    ] {
        assert!(!e[k].is_null(), "{k}");
    }
    // Too many plants for the packet budget is an error, not a silently partial truth.
    let small = BenchConfig {
        packets: 500,
        plant: 50,
        ..BenchConfig::default()
    };
    assert!(bench_bytes(&small).is_err());
}

/// (family-tagged address, prefix length) of an ips.txt line.
fn parse_ip_line(l: &str) -> (u128, u32, bool) {
    let (a, len) = l.split_once('/').map_or((l, None), |(a, n)| (a, Some(n)));
    match a.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => (
            u128::from(u32::from(v4)),
            len.map_or(32, |n| n.parse().unwrap()),
            false,
        ),
        IpAddr::V6(v6) => (
            u128::from(v6),
            len.map_or(128, |n| n.parse().unwrap()),
            true,
        ),
    }
}

fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn intel_lists_hold_the_planted_values_and_miss_everything_else() {
    let cfg = plant_cfg();
    let (file, s) = bench_bytes_with_summary(&cfg).unwrap();
    let doc = truth::to_json(
        "x.pcap", cfg.seed, s.packets, s.bytes, cfg.plant, &s.planted,
    );
    let planted = truth::values(&doc).unwrap();
    let dir = std::env::temp_dir().join(format!("tapir-gen-intel-{}", std::process::id()));
    let icfg = IntelConfig {
        domains: 3_000,
        ips: 20_000,
        ja3: 300,
        ja4: 300,
        patterns: Some(200),
        regexes: Some(20),
        seed: 4,
    };
    let sum = write_intel(&dir, &icfg, &planted).unwrap();
    let read = |n: &str| lines_of(&dir.join(n));
    let (domains, ips, ja3s, ja4s, pats, regexes) = (
        read("domains.txt"),
        read("ips.txt"),
        read("ja3.txt"),
        read("ja4.txt"),
        read("patterns.txt"),
        read("patterns-regex.rules"),
    );
    // Same seed, same lists.
    write_intel(&dir, &icfg, &planted).unwrap();
    assert_eq!(read("ips.txt"), ips);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        [
            domains.len(),
            ips.len(),
            ja3s.len(),
            ja4s.len(),
            pats.len(),
            regexes.len()
        ],
        [3_000, 20_000, 300, 300, 200, 20]
    );
    assert_eq!(sum.ips, 20_000);
    for (list, n) in [
        (&domains, 3_000),
        (&ips, 20_000),
        (&ja3s, 300),
        (&ja4s, 300),
    ] {
        assert_eq!(
            list.iter().collect::<HashSet<_>>().len(),
            n,
            "no duplicates"
        );
    }
    for (kind, value) in &planted {
        let list = match kind.as_str() {
            "domain" => &domains,
            "ip" => &ips,
            "ja3" => &ja3s,
            "ja4" => &ja4s,
            "pattern" => &pats,
            other => panic!("{other}"),
        };
        assert!(list.contains(value), "{kind} {value} missing");
    }
    // A realistic IP mix: single addresses and CIDRs of both families.
    let parsed: Vec<_> = ips.iter().map(|l| parse_ip_line(l)).collect();
    for (v6, single) in [(false, true), (false, false), (true, true), (true, false)] {
        let full = if v6 { 128 } else { 32 };
        assert!(
            parsed
                .iter()
                .any(|&(_, len, f)| f == v6 && (len == full) == single),
            "v6 {v6} single {single}"
        );
    }
    for l in &ja3s {
        assert!(
            l.len() == 32 && l.bytes().all(|b| b.is_ascii_hexdigit()),
            "{l}"
        );
    }
    for l in &ja4s {
        assert_eq!(l.split('_').count(), 3, "{l}");
    }
    // rules/README.md: `|` starts a hex escape in patterns*.txt; rules entries are key=value.
    assert!(pats.iter().all(|l| !l.contains('|')));
    for l in &regexes {
        assert!(l.starts_with("id=") && l.contains(" regex=\"/"), "{l}");
    }

    // Nothing else matches: every name, endpoint and fingerprint of the capture.
    let planted_set: HashSet<(&str, &str)> = planted
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let domain_set: HashSet<&str> = domains.iter().map(String::as_str).collect();
    let mut ip_set: HashSet<(u128, u32, bool)> = HashSet::new();
    for &(a, len, v6) in &parsed {
        let bits = if v6 { 128 } else { 32 };
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (bits - len)
        } & (u128::MAX >> (128 - bits));
        ip_set.insert((a & mask, len, v6));
    }
    let fp_set: HashSet<&str> = ja3s.iter().chain(&ja4s).map(String::as_str).collect();
    let (recs, _, _) = check_capture(&file);
    let mut names: HashSet<String> = HashSet::new();
    let mut endpoints: HashSet<IpAddr> = HashSet::new();
    for r in &recs {
        let v = view(r.data);
        endpoints.insert(v.src);
        endpoints.insert(v.dst);
        if v.proto == 17 && (v.dport == 53 || v.sport == 53) {
            names.insert(dns_qname(v.payload));
        }
        if let Some(h) = whole_hello(v.payload) {
            if let Some(sni) = &h.sni {
                names.insert(String::from_utf8(sni.clone()).unwrap());
            }
            for fp in [md5_hex(&ja3_string(&h)), ja4(&h)] {
                if fp_set.contains(fp.as_str()) {
                    assert!(
                        planted_set.contains(&("ja3", fp.as_str()))
                            || planted_set.contains(&("ja4", fp.as_str())),
                        "{fp}"
                    );
                }
            }
        }
        if let Some(at) = v.payload.windows(8).position(|w| w == b"\r\nHost: ") {
            let rest = &v.payload[at + 8..];
            let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            names.insert(String::from_utf8(rest[..end].to_vec()).unwrap());
        }
    }
    assert!(names.len() > 50, "{}", names.len());
    for name in &names {
        let mut rest = name.as_str();
        loop {
            if domain_set.contains(rest) {
                assert!(
                    planted_set.contains(&("domain", rest)),
                    "{rest} matches {name}"
                );
            }
            match rest.split_once('.') {
                Some((_, r)) => rest = r,
                None => break,
            }
        }
    }
    for ip in &endpoints {
        let (a, v6) = match ip {
            IpAddr::V4(x) => (u128::from(u32::from(*x)), false),
            IpAddr::V6(x) => (u128::from(*x), true),
        };
        let bits = if v6 { 128 } else { 32 };
        for len in 0..=bits {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (bits - len)
            } & (u128::MAX >> (128 - bits));
            if ip_set.contains(&(a & mask, len, v6)) {
                assert!(
                    len == bits && planted_set.contains(&("ip", ip.to_string().as_str())),
                    "{ip} matches an entry /{len}"
                );
            }
        }
    }
}
