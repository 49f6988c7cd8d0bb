//! The frame decoder: link layer -> VLAN/MPLS/PPPoE -> IP -> tunnels -> TCP/UDP/ICMP.
//!
//! Every layer reads through `get()`; a header cut short is a [`DecodeError`](crate::DecodeError), a payload cut
//! short is [`Packet::truncated`](crate::Packet::truncated). Layers are counted ([`MAX_LAYERS`]) so that no frame can
//! recurse deeply, and tunnels are bounded by [`MAX_TUNNELS`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{
    DecodeError as E, Decoded, Fragment, LinkType, Packet, QuotedFlow, Reassembled, TcpInfo,
    TunnelKind, TunnelLayer, Tunnels, Vlans, L4, MAX_IPV6_EXT_HEADERS, MAX_LAYERS,
};

type Res<'a> = Result<Decoded<'a>, E>;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS_UC: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const GRE_TEB: u16 = 0x6558;
const GRE_ERSPAN_II: u16 = 0x88be;
const GRE_ERSPAN_III: u16 = 0x22eb;
const GRE_PPP: u16 = 0x880b;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
/// Ethertype values below this are IEEE 802.3 lengths (IEEE 802.3 clause 3.2.6).
const ETH_MIN_TYPE: u16 = 0x0600;
/// Linux `ARPHRD_NETLINK`: SLL frames of nlmon captures, never IP.
const ARPHRD_NETLINK: u16 = 824;
const UDP_VXLAN: u16 = 4789;
const UDP_GENEVE: u16 = 6081;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_SCTP: u8 = 132;

/// Decodes one captured frame of link type `link`.
///
/// # Errors
/// A [`DecodeError`](crate::DecodeError) naming the first header that is cut short or invalid.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, E> {
    let mut ctx = Ctx::default();
    decode_link(link, frame, &mut ctx)
}

/// Decodes a datagram rebuilt by the [`crate::Defragmenter`], from its IP header, with the
/// VLAN and tunnel context of its fragments restored (a tunnel inside is followed too).
///
/// # Errors
/// As [`decode`].
pub fn decode_reassembled(r: &Reassembled) -> Result<Decoded<'_>, E> {
    let mut ctx = Ctx {
        vlan: r.vlan,
        tunnels: r.tunnels,
        layers: 0,
    };
    ip_any(&r.data, &mut ctx, E::IpBadVersion)
}

#[derive(Default)]
struct Ctx {
    vlan: Vlans,
    tunnels: Tunnels,
    layers: u8,
}

impl Ctx {
    fn step(&mut self) -> Result<(), E> {
        self.layers = self.layers.saturating_add(1);
        if self.layers > MAX_LAYERS {
            Err(E::TooManyLayers)
        } else {
            Ok(())
        }
    }

    fn push_tunnel(&mut self, kind: TunnelKind, ip: &Ip) -> Result<(), E> {
        let layer = TunnelLayer {
            kind,
            src: ip.src,
            dst: ip.dst,
        };
        if self.tunnels.push(layer) {
            Ok(())
        } else {
            Err(E::TunnelTooDeep)
        }
    }
}

/// The innermost IP header seen so far.
#[derive(Clone, Copy)]
struct Ip {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
}

pub(crate) fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = d.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

pub(crate) fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = d.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

fn v4_addr(d: &[u8], at: usize) -> Option<IpAddr> {
    let b: [u8; 4] = d.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(b)))
}

fn v6_addr(d: &[u8], at: usize) -> Option<IpAddr> {
    let b: [u8; 16] = d.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(b)))
}

fn byte(d: &[u8], at: usize) -> Option<u8> {
    d.get(at).copied()
}

