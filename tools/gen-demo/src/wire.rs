//! Frame builder: Ethernet II (optionally one IEEE 802.1Q tag), IPv4 (RFC 791) or IPv6
//! (RFC 8200), then TCP (RFC 9293), UDP (RFC 768), ICMP echo (RFC 792) or ICMPv6 echo
//! (RFC 4443). Lengths and checksums (RFC 1071 one's-complement sum, with the pseudo-headers
//! of RFC 9293 §3.1 / RFC 768 / RFC 8200 §8.1) are filled in after the payload is appended, so
//! callers can stream a payload straight into the reused frame buffer.

use std::net::IpAddr;

/// EtherType values (IEEE 802 numbers registry).
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// IP protocol numbers (IANA).
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// TCP flag bits (RFC 9293 §3.1).
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// Options of a Linux-like SYN: MSS 1460, NOP, NOP, SACK-permitted, NOP, window scale 7.
/// 12 bytes, so the data offset stays a whole number of 32-bit words.
pub const SYN_OPTIONS_V4: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7];
/// Same for IPv6, where the MSS is 1440 (1500 - 40 - 20).
pub const SYN_OPTIONS_V6: [u8; 12] = [2, 4, 0x05, 0xa0, 1, 1, 4, 2, 1, 3, 3, 7];

/// Largest frame the generator writes (Ethernet + VLAN + IPv6 + TCP with options + MSS);
/// payloads are always cut to the MSS before they reach here.
pub const MAX_FRAME: usize = 14 + 4 + 40 + 60 + 1460;

/// Layer-2 addressing of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2 {
    pub src: [u8; 6],
    pub dst: [u8; 6],
    /// 802.1Q VLAN id (12 bits); `None` for an untagged frame.
    pub vlan: Option<u16>,
}

impl L2 {
    /// The same link seen in the other direction.
    pub fn reversed(self) -> Self {
        L2 {
            src: self.dst,
            dst: self.src,
            vlan: self.vlan,
        }
    }
}

/// Transport header of one frame.
#[derive(Clone, Copy, Debug)]
pub enum L4<'a> {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        /// Already padded to a multiple of 4 bytes, at most 40.
        options: &'a [u8],
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// ICMP (IPv4) or ICMPv6 echo; the protocol follows the address family.
    Echo {
        reply: bool,
        ident: u16,
        seq: u16,
    },
}

/// Everything below the payload of one frame.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    pub l2: L2,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// IPv4 identification; ignored for IPv6.
    pub ip_id: u16,
    pub l4: L4<'a>,
}

/// Builds `hdr` followed by whatever `payload` appends into `buf` (cleared first).
///
/// Mixed address families (`src` v4, `dst` v6) are a caller bug; the destination family wins
/// and the source is mapped, so the output is still a well-formed frame.
pub fn build_frame(buf: &mut Vec<u8>, hdr: &Header<'_>, payload: impl FnOnce(&mut Vec<u8>)) {
    buf.clear();
    buf.extend_from_slice(&hdr.l2.dst);
    buf.extend_from_slice(&hdr.l2.src);
    let v6 = hdr.dst.is_ipv6();
    let ethertype = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
    if let Some(vid) = hdr.l2.vlan {
        buf.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        // PCP 0, DEI 0, 12-bit VID.
        buf.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    }
    buf.extend_from_slice(&ethertype.to_be_bytes());

    let ip_start = buf.len();
    let proto = match hdr.l4 {
        L4::Tcp { .. } => PROTO_TCP,
        L4::Udp { .. } => PROTO_UDP,
        L4::Echo { .. } if v6 => PROTO_ICMPV6,
        L4::Echo { .. } => PROTO_ICMP,
    };
    let (src16, dst16) = (v6_bytes(hdr.src), v6_bytes(hdr.dst));
    let (src4, dst4) = (v4_bytes(hdr.src), v4_bytes(hdr.dst));
    if v6 {
        // Version 6, traffic class 0, flow label 0; payload length patched below.
        buf.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, proto, hdr.ttl]);
        buf.extend_from_slice(&src16);
        buf.extend_from_slice(&dst16);
    } else {
        // IHL 5, DSCP 0, total length patched below, DF set (as Linux does for TCP/UDP).
        buf.extend_from_slice(&[0x45, 0, 0, 0]);
        buf.extend_from_slice(&hdr.ip_id.to_be_bytes());
        buf.extend_from_slice(&[0x40, 0, hdr.ttl, proto, 0, 0]);
        buf.extend_from_slice(&src4);
        buf.extend_from_slice(&dst4);
    }
    let l4_start = buf.len();
    let csum_at = match hdr.l4 {
        L4::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            options,
        } => {
            let opt_len = options.len().min(40) & !3;
            buf.extend_from_slice(&sport.to_be_bytes());
            buf.extend_from_slice(&dport.to_be_bytes());
            buf.extend_from_slice(&seq.to_be_bytes());
            buf.extend_from_slice(&ack.to_be_bytes());
            // opt_len <= 40, so the offset fits in the high nibble.
            let doff = ((20 + opt_len) / 4) as u8;
            buf.extend_from_slice(&[doff << 4, flags]);
            buf.extend_from_slice(&window.to_be_bytes());
            buf.extend_from_slice(&[0, 0, 0, 0]);
            buf.extend_from_slice(options.get(..opt_len).unwrap_or(&[]));
            l4_start + 16
        }
        L4::Udp { sport, dport } => {
            buf.extend_from_slice(&sport.to_be_bytes());
            buf.extend_from_slice(&dport.to_be_bytes());
            buf.extend_from_slice(&[0, 0, 0, 0]);
            l4_start + 6
        }
        L4::Echo { reply, ident, seq } => {
            // ICMP echo 8/0, ICMPv6 echo 128/129.
            let typ = match (v6, reply) {
                (false, false) => 8,
                (false, true) => 0,
                (true, false) => 128,
                (true, true) => 129,
            };
            buf.extend_from_slice(&[typ, 0, 0, 0]);
            buf.extend_from_slice(&ident.to_be_bytes());
            buf.extend_from_slice(&seq.to_be_bytes());
            l4_start + 2
        }
    };
    payload(buf);

    let l4_len = buf.len() - l4_start;
    // Frames are capped at MAX_FRAME by the callers, so these lengths fit in u16.
    let l4_len16 = u16::try_from(l4_len).unwrap_or(u16::MAX);
    if v6 {
        put16(buf, ip_start + 4, l4_len16);
    } else {
        let total = u16::try_from(l4_len + 20).unwrap_or(u16::MAX);
        put16(buf, ip_start + 2, total);
        let c = checksum(&[buf.get(ip_start..l4_start).unwrap_or(&[])]);
        put16(buf, ip_start + 10, c);
    }
    if let L4::Udp { .. } = hdr.l4 {
        put16(buf, l4_start + 4, l4_len16);
    }
    let l4 = buf.get(l4_start..).unwrap_or(&[]);
    let c = match (proto, v6) {
        (PROTO_ICMP, _) => checksum(&[l4]),
        (_, true) => {
            let mut ph = [0u8; 40];
            ph[..16].copy_from_slice(&src16);
            ph[16..32].copy_from_slice(&dst16);
            ph[32..36].copy_from_slice(&(l4_len as u32).to_be_bytes());
            ph[39] = proto;
            checksum(&[&ph, l4])
        }
        (_, false) => {
            let mut ph = [0u8; 12];
            ph[..4].copy_from_slice(&src4);
            ph[4..8].copy_from_slice(&dst4);
            ph[9] = proto;
            ph[10..12].copy_from_slice(&l4_len16.to_be_bytes());
            checksum(&[&ph, l4])
        }
    };
    // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none").
    let c = if proto == PROTO_UDP && c == 0 {
        0xffff
    } else {
        c
    };
    put16(buf, csum_at, c);
}

