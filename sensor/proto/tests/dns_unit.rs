//! DNS unit tests on byte arrays: messages built by hand from RFC 1035 wire
//! rules (expected values are what the RFC says the bytes mean) and real
//! messages copied from the suricata-verify capture
//! `dns-udp-google.com-a-aaaa-mx.pcap` (frames 4 and 6) and the NBNS traffic
//! of `tls-subjectaltname/input.pcap` (frames 1 and 2).

use tapir_proto::dns::{self, DnsError, DnsTcpStream};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// google.com AAAA response with an OPT record (suricata-verify, frame 4).
const AAAA_RESPONSE: &str = "8d708180000100010000000106676f6f676c6503636f6d00001c0001c00c001c00010000012b00102607f8b0400f0801000000000000200e0000290200000000000000";
/// google.com MX response, 5 MX + OPT (suricata-verify, frame 6).
const MX_RESPONSE: &str = "56168180000100050000000106676f6f676c6503636f6d00000f0001c00c000f000100000257000c000a056173706d78016cc00cc00c000f0001000002570009001404616c7431c02ac00c000f0001000002570009001e04616c7432c02ac00c000f0001000002570009002804616c7433c02ac00c000f0001000002570009003204616c7434c02a0000290200000000000000";
/// NetBIOS name query and registration (RFC 1002 over UDP 137).
const NBNS_QUERY: &str = "895b0110000100000000000020454a4644454246454542464143414341434143414341434143414341434141410000200001";
const NBNS_REGISTRATION: &str = "895a2910000100000000000120464845504643454c45484643455046464641434143414341434143414341424f0000200001c00c00200001000493e000068000c0a864ce";

/// Wire form of a dotted name (RFC 1035 §3.1).
fn name(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in n.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v
}

fn rr(owner: &[u8], t: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut v = owner.to_vec();
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(&class.to_be_bytes());
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    v.extend_from_slice(rdata);
    v
}

