//! Community ID against every Arkime session in ../shared/testdata/expected/*.json
//! (`third_party.arkime[].sessions[].network.community_id`, copied verbatim from
//! arkime/arkime tests/pcap/*.test).

mod common;

use std::net::IpAddr;
use std::path::Path;

use tapir_flow::community_id::community_id_v1;

/// Arkime stores ICMP sessions with ports 0 but hashes the ICMP type and code. They are
/// recovered from the session's first packet in the pcap itself (innermost IP header with the
/// session's source and destination; ja4-gre-sample has it inside GRE).
fn icmp_type_code(pcap: &Path, src: IpAddr, dst: IpAddr, proto: u8) -> (u16, u16) {
    let bytes = std::fs::read(pcap).unwrap_or_else(|e| panic!("{}: {e}", pcap.display()));
    let (linktype, frames) =
        common::read_pcap(&bytes).unwrap_or_else(|| panic!("{}: not a pcap", pcap.display()));
    assert_eq!(linktype, 1, "{}: only Ethernet is decoded", pcap.display());
    for frame in frames {
        let Some(ip) = common::decode_ethernet(frame) else {
            continue;
        };
        if ip.src == src && ip.dst == dst && ip.proto == proto {
            if let [t, c, ..] = *ip.payload {
                return (u16::from(t), u16::from(c));
            }
        }
    }
    panic!("{}: no ICMP packet {src} -> {dst}", pcap.display());
}

#[test]
fn arkime_sessions_match() {
    let Some(td) = common::testdata("arkime_sessions_match") else {
        return;
    };
    let mut checked = 0;
    let mut icmp_checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(td.join("expected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let oracle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let Some(arkime) = oracle["third_party"]["arkime"].as_array() else {
            continue;
        };
        let pcap = td.join("pcaps").join(oracle["file"].as_str().unwrap());
        for test in arkime {
            for s in test["sessions"].as_array().into_iter().flatten() {
                let want = s["network"]["community_id"].as_str().unwrap();
                let src: IpAddr = s["source"]["ip"].as_str().unwrap().parse().unwrap();
                let dst: IpAddr = s["destination"]["ip"].as_str().unwrap().parse().unwrap();
                let proto = u8::try_from(s["ipProtocol"].as_u64().unwrap()).unwrap();
                let (sport, dport) = if proto == 1 || proto == 58 {
                    icmp_checked += 1;
                    icmp_type_code(&pcap, src, dst, proto)
                } else {
                    let port = |v: &serde_json::Value| u16::try_from(v.as_u64().unwrap()).unwrap();
                    (port(&s["source"]["port"]), port(&s["destination"]["port"]))
                };
                let got = community_id_v1(src, dst, proto, sport, dport, 0);
                assert_eq!(
                    got,
                    want,
                    "{}: {src}:{sport} -> {dst}:{dport} proto {proto}",
                    path.display()
                );
                // Either direction gives the same ID for these two-way sessions.
                assert_eq!(community_id_v1(dst, src, proto, dport, sport, 0), want);
                checked += 1;
            }
        }
    }
    println!("checked {checked} Arkime sessions ({icmp_checked} ICMP)");
    assert!(checked > 0, "no Arkime sessions found in the oracle files");
}
