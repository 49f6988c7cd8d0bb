//! Unit tests for the TLS module over hand-built records (always run) and real captures from
//! ../shared (skipped when absent). Expected fingerprints come from published vectors: the JA3
//! README example (salesforce/ja3) and the JA4.md worked example (FoxIO-LLC/ja4); certificate
//! fields come from `openssl x509` output for a test certificate generated for this file.

mod tls_pcap;

use tapir_proto::tls::{
    self, fuzz_tls, looks_like_tls, parse_client_hello, parse_server_hello, TlsError, TlsMessage,
    TlsStream,
};

// ----- builders (RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2 wire layout) -----

fn be16(v: usize) -> [u8; 2] {
    u16::try_from(v).expect("u16 length").to_be_bytes()
}

fn vec16(body: &[u8]) -> Vec<u8> {
    let mut v = be16(body.len()).to_vec();
    v.extend_from_slice(body);
    v
}

fn vec8(body: &[u8]) -> Vec<u8> {
    let mut v = vec![u8::try_from(body.len()).expect("u8 length")];
    v.extend_from_slice(body);
    v
}

fn u16s(vals: &[u16]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend(vec16(body));
    v
}

fn sni_ext(name: &str) -> Vec<u8> {
    let mut entry = vec![0u8];
    entry.extend(vec16(name.as_bytes()));
    ext(0x0000, &vec16(&entry))
}

fn alpn_ext(protos: &[&[u8]]) -> Vec<u8> {
    let list: Vec<u8> = protos.iter().flat_map(|p| vec8(p)).collect();
    ext(0x0010, &vec16(&list))
}

/// ClientHello body: version, 32-byte random, empty session id, ciphers, null compression, exts.
fn client_hello_body(version: u16, ciphers: &[u16], exts: &[Vec<u8>]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend([0x11; 32]);
    b.push(0);
    b.extend(vec16(&u16s(ciphers)));
    b.extend([1, 0]);
    let block: Vec<u8> = exts.concat();
    if !exts.is_empty() {
        b.extend(vec16(&block));
    }
    b
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let n = u32::try_from(body.len()).expect("len").to_be_bytes();
    let mut v = vec![ty, n[1], n[2], n[3]];
    v.extend_from_slice(body);
    v
}

fn record(ct: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![ct, 3, 3];
    v.extend(be16(payload.len()));
    v.extend_from_slice(payload);
    v
}

/// The JA3 README example: "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0".
fn ja3_readme_hello(grease: bool) -> Vec<u8> {
    let mut ciphers = vec![47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4];
    let mut exts = vec![
        sni_ext("example.org"),
        ext(0x000a, &vec16(&u16s(&[23, 24, 25]))),
        ext(0x000b, &vec8(&[0])),
    ];
    if grease {
        ciphers.insert(0, 0x0a0a);
        ciphers.push(0xdada);
        exts.insert(0, ext(0x1a1a, &[]));
        exts.push(ext(0xfafa, &[0]));
        exts[2] = ext(0x000a, &vec16(&u16s(&[0x2a2a, 23, 24, 25])));
    }
    client_hello_body(0x0301, &ciphers, &exts)
}

const JA3_README_STRING: &str =
    "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0";
const JA3_README_HASH: &str = "ada70206e40642a3e4461f35503241d5";

