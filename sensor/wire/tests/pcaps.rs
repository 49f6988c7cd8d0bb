//! Decodes every capture in ../shared/testdata/pcaps and checks, for each oracle flow in
//! expected/<name>.json (tshark 4.0), that the frames attributed to its 5-tuple per direction
//! match. Counting rules (testdata/README.md): only frames with a decoded TCP/UDP header count,
//! a fragmented datagram counts once (at the frame completing it), and an ICMP error quoting a
//! TCP/UDP header counts in the quoted flow, in the direction of the quoted packet.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tapir_wire::{decode, decode_reassembled, Decoded, DefragConfig, Defragmenter, LinkType, L4};

/// Cap on one capture file read by this test.
const MAX_FILE: u64 = 64 * 1024 * 1024;

struct Frame<'a> {
    dlt: i32,
    ts_us: u64,
    data: &'a [u8],
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    })
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

/// Classic pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html); stops at a
/// record cut short (a truncated file).
fn read_pcap(b: &[u8]) -> Option<Vec<Frame<'_>>> {
    let magic = u32_at(b, 0, true)?;
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => return None,
    };
    let dlt = (u32_at(b, 20, le)? & 0x0fff_ffff) as i32;
    let mut out = Vec::new();
    let mut off = 24;
    while let (Some(sec), Some(frac), Some(incl)) = (
        u32_at(b, off, le),
        u32_at(b, off + 4, le),
        u32_at(b, off + 8, le),
    ) {
        let start = off + 16;
        let Some(data) = b.get(start..start + incl as usize) else {
            break;
        };
        let frac = if nanos { frac / 1000 } else { frac };
        out.push(Frame {
            dlt,
            ts_us: u64::from(sec) * 1_000_000 + u64::from(frac),
            data,
        });
        off = start + incl as usize;
    }
    Some(out)
}

/// pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html): each packet uses
/// the link type of its own interface; a new section resets the interfaces.
fn read_pcapng(b: &[u8]) -> Option<Vec<Frame<'_>>> {
    let mut out = Vec::new();
    let mut ifaces: Vec<(i32, u64)> = Vec::new(); // (linktype, ticks per second)
    let mut le = true;
    let mut off = 0;
    while let Some(bt) = u32_at(b, off, le) {
        if bt == 0x0a0d_0d0a {
            le = match b.get(off + 8..off + 12)? {
                [0x4d, 0x3c, 0x2b, 0x1a] => true,
                [0x1a, 0x2b, 0x3c, 0x4d] => false,
                _ => return None,
            };
            ifaces.clear();
        }
        let len = u32_at(b, off + 4, le)? as usize;
        if len < 12 || len & 3 != 0 {
            break;
        }
        let Some(body) = b.get(off + 8..off + len - 4) else {
            break;
        };
        match bt {
            1 => {
                let lt = i32::from(u16_at(body, 0, le)?);
                let mut tps = 1_000_000u64;
                let mut o = 8;
                while let (Some(code), Some(olen)) = (u16_at(body, o, le), u16_at(body, o + 2, le))
                {
                    if code == 0 {
                        break;
                    }
                    if code == 9 {
                        let r = *body.get(o + 4)?;
                        tps = if r & 0x80 != 0 {
                            1u64.checked_shl(u32::from(r & 0x7f)).unwrap_or(1)
                        } else {
                            10u64.checked_pow(u32::from(r)).unwrap_or(1)
                        };
                    }
                    o += 4 + usize::from(olen).div_ceil(4) * 4;
                }
                ifaces.push((lt, tps));
            }
            6 | 2 => {
                let ifid = if bt == 6 {
                    u32_at(body, 0, le)? as usize
                } else {
                    usize::from(u16_at(body, 0, le)?)
                };
                let (lt, tps) = *ifaces.get(ifid)?;
                let ts = (u64::from(u32_at(body, 4, le)?) << 32) | u64::from(u32_at(body, 8, le)?);
                let cap = u32_at(body, 12, le)? as usize;
                let data = body.get(20..20 + cap)?;
                let ts_us = (u128::from(ts) * 1_000_000 / u128::from(tps.max(1))) as u64;
                out.push(Frame {
                    dlt: lt,
                    ts_us,
                    data,
                });
            }
            3 => {
                let (lt, _) = *ifaces.first()?;
                let olen = u32_at(body, 0, le)? as usize;
                let data = body.get(4..4 + olen.min(body.len() - 4))?;
                out.push(Frame {
                    dlt: lt,
                    ts_us: 0,
                    data,
                });
            }
            _ => {}
        }
        off += len;
    }
    Some(out)
}

type Tuple = (u8, IpAddr, u16, IpAddr, u16);

fn count(counts: &mut HashMap<Tuple, u64>, d: &Decoded<'_>) {
    let Decoded::Packet(p) = d else { return };
    match &p.l4 {
        L4::Tcp(_) | L4::Udp { .. } => {
            let (sp, dp) = p.ports();
            *counts
                .entry((p.ip_proto, p.src, sp, p.dst, dp))
                .or_default() += 1;
        }
        L4::Icmp {
            quoted: Some(q), ..
        } if q.proto == 6 || q.proto == 17 => {
            *counts
                .entry((q.proto, q.src, q.sport, q.dst, q.dport))
                .or_default() += 1;
        }
        _ => {}
    }
}

