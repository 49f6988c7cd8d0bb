//! Test-only capture reader for the TLS oracle tests: classic pcap and pcapng files, Ethernet /
//! 802.1Q / QinQ / BSD-null / raw-IP link layers, IPv4 / IPv6 (extension headers), GRE, IP-in-IP,
//! then per-direction TCP payload reassembly in sequence order (stops at the first hole).
//! Deliberately small and strict: anything it does not understand is skipped, never guessed.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Per-direction reassembly cap: hellos and certificates come first, nothing later is needed.
const MAX_STREAM_BYTES: usize = 1 << 20;

/// The ../shared directory, or `None` (then tests print one line and pass).
pub fn shared_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    p.join("testdata").is_dir().then_some(p)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
}

impl Tuple {
    pub fn rev(&self) -> Tuple {
        Tuple {
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
        }
    }
}

/// One direction of one TCP connection, reassembled.
#[derive(Debug, Clone)]
pub struct Direction {
    pub tuple: Tuple,
    /// Connection generation for this tuple (a new SYN with another ISN starts a new one).
    pub generation: usize,
    pub bytes: Vec<u8>,
}

struct Seg {
    seq: u32,
    data: Vec<u8>,
}

#[derive(Default)]
struct DirState {
    isn_next: Option<u32>,
    segs: Vec<Seg>,
}

/// Reads a capture and returns every TCP direction's reassembled payload.
pub fn tcp_directions(path: &Path) -> Vec<Direction> {
    let data = std::fs::read(path).unwrap_or_default();
    let mut conns: HashMap<Tuple, Vec<DirState>> = HashMap::new();
    let mut order: Vec<(Tuple, usize)> = Vec::new();
    for_each_packet(&data, |linktype, pkt| {
        if let Some((t, flags, seq, payload)) = decode_link(linktype, pkt) {
            let gens = conns.entry(t).or_default();
            let syn = flags & 0x02 != 0;
            let need_new = match gens.last() {
                None => true,
                Some(g) => syn && g.isn_next.is_some_and(|n| n != seq.wrapping_add(1)),
            };
            if need_new {
                gens.push(DirState::default());
                order.push((t, gens.len() - 1));
            }
            let Some(g) = gens.last_mut() else { return };
            if syn {
                g.isn_next = Some(seq.wrapping_add(1));
            }
            if !payload.is_empty() {
                let seq = if syn { seq.wrapping_add(1) } else { seq };
                g.segs.push(Seg {
                    seq,
                    data: payload.to_vec(),
                });
            }
        }
    });
    let mut out = Vec::new();
    for (t, gi) in order {
        let Some(g) = conns.get_mut(&t).and_then(|v| v.get_mut(gi)) else {
            continue;
        };
        let bytes = reassemble(g);
        out.push(Direction {
            tuple: t,
            generation: gi,
            bytes,
        });
    }
    out
}

fn reassemble(g: &mut DirState) -> Vec<u8> {
    let Some(first) = g.segs.first() else {
        return Vec::new();
    };
    let base = g.isn_next.unwrap_or(first.seq);
    // Signed distance from the base copes with wrap-around and with segments captured out of order.
    let mut segs: Vec<(i64, &[u8])> = g
        .segs
        .iter()
        .map(|s| {
            (
                i64::from(s.seq.wrapping_sub(base) as i32),
                s.data.as_slice(),
            )
        })
        .collect();
    segs.sort_by_key(|s| s.0);
    let start = if g.isn_next.is_some() {
        0
    } else {
        segs.first().map_or(0, |s| s.0)
    };
    let mut cursor = start;
    let mut out = Vec::new();
    for (off, d) in segs {
        if off > cursor {
            break; // hole
        }
        let end = off + d.len() as i64;
        if end <= cursor {
            continue; // retransmission
        }
        let skip = (cursor - off) as usize;
        out.extend_from_slice(&d[skip..]);
        cursor = end;
        if out.len() >= MAX_STREAM_BYTES {
            break;
        }
    }
    out
}

fn rd_u16(b: &[u8], off: usize, le: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(off..off + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

fn rd_u32(b: &[u8], off: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

/// Calls `f(linktype, frame)` for every captured frame of a pcap or pcapng file.
pub fn for_each_packet(d: &[u8], mut f: impl FnMut(u32, &[u8])) {
    let Some(magic) = rd_u32(d, 0, true) else {
        return;
    };
    match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
            let le = matches!(magic, 0xa1b2_c3d4 | 0xa1b2_3c4d);
            let Some(linktype) = rd_u32(d, 20, le) else {
                return;
            };
            let mut off = 24usize;
            while let Some(incl) = rd_u32(d, off + 8, le) {
                let Some(pkt) = d.get(off + 16..off + 16 + incl as usize) else {
                    return;
                };
                f(linktype & 0x0fff_ffff, pkt);
                off += 16 + incl as usize;
            }
        }
        0x0a0d_0d0a => {
            let mut off = 0usize;
            let mut le = true;
            let mut ifaces: Vec<u32> = Vec::new();
            loop {
                let Some(bom) = (if rd_u32(d, off, true) == Some(0x0a0d_0d0a) {
                    rd_u32(d, off + 8, true)
                } else {
                    Some(0)
                }) else {
                    return;
                };
                if rd_u32(d, off, true) == Some(0x0a0d_0d0a) {
                    le = bom == 0x1a2b_3c4d;
                    ifaces.clear();
                }
                let (Some(ty), Some(len)) = (rd_u32(d, off, le), rd_u32(d, off + 4, le)) else {
                    return;
                };
                let len = len as usize;
                if len < 12 {
                    return;
                }
                let Some(block) = d.get(off..off + len) else {
                    return;
                };
                match ty {
                    1 => ifaces.push(u32::from(rd_u16(block, 8, le).unwrap_or(0))),
                    6 => {
                        if let (Some(ifc), Some(cap)) =
                            (rd_u32(block, 8, le), rd_u32(block, 20, le))
                        {
                            if let (Some(lt), Some(pkt)) =
                                (ifaces.get(ifc as usize), block.get(28..28 + cap as usize))
                            {
                                f(*lt, pkt);
                            }
                        }
                    }
                    3 => {
                        if let (Some(lt), Some(orig)) = (ifaces.first(), rd_u32(block, 8, le)) {
                            let cap = (orig as usize).min(len.saturating_sub(16));
                            if let Some(pkt) = block.get(12..12 + cap) {
                                f(*lt, pkt);
                            }
                        }
                    }
                    _ => {}
                }
                off += len;
            }
        }
        _ => {}
    }
}

type TcpSeg<'a> = (Tuple, u8, u32, &'a [u8]);