fn query(id: u16, qname: &str, qtype: u16) -> Vec<u8> {
    let mut m = header(id, 0x0100, [1, 0, 0, 0]);
    m.extend(name(qname));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

#[test]
fn simple_query() {
    let m = query(0x1234, "www.example.com", 1);
    assert!(dns::looks_like_dns(&m));
    let p = dns::parse_message(&m).unwrap();
    assert_eq!(
        (p.id, p.flags, p.qr, p.opcode, p.rd, p.ra, p.aa, p.tc, p.z, p.rcode),
        (0x1234, 0x0100, false, 0, true, false, false, false, false, 0)
    );
    assert_eq!(p.queries.len(), 1);
    assert_eq!(p.queries[0].rrname, "www.example.com");
    assert_eq!(p.queries[0].rrtype, 1);
    assert!(p.answers.is_empty() && p.authorities.is_empty() && p.additionals.is_empty());
}

#[test]
fn real_aaaa_response() {
    let m = hex(AAAA_RESPONSE);
    assert!(dns::looks_like_dns(&m));
    let p = dns::parse_message(&m).unwrap();
    assert!(p.qr && p.rd && p.ra);
    assert_eq!(p.id, 0x8d70);
    assert_eq!(p.answers.len(), 1);
    let a = &p.answers[0];
    // 0x12b = 299 s; 2607:f8b0:400f:801::200e in RFC 5952 form.
    assert_eq!(
        (a.rrname.as_str(), a.rrtype, a.ttl),
        ("google.com", 28, 299)
    );
    assert_eq!(a.rdata.as_deref(), Some("2607:f8b0:400f:801::200e"));
    assert_eq!(p.additionals.len(), 1);
    assert_eq!(
        (p.additionals[0].rrname.as_str(), p.additionals[0].rrtype),
        ("", 41)
    );
    assert_eq!(p.additionals[0].rdata, None);
    assert_eq!(dns::rcode_name(p.rcode), "NOERROR");
}

#[test]
fn real_mx_response_renders_exchange() {
    let p = dns::parse_message(&hex(MX_RESPONSE)).unwrap();
    let got: Vec<_> = p.answers.iter().map(|a| a.rdata.clone().unwrap()).collect();
    // Preference is skipped; exchanges decompress against "google.com".
    assert_eq!(
        got,
        [
            "aspmx.l.google.com",
            "alt1.aspmx.l.google.com",
            "alt2.aspmx.l.google.com",
            "alt3.aspmx.l.google.com",
            "alt4.aspmx.l.google.com"
        ]
    );
    assert!(p.answers.iter().all(|a| a.ttl == 0x257 && a.rrtype == 15));
}

/// RFC 1035 §4.1.4 example: F.ISI.ARPA, then FOO.F.ISI.ARPA as "FOO" plus a
/// pointer to it, ARPA as a pointer into it, and the root. The names are
/// laid out inside a NULL record's data (offsets differ from the RFC's 20,
/// 40, 64 but the structure is the same), then referenced by three A records.
#[test]
fn rfc1035_compression_example() {
    let mut msg = header(7, 0x8000, [0, 4, 0, 0]);
    let base = 12 + 1 + 10; // rdata of a root-owned record at offset 12
    let mut names = name("F.ISI.ARPA");
    let foo = base + names.len();
    names.extend_from_slice(&[3, b'F', b'O', b'O', 0xc0, base as u8]);
    let arpa = base + 6; // after "\x01F\x03ISI"
    msg.extend(rr(&[0], 10, 1, 0, &names));
    for ptr in [base, foo, arpa] {
        msg.extend(rr(&[0xc0, ptr as u8], 1, 1, 60, &[10, 0, 0, 1]));
    }
    let p = dns::parse_message(&msg).unwrap();
    let owners: Vec<_> = p.answers.iter().map(|a| a.rrname.as_str()).collect();
    assert_eq!(owners, ["", "F.ISI.ARPA", "FOO.F.ISI.ARPA", "ARPA"]);
    assert_eq!(p.answers[0].rdata, None, "NULL data is not rendered");
    assert_eq!(p.answers[1].rdata.as_deref(), Some("10.0.0.1"));
    assert_eq!(p.answers[1].ttl, 60);
    assert!(dns::looks_like_dns(&msg));
}

#[test]
fn pointer_loops_are_rejected() {
    // Question name is a pointer to itself (offset 12).
    let mut m = header(1, 0x0100, [1, 0, 0, 0]);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(dns::parse_message(&m), Err(DnsError::PointerLoop));
    // Two names pointing at each other: 12 -> 18 -> 12.
    let mut m = header(1, 0x8000, [0, 1, 0, 0]);
    m.extend_from_slice(&[0xc0, 18, 0, 1, 0, 1, 0xc0, 12]);
    m.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    assert_eq!(dns::parse_message(&m), Err(DnsError::PointerLoop));
    // A label then a pointer back to the label: the jump cap stops it
    // before the name cap would.
    let mut m = header(1, 0x0100, [1, 0, 0, 0]);
    m.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(dns::parse_message(&m), Err(DnsError::PointerLoop));
    assert!(!dns::looks_like_dns(&m));
}

#[test]
fn forward_pointer_chain_is_bounded() {
    // 40 pointers each to the next: more than MAX_POINTER_JUMPS.
    let mut m = header(1, 0x0100, [1, 0, 0, 0]);
    let start = m.len();
    for i in 0..40 {
        let next = (start + 2 * (i + 1)) as u16 | 0xc000;
        m.extend_from_slice(&next.to_be_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(dns::parse_message(&m), Err(DnsError::PointerLoop));
}

#[test]
fn name_length_limit() {
    // 4 labels of 63 bytes = 4*64 + 1 = 257 > 255 (RFC 1035 §2.3.4).
    let long = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(63),
    ]
    .join(".");
    assert_eq!(
        dns::parse_message(&query(1, &long, 1)),
        Err(DnsError::NameTooLong)
    );
    // 3*64 + 62 + 1 = 255: the longest legal name.
    let ok = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61),
    ]
    .join(".");
    assert_eq!(
        dns::parse_message(&query(1, &ok, 1)).unwrap().queries[0].rrname,
        ok
    );
}

