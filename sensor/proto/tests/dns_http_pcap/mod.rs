//! Test-only helpers shared by the DNS and HTTP oracle tests: a minimal
//! pcap/pcapng reader, an L2-L4 decoder (Ethernet, 802.1Q/QinQ, BSD NULL,
//! raw IP, Linux SLL, IPv4/IPv6, GRE and IP-in-IP tunnels, UDP, TCP) and an
//! in-order TCP reassembler per direction. It is deliberately simple (no IP
//! defragmentation, stops a stream at the first sequence gap): the oracle
//! captures do not need more, and a failure to extract shows up as a missing
//! oracle record, never as a silent pass.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// `../shared/testdata` from this crate, or `None` (and a one-line skip
/// message) when the shared data is not checked out.
pub fn shared_testdata(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
    if dir.join("pcaps").is_dir() && dir.join("expected").is_dir() {
        Some(dir)
    } else {
        println!("{test}: skipped, {} not present", dir.display());
        None
    }
}

/// One captured frame: 1-based frame number, link type, bytes.
pub struct Frame {
    pub number: usize,
    pub linktype: u32,
    pub data: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

/// Reads every frame of a classic pcap or a pcapng file.
pub fn read_frames(bytes: &[u8]) -> Vec<Frame> {
    match bytes.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(bytes),
        _ => read_pcap(bytes),
    }
}

fn read_pcap(b: &[u8]) -> Vec<Frame> {
    let le = match b.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) | Some([0x4d, 0x3c, 0xb2, 0xa1]) => true,
        Some([0xa1, 0xb2, 0xc3, 0xd4]) | Some([0xa1, 0xb2, 0x3c, 0x4d]) => false,
        _ => panic!("not a pcap file"),
    };
    let linktype = u32_at(b, 20, le).expect("pcap header") & 0x0fff_ffff;
    let mut out = Vec::new();
    let mut pos = 24;
    while let (Some(incl), Some(_orig)) = (u32_at(b, pos + 8, le), u32_at(b, pos + 12, le)) {
        let start = pos + 16;
        let end = start + incl as usize;
        let Some(data) = b.get(start..end) else { break };
        out.push(Frame {
            number: out.len() + 1,
            linktype,
            data: data.to_vec(),
        });
        pos = end;
    }
    out
}

fn read_pcapng(b: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut le = true;
    let mut ifaces: Vec<u32> = Vec::new();
    let mut pos = 0;
    while pos + 12 <= b.len() {
        let btype_raw = &b[pos..pos + 4];
        if btype_raw == [0x0a, 0x0d, 0x0d, 0x0a] {
            le = b.get(pos + 8..pos + 12) == Some(&[0x4d, 0x3c, 0x2b, 0x1a]);
            ifaces.clear();
        }
        let btype = u32_at(b, pos, le).unwrap();
        let blen = u32_at(b, pos + 4, le).unwrap() as usize;
        if blen < 12 || pos + blen > b.len() {
            break;
        }
        let body = &b[pos + 8..pos + blen - 4];
        match btype {
            1 => ifaces.push(u32::from(u16_at(body, 0, le).unwrap_or(1))),
            6 => {
                let iface = u32_at(body, 0, le).unwrap_or(0) as usize;
                let cap = u32_at(body, 12, le).unwrap_or(0) as usize;
                if let Some(data) = body.get(20..20 + cap) {
                    let linktype = ifaces.get(iface).copied().unwrap_or(1);
                    out.push(Frame {
                        number: out.len() + 1,
                        linktype,
                        data: data.to_vec(),
                    });
                }
            }
            3 => {
                let orig = u32_at(body, 0, le).unwrap_or(0) as usize;
                let cap = orig.min(body.len().saturating_sub(4));
                let linktype = ifaces.first().copied().unwrap_or(1);
                out.push(Frame {
                    number: out.len() + 1,
                    linktype,
                    data: body[4..4 + cap].to_vec(),
                });
            }
            _ => {}
        }
        pos += blen;
    }
    out
}