fn decode_link(linktype: u32, pkt: &[u8]) -> Option<TcpSeg<'_>> {
    match linktype {
        1 => decode_ether(pkt),
        0 => {
            // BSD loopback: 4-byte address family in host order.
            let fam = rd_u32(pkt, 0, true)?;
            let fam = if fam > 0xffff { fam.swap_bytes() } else { fam };
            match fam {
                2 => decode_ipv4(pkt.get(4..)?),
                24 | 28 | 30 => decode_ipv6(pkt.get(4..)?),
                _ => None,
            }
        }
        101 | 12 | 14 => decode_ip(pkt),
        228 => decode_ipv4(pkt),
        229 => decode_ipv6(pkt),
        _ => None,
    }
}

fn decode_ether(pkt: &[u8]) -> Option<TcpSeg<'_>> {
    let mut off = 12usize;
    let mut et = rd_u16(pkt, off, false)?;
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
        off += 4;
        et = rd_u16(pkt, off, false)?;
    }
    let rest = pkt.get(off + 2..)?;
    match et {
        0x0800 => decode_ipv4(rest),
        0x86dd => decode_ipv6(rest),
        _ => None,
    }
}

fn decode_ip(b: &[u8]) -> Option<TcpSeg<'_>> {
    match b.first()? >> 4 {
        4 => decode_ipv4(b),
        6 => decode_ipv6(b),
        _ => None,
    }
}

fn decode_ipv4(b: &[u8]) -> Option<TcpSeg<'_>> {
    let ihl = usize::from(b.first()? & 0x0f) * 4;
    let total = usize::from(rd_u16(b, 2, false)?);
    let frag = rd_u16(b, 6, false)?;
    if frag & 0x3fff != 0 {
        return None; // fragments are not reassembled here
    }
    let proto = *b.get(9)?;
    let src: [u8; 4] = b.get(12..16)?.try_into().ok()?;
    let dst: [u8; 4] = b.get(16..20)?.try_into().ok()?;
    let payload = b.get(ihl..total.min(b.len()))?;
    decode_l4(proto, IpAddr::from(src), IpAddr::from(dst), payload)
}

fn decode_ipv6(b: &[u8]) -> Option<TcpSeg<'_>> {
    let plen = usize::from(rd_u16(b, 4, false)?);
    let mut nh = *b.get(6)?;
    let src: [u8; 16] = b.get(8..24)?.try_into().ok()?;
    let dst: [u8; 16] = b.get(24..40)?.try_into().ok()?;
    let mut p = b.get(40..(40 + plen).min(b.len()))?;
    loop {
        match nh {
            0 | 43 | 60 => {
                let l = (usize::from(*p.get(1)?) + 1) * 8;
                nh = *p.first()?;
                p = p.get(l..)?;
            }
            51 => {
                let l = (usize::from(*p.get(1)?) + 2) * 4;
                nh = *p.first()?;
                p = p.get(l..)?;
            }
            44 => {
                if rd_u16(p, 2, false)? & 0xfff9 != 0 {
                    return None;
                }
                nh = *p.first()?;
                p = p.get(8..)?;
            }
            _ => break,
        }
    }
    decode_l4(nh, IpAddr::from(src), IpAddr::from(dst), p)
}

fn decode_l4<'a>(proto: u8, src: IpAddr, dst: IpAddr, p: &'a [u8]) -> Option<TcpSeg<'a>> {
    match proto {
        6 => {
            let sport = rd_u16(p, 0, false)?;
            let dport = rd_u16(p, 2, false)?;
            let seq = rd_u32(p, 4, false)?;
            let doff = usize::from(p.get(12)? >> 4) * 4;
            let flags = *p.get(13)?;
            Some((
                Tuple {
                    src,
                    sport,
                    dst,
                    dport,
                },
                flags,
                seq,
                p.get(doff..)?,
            ))
        }
        4 => decode_ipv4(p),
        41 => decode_ipv6(p),
        47 => {
            // GRE (RFC 2784/2890): optional checksum, key, sequence words.
            let flags = rd_u16(p, 0, false)?;
            let proto = rd_u16(p, 2, false)?;
            let mut off = 4;
            for bit in [0x8000u16, 0x2000, 0x1000] {
                if flags & bit != 0 {
                    off += 4;
                }
            }
            let inner = p.get(off..)?;
            match proto {
                0x0800 => decode_ipv4(inner),
                0x86dd => decode_ipv6(inner),
                0x6558 => decode_ether(inner),
                _ => None,
            }
        }
        _ => None,
    }
}