/// The JA4.md worked example: 15 ciphers, 16 extensions in the listed order, ALPN h2, SNI,
/// TLS 1.3 in supported_versions, the listed signature algorithms.
fn ja4_spec_hello(grease: bool) -> Vec<u8> {
    let mut ciphers = vec![
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let sigs = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let mut versions = vec![0x0304, 0x0303];
    let mut groups = vec![0x001d, 0x0017];
    if grease {
        ciphers.insert(0, 0x4a4a);
        versions.insert(0, 0x3a3a);
        groups.insert(0, 0x5a5a);
    }
    let mut exts = Vec::new();
    if grease {
        exts.push(ext(0x6a6a, &[]));
    }
    for ty in [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
        0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
    ] {
        exts.push(match ty {
            0x0000 => sni_ext("example.com"),
            0x0010 => alpn_ext(&[b"h2", b"http/1.1"]),
            0x000d => ext(ty, &vec16(&u16s(&sigs))),
            0x002b => ext(ty, &vec8(&u16s(&versions))),
            0x000a => ext(ty, &vec16(&u16s(&groups))),
            0x000b => ext(ty, &vec8(&[0])),
            _ => ext(ty, &[]),
        });
    }
    if grease {
        exts.push(ext(0x7a7a, &[0]));
    }
    client_hello_body(0x0303, &ciphers, &exts)
}

const JA4_SPEC: &str = "t13d1516h2_8daaf6152771_e5627efa2ab1";
const JA4_SPEC_R: &str = "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601";

/// Self-signed P-256 certificate made with: openssl req -x509 -subj "/C=US/ST=California/
/// L=San Francisco/O=Tapir Test/CN=www.example.com" -set_serial 0x00c0ffee1234 -days 3650
/// -addext "subjectAltName=DNS:www.example.com,DNS:example.com,IP:192.0.2.1" -outform DER
const CERT_HEX: &str = "30820249308201f0a003020102020600c0ffee1234300a06082a8648ce3d0403023069310b30090603550406130255533113301106035504080c0a43616c69666f726e69613116301406035504070c0d53616e204672616e636973636f31133011060355040a0c0a546170697220546573743118301606035504030c0f7777772e6578616d706c652e636f6d301e170d3236313132373231303732365a170d3336313132343231303732365a3069310b30090603550406130255533113301106035504080c0a43616c69666f726e69613116301406035504070c0d53616e204672616e636973636f31133011060355040a0c0a546170697220546573743118301606035504030c0f7777772e6578616d706c652e636f6d3059301306072a8648ce3d020106082a8648ce3d03010703420004a2955f76416801919d614b3dac609d205a39ea8b5f007cd16d47a2bb7e6410538b1d977ec1a3693eca20d5b70eed8f8d8dba782bec389d5a00b5420b03143399a38183308180301d0603551d0e041604140fae7bbfd5b61bccf27aceb16a0782a29302dc9b301f0603551d230418301680140fae7bbfd5b61bccf27aceb16a0782a29302dc9b300f0603551d130101ff040530030101ff302d0603551d1104263024820f7777772e6578616d706c652e636f6d820b6578616d706c652e636f6d8704c0000201300a06082a8648ce3d040302034700304402205d55a69f7568f09c81ab12302f7e919ae39b4cc14db753af1a37a0181bbb5c9c022049081ac539479c6f8fdf8f6702a948eecdf0645d94380f5ca4a3337ccc07efdc";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn server_hello_body(exts: &[Vec<u8>]) -> Vec<u8> {
    let mut b = 0x0303u16.to_be_bytes().to_vec();
    b.extend([0x22; 32]);
    b.extend(vec8(&[0x33; 32]));
    b.extend(0xc02fu16.to_be_bytes());
    b.push(0);
    b.extend(vec16(&exts.concat()));
    b
}

fn certificate_body(certs: &[&[u8]]) -> Vec<u8> {
    let u24 = |n: usize| {
        let b = u32::try_from(n).expect("len").to_be_bytes();
        [b[1], b[2], b[3]]
    };
    let list: Vec<u8> = certs
        .iter()
        .flat_map(|c| [u24(c.len()).to_vec(), c.to_vec()].concat())
        .collect();
    [u24(list.len()).to_vec(), list].concat()
}

/// Server flight in ONE record: ServerHello + Certificate + ServerHelloDone, then CCS.
fn server_stream() -> Vec<u8> {
    let cert = hex(CERT_HEX);
    let sh = server_hello_body(&[
        ext(0xff01, &[0]),
        ext(0x0000, &[]),
        ext(0x000b, &vec8(&[0])),
        alpn_ext(&[b"h2"]),
    ]);
    let flight = [
        handshake(2, &sh),
        handshake(11, &certificate_body(&[&cert, &cert])),
        handshake(14, &[]),
    ]
    .concat();
    [
        record(22, &flight),
        record(20, &[1]),
        record(22, &[0xde; 40]),
    ]
    .concat()
}

fn client_stream(body: &[u8]) -> Vec<u8> {
    [
        record(22, &handshake(1, body)),
        record(20, &[1]),
        record(23, &[0xab; 30]),
    ]
    .concat()
}

fn feed_all(data: &[u8], chunk: usize) -> (Vec<TlsMessage>, TlsStream) {
    let mut s = TlsStream::new();
    let mut out = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        s.feed(c, &mut out);
    }
    (out, s)
}

// ----- tests -----