/// Innermost transport-layer view of a frame.
#[derive(Debug, Clone)]
pub struct Pkt {
    pub frame: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// 6 or 17.
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub payload: Vec<u8>,
    /// TCP sequence number and flags.
    pub seq: u32,
    pub tcp_flags: u8,
}

pub fn decode(frame: &Frame) -> Option<Pkt> {
    let d = &frame.data;
    let (ethertype, rest) = match frame.linktype {
        0 => {
            let fam = u32_at(d, 0, true)?;
            let fam = if fam > 0xffff { fam.swap_bytes() } else { fam };
            (if fam == 2 { 0x0800 } else { 0x86dd }, d.get(4..)?)
        }
        1 => ether(d)?,
        101 => (if d.first()? >> 4 == 4 { 0x0800 } else { 0x86dd }, &d[..]),
        113 => (u16_at(d, 14, false)?, d.get(16..)?),
        228 => (0x0800, &d[..]),
        229 => (0x86dd, &d[..]),
        _ => return None,
    };
    ip(frame.number, ethertype, rest, 0)
}

fn ether(d: &[u8]) -> Option<(u16, &[u8])> {
    let mut et = u16_at(d, 12, false)?;
    let mut pos = 14;
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
        et = u16_at(d, pos + 2, false)?;
        pos += 4;
    }
    Some((et, d.get(pos..)?))
}

fn ip(frame: usize, ethertype: u16, d: &[u8], depth: u8) -> Option<Pkt> {
    if depth > 4 {
        return None;
    }
    let (src, dst, mut proto, mut payload): (IpAddr, IpAddr, u8, &[u8]) = match ethertype {
        0x0800 => {
            let ihl = usize::from(d.first()? & 0x0f) * 4;
            let total = usize::from(u16_at(d, 2, false)?);
            let frag = u16_at(d, 6, false)?;
            if frag & 0x3fff != 0 {
                return None; // fragments: not needed by the oracle captures
            }
            let src: [u8; 4] = d.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = d.get(16..20)?.try_into().ok()?;
            (
                src.into(),
                dst.into(),
                *d.get(9)?,
                d.get(ihl..total.min(d.len()))?,
            )
        }
        0x86dd => {
            let plen = usize::from(u16_at(d, 4, false)?);
            let src: [u8; 16] = d.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = d.get(24..40)?.try_into().ok()?;
            (
                src.into(),
                dst.into(),
                *d.get(6)?,
                d.get(40..(40 + plen).min(d.len()))?,
            )
        }
        _ => return None,
    };
    // IPv6 extension headers.
    while matches!(proto, 0 | 43 | 60 | 51) {
        let next = *payload.first()?;
        let len = if proto == 51 {
            (usize::from(*payload.get(1)?) + 2) * 4
        } else {
            (usize::from(*payload.get(1)?) + 1) * 8
        };
        proto = next;
        payload = payload.get(len..)?;
    }
    match proto {
        // ICMP errors quoting an IP header: tshark decodes the quoted
        // datagram (and a DNS message in it), so the helper does too.
        1 if matches!(payload.first(), Some(3 | 4 | 5 | 11 | 12)) => {
            ip(frame, 0x0800, payload.get(8..)?, depth + 1)
        }
        58 if matches!(payload.first(), Some(1..=4)) => {
            ip(frame, 0x86dd, payload.get(8..)?, depth + 1)
        }
        4 => ip(frame, 0x0800, payload, depth + 1),
        41 => ip(frame, 0x86dd, payload, depth + 1),
        47 => {
            let flags = u16_at(payload, 0, false)?;
            let ptype = u16_at(payload, 2, false)?;
            let mut pos = 4;
            if flags & 0x8000 != 0 {
                pos += 4;
            }
            if flags & 0x2000 != 0 {
                pos += 4;
            }
            if flags & 0x1000 != 0 {
                pos += 4;
            }
            let inner = payload.get(pos..)?;
            if ptype == 0x6558 {
                let (et, rest) = ether(inner)?;
                ip(frame, et, rest, depth + 1)
            } else {
                ip(frame, ptype, inner, depth + 1)
            }
        }
        17 => {
            let len = usize::from(u16_at(payload, 4, false)?);
            Some(Pkt {
                frame,
                src,
                dst,
                proto: 17,
                sport: u16_at(payload, 0, false)?,
                dport: u16_at(payload, 2, false)?,
                payload: payload.get(8..len.clamp(8, payload.len()))?.to_vec(),
                seq: 0,
                tcp_flags: 0,
            })
        }
        6 => {
            let off = usize::from(payload.get(12)? >> 4) * 4;
            Some(Pkt {
                frame,
                src,
                dst,
                proto: 6,
                sport: u16_at(payload, 0, false)?,
                dport: u16_at(payload, 2, false)?,
                payload: payload.get(off..)?.to_vec(),
                seq: u32_at(payload, 4, false)?,
                tcp_flags: *payload.get(13)?,
            })
        }
        _ => None,
    }
}

