//! Test-only helpers: locate ../shared, read classic pcap files, decode just enough of
//! Ethernet / 802.1Q / IPv4 / IPv6 / GRE / TCP to feed the reassembler. Not production code:
//! it reads trusted fixtures, but still never panics on short input (it returns None).

#![allow(dead_code)] // each test binary uses a different subset

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// `../shared/testdata` relative to this crate, or None (after printing one skip line).
pub fn testdata(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("{test}: skipped, {} is absent", dir.display());
        None
    }
}

/// Frames of a classic pcap file (either byte order, µs or ns timestamps), with its linktype.
pub fn read_pcap(bytes: &[u8]) -> Option<(u32, Vec<&[u8]>)> {
    let magic = bytes.get(..4)?;
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return None,
    };
    let u32_at = |off: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(off..off + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let linktype = u32_at(20)?;
    let mut frames = Vec::new();
    let mut off = 24;
    while off < bytes.len() {
        let caplen = usize::try_from(u32_at(off + 8)?).ok()?;
        frames.push(bytes.get(off + 16..off + 16 + caplen)?);
        off += 16 + caplen;
    }
    Some((linktype, frames))
}

/// Innermost IP header's view of a packet.
pub struct Ip<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// The IP payload (transport header onwards), cut to the IP length.
    pub payload: &'a [u8],
}

/// Decodes an Ethernet frame down to the innermost IP header (through 802.1Q tags and GRE).
pub fn decode_ethernet(frame: &[u8]) -> Option<Ip<'_>> {
    let mut ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    let mut rest = frame.get(14..)?;
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = u16::from_be_bytes(rest.get(2..4)?.try_into().ok()?);
        rest = rest.get(4..)?;
    }
    decode_ip(ethertype, rest)
}

fn decode_ip(ethertype: u16, data: &[u8]) -> Option<Ip<'_>> {
    let ip = match ethertype {
        0x0800 => {
            let ihl = usize::from(data.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes(data.get(2..4)?.try_into().ok()?));
            let src: [u8; 4] = data.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = data.get(16..20)?.try_into().ok()?;
            Ip {
                src: Ipv4Addr::from(src).into(),
                dst: Ipv4Addr::from(dst).into(),
                proto: *data.get(9)?,
                payload: data.get(ihl..total)?,
            }
        }
        0x86dd => {
            // No extension headers appear in the fixtures used here.
            let plen = usize::from(u16::from_be_bytes(data.get(4..6)?.try_into().ok()?));
            let src: [u8; 16] = data.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = data.get(24..40)?.try_into().ok()?;
            Ip {
                src: Ipv6Addr::from(src).into(),
                dst: Ipv6Addr::from(dst).into(),
                proto: *data.get(6)?,
                payload: data.get(40..40 + plen)?,
            }
        }
        _ => return None,
    };
    if ip.proto == 47 {
        // GRE (RFC 2784 / RFC 2890): 4-byte base header, then optional checksum, key, sequence.
        let flags = *ip.payload.first()?;
        let proto = u16::from_be_bytes(ip.payload.get(2..4)?.try_into().ok()?);
        let mut hlen = 4;
        for bit in [0x80u8, 0x20, 0x10] {
            if flags & bit != 0 {
                hlen += 4;
            }
        }
        return decode_ip(proto, ip.payload.get(hlen..)?);
    }
    Some(ip)
}

/// TCP header fields the reassembler needs.
pub struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    /// Low byte of the flags: FIN=1 SYN=2 RST=4 PSH=8 ACK=16.
    pub flags: u8,
    pub payload: &'a [u8],
}

pub fn decode_tcp(l4: &[u8]) -> Option<Tcp<'_>> {
    let doff = usize::from(l4.get(12)? >> 4) * 4;
    Some(Tcp {
        sport: u16::from_be_bytes(l4.get(0..2)?.try_into().ok()?),
        dport: u16::from_be_bytes(l4.get(2..4)?.try_into().ok()?),
        seq: u32::from_be_bytes(l4.get(4..8)?.try_into().ok()?),
        flags: *l4.get(13)?,
        payload: l4.get(doff..)?,
    })
}