fn decode_link<'a>(link: LinkType, f: &'a [u8], ctx: &mut Ctx) -> Res<'a> {
    ctx.step()?;
    match link {
        LinkType::Ethernet => ethernet(f, ctx),
        LinkType::Raw => ip_any(f, ctx, E::IpBadVersion),
        LinkType::Ipv4 => ipv4(f, ctx),
        LinkType::Ipv6 => ipv6(f, ctx),
        LinkType::LinuxSll => {
            // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html: 16-byte header,
            // protocol (ethertype) last.
            let arphrd = be16(f, 2).ok_or(E::SllTruncated)?;
            let proto = be16(f, 14).ok_or(E::SllTruncated)?;
            let rest = f.get(16..).ok_or(E::SllTruncated)?;
            if arphrd == ARPHRD_NETLINK {
                return Ok(Decoded::NotIp);
            }
            ethertype(proto, rest, ctx)
        }
        LinkType::LinuxSll2 => {
            // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html: 20-byte header,
            // protocol first, ARPHRD at 8.
            let proto = be16(f, 0).ok_or(E::SllTruncated)?;
            let arphrd = be16(f, 8).ok_or(E::SllTruncated)?;
            let rest = f.get(20..).ok_or(E::SllTruncated)?;
            if arphrd == ARPHRD_NETLINK {
                return Ok(Decoded::NotIp);
            }
            ethertype(proto, rest, ctx)
        }
        LinkType::Null | LinkType::Loop => {
            let b: [u8; 4] = f
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or(E::NullTruncated)?;
            // DLT_NULL is in the byte order of the capturing host, which the file does not
            // record; address families are small, so a zero high half means big-endian.
            let family = if link == LinkType::Loop || (b[0] == 0 && b[1] == 0) {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            };
            let rest = f.get(4..).ok_or(E::NullTruncated)?;
            match family {
                2 => ipv4(rest, ctx),
                // AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
                24 | 28 | 30 => ipv6(rest, ctx),
                _ => Ok(Decoded::NotIp),
            }
        }
    }
}

fn ethernet<'a>(f: &'a [u8], ctx: &mut Ctx) -> Res<'a> {
    ctx.step()?;
    let et = be16(f, 12).ok_or(E::EthernetTruncated)?;
    let rest = f.get(14..).ok_or(E::EthernetTruncated)?;
    ethertype(et, rest, ctx)
}

fn ethertype<'a>(mut et: u16, mut d: &'a [u8], ctx: &mut Ctx) -> Res<'a> {
    loop {
        ctx.step()?;
        match et {
            ETH_IPV4 => return ipv4(d, ctx),
            ETH_IPV6 => return ipv6(d, ctx),
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                let tci = be16(d, 0).ok_or(E::VlanTruncated)?;
                et = be16(d, 2).ok_or(E::VlanTruncated)?;
                d = d.get(4..).ok_or(E::VlanTruncated)?;
                if !ctx.vlan.push(tci & 0x0fff) {
                    return Err(E::VlanTooDeep);
                }
            }
            ETH_MPLS_UC | ETH_MPLS_MC => return mpls(d, ctx),
            ETH_PPPOE_SESSION => {
                // RFC 2516 section 4: ver/type, code, session id, length; then PPP.
                let len = usize::from(be16(d, 4).ok_or(E::PppoeTruncated)?);
                let body = d.get(6..).ok_or(E::PppoeTruncated)?;
                let body = body.get(..len).unwrap_or(body);
                let proto = be16(body, 0).ok_or(E::PppoeTruncated)?;
                let inner = body.get(2..).ok_or(E::PppoeTruncated)?;
                return match proto {
                    PPP_IPV4 => ipv4(inner, ctx),
                    PPP_IPV6 => ipv6(inner, ctx),
                    _ => Ok(Decoded::NotIp),
                };
            }
            // 802.3 length field (LLC/SNAP, STP...), ARP, LLDP, PPPoE discovery, anything else.
            _ => return Ok(Decoded::NotIp),
        }
        if et < ETH_MIN_TYPE {
            return Ok(Decoded::NotIp);
        }
    }
}