/// Grows the IP length fields of a frame built by [`build_frame`] (without payload) by
/// `claimed` payload bytes that are not in `buf`, and returns the frame's length on the wire.
/// The IPv4 header checksum is recomputed; the transport checksum is left as it is (a
/// truncated capture cannot verify it anyway). `claimed` is capped so lengths fit.
pub fn claim_payload(buf: &mut [u8], hdr: &Header<'_>, claimed: usize) -> usize {
    let ip_start = 14 + if hdr.l2.vlan.is_some() { 4 } else { 0 };
    let v6 = hdr.dst.is_ipv6();
    let field = if v6 { ip_start + 4 } else { ip_start + 2 };
    let Some(cur) = buf
        .get(field..field + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        return buf.len();
    };
    let claimed = claimed.min(usize::from(u16::MAX) - cur);
    put16(buf, field, (cur + claimed) as u16);
    if !v6 {
        put16(buf, ip_start + 10, 0);
        let c = checksum(&[buf.get(ip_start..ip_start + 20).unwrap_or(&[])]);
        put16(buf, ip_start + 10, c);
    }
    if let L4::Udp { .. } = hdr.l4 {
        let l4_start = ip_start + if v6 { 40 } else { 20 };
        if let Some(b) = buf.get(l4_start + 4..l4_start + 6) {
            let ul = usize::from(u16::from_be_bytes([b[0], b[1]]));
            put16(
                buf,
                l4_start + 4,
                (ul + claimed).min(usize::from(u16::MAX)) as u16,
            );
        }
    }
    buf.len() + claimed
}

fn put16(buf: &mut [u8], at: usize, v: u16) {
    if let Some(s) = buf.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

fn v4_bytes(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => a.to_ipv4_mapped().map(|a| a.octets()).unwrap_or([0; 4]),
    }
}

fn v6_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// RFC 1071 Internet checksum over the concatenation of `parts`. Every part but the last must
/// have even length (true for the pseudo-headers used here).
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            // Summing 16-bit words in a wide accumulator; 8 bytes at a time for speed on
            // bench captures (one's-complement addition is associative).
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            let v = u64::from_be_bytes(w);
            sum += (v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff);
        }
        let mut rest = chunks.remainder().chunks_exact(2);
        for c in &mut rest {
            sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = rest.remainder() {
            sum += u64::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3 worked example: words 0001 f203 f4f5 f6f7 sum to ddf2, checksum !ddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&[&data]), !0xddf2);
        assert_eq!(checksum(&[&data[..2], &data[2..]]), !0xddf2);
    }

    /// The IPv4 header example used by Wikipedia's "IPv4 header checksum" article
    /// (4500 0073 0000 4000 4011 .... c0a8 0001 c0a8 00c7) has checksum b861.
    #[test]
    fn ipv4_header_example() {
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&[&h]), 0xb861);
    }
}