#[test]
fn ja3_readme_vector() {
    let h = parse_client_hello(&ja3_readme_hello(false)).expect("parse");
    assert_eq!(h.ja3_string, JA3_README_STRING);
    assert_eq!(h.ja3_hash, JA3_README_HASH);
    assert_eq!(h.sni.as_deref(), Some("example.org"));
    assert_eq!(h.version(), 0x0301);
    assert_eq!(tls::version_name(h.version()), "TLSv1");
}

#[test]
fn ja4_spec_vector() {
    let h = parse_client_hello(&ja4_spec_hello(false)).expect("parse");
    assert_eq!(h.ja4, JA4_SPEC);
    assert_eq!(h.ja4_r, JA4_SPEC_R);
    assert_eq!(h.alpns, ["h2", "http/1.1"]);
    assert_eq!(h.version(), 0x0304);
    assert_eq!(h.legacy_version, 0x0303);
}

#[test]
fn grease_is_ignored_by_fingerprints_but_kept_in_fields() {
    let plain = parse_client_hello(&ja3_readme_hello(false)).expect("parse");
    let greased = parse_client_hello(&ja3_readme_hello(true)).expect("parse");
    assert_eq!(greased.ja3_string, JA3_README_STRING);
    assert_eq!(greased.ja3_hash, JA3_README_HASH);
    assert_eq!(greased.ciphers.len(), plain.ciphers.len() + 2);
    assert!(greased.extensions.contains(&0x1a1a) && greased.groups.contains(&0x2a2a));

    let h = parse_client_hello(&ja4_spec_hello(true)).expect("parse");
    assert_eq!(h.ja4, JA4_SPEC);
    assert_eq!(h.ja4_r, JA4_SPEC_R);
    // A GREASE supported_versions entry must not win the "highest version" rule.
    assert_eq!(h.supported_versions.first(), Some(&0x3a3a));
    assert_eq!(h.version(), 0x0304);
}

#[test]
fn no_sni_no_alpn_no_extensions() {
    // RFC 5246 §7.4.1.2: extensions are optional.
    let h = parse_client_hello(&client_hello_body(0x0303, &[0x002f], &[])).expect("parse");
    assert_eq!(h.sni, None);
    assert_eq!(h.ja3_string, "771,47,,,");
    assert!(h.ja4.starts_with("t12i010000_"), "{}", h.ja4);
    // JA4.md: no extensions -> JA4_c is twelve zeros.
    assert!(h.ja4.ends_with("_000000000000"), "{}", h.ja4);
}

#[test]
fn malformed_hellos_are_errors() {
    let mut bad_ext = client_hello_body(0x0303, &[0x002f], &[ext(0x0000, &[1, 2])]);
    // extension claims 2 bytes; make the block claim one more byte than present
    let n = bad_ext.len();
    bad_ext.truncate(n - 1);
    assert_eq!(
        parse_client_hello(&bad_ext),
        Err(TlsError::MalformedClientHello)
    );
    assert_eq!(parse_client_hello(&[]), Err(TlsError::MalformedClientHello));
    assert_eq!(
        parse_server_hello(&[3, 3]),
        Err(TlsError::MalformedServerHello)
    );
}

#[test]
fn truncation_at_every_offset() {
    let body = ja4_spec_hello(true);
    for i in 0..body.len() {
        let _ = parse_client_hello(&body[..i]);
    }
    let stream = client_stream(&body);
    let rec_len = 5 + 4 + body.len();
    for i in 0..stream.len() {
        let (out, s) = feed_all(&stream[..i], usize::MAX);
        if i < rec_len {
            assert!(out.is_empty(), "message from a {i}-byte prefix");
            assert_eq!(s.error(), None, "a prefix is incomplete, not an error");
            assert!(!s.is_done());
        } else {
            assert_eq!(out.len(), 1);
        }
    }
    let server = server_stream();
    for i in 0..server.len() {
        let _ = feed_all(&server[..i], 7);
        fuzz_tls(&server[..i]);
    }
}

#[test]
fn one_byte_feeding_equals_whole() {
    for data in [client_stream(&ja4_spec_hello(true)), server_stream()] {
        let (whole, s1) = feed_all(&data, usize::MAX);
        let (bytes, s2) = feed_all(&data, 1);
        assert!(!whole.is_empty());
        assert_eq!(whole, bytes);
        assert_eq!((s1.is_done(), s1.error()), (s2.is_done(), s2.error()));
        fuzz_tls(&data);
    }
}