/// RFC 3032 label stack, then the payload guessed from its first nibble as every
/// implementation must (the stack does not say what it carries).
fn mpls<'a>(mut d: &'a [u8], ctx: &mut Ctx) -> Res<'a> {
    loop {
        let label = be32(d, 0).ok_or(E::MplsTruncated)?;
        d = d.get(4..).ok_or(E::MplsTruncated)?;
        if label & 0x100 != 0 {
            break;
        }
    }
    match byte(d, 0).ok_or(E::MplsTruncated)? >> 4 {
        4 => ipv4(d, ctx),
        6 => ipv6(d, ctx),
        // RFC 4385 pseudowire control word (first nibble 0), then an Ethernet frame.
        0 => ethernet(d.get(4..).ok_or(E::MplsTruncated)?, ctx),
        _ => Ok(Decoded::NotIp),
    }
}

fn ip_any<'a>(d: &'a [u8], ctx: &mut Ctx, bad: E) -> Res<'a> {
    match byte(d, 0).map(|b| b >> 4) {
        Some(4) => ipv4(d, ctx),
        Some(6) => ipv6(d, ctx),
        Some(_) => Err(bad),
        None => Err(E::Ipv4Truncated),
    }
}

fn ipv4<'a>(d: &'a [u8], ctx: &mut Ctx) -> Res<'a> {
    ctx.step()?;
    let vihl = byte(d, 0).ok_or(E::Ipv4Truncated)?;
    if vihl >> 4 != 4 {
        return Err(E::Ipv4BadVersion);
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < 20 {
        return Err(E::Ipv4BadHeaderLen);
    }
    let header = d.get(..ihl).ok_or(E::Ipv4Truncated)?;
    let total = usize::from(be16(header, 2).ok_or(E::Ipv4Truncated)?);
    // Total length 0: TSO-offloaded capture; Wireshark also falls back to the captured length.
    let total = if total == 0 { d.len() } else { total };
    if total < ihl {
        return Err(E::Ipv4BadTotalLen);
    }
    let body = d.get(ihl..total.min(d.len())).unwrap_or(&[]);
    let declared = total - ihl;
    let id = be16(header, 4).ok_or(E::Ipv4Truncated)?;
    let frag = be16(header, 6).ok_or(E::Ipv4Truncated)?;
    let ttl = byte(header, 8).ok_or(E::Ipv4Truncated)?;
    let proto = byte(header, 9).ok_or(E::Ipv4Truncated)?;
    let src = v4_addr(header, 12).ok_or(E::Ipv4Truncated)?;
    let dst = v4_addr(header, 16).ok_or(E::Ipv4Truncated)?;
    let more = frag & 0x2000 != 0;
    let offset = u32::from(frag & 0x1fff) * 8;
    if more || offset != 0 {
        return Ok(Decoded::Fragment(Fragment {
            vlan: ctx.vlan,
            tunnels: ctx.tunnels,
            ip_version: 4,
            src,
            dst,
            id: u32::from(id),
            proto,
            offset,
            more_fragments: more,
            header,
            next_header_offset: 9,
            payload: body,
            truncated: body.len() < declared,
        }));
    }
    l4(ctx, Ip { src, dst, ttl }, proto, body, declared)
}