#[test]
fn reserved_label_types() {
    for first in [0x40u8, 0x80] {
        let mut m = header(1, 0x0100, [1, 0, 0, 0]);
        m.extend_from_slice(&[first, 0, 0, 1, 0, 1]);
        assert_eq!(dns::parse_message(&m), Err(DnsError::BadLabel));
    }
}

#[test]
fn absurd_counts() {
    let m = header(1, 0x8180, [0xffff, 0xffff, 0xffff, 0xffff]);
    assert_eq!(dns::parse_message(&m), Err(DnsError::ImplausibleCounts));
    let mut m = query(1, "example.com", 1);
    m[7] = 200; // 200 answers claimed in a 29-byte message
    assert_eq!(dns::parse_message(&m), Err(DnsError::ImplausibleCounts));
    assert!(!dns::looks_like_dns(&m));
}

#[test]
fn records_beyond_section_cap_are_validated_not_stored() {
    let n = dns::MAX_RECORDS_PER_SECTION + 10;
    let mut m = header(1, 0x8180, [1, n as u16, 0, 0]);
    m.extend(name("a.example"));
    m.extend_from_slice(&[0, 1, 0, 1]);
    for i in 0..n {
        m.extend(rr(&[0xc0, 12], 1, 1, 5, &[10, 0, (i >> 8) as u8, i as u8]));
    }
    let p = dns::parse_message(&m).unwrap();
    assert_eq!(p.answers.len(), dns::MAX_RECORDS_PER_SECTION);
    assert_eq!(p.answers[0].rdata.as_deref(), Some("10.0.0.0"));
    // A broken record after the cap still fails the message.
    let len = m.len();
    m[len - 5] = 0xff; // rdlength of the last record -> 0xff04
    assert!(dns::parse_message(&m).is_err());
}

#[test]
fn extended_rcode_from_opt() {
    // RFC 6891 §6.1.3: rcode = OPT TTL high octet << 4 | header rcode.
    let mut m = header(9, 0x8180, [0, 0, 0, 1]);
    m.extend(rr(&[0], 41, 4096, 0x0100_0000, &[]));
    let p = dns::parse_message(&m).unwrap();
    assert_eq!(p.rcode, 16);
    assert_eq!(dns::rcode_name(p.rcode), "BADVERS/BADSIG");
}

#[test]
fn txt_and_escaping() {
    let mut m = header(2, 0x8180, [0, 2, 0, 0]);
    let owner = name("example.com");
    m.extend(rr(&owner, 16, 1, 1, b"\x07v=spf1 \x04-all"));
    m.extend(rr(&owner, 16, 1, 1, b"\x03a\x00\xff"));
    let p = dns::parse_message(&m).unwrap();
    assert_eq!(p.answers[0].rdata.as_deref(), Some("v=spf1 -all"));
    assert_eq!(p.answers[1].rdata.as_deref(), Some("a\\x00\\xff"));
    // Control bytes in a label never reach the text verbatim.
    let mut q = header(3, 0x0100, [1, 0, 0, 0]);
    q.extend_from_slice(b"\x03a\nb\x00\x00\x01\x00\x01");
    assert_eq!(dns::parse_message(&q).unwrap().queries[0].rrname, "a\\x0ab");
}

#[test]
fn names_in_rdata_and_bad_rdata() {
    let mut m = header(4, 0x8180, [0, 4, 0, 0]);
    let owner = name("x.test");
    m.extend(rr(&owner, 5, 1, 1, &name("y.test")));
    m.extend(rr(&owner, 12, 1, 1, &[0xc0, 12]));
    m.extend(rr(&owner, 1, 1, 1, &[1, 2, 3])); // A with 3 bytes
    m.extend(rr(&owner, 6, 1, 1, &[0, 0])); // SOA: not rendered
    let p = dns::parse_message(&m).unwrap();
    let rd: Vec<_> = p.answers.iter().map(|a| a.rdata.as_deref()).collect();
    assert_eq!(rd, [Some("y.test"), Some("x.test"), None, None]);
    // Lenient parse, strict detection.
    assert!(!dns::looks_like_dns(&m));
}