#[test]
fn handshake_split_across_records() {
    let body = ja4_spec_hello(false);
    let hs = handshake(1, &body);
    let reference = parse_client_hello(&body).expect("parse");
    for cut in [1, 3, 4, 5, 40, hs.len() - 1] {
        let data = [record(22, &hs[..cut]), record(22, &hs[cut..])].concat();
        for chunk in [1, 5, usize::MAX] {
            let (out, s) = feed_all(&data, chunk);
            assert_eq!(
                out,
                vec![TlsMessage::ClientHello(reference.clone())],
                "cut {cut} chunk {chunk}"
            );
            assert_eq!(s.error(), None);
        }
    }
}

#[test]
fn server_flight_and_certificate_leaf() {
    let (out, s) = feed_all(&server_stream(), usize::MAX);
    assert!(
        s.is_done() && s.error().is_none(),
        "stops at ChangeCipherSpec"
    );
    let [TlsMessage::ServerHello(sh), TlsMessage::Certificate(c)] = out.as_slice() else {
        panic!("unexpected messages {out:?}")
    };
    assert_eq!(sh.cipher, 0xc02f);
    assert_eq!(sh.alpn.as_deref(), Some("h2"));
    assert_eq!(sh.ja3s_string, "771,49199,65281-0-11-16");
    assert_eq!(tls::version_name(sh.version()), "TLS 1.2");
    assert_eq!(c.chain_len, 2);
    let leaf = c.leaf.as_ref().expect("leaf parses");
    // Values from `openssl x509 -noout -subject -serial -dates -fingerprint -sha1 -ext
    // subjectAltName` and `openssl asn1parse` (serial DER: 00 C0 FF EE 12 34).
    assert_eq!(
        leaf.subject,
        "C=US, ST=California, L=San Francisco, O=Tapir Test, CN=www.example.com"
    );
    assert_eq!(leaf.issuerdn, leaf.subject);
    assert_eq!(leaf.serial, "00:C0:FF:EE:12:34");
    assert_eq!(
        leaf.fingerprint,
        "27:0F:9F:27:EA:6A:2D:F7:71:C1:B9:49:18:FE:E2:E9:4C:A8:1D:AF".to_lowercase()
    );
    assert_eq!(leaf.notbefore, "2026-11-27T21:07:26");
    assert_eq!(leaf.notafter, "2036-11-24T21:07:26");
    assert_eq!(
        leaf.subjectaltname,
        ["www.example.com", "example.com", "192.0.2.1"]
    );
}

#[test]
fn malformed_certificate_only_loses_that_message() {
    let mut bad = hex(CERT_HEX);
    bad[3] ^= 0x40; // outer SEQUENCE length now runs past the data
    let sh = server_hello_body(&[]);
    let data = [
        record(22, &handshake(2, &sh)),
        record(22, &handshake(11, &certificate_body(&[&bad]))),
        record(22, &handshake(11, &[0, 0, 9, 1])), // framing lies: dropped
        record(22, &handshake(14, &[])),
    ]
    .concat();
    let (out, s) = feed_all(&data, usize::MAX);
    assert_eq!(s.error(), None);
    assert_eq!(out.len(), 2);
    let TlsMessage::Certificate(c) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!((c.chain_len, c.leaf.is_none()), (1, true));
}

#[test]
fn stream_stops_and_errors() {
    let (out, s) = feed_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", usize::MAX);
    assert!(out.is_empty() && s.is_done());
    assert_eq!(s.error(), Some(TlsError::BadContentType(b'G')));

    let (_, s) = feed_all(&[22, 3, 3, 0x48, 0x01], usize::MAX); // 18433 > 2^14 + 2048
    assert_eq!(s.error(), Some(TlsError::RecordTooLong(18433)));

    let (_, s) = feed_all(&[22, 2, 0, 0, 4], usize::MAX);
    assert_eq!(s.error(), Some(TlsError::BadRecordVersion(0x0200)));

    let (_, s) = feed_all(&[0x80, 0x2e, 0x01, 0x03, 0x01], usize::MAX);
    assert_eq!(s.error(), Some(TlsError::Sslv2));

    // ClientHello declaring 16 MiB: refused without buffering it.
    let (_, s) = feed_all(&record(22, &[1, 0xff, 0xff, 0xff]), usize::MAX);
    assert_eq!(s.error(), Some(TlsError::HandshakeTooLong(0xff_ffff)));

    // ApplicationData ends parsing without an error; later bytes are ignored.
    let mut data = record(23, &[1, 2, 3]);
    data.extend(record(22, &handshake(1, &ja4_spec_hello(false))));
    let (out, s) = feed_all(&data, 2);
    assert!(out.is_empty() && s.is_done() && s.error().is_none());
}