fn ipv6<'a>(d: &'a [u8], ctx: &mut Ctx) -> Res<'a> {
    ctx.step()?;
    let v = byte(d, 0).ok_or(E::Ipv6Truncated)?;
    if v >> 4 != 6 {
        return Err(E::Ipv6BadVersion);
    }
    if d.len() < 40 {
        return Err(E::Ipv6Truncated);
    }
    let plen = usize::from(be16(d, 4).ok_or(E::Ipv6Truncated)?);
    let mut nh = byte(d, 6).ok_or(E::Ipv6Truncated)?;
    let ttl = byte(d, 7).ok_or(E::Ipv6Truncated)?;
    let src = v6_addr(d, 8).ok_or(E::Ipv6Truncated)?;
    let dst = v6_addr(d, 24).ok_or(E::Ipv6Truncated)?;
    // Payload length 0: jumbogram (RFC 2675) or TSO; use what was captured.
    let declared_total = if plen == 0 { d.len() } else { 40 + plen };
    let pkt = d.get(..declared_total.min(d.len())).unwrap_or(d);
    let ip = Ip { src, dst, ttl };
    let mut off = 40usize;
    let mut nh_off = 6usize;
    for _ in 0..=MAX_IPV6_EXT_HEADERS {
        let len = match nh {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6: RFC 8200 4.3-4.6
            // generic format, length in 8-octet units not counting the first 8.
            0 | 43 | 60 | 135 | 139 | 140 => {
                (usize::from(byte(pkt, off + 1).ok_or(E::Ipv6ExtTruncated)?) + 1) * 8
            }
            // AH: length in 4-octet units minus 2 (RFC 4302 2.2).
            51 => (usize::from(byte(pkt, off + 1).ok_or(E::Ipv6ExtTruncated)?) + 2) * 4,
            44 => {
                let fh = pkt.get(off..off + 8).ok_or(E::Ipv6ExtTruncated)?;
                let next = byte(fh, 0).ok_or(E::Ipv6ExtTruncated)?;
                let fo = be16(fh, 2).ok_or(E::Ipv6ExtTruncated)?;
                let id = be32(fh, 4).ok_or(E::Ipv6ExtTruncated)?;
                let offset = u32::from(fo & 0xfff8);
                let more = fo & 1 != 0;
                if offset == 0 && !more {
                    // Atomic fragment (RFC 6946): process as an unfragmented packet.
                    nh_off = off;
                    nh = next;
                    off += 8;
                    continue;
                }
                let body = pkt.get(off + 8..).unwrap_or(&[]);
                return Ok(Decoded::Fragment(Fragment {
                    vlan: ctx.vlan,
                    tunnels: ctx.tunnels,
                    ip_version: 6,
                    src,
                    dst,
                    id,
                    proto: next,
                    offset,
                    more_fragments: more,
                    header: pkt.get(..off).ok_or(E::Ipv6ExtTruncated)?,
                    next_header_offset: nh_off,
                    payload: body,
                    truncated: pkt.len() < declared_total,
                }));
            }
            59 => {
                return Ok(packet(ctx, ip, nh, L4::Other, &[], false));
            }
            _ => {
                let body = pkt.get(off..).unwrap_or(&[]);
                return l4(ctx, ip, nh, body, declared_total.saturating_sub(off));
            }
        };
        if pkt.len() < off + len {
            return Err(E::Ipv6ExtTruncated);
        }
        nh_off = off;
        nh = byte(pkt, off).ok_or(E::Ipv6ExtTruncated)?;
        off += len;
    }
    Err(E::Ipv6TooManyExtHeaders)
}

fn packet<'a>(
    ctx: &Ctx,
    ip: Ip,
    proto: u8,
    l4: L4,
    payload: &'a [u8],
    truncated: bool,
) -> Decoded<'a> {
    Decoded::Packet(Packet {
        vlan: ctx.vlan,
        tunnels: ctx.tunnels,
        src: ip.src,
        dst: ip.dst,
        ip_proto: proto,
        ttl: ip.ttl,
        l4,
        payload,
        truncated,
    })
}