#[test]
fn type_and_rcode_names() {
    // IANA DNS Parameters registry.
    let types = [
        (1, "A"),
        (2, "NS"),
        (5, "CNAME"),
        (6, "SOA"),
        (12, "PTR"),
        (15, "MX"),
        (16, "TXT"),
        (28, "AAAA"),
        (33, "SRV"),
        (41, "OPT"),
        (43, "DS"),
        (46, "RRSIG"),
        (64, "SVCB"),
        (65, "HTTPS"),
        (255, "ANY"),
        (257, "CAA"),
    ];
    for (t, n) in types {
        assert_eq!(dns::rrtype_name(t), n);
    }
    assert_eq!(dns::rrtype_name(65280), "65280");
    let rcodes = [
        (0, "NOERROR"),
        (1, "FORMERR"),
        (2, "SERVFAIL"),
        (3, "NXDOMAIN"),
        (4, "NOTIMP"),
        (5, "REFUSED"),
        (9, "NOTAUTH"),
        (23, "BADCOOKIE"),
    ];
    for (r, n) in rcodes {
        assert_eq!(dns::rcode_name(r), n);
    }
    assert_eq!(dns::rcode_name(15), "15");
}

#[test]
fn truncation_at_every_offset() {
    for msg in [hex(AAAA_RESPONSE), hex(MX_RESPONSE), query(5, "a.b.c", 28)] {
        assert!(dns::looks_like_dns(&msg));
        for cut in 0..msg.len() {
            let part = &msg[..cut];
            assert!(dns::parse_message(part).is_err(), "prefix {cut} parsed");
            assert!(!dns::looks_like_dns(part), "prefix {cut} detected");
            dns::fuzz_dns(part);
        }
    }
}

#[test]
fn mdns_cache_flush_response_is_dns() {
    // RFC 6762: response, AA, no question, class IN with the cache-flush bit.
    let mut m = header(0, 0x8400, [0, 1, 0, 0]);
    m.extend(rr(
        &name("printer.local"),
        1,
        0x8001,
        120,
        &[192, 168, 1, 9],
    ));
    assert!(dns::looks_like_dns(&m));
    assert_eq!(
        dns::parse_message(&m).unwrap().answers[0].rdata.as_deref(),
        Some("192.168.1.9")
    );
}