/// Decoded packets of a capture under `testdata/pcaps`.
pub fn packets(testdata: &std::path::Path, pcap: &str) -> Vec<Pkt> {
    let bytes = std::fs::read(testdata.join("pcaps").join(pcap)).expect("read pcap");
    read_frames(&bytes).iter().filter_map(decode).collect()
}

/// One reassembled TCP direction.
#[derive(Debug, Clone)]
pub struct TcpDir {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub first_frame: usize,
    pub data: Vec<u8>,
    /// True when a sequence gap cut the stream short.
    pub gap: bool,
}

struct Building {
    dir: TcpDir,
    isn: Option<u32>,
    segs: Vec<(u32, Vec<u8>)>,
}

/// Reassembles every TCP direction in sequence order (retransmissions and
/// overlaps keep the first copy); a new SYN on a used 4-tuple starts a new
/// stream. Streams are returned in order of their first frame.
pub fn tcp_streams(pkts: &[Pkt]) -> Vec<TcpDir> {
    let mut open: HashMap<(IpAddr, u16, IpAddr, u16), usize> = HashMap::new();
    let mut all: Vec<Building> = Vec::new();
    for p in pkts.iter().filter(|p| p.proto == 6) {
        let key = (p.src, p.sport, p.dst, p.dport);
        let syn = p.tcp_flags & 0x02 != 0;
        let idx = match open.get(&key) {
            Some(&i) if !(syn && all[i].isn.is_some_and(|isn| isn != p.seq.wrapping_add(1))) => i,
            _ => {
                all.push(Building {
                    dir: TcpDir {
                        src: p.src,
                        sport: p.sport,
                        dst: p.dst,
                        dport: p.dport,
                        first_frame: p.frame,
                        data: Vec::new(),
                        gap: false,
                    },
                    isn: None,
                    segs: Vec::new(),
                });
                open.insert(key, all.len() - 1);
                all.len() - 1
            }
        };
        let b = &mut all[idx];
        if syn {
            b.isn = Some(p.seq.wrapping_add(1));
        }
        if !p.payload.is_empty() {
            b.segs.push((p.seq, p.payload.clone()));
        }
    }
    all.into_iter()
        .map(|mut b| {
            let base = b.isn.or_else(|| b.segs.first().map(|s| s.0)).unwrap_or(0);
            let mut segs: Vec<(u64, Vec<u8>)> = b
                .segs
                .into_iter()
                .map(|(seq, d)| (u64::from(seq.wrapping_sub(base)), d))
                .collect();
            segs.sort_by_key(|s| s.0);
            let mut cur = 0u64;
            for (off, d) in segs {
                if off > (1 << 31) {
                    continue; // before the ISN
                }
                if off > cur {
                    b.dir.gap = true;
                    break;
                }
                let end = off + d.len() as u64;
                if end > cur {
                    b.dir.data.extend_from_slice(&d[(cur - off) as usize..]);
                    cur = end;
                }
            }
            b.dir
        })
        .collect()
}