/// `d`: the captured IP payload (trimmed to the IP length); `declared`: its length per the IP
/// header.
fn l4<'a>(ctx: &mut Ctx, ip: Ip, proto: u8, d: &'a [u8], declared: usize) -> Res<'a> {
    let truncated = d.len() < declared;
    match proto {
        IPPROTO_TCP => {
            if d.len() < 20 {
                return Err(E::TcpTruncated);
            }
            let doff = usize::from(byte(d, 12).ok_or(E::TcpTruncated)? >> 4) * 4;
            if doff < 20 || doff > declared {
                return Err(E::TcpBadHeaderLen);
            }
            let payload = d.get(doff..).ok_or(E::TcpTruncated)?;
            let t = TcpInfo {
                src_port: be16(d, 0).ok_or(E::TcpTruncated)?,
                dst_port: be16(d, 2).ok_or(E::TcpTruncated)?,
                seq: be32(d, 4).ok_or(E::TcpTruncated)?,
                ack: be32(d, 8).ok_or(E::TcpTruncated)?,
                flags: byte(d, 13).ok_or(E::TcpTruncated)?,
                window: be16(d, 14).ok_or(E::TcpTruncated)?,
            };
            Ok(packet(ctx, ip, proto, L4::Tcp(t), payload, truncated))
        }
        IPPROTO_UDP => udp(ctx, ip, d, declared),
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            let v6 = proto == IPPROTO_ICMPV6;
            let icmp_type = byte(d, 0).ok_or(E::IcmpTruncated)?;
            let code = byte(d, 1).ok_or(E::IcmpTruncated)?;
            if d.len() < 4 {
                return Err(E::IcmpTruncated);
            }
            let quoted = if v6 {
                quoted_icmpv6(icmp_type, d)
            } else if matches!(icmp_type, 3 | 4 | 5 | 11 | 12) {
                // RFC 792: unreachable, source quench, redirect, time exceeded, parameter
                // problem carry the IP header + 64 bits of the original datagram after 8 bytes.
                d.get(8..).and_then(quoted_ipv4)
            } else {
                None
            };
            let payload = d.get(8..).unwrap_or(&[]);
            let l4 = L4::Icmp {
                v6,
                icmp_type,
                code,
                quoted,
            };
            Ok(packet(ctx, ip, proto, l4, payload, truncated))
        }
        IPPROTO_IPIP => {
            ctx.push_tunnel(TunnelKind::IpInIp, &ip)?;
            ipv4(d, ctx)
        }
        IPPROTO_IPV6 => {
            ctx.push_tunnel(TunnelKind::IpInIp, &ip)?;
            ipv6(d, ctx)
        }
        IPPROTO_GRE => gre(ctx, ip, d, truncated),
        _ => Ok(packet(ctx, ip, proto, L4::Other, d, truncated)),
    }
}

fn udp<'a>(ctx: &mut Ctx, ip: Ip, d: &'a [u8], declared: usize) -> Res<'a> {
    let src_port = be16(d, 0).ok_or(E::UdpTruncated)?;
    let dst_port = be16(d, 2).ok_or(E::UdpTruncated)?;
    let ulen = usize::from(be16(d, 4).ok_or(E::UdpTruncated)?);
    if d.len() < 8 {
        return Err(E::UdpTruncated);
    }
    // Trust the UDP length only when it is consistent with the IP length; 0 is legal for
    // jumbograms (RFC 2675) and a bad value is an anomaly, not a reason to drop the packet.
    let end = if (8..=declared).contains(&ulen) {
        ulen
    } else {
        declared
    };
    let payload = d.get(8..end.min(d.len())).unwrap_or(&[]);
    let truncated = d.len() < end;
    if dst_port == UDP_VXLAN {
        // RFC 7348 5: flags with the I bit (0x08), 24 reserved bits, VNI, reserved.
        if let (Some(flags), Some(inner)) = (byte(payload, 0), payload.get(8..)) {
            if flags & 0x08 != 0 {
                ctx.push_tunnel(TunnelKind::Vxlan, &ip)?;
                return ethernet(inner, ctx);
            }
        }
    } else if dst_port == UDP_GENEVE {
        // RFC 8926 3.4: version (2 bits, 0) and option length in 4-byte units, protocol type.
        if let (Some(b0), Some(proto)) = (byte(payload, 0), be16(payload, 2)) {
            if b0 >> 6 == 0 && matches!(proto, GRE_TEB | ETH_IPV4 | ETH_IPV6) {
                ctx.push_tunnel(TunnelKind::Geneve, &ip)?;
                let hl = 8 + usize::from(b0 & 0x3f) * 4;
                let inner = payload.get(hl..).ok_or(E::GeneveTruncated)?;
                return match proto {
                    GRE_TEB => ethernet(inner, ctx),
                    ETH_IPV4 => ipv4(inner, ctx),
                    _ => ipv6(inner, ctx),
                };
            }
        }
    }
    let l4 = L4::Udp { src_port, dst_port };
    Ok(packet(ctx, ip, IPPROTO_UDP, l4, payload, truncated))
}

