//! Streaming over real captures from `../shared/testdata` with patterns taken from the tshark
//! oracles next to them: the HTTP User-Agent and URI of `zeek-http-vlan-0.pcap`, and the SNI of
//! the ClientHello that spans several TCP segments in `arkime-tls-split-client-hello.pcap`.
//! Skipped (with one line) when the shared directory is absent.

use std::path::PathBuf;

use tapir_patterns::{Direction, PatternDef, PatternSet, Ports, Scanner, StreamState};

fn shared() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
    d.is_dir().then_some(d)
}

fn u16_be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// TCP payloads (src port, dst port, payload) of an Ethernet classic pcap, in capture order.
/// Handles 802.1Q tags and IPv4 only: enough for these two captures.
fn tcp_payloads(pcap: &[u8]) -> Vec<(u16, u16, Vec<u8>)> {
    let le = match pcap.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => true,
        Some([0xa1, 0xb2, 0xc3, 0xd4]) => false,
        _ => panic!("not a classic pcap"),
    };
    let rd32 = |at: usize| {
        let b: [u8; 4] = pcap[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(rd32(20), 1, "Ethernet link type");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = rd32(at + 8) as usize;
        let Some(f) = pcap.get(at + 16..at + 16 + caplen) else {
            break;
        };
        at += 16 + caplen;
        let mut l3 = 14;
        let mut et = u16_be(f, 12).unwrap();
        while et == 0x8100 || et == 0x88a8 {
            et = u16_be(f, l3 + 2).unwrap();
            l3 += 4;
        }
        if et != 0x0800 || f.get(l3 + 9) != Some(&6) {
            continue;
        }
        let ihl = usize::from(f[l3] & 0x0f) * 4;
        let total = usize::from(u16_be(f, l3 + 2).unwrap());
        let l4 = l3 + ihl;
        let doff = usize::from(f[l4 + 12] >> 4) * 4;
        let end = (l3 + total).min(f.len());
        let payload = f.get(l4 + doff..end).unwrap_or(&[]);
        if !payload.is_empty() {
            out.push((
                u16_be(f, l4).unwrap(),
                u16_be(f, l4 + 2).unwrap(),
                payload.to_vec(),
            ));
        }
    }
    out
}

fn oracle(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("expected").join(format!("{name}.json"))).unwrap()
}

/// The first string in the first record of `section` that has a non-empty `key` list.
fn first_value(json: &str, section: &str, key: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v[section]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r[key].get(0).and_then(|x| x.as_str()).map(str::to_string))
        .unwrap_or_else(|| panic!("{section}.{key} in oracle"))
}

/// Streams the client-to-server payloads of the flow to `server_port`, segment by segment.
fn scan_to_server(
    set: &PatternSet,
    segs: &[(u16, u16, Vec<u8>)],
    server_port: u16,
) -> (Vec<(u32, u64)>, Vec<u8>) {
    let mut sc = Scanner::new(set).unwrap();
    let mut st = StreamState::new();
    let mut hits = Vec::new();
    let mut joined = Vec::new();
    for (sp, dp, p) in segs.iter().filter(|(_, dp, _)| *dp == server_port) {
        joined.extend_from_slice(p);
        sc.scan_stream(
            &mut st,
            p,
            Direction::ToServer,
            Ports { src: *sp, dst: *dp },
            |h| hits.push((h.id, h.offset_end)),
        );
    }
    sc.close(&mut st, |h| hits.push((h.id, h.offset_end)));
    assert_eq!(set.open_streams(), 0);
    (hits, joined)
}

#[test]
fn http_user_agent_and_uri_in_zeek_capture() {
    let Some(dir) = shared() else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let json = oracle(&dir, "zeek-http-vlan-0");
    let ua = first_value(&json, "http", "user_agent");
    let uri = first_value(&json, "http", "uri");
    let pcap = std::fs::read(dir.join("pcaps/zeek-http-vlan-0.pcap")).unwrap();
    let segs = tcp_payloads(&pcap);
    let set = PatternSet::build(vec![
        PatternDef::literal(1, "ua", ua.as_bytes(), false),
        PatternDef::literal(2, "uri", uri.as_bytes(), false),
    ])
    .unwrap()
    .set;
    let (hits, joined) = scan_to_server(&set, &segs, 80);
    assert_eq!(
        hits.iter().map(|h| h.0).collect::<Vec<_>>(),
        vec![2, 1],
        "{hits:?}"
    );
    for (id, end) in hits {
        let pat = if id == 1 { &ua } else { &uri };
        let end = end as usize;
        assert_eq!(&joined[end - pat.len()..end], pat.as_bytes());
    }
}

#[test]
fn sni_of_a_client_hello_spanning_segments() {
    let Some(dir) = shared() else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let json = oracle(&dir, "arkime-tls-split-client-hello");
    let sni = first_value(&json, "tls_client_hello", "sni");
    let pcap = std::fs::read(dir.join("pcaps/arkime-tls-split-client-hello.pcap")).unwrap();
    let segs = tcp_payloads(&pcap);
    let set = PatternSet::build(vec![PatternDef::literal(7, "sni", sni.as_bytes(), true)])
        .unwrap()
        .set;
    let (hits, joined) = scan_to_server(&set, &segs, 443);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let end = hits[0].1 as usize;
    assert!(joined[end - sni.len()..end].eq_ignore_ascii_case(sni.as_bytes()));
}