fn load(name: &str) -> Option<(Vec<u8>, serde_json::Value)> {
    let dir = shared();
    let pcap = std::fs::read(dir.join("pcaps").join(format!("{name}.pcap"))).ok()?;
    let text = std::fs::read_to_string(dir.join("expected").join(format!("{name}.json"))).ok()?;
    Some((pcap, serde_json::from_str(&text).expect("oracle json")))
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
}

#[test]
fn pcaps_match_tshark_flow_counts() {
    let dir = shared();
    let Ok(rd) = std::fs::read_dir(dir.join("pcaps")) else {
        println!("skipped: {} not found", dir.display());
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut failures = Vec::new();
    let mut checked_flows = 0;
    for path in &paths {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let meta = std::fs::metadata(path).expect("metadata");
        assert!(meta.len() <= MAX_FILE, "{name}: too large for this test");
        let bytes = std::fs::read(path).expect("read pcap");
        let frames = read_pcap(&bytes)
            .or_else(|| read_pcapng(&bytes))
            .unwrap_or_else(|| panic!("{name}: not a pcap/pcapng file"));
        let mut defrag = Defragmenter::new(DefragConfig::default());
        let mut counts: HashMap<Tuple, u64> = HashMap::new();
        let mut errors: Vec<&'static str> = Vec::new();
        for f in &frames {
            let link = LinkType::from_dlt(f.dlt)
                .unwrap_or_else(|| panic!("{name}: link type {} unsupported", f.dlt));
            tapir_wire::fuzzing::decode_all_links(f.data);
            match decode(link, f.data) {
                Ok(Decoded::Fragment(fr)) => {
                    if let Some(r) = defrag.push(&fr, f.ts_us) {
                        if let Ok(d) = decode_reassembled(&r) {
                            count(&mut counts, &d);
                        }
                    }
                }
                Ok(d) => count(&mut counts, &d),
                Err(e) => errors.push(e.reason()),
            }
        }
        // testdata/README.md: zeek-trunc-hdr's only record has caplen 8 < 14, every other
        // capture is well formed up to the frames cut by the end of a truncated file.
        let want_errors: &[&str] = if name == "zeek-trunc-hdr" {
            &["ethernet_truncated"]
        } else {
            &[]
        };
        if errors != want_errors {
            failures.push(format!(
                "{name}: decode errors {errors:?}, expected {want_errors:?}"
            ));
        }
        let exp_path = dir.join("expected").join(format!("{name}.json"));
        let Ok(text) = std::fs::read_to_string(&exp_path) else {
            continue;
        };
        let exp: serde_json::Value = serde_json::from_str(&text).expect("oracle json");
        // Several tshark streams may share a 5-tuple (port reuse): compare sums per 5-tuple.
        let mut want: HashMap<Tuple, u64> = HashMap::new();
        for fl in exp["flows"].as_array().into_iter().flatten() {
            let proto = match fl["proto"].as_str() {
                Some("tcp") => 6,
                Some("udp") => 17,
                other => panic!("{name}: proto {other:?}"),
            };
            let a: IpAddr = fl["a"].as_str().and_then(|s| s.parse().ok()).expect("a");
            let b: IpAddr = fl["b"].as_str().and_then(|s| s.parse().ok()).expect("b");
            let ap = fl["a_port"].as_u64().expect("a_port") as u16;
            let bp = fl["b_port"].as_u64().expect("b_port") as u16;
            *want.entry((proto, a, ap, b, bp)).or_default() +=
                fl["frames_a_to_b"].as_u64().expect("n");
            *want.entry((proto, b, bp, a, ap)).or_default() +=
                fl["frames_b_to_a"].as_u64().expect("n");
            checked_flows += 1;
        }
        for (t, n) in &want {
            let got = counts.get(t).copied().unwrap_or(0);
            if got != *n {
                failures.push(format!("{name}: {t:?}: tshark {n} frames, decoded {got}"));
            }
        }
        for (t, got) in &counts {
            if !want.contains_key(t) {
                failures.push(format!(
                    "{name}: {t:?}: decoded {got} frames, not in tshark's flows"
                ));
            }
        }
    }
    assert!(checked_flows > 0, "no oracle flows found");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// suricata-verify tests/defrag/bug-6887: the alert's `packet` is the frame Suricata rebuilt
/// from the three VLAN-tagged fragments (Ethernet + 802.1Q + reassembled IPv4 datagram).
#[test]
fn defrag_matches_suricata_rebuilt_packet() {
    let Some((pcap, exp)) = load("sv-defrag-eth-vlan-ipv4-tcp-syn") else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let b64 = exp["third_party"]["suricata_verify"][0]["test"]["checks"][0]["filter"]["match"]
        ["packet"]
        .as_str()
        .expect("packet in oracle");
    let want =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).expect("b64");
    let frames = read_pcap(&pcap).expect("pcap");
    let mut defrag = Defragmenter::new(DefragConfig::default());
    let mut done = Vec::new();
    for f in &frames {
        match decode(LinkType::Ethernet, f.data).expect("decodes") {
            Decoded::Fragment(fr) => {
                assert_eq!(fr.vlan.as_slice(), &[6]);
                if let Some(r) = defrag.push(&fr, f.ts_us) {
                    done.push(r);
                }
            }
            other => panic!("expected fragments, got {other:?}"),
        }
    }
    assert_eq!(done.len(), 1, "one datagram, completed by the last frame");
    let r = &done[0];
    assert_eq!(r.vlan.as_slice(), &[6]);
    // Suricata's frame: 14 bytes Ethernet + 4 bytes 802.1Q, then the datagram.
    assert_eq!(r.data.as_slice(), &want[18..]);
    let Ok(Decoded::Packet(p)) = decode_reassembled(r) else {
        panic!("reassembled datagram decodes to a packet");
    };
    let flow = &exp["flows"][0];
    assert_eq!(p.src.to_string(), flow["a"].as_str().expect("a"));
    assert_eq!(p.dst.to_string(), flow["b"].as_str().expect("b"));
    assert_eq!(
        u64::from(p.ports().0),
        flow["a_port"].as_u64().expect("a_port")
    );
    assert_eq!(
        u64::from(p.ports().1),
        flow["b_port"].as_u64().expect("b_port")
    );
    let L4::Tcp(t) = p.l4 else { panic!("tcp") };
    assert!(t.is_syn() && !t.is_ack(), "the test is named tcp-syn");
    let st = defrag.stats();
    assert_eq!(
        (st.reassembled, st.in_progress, st.bytes_buffered),
        (1, 0, 0)
    );
}

/// suricata-verify tests/detect-vlan-id: alerts match vlan[0] = 200, vlan[1] = 300 and
/// vlan[2] = 400 on the triple-tagged ICMP packet (frame 1).
#[test]
fn triple_vlan_ids_match_suricata() {
    let Some((pcap, exp)) = load("sv-detect-vlan-id") else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let mut ids = [0u16; 3];
    let checks = exp["third_party"]["suricata_verify"][0]["test"]["checks"]
        .as_array()
        .expect("checks");
    for c in checks {
        for (i, id) in ids.iter_mut().enumerate() {
            if let Some(v) = c["filter"]["match"][format!("vlan[{i}]")].as_u64() {
                *id = v as u16;
            }
        }
    }
    assert!(ids.iter().all(|&i| i != 0), "oracle names three vlan ids");
    let frames = read_pcap(&pcap).expect("pcap");
    let Ok(Decoded::Packet(p)) = decode(LinkType::Ethernet, frames[0].data) else {
        panic!("frame 1 decodes");
    };
    assert_eq!(p.vlan.as_slice(), &ids);
    assert!(matches!(p.l4, L4::Icmp { v6: false, .. }));
}

/// Arkime's gre-sample.test lists "gre" among the protocols of every session, with per-side
/// packet counts (ICMP included, which the tshark flow list leaves out).
#[test]
fn gre_sample_matches_arkime_sessions() {
    let Some((pcap, exp)) = load("ja4-gre-sample") else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let frames = read_pcap(&pcap).expect("pcap");
    let mut seen: HashMap<Tuple, (u64, bool)> = HashMap::new();
    for f in &frames {
        if let Ok(Decoded::Packet(p)) = decode(LinkType::Ethernet, f.data) {
            let (sp, dp) = p.ports();
            let gre = p.tunnels.as_slice().first().map(|t| t.kind.as_str()) == Some("gre");
            let e = seen
                .entry((p.ip_proto, p.src, sp, p.dst, dp))
                .or_insert((0, true));
            e.0 += 1;
            e.1 &= gre;
        }
    }
    let sessions = exp["third_party"]["arkime"][0]["sessions"]
        .as_array()
        .expect("sessions");
    assert!(!sessions.is_empty());
    for s in sessions {
        let proto = s["ipProtocol"].as_u64().expect("proto") as u8;
        let ip = |side: &str| -> (IpAddr, u16) {
            (
                s[side]["ip"]
                    .as_str()
                    .and_then(|x| x.parse().ok())
                    .expect("ip"),
                s[side]["port"].as_u64().expect("port") as u16,
            )
        };
        let (a, ap) = ip("source");
        let (b, bp) = ip("destination");
        let protos: Vec<&str> = s["protocol"]
            .as_array()
            .expect("protocol")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for (t, n) in [
            (
                (proto, a, ap, b, bp),
                s["source"]["packets"].as_u64().expect("n"),
            ),
            (
                (proto, b, bp, a, ap),
                s["destination"]["packets"].as_u64().expect("n"),
            ),
        ] {
            let (got, all_gre) = seen.get(&t).copied().unwrap_or((0, true));
            assert_eq!(got, n, "{t:?}");
            if n > 0 {
                assert_eq!(all_gre, protos.contains(&"gre"), "{t:?}");
            }
        }
    }
}