#[test]
fn detection() {
    let stream = client_stream(&ja4_spec_hello(false));
    assert!(looks_like_tls(&stream));
    assert!(looks_like_tls(&stream[..3]));
    let mut v10 = stream.clone();
    v10[2] = 1; // record version 0x0301, common for a first ClientHello
    assert!(looks_like_tls(&v10));
    assert!(looks_like_tls(&server_stream()));
    // SSLv2-compatible ClientHello header (RFC 5246 appendix E.2): len, type 1, version 3.1.
    assert!(looks_like_tls(&[0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15]));
    assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
    assert!(!looks_like_tls(&[22, 3, 5, 0, 10, 1]));
    assert!(!looks_like_tls(&[22, 3, 3, 0, 0]));
    assert!(!looks_like_tls(&[22, 3, 3, 0, 40, 11])); // Certificate first: not a stream start
    assert!(!looks_like_tls(&[23, 3, 3, 0, 40]));
    assert!(!looks_like_tls(&[22]));
    assert!(!looks_like_tls(&[]));
}

#[test]
fn fuzz_entry_on_mutations() {
    let base = client_stream(&ja4_spec_hello(true));
    for i in 0..base.len() {
        let mut m = base.clone();
        m[i] ^= 0x5a;
        fuzz_tls(&m);
    }
}

/// Real captures: every TLS direction gives the same result whole and in other chunkings, and
/// every real ClientHello survives truncation at each offset.
#[test]
fn real_captures_chunking_and_truncation() {
    let Some(shared) = tls_pcap::shared_dir() else {
        println!("skipped: ../shared/testdata not present");
        return;
    };
    let mut hellos = 0;
    for name in [
        "sv-ja4-tls.pcap",
        "arkime-tls-split-client-hello.pcap",
        "ja4-tls-alpn-h2-ipv6.pcap",
        "sv-tls13-draft28.pcap",
    ] {
        for d in tls_pcap::tcp_directions(&shared.join("testdata/pcaps").join(name)) {
            if !looks_like_tls(&d.bytes) {
                continue;
            }
            fuzz_tls(&d.bytes);
            let (out, _) = feed_all(&d.bytes, usize::MAX);
            for m in out {
                if let TlsMessage::ClientHello(h) = m {
                    hellos += 1;
                    // The body sits after the record header (5) and handshake header (4, u24 length)
                    // when the hello fits one record, as in these captures.
                    let body_len = usize::from(d.bytes[7]) << 8 | usize::from(d.bytes[8]);
                    let body = &d.bytes[9..9 + body_len];
                    assert_eq!(
                        parse_client_hello(body).as_ref().map(|x| &x.ja3_hash),
                        Ok(&h.ja3_hash)
                    );
                    for i in 0..body.len() {
                        let _ = parse_client_hello(&body[..i]);
                    }
                    for i in 0..d.bytes.len().min(4096) {
                        let _ = feed_all(&d.bytes[..i], 3);
                    }
                }
            }
        }
    }
    assert!(
        hellos >= 4,
        "expected ClientHellos in the sample captures, got {hellos}"
    );
}

/// A hello of 30 000 ciphers expands to a JA3 string of ~170 KB; what a flow keeps of it is
/// bounded, and keeps the fingerprints whole.
#[test]
fn the_kept_summary_of_a_huge_hello_is_bounded() {
    let ciphers: Vec<u16> = (0..30_000u16).map(|c| c % 0xfa00 + 1).collect();
    let body = client_hello_body(
        0x0303,
        &ciphers,
        &[sni_ext("huge.example"), alpn_ext(&[b"h2", b"http/1.1"])],
    );
    let h = parse_client_hello(&body).expect("parses");
    assert!(h.ja3_string.len() > 100_000, "{}", h.ja3_string.len());
    let s = h.summary();
    assert_eq!(s.ja3_hash, h.ja3_hash);
    assert_eq!(s.ja4, h.ja4);
    assert_eq!(s.sni.as_deref(), Some("huge.example"));
    assert_eq!(s.alpns, ["h2", "http/1.1"]);
    assert_eq!(s.ja3_string.len(), tls::MAX_KEPT_JA3_STRING);
    assert!(h.ja3_string.starts_with(&s.ja3_string));
    assert!(s.ciphers.is_empty() && s.extensions.is_empty() && s.ja4_r.is_empty());
    assert_eq!(s.version(), h.version());
}