fn gre<'a>(ctx: &mut Ctx, ip: Ip, d: &'a [u8], truncated: bool) -> Res<'a> {
    let flags = be16(d, 0).ok_or(E::GreTruncated)?;
    let proto = be16(d, 2).ok_or(E::GreTruncated)?;
    let (c, r, k, s) = (
        flags & 0x8000 != 0,
        flags & 0x4000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    let other = |ctx: &Ctx| Ok(packet(ctx, ip, IPPROTO_GRE, L4::Other, d, truncated));
    match flags & 0x7 {
        0 => {
            // RFC 1701 source routing is deprecated (RFC 2784) and its variable part is not
            // followed: keep the outer packet.
            if r {
                return other(ctx);
            }
            let hl = 4 + 4 * (usize::from(c) + usize::from(k) + usize::from(s));
            let inner = d.get(hl..).ok_or(E::GreTruncated)?;
            match proto {
                ETH_IPV4 => {
                    ctx.push_tunnel(TunnelKind::Gre, &ip)?;
                    ipv4(inner, ctx)
                }
                ETH_IPV6 => {
                    ctx.push_tunnel(TunnelKind::Gre, &ip)?;
                    ipv6(inner, ctx)
                }
                GRE_TEB => {
                    ctx.push_tunnel(TunnelKind::Gre, &ip)?;
                    ethernet(inner, ctx)
                }
                ETH_MPLS_UC | ETH_MPLS_MC => {
                    ctx.push_tunnel(TunnelKind::Gre, &ip)?;
                    mpls(inner, ctx)
                }
                GRE_ERSPAN_II => {
                    ctx.push_tunnel(TunnelKind::Erspan, &ip)?;
                    // Type I has no sequence number and no ERSPAN header; type II has both
                    // (8-byte header, draft-foschiano-erspan 4.1).
                    let eth = if s {
                        inner.get(8..).ok_or(E::ErspanTruncated)?
                    } else {
                        inner
                    };
                    ethernet(eth, ctx)
                }
                GRE_ERSPAN_III => {
                    ctx.push_tunnel(TunnelKind::Erspan, &ip)?;
                    // 12-byte header; the O bit (last bit) adds an 8-byte platform subheader.
                    let o = byte(inner, 11).ok_or(E::ErspanTruncated)? & 1 != 0;
                    let hl = if o { 20 } else { 12 };
                    ethernet(inner.get(hl..).ok_or(E::ErspanTruncated)?, ctx)
                }
                _ => other(ctx),
            }
        }
        1 => {
            // RFC 2637 4.1 enhanced GRE: key (payload length + call id) always present,
            // optional sequence and acknowledgment numbers (A flag 0x0080).
            if proto != GRE_PPP || !k {
                return other(ctx);
            }
            let a = flags & 0x0080 != 0;
            let hl = 8 + 4 * (usize::from(s) + usize::from(a));
            let ppp = d.get(hl..).ok_or(E::GreTruncated)?;
            // Address/control 0xff03 may be omitted (RFC 1661 ACFC), protocol may be one byte
            // (PFC: odd first byte).
            let ppp = if ppp.starts_with(&[0xff, 0x03]) {
                ppp.get(2..).unwrap_or(&[])
            } else {
                ppp
            };
            let (pproto, hl) = match byte(ppp, 0) {
                Some(b) if b & 1 == 1 => (u16::from(b), 1),
                Some(_) => match be16(ppp, 0) {
                    Some(p) => (p, 2),
                    None => return other(ctx),
                },
                // Acknowledgment-only packet.
                None => return other(ctx),
            };
            let inner = ppp.get(hl..).unwrap_or(&[]);
            match pproto {
                PPP_IPV4 => {
                    ctx.push_tunnel(TunnelKind::Gre, &ip)?;
                    ipv4(inner, ctx)
                }
                PPP_IPV6 => {
                    ctx.push_tunnel(TunnelKind::Gre, &ip)?;
                    ipv6(inner, ctx)
                }
                // LCP, CCP, MPPE-encrypted data...
                _ => other(ctx),
            }
        }
        _ => other(ctx),
    }
}

