//! IP fragments that never complete, IPv4 (RFC 791) then IPv6 (RFC 8200 §4.5 fragment header).
//! No first (offset 0) and no last (MF clear) fragment is ever sent, so nothing reassembles.
//!
//! Per family, four phases, each within [`PHASE_SPAN_US`] of packet time and separated by
//! [`PHASE_GAP_US`], so a sensor whose fragment timeout lies between the two has dropped every
//! datagram of one phase before the next begins, and the phases do not interact:
//!
//! 1. `open`: 8 000 x scale datagrams from one address pair, one 8-byte fragment each at
//!    offset 8: pushes the count of datagrams in progress.
//! 2. `far`: 8 000 x scale datagrams from a second pair, one 8-byte fragment each at offset
//!    [`FAR_OFFSET`]: a reassembler that buffers by offset holds [`FAR_END`] bytes for 8 on the
//!    wire, so these push the byte bound (unbounded, they would take 512 MiB per scale unit).
//! 3. `same`: 300 8-byte fragments of one datagram at offsets 8, 16, ..., 2400.
//! 4. `spray`: 1 000 datagrams from random sources, one 8-byte fragment each.
//!
//! Phases 1-3 come from one address pair each, so one sensor worker sees all of a phase
//! whatever its flow hash; the spray is spread over workers.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{FloodConfig, Out};
use crate::wire;

/// Offset of every `far` fragment: the last multiple of 8 whose 8 bytes still fit in a 65535-byte
/// IPv4 datagram (20-byte header) and an IPv6 payload.
pub const FAR_OFFSET: u32 = 65_496;
/// End of a `far` fragment's data.
pub const FAR_END: u32 = FAR_OFFSET + FRAG_DATA as u32;
/// Packet time one phase takes.
pub const PHASE_SPAN_US: u64 = 2_000_000;
/// Packet time between the end of one phase and the start of the next.
pub const PHASE_GAP_US: u64 = 60_000_000;
/// Data bytes of every fragment.
const FRAG_DATA: usize = 8;
/// Fragments of the `same` phase.
const SAME: u64 = 300;
/// Datagrams of the `spray` phase.
const SPRAY: u64 = 1_000;

/// What one family's phases wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FragPhases {
    /// Datagrams of phase 1 (one fragment each, at offset 8, from one address pair).
    pub open: u64,
    /// Datagrams of phase 2 (one fragment each, ending at [`FAR_END`], from one pair).
    pub far: u64,
    /// Fragments of the one datagram of phase 3 (distinct offsets, none first or last).
    pub same: u64,
    /// Datagrams of phase 4 (one fragment each, random sources).
    pub spray: u64,
}

impl FragPhases {
    pub fn fragments(&self) -> u64 {
        self.open + self.far + self.same + self.spray
    }
}

/// What [`write`] wrote: IPv4 phases, then IPv6 phases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FragFacts {
    pub v4: FragPhases,
    pub v6: FragPhases,
}

impl FragFacts {
    pub fn fragments(&self) -> u64 {
        self.v4.fragments() + self.v6.fragments()
    }
}

pub(crate) fn write<W: Write>(out: &mut Out<W>, cfg: &FloodConfig) -> io::Result<FragFacts> {
    let mut rng = super::rng(cfg, 0xf4a9);
    let n = u64::from(cfg.scale);
    let mut facts = FragFacts::default();
    let mut frame = Vec::with_capacity(128);
    for v6 in [false, true] {
        let ph = FragPhases {
            open: 8_000 * n,
            far: 8_000 * n,
            same: SAME,
            spray: SPRAY,
        };
        let pair = |k: u8| (addr(v6, [10, 66, k, 1]), addr(v6, [10, 77, k, 1]));
        let phases: [(u64, (IpAddr, IpAddr)); 4] = [
            (ph.open, pair(1)),
            (ph.far, pair(2)),
            (ph.same, pair(3)),
            (ph.spray, pair(4)),
        ];
        for (phase, (count, (src, dst))) in phases.into_iter().enumerate() {
            let step = PHASE_SPAN_US / count.max(1);
            for i in 0..count {
                let (src, id, offset) = match phase {
                    0 => (src, i as u32, 8),
                    1 => (src, i as u32, FAR_OFFSET),
                    2 => (src, 7, 8 * (i as u32 + 1)),
                    _ => {
                        let r = rng.next_u64();
                        // 10.128.0.0/9 or fd66::/16: never one of the fixed pairs.
                        let a = [10, 128 | (r as u8 & 0x7f), (r >> 8) as u8, (r >> 16) as u8];
                        (addr(v6, a), (r >> 32) as u32, 8)
                    }
                };
                // IPv4 identifications are 16 bits: up to scale 8 every datagram of a phase
                // has its own; larger scales reuse ids (a datagram then gains a fragment).
                let payload = [(i & 0xff) as u8; FRAG_DATA];
                fragment(&mut frame, src, dst, id, offset, &payload);
                out.raw(&frame)?;
                out.tick(step);
            }
            out.tick(PHASE_GAP_US);
        }
        if v6 {
            facts.v6 = ph;
        } else {
            facts.v4 = ph;
        }
    }
    Ok(facts)
}