#[test]
fn netbios_name_service_is_not_dns() {
    for m in [hex(NBNS_QUERY), hex(NBNS_REGISTRATION)] {
        assert!(dns::parse_message(&m).is_ok(), "same wire format");
        assert!(!dns::looks_like_dns(&m));
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_bytes_are_not_dns() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut detected = 0;
    for i in 0..20_000 {
        let len = 12 + (rng.next() % 500) as usize;
        let mut b = rng.bytes(len);
        if i % 2 == 0 {
            // Half with a header that passes the header checks, so the
            // body checks are exercised: query, 1 question, no records.
            b[2..12].copy_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        }
        if dns::looks_like_dns(&b) {
            detected += 1;
        }
        dns::fuzz_dns(&b);
    }
    assert_eq!(detected, 0);
}

#[test]
fn other_protocols_are_not_dns() {
    // NTPv4 client request (RFC 5905 §7.3: LI 0, VN 4, mode 3), zero fields
    // but a transmit timestamp.
    let mut ntp = vec![0x23u8, 0, 6, 0x20];
    ntp.resize(40, 0);
    ntp.extend_from_slice(&[0xe9, 0x5c, 0x1d, 0x43, 0x12, 0x34, 0x56, 0x78]);
    // NTPv4 server reply: stratum 2, poll 6, precision -23, ref id, stamps.
    let mut ntp_reply = vec![
        0x24u8, 2, 6, 0xe9, 0, 0, 0, 0x1c, 0, 0, 0, 0x2a, 0xc0, 0xa8, 1, 1,
    ];
    for _ in 0..4 {
        ntp_reply.extend_from_slice(&[0xe9, 0x5c, 0x1d, 0x40, 0x8f, 0x12, 0x00, 0x00]);
    }
    // QUIC v1 Initial long header (RFC 9000 §17.2.2): 0xc3, version 1,
    // 8-byte DCID, 0-byte SCID, token length 0, length, then protected bytes.
    let mut quic = vec![
        0xc3u8, 0, 0, 0, 1, 8, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08, 0, 0, 0x44, 0x9e,
    ];
    quic.extend(Rng(7).bytes(1200 - quic.len()));
    // TLS 1.2 record with a ClientHello start (RFC 8446 §5.1).
    let mut tls = vec![
        0x16u8, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
    ];
    tls.extend(Rng(8).bytes(32));
    tls.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    let http_req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec();
    let http_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec();
    for (what, b) in [
        ("ntp", ntp),
        ("ntp reply", ntp_reply),
        ("quic", quic),
        ("tls", tls),
        ("http req", http_req),
        ("http resp", http_resp),
        ("zeros", vec![0; 48]),
        ("empty", vec![]),
    ] {
        assert!(!dns::looks_like_dns(&b), "{what} detected as DNS");
        assert!(
            !dns::looks_like_dns_tcp(&b),
            "{what} detected as DNS over TCP"
        );
    }
}

fn framed(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for m in msgs {
        v.extend_from_slice(&(m.len() as u16).to_be_bytes());
        v.extend_from_slice(m);
    }
    v
}

#[test]
fn tcp_framing() {
    let msgs = [query(1, "a.test", 1), hex(MX_RESPONSE), hex(AAAA_RESPONSE)];
    let stream = framed(&msgs);
    let expected: Vec<_> = msgs
        .iter()
        .map(|m| dns::parse_message(m).unwrap())
        .collect();
    assert!(dns::looks_like_dns_tcp(&stream));
    assert!(dns::looks_like_dns_tcp(&stream[..14]), "header-only prefix");
    assert!(!dns::looks_like_dns_tcp(&stream[..13]));
    // Whole, then split at every offset, then byte by byte.
    let mut d = DnsTcpStream::new();
    let mut out = Vec::new();
    d.feed(&stream, &mut out);
    assert_eq!(out, expected);
    for cut in 0..=stream.len() {
        let mut d = DnsTcpStream::new();
        let mut out = Vec::new();
        d.feed(&stream[..cut], &mut out);
        d.feed(&stream[cut..], &mut out);
        assert_eq!(out, expected, "split at {cut}");
        assert!(!d.is_done());
    }
    let mut d = DnsTcpStream::new();
    let mut out = Vec::new();
    for b in stream.chunks(1) {
        d.feed(b, &mut out);
    }
    assert_eq!(out, expected);
}

#[test]
fn tcp_bad_frames_stop_the_stream() {
    // Length prefix 5 < header size.
    let mut d = DnsTcpStream::new();
    let mut out = Vec::new();
    d.feed(&[0, 5, 1, 2, 3, 4, 5], &mut out);
    assert!(d.is_done());
    assert_eq!(d.error(), Some(DnsError::BadTcpLength));
    // A malformed message (pointer loop) stops it too; later data ignored.
    let mut bad = header(1, 0x0100, [1, 0, 0, 0]);
    bad.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let mut d = DnsTcpStream::new();
    let mut out = Vec::new();
    d.feed(
        &framed(&[query(1, "ok.test", 1), bad, query(2, "later.test", 1)]),
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(d.error(), Some(DnsError::PointerLoop));
    // Truncation of a framed stream never panics and never yields a partial
    // message.
    let stream = framed(&[hex(MX_RESPONSE)]);
    for cut in 0..stream.len() {
        let mut d = DnsTcpStream::new();
        let mut out = Vec::new();
        d.feed(&stream[..cut], &mut out);
        assert!(out.is_empty());
        let _ = dns::looks_like_dns_tcp(&stream[..cut]);
    }
}