fn ports_of(proto: u8, l4: &[u8]) -> Option<(u16, u16)> {
    match proto {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => Some((be16(l4, 0)?, be16(l4, 2)?)),
        _ => Some((0, 0)),
    }
}

/// The original datagram quoted by an ICMPv4 error: its IPv4 header and at least 4 bytes of
/// L4 header for the ports. A quoted non-first fragment has no ports.
fn quoted_ipv4(q: &[u8]) -> Option<QuotedFlow> {
    let vihl = byte(q, 0)?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < 20 {
        return None;
    }
    let proto = byte(q, 9)?;
    let src = v4_addr(q, 12)?;
    let dst = v4_addr(q, 16)?;
    if be16(q, 6)? & 0x1fff != 0 {
        return None;
    }
    let (sport, dport) = ports_of(proto, q.get(ihl..)?)?;
    Some(QuotedFlow {
        src,
        dst,
        proto,
        sport,
        dport,
    })
}

fn quoted_ipv6(q: &[u8]) -> Option<QuotedFlow> {
    if byte(q, 0)? >> 4 != 6 {
        return None;
    }
    let src = v6_addr(q, 8)?;
    let dst = v6_addr(q, 24)?;
    let mut nh = byte(q, 6)?;
    let mut off = 40usize;
    for _ in 0..=MAX_IPV6_EXT_HEADERS {
        let len = match nh {
            0 | 43 | 60 | 135 | 139 | 140 => (usize::from(byte(q, off + 1)?) + 1) * 8,
            51 => (usize::from(byte(q, off + 1)?) + 2) * 4,
            44 => {
                if be16(q, off + 2)? & 0xfff8 != 0 {
                    return None;
                }
                8
            }
            _ => {
                let (sport, dport) = ports_of(nh, q.get(off..)?)?;
                return Some(QuotedFlow {
                    src,
                    dst,
                    proto: nh,
                    sport,
                    dport,
                });
            }
        };
        nh = byte(q, off)?;
        off = off.checked_add(len)?;
    }
    None
}

fn quoted_icmpv6(icmp_type: u8, d: &[u8]) -> Option<QuotedFlow> {
    match icmp_type {
        // RFC 4443 3.1-3.4: unreachable, packet too big, time exceeded, parameter problem.
        1..=4 => quoted_ipv6(d.get(8..)?),
        // RFC 4861 4.5: redirect; options after target and destination; the Redirected
        // Header option (type 4) holds the quoted packet after 8 bytes.
        137 => {
            let mut opts = d.get(40..)?;
            while let (Some(t), Some(l)) = (byte(opts, 0), byte(opts, 1)) {
                let len = usize::from(l) * 8;
                if len == 0 {
                    return None;
                }
                let opt = opts.get(..len).unwrap_or(opts);
                if t == 4 {
                    return quoted_ipv6(opt.get(8..)?);
                }
                opts = opts.get(len..)?;
            }
            None
        }
        _ => None,
    }
}