fn addr(v6: bool, a: [u8; 4]) -> IpAddr {
    if v6 {
        let mut o = [0u8; 16];
        o[0] = 0xfd;
        o[1] = 0x66;
        o[12..].copy_from_slice(&a);
        IpAddr::V6(Ipv6Addr::from(o))
    } else {
        IpAddr::V4(Ipv4Addr::from(a))
    }
}

/// Ethernet + IPv4 with MF set, or Ethernet + IPv6 + fragment header with M set; UDP inside.
fn fragment(buf: &mut Vec<u8>, src: IpAddr, dst: IpAddr, id: u32, offset: u32, data: &[u8]) {
    buf.clear();
    buf.extend_from_slice(&super::LINK.dst);
    buf.extend_from_slice(&super::LINK.src);
    let frag_field = |flag: u16| ((offset / 8) as u16) << 3 | flag;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            buf.extend_from_slice(&wire::ETHERTYPE_IPV4.to_be_bytes());
            let ip = buf.len();
            let total = (20 + data.len()) as u16;
            buf.extend_from_slice(&[0x45, 0]);
            buf.extend_from_slice(&total.to_be_bytes());
            buf.extend_from_slice(&(id as u16).to_be_bytes());
            // MF (0x2000) and the offset in 8-byte units.
            buf.extend_from_slice(&(0x2000 | (offset / 8) as u16).to_be_bytes());
            buf.extend_from_slice(&[64, wire::PROTO_UDP, 0, 0]);
            buf.extend_from_slice(&s.octets());
            buf.extend_from_slice(&d.octets());
            let c = wire::checksum(&[buf.get(ip..).unwrap_or(&[])]);
            if let Some(b) = buf.get_mut(ip + 10..ip + 12) {
                b.copy_from_slice(&c.to_be_bytes());
            }
        }
        _ => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            buf.extend_from_slice(&wire::ETHERTYPE_IPV6.to_be_bytes());
            let plen = (8 + data.len()) as u16;
            buf.extend_from_slice(&[0x60, 0, 0, 0]);
            buf.extend_from_slice(&plen.to_be_bytes());
            // Next header 44: fragment.
            buf.extend_from_slice(&[44, 64]);
            buf.extend_from_slice(&v6(src));
            buf.extend_from_slice(&v6(dst));
            // The offset in 8-byte units in the top 13 bits, M in bit 0.
            buf.extend_from_slice(&[wire::PROTO_UDP, 0]);
            buf.extend_from_slice(&frag_field(1).to_be_bytes());
            buf.extend_from_slice(&id.to_be_bytes());
        }
    }
    buf.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_fragment_layout() {
        let mut b = Vec::new();
        let (s, d) = (addr(false, [10, 0, 0, 1]), addr(false, [10, 0, 0, 2]));
        fragment(&mut b, s, d, 0x1234, FAR_OFFSET, &[9; 8]);
        assert_eq!(b.len(), 14 + 20 + 8);
        assert_eq!(&b[16..18], &28u16.to_be_bytes());
        assert_eq!(&b[18..20], &[0x12, 0x34]);
        // MF and offset 65496 / 8 = 8187.
        assert_eq!(u16::from_be_bytes([b[20], b[21]]), 0x2000 | 8187);
        assert_eq!(wire::checksum(&[&b[14..34]]), 0, "header checksum verifies");
    }

    #[test]
    fn ipv6_fragment_layout() {
        let mut b = Vec::new();
        let (s, d) = (addr(true, [10, 0, 0, 1]), addr(true, [10, 0, 0, 2]));
        fragment(&mut b, s, d, 0xdead_beef, 8, &[9; 8]);
        assert_eq!(b.len(), 14 + 40 + 8 + 8);
        assert_eq!(&b[18..20], &16u16.to_be_bytes());
        assert_eq!(b[20], 44);
        // Offset 1 (8 bytes) and M.
        assert_eq!(u16::from_be_bytes([b[56], b[57]]), (1 << 3) | 1);
        assert_eq!(&b[58..62], &[0xde, 0xad, 0xbe, 0xef]);
    }
}
