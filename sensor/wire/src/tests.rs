//! Unit tests from hand-built frames. Field values are written into the bytes below and read
//! back; layouts follow the RFCs cited in the module docs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::*;

const MAC: [u8; 12] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
];
const A4: [u8; 4] = [192, 0, 2, 1];
const B4: [u8; 4] = [198, 51, 100, 2];
const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// TCP 1234 -> 80, seq 1, ack 2, flags PSH|ACK, window 0x1000, data offset 5.
const TCP: [u8; 20] = [
    0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x18, 0x10, 0x00, 0, 0, 0, 0,
];
/// UDP 5353 -> 53, length 12 (4 bytes of data follow).
const UDP: [u8; 8] = [0x14, 0xe9, 0x00, 0x35, 0x00, 0x0c, 0, 0];
const DATA: [u8; 4] = *b"abcd";

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn eth(et: u16) -> Vec<u8> {
    cat(&[&MAC, &et.to_be_bytes()])
}

/// IPv4 header, IHL 5, no fragmentation, TTL 64; total length from `body_len`.
fn ip4(proto: u8, body_len: usize) -> Vec<u8> {
    ip4_frag(proto, body_len, 0x1234, 0, false)
}

fn ip4_frag(proto: u8, body_len: usize, id: u16, off8: u16, mf: bool) -> Vec<u8> {
    let total = (20 + body_len) as u16;
    let frag = off8 | if mf { 0x2000 } else { 0 };
    cat(&[
        &[0x45, 0],
        &total.to_be_bytes(),
        &id.to_be_bytes(),
        &frag.to_be_bytes(),
        &[64, proto, 0, 0],
        &A4,
        &B4,
    ])
}

/// IPv6 header, hop limit 64.
fn ip6(nh: u8, plen: usize) -> Vec<u8> {
    cat(&[
        &[0x60, 0, 0, 0],
        &(plen as u16).to_be_bytes(),
        &[nh, 64],
        &A6,
        &B6,
    ])
}

fn tcp_v4() -> Vec<u8> {
    cat(&[&ip4(6, 24), &TCP, &DATA])
}

fn udp_v4() -> Vec<u8> {
    cat(&[&ip4(17, 12), &UDP, &DATA])
}

fn a4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(A4))
}
fn b4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(B4))
}
fn a6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(A6))
}
fn b6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(B6))
}

fn pkt(link: LinkType, f: &[u8]) -> Packet<'_> {
    match decode(link, f) {
        Ok(Decoded::Packet(p)) => p,
        other => panic!("expected a packet, got {other:?}"),
    }
}

fn err(link: LinkType, f: &[u8]) -> DecodeError {
    match decode(link, f) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn assert_tcp(p: &Packet<'_>) {
    let L4::Tcp(t) = p.l4 else {
        panic!("not tcp: {:?}", p.l4)
    };
    assert_eq!((t.src_port, t.dst_port, t.seq, t.ack), (1234, 80, 1, 2));
    assert_eq!(t.window, 0x1000);
    assert!(t.is_ack() && !t.is_syn() && !t.is_fin() && !t.is_rst());
    assert_eq!(t.flags & TcpInfo::PSH, TcpInfo::PSH);
    assert_eq!(p.payload, &DATA);
    assert_eq!(p.ports(), (1234, 80));
    assert_eq!(p.ip_proto, 6);
}

/// Every prefix must decode without panicking; prefixes shorter than `hdr` must be errors,
/// longer ones a truncated packet.
fn truncations(link: LinkType, f: &[u8], hdr: usize) {
    truncations_mode(link, f, hdr, false);
}

fn truncations_mode(link: LinkType, f: &[u8], hdr: usize, lenient: bool) {
    for n in 0..f.len() {
        let r = decode(link, &f[..n]);
        if n < hdr {
            match r {
                Err(_) => {}
                // A UDP tunnel cut inside its own header is only visible as a cut UDP payload.
                Ok(Decoded::Packet(p)) if lenient && p.truncated => {}
                other => panic!("prefix {n} of {} decoded: {other:?}", f.len()),
            }
        } else {
            match r {
                Ok(Decoded::Packet(p)) => assert!(p.truncated, "prefix {n} not marked truncated"),
                other => panic!("prefix {n}: {other:?}"),
            }
        }
    }
    crate::fuzzing::decode_all_links(f);
}

/// No panic on any prefix, whatever the outcome.
fn no_panic_prefixes(f: &[u8]) {
    for n in 0..=f.len() {
        for link in LinkType::ALL {
            let _ = decode(link, &f[..n]);
        }
        crate::fuzzing::decode_all_links(&f[..n]);
    }
}

#[test]
fn from_dlt_maps_linktypes() {
    // https://www.tcpdump.org/linktypes.html
    let cases = [
        (0, Some(LinkType::Null)),
        (1, Some(LinkType::Ethernet)),
        (12, Some(LinkType::Raw)),
        (14, Some(LinkType::Raw)),
        (101, Some(LinkType::Raw)),
        (108, Some(LinkType::Loop)),
        (113, Some(LinkType::LinuxSll)),
        (228, Some(LinkType::Ipv4)),
        (229, Some(LinkType::Ipv6)),
        (276, Some(LinkType::LinuxSll2)),
        (105, None),
        (-1, None),
    ];
    for (dlt, want) in cases {
        assert_eq!(LinkType::from_dlt(dlt), want, "dlt {dlt}");
    }
}

#[test]
fn ethernet_ipv4_tcp_and_padding() {
    let mut f = cat(&[&eth(0x0800), &tcp_v4()]);
    // Ethernet minimum frame: 60 bytes; the padding is not payload.
    f.resize(60, 0);
    let p = pkt(LinkType::Ethernet, &f);
    assert_tcp(&p);
    assert_eq!((p.src, p.dst, p.ttl), (a4(), b4(), 64));
    assert!(!p.truncated && p.vlan.is_empty() && p.tunnels.is_empty());
    truncations(
        LinkType::Ethernet,
        &cat(&[&eth(0x0800), &tcp_v4()]),
        14 + 40,
    );
}

#[test]
fn udp_length_trims_payload() {
    // IP says 16 bytes of UDP, UDP says 12: the last 4 are not payload.
    let f = cat(&[&ip4(17, 16), &UDP, &DATA, b"zzzz"]);
    let p = pkt(LinkType::Raw, &f);
    assert_eq!(
        p.l4,
        L4::Udp {
            src_port: 5353,
            dst_port: 53
        }
    );
    assert_eq!(p.payload, &DATA);
    truncations(LinkType::Raw, &udp_v4(), 28);
}

#[test]
fn not_ip_frames() {
    // 802.3 length field (LLC/STP), ARP, LLDP, PPPoE discovery.
    for et in [0x0026u16, 0x0806, 0x88cc, 0x8863] {
        let f = cat(&[&eth(et), &[0u8; 46]]);
        assert!(
            matches!(decode(LinkType::Ethernet, &f), Ok(Decoded::NotIp)),
            "{et:#x}"
        );
    }
    // VLAN-tagged ARP.
    let f = cat(&[&eth(0x8100), &[0, 5, 0x08, 0x06], &[0u8; 28]]);
    assert!(matches!(decode(LinkType::Ethernet, &f), Ok(Decoded::NotIp)));
}

#[test]
fn vlan_qinq_and_too_deep() {
    // 802.1ad outer tag 100 (PCP bits set, must be masked), 802.1Q inner 200.
    let f = cat(&[
        &eth(0x88a8),
        &[0xe0, 100, 0x81, 0x00],
        &[0, 200, 0x08, 0x00],
        &tcp_v4(),
    ]);
    let p = pkt(LinkType::Ethernet, &f);
    assert_eq!(p.vlan.as_slice(), &[100, 200]);
    assert_tcp(&p);
    truncations(LinkType::Ethernet, &f, 22 + 40);
    let f = cat(&[
        &eth(0x9100),
        &[0, 1, 0x81, 0x00],
        &[0, 2, 0x81, 0x00],
        &[0, 3, 0x81, 0x00],
        &[0, 4, 0x08, 0x00],
        &tcp_v4(),
    ]);
    assert_eq!(err(LinkType::Ethernet, &f), DecodeError::VlanTooDeep);
}

#[test]
fn mpls_stack_then_ip_or_pseudowire() {
    // Label 16 (no S), label 17 with S (bit 0x100 of the 32-bit entry), TTL 64.
    let labels = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40];
    let f = cat(&[&eth(0x8847), &labels, &tcp_v4()]);
    assert_tcp(&pkt(LinkType::Ethernet, &f));
    truncations(LinkType::Ethernet, &f, 22 + 40);
    let f6 = cat(&[&eth(0x8847), &labels, &ip6(6, 24), &TCP, &DATA]);
    let p = pkt(LinkType::Ethernet, &f6);
    assert_eq!((p.src, p.dst), (a6(), b6()));
    // RFC 4385 control word then Ethernet with a VLAN.
    let pw = cat(&[
        &eth(0x8847),
        &labels[4..],
        &[0, 0, 0, 0],
        &eth(0x8100),
        &[0, 7, 0x08, 0x00],
        &tcp_v4(),
    ]);
    let p = pkt(LinkType::Ethernet, &pw);
    assert_eq!(p.vlan.as_slice(), &[7]);
    assert_tcp(&p);
}

#[test]
fn pppoe_session() {
    // RFC 2516: ver/type 0x11, code 0, session 1, length = PPP protocol + datagram.
    let body = cat(&[&[0x00, 0x21], &tcp_v4()]);
    let f = cat(&[
        &eth(0x8864),
        &[0x11, 0, 0, 1],
        &(body.len() as u16).to_be_bytes(),
        &body,
    ]);
    assert_tcp(&pkt(LinkType::Ethernet, &f));
    truncations(LinkType::Ethernet, &f, 22 + 40);
    // PPP LCP (0xc021) is not IP.
    let f = cat(&[&eth(0x8864), &[0x11, 0, 0, 1, 0, 6, 0xc0, 0x21, 1, 1, 0, 4]]);
    assert!(matches!(decode(LinkType::Ethernet, &f), Ok(Decoded::NotIp)));
}

#[test]
fn ipv4_options_and_bad_lengths() {
    // IHL 6: one 4-byte option (NOP NOP NOP EOL).
    let mut h = ip4(6, 24 + 4);
    h[0] = 0x46;
    let f = cat(&[&h, &[1, 1, 1, 0], &TCP, &DATA]);
    assert_tcp(&pkt(LinkType::Ipv4, &f));
    truncations(LinkType::Ipv4, &f, 44);

    let mut bad = tcp_v4();
    bad[0] = 0x44;
    assert_eq!(err(LinkType::Ipv4, &bad), DecodeError::Ipv4BadHeaderLen);
    assert_eq!(err(LinkType::Ipv4, &bad).reason(), "ipv4_bad_header_len");
    let mut bad = tcp_v4();
    bad[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(err(LinkType::Ipv4, &bad), DecodeError::Ipv4BadTotalLen);
    let mut bad = tcp_v4();
    bad[0] = 0x65;
    assert_eq!(err(LinkType::Ipv4, &bad), DecodeError::Ipv4BadVersion);
    let mut bad = tcp_v4();
    bad[0] = 0x55;
    assert_eq!(err(LinkType::Raw, &bad), DecodeError::IpBadVersion);
    // TCP data offset 4.
    let mut bad = tcp_v4();
    bad[20 + 12] = 0x40;
    assert_eq!(err(LinkType::Raw, &bad), DecodeError::TcpBadHeaderLen);
    // Total length 0 (TSO capture): the captured length is used.
    let mut tso = tcp_v4();
    tso[2..4].copy_from_slice(&[0, 0]);
    assert_tcp(&pkt(LinkType::Raw, &tso));
}

#[test]
fn ipv6_extension_headers() {
    // Hop-by-hop (8 bytes, PadN), destination options (8 bytes), AH (length 4 -> 24 bytes).
    let hbh = [60, 0, 1, 4, 0, 0, 0, 0];
    let dst = [51, 0, 1, 4, 0, 0, 0, 0];
    let mut ah = [0u8; 24];
    ah[0] = 6;
    ah[1] = 4;
    let f = cat(&[&ip6(0, 8 + 8 + 24 + 24), &hbh, &dst, &ah, &TCP, &DATA]);
    let p = pkt(LinkType::Ipv6, &f);
    assert_tcp(&p);
    assert_eq!((p.src, p.dst, p.ttl), (a6(), b6(), 64));
    truncations(LinkType::Ipv6, &f, 40 + 40 + 20);
    // No next header.
    let f = cat(&[&ip6(59, 4), &DATA]);
    let p = pkt(LinkType::Ipv6, &f);
    assert_eq!((p.l4, p.ip_proto, p.payload.len()), (L4::Other, 59, 0));
    // Atomic fragment (RFC 6946): offset 0, M = 0, handled as a whole packet.
    let fh = [17, 0, 0, 0, 0, 0, 0, 9];
    let f = cat(&[&ip6(44, 8 + 12), &fh, &UDP, &DATA]);
    assert_eq!(pkt(LinkType::Ipv6, &f).payload, &DATA);
    // 17 hop-by-hop headers in a row.
    let mut f = ip6(0, 17 * 8);
    for _ in 0..17 {
        f.extend_from_slice(&[0, 0, 1, 4, 0, 0, 0, 0]);
    }
    assert_eq!(err(LinkType::Ipv6, &f), DecodeError::Ipv6TooManyExtHeaders);
    no_panic_prefixes(&f);
}

#[test]
fn link_types() {
    let v4 = tcp_v4();
    let v6 = cat(&[&ip6(6, 24), &TCP, &DATA]);
    assert_tcp(&pkt(LinkType::Raw, &v4));
    assert_tcp(&pkt(LinkType::Raw, &v6));
    assert_tcp(&pkt(LinkType::Ipv4, &v4));
    assert_tcp(&pkt(LinkType::Ipv6, &v6));
    assert_eq!(err(LinkType::Ipv6, &v4), DecodeError::Ipv6BadVersion);
    // SLL: packet type, ARPHRD_ETHER, address length 6, address (8), protocol.
    let sll = cat(&[&[0, 0, 0, 1, 0, 6], &MAC[..8], &[0x08, 0x00], &v4]);
    assert_tcp(&pkt(LinkType::LinuxSll, &sll));
    truncations(LinkType::LinuxSll, &sll, 16 + 40);
    // SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address.
    let sll2 = cat(&[&[0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6], &MAC[..8], &v6]);
    assert_tcp(&pkt(LinkType::LinuxSll2, &sll2));
    truncations(LinkType::LinuxSll2, &sll2, 20 + 60);
    // Netlink (nlmon) is never IP.
    let nl = cat(&[&[0, 0, 0x03, 0x38, 0, 0], &[0u8; 8], &[0, 0], &[0u8; 16]]);
    assert!(matches!(
        decode(LinkType::LinuxSll, &nl),
        Ok(Decoded::NotIp)
    ));
    // DLT_NULL: little-endian host AF_INET, big-endian host AF_INET6 (30, macOS).
    assert_tcp(&pkt(LinkType::Null, &cat(&[&[2, 0, 0, 0], &v4])));
    assert_tcp(&pkt(LinkType::Null, &cat(&[&[0, 0, 0, 30], &v6])));
    assert_tcp(&pkt(LinkType::Null, &cat(&[&[28, 0, 0, 0], &v6])));
    assert_tcp(&pkt(LinkType::Loop, &cat(&[&[0, 0, 0, 24], &v6])));
    // AF_APPLETALK etc.
    assert!(matches!(
        decode(LinkType::Loop, &[0, 0, 0, 16, 0]),
        Ok(Decoded::NotIp)
    ));
    assert_eq!(err(LinkType::Null, &[2, 0]), DecodeError::NullTruncated);
}

#[test]
fn icmp_errors_quote_the_original_flow() {
    // Port unreachable (3/3) sent by B back to A, quoting A's UDP datagram A:5353 -> B:53.
    let quoted = cat(&[&ip4(17, 12), &UDP]);
    let icmp = cat(&[&[3, 3, 0, 0, 0, 0, 0, 0], &quoted]);
    let mut outer = ip4(1, icmp.len());
    outer[12..16].copy_from_slice(&B4);
    outer[16..20].copy_from_slice(&A4);
    let f = cat(&[&outer, &icmp]);
    let p = pkt(LinkType::Raw, &f);
    let want = QuotedFlow {
        src: a4(),
        dst: b4(),
        proto: 17,
        sport: 5353,
        dport: 53,
    };
    assert_eq!(
        p.l4,
        L4::Icmp {
            v6: false,
            icmp_type: 3,
            code: 3,
            quoted: Some(want)
        }
    );
    assert_eq!(p.ports(), (0, 0));
    no_panic_prefixes(&f);
    // Echo request: no quoted flow.
    let f = cat(&[&ip4(1, 8), &[8, 0, 0, 0, 0, 1, 0, 1]]);
    assert!(matches!(
        pkt(LinkType::Raw, &f).l4,
        L4::Icmp {
            icmp_type: 8,
            quoted: None,
            ..
        }
    ));
    // ICMPv6 packet too big (2) quoting a TCP segment behind a destination options header.
    let q6 = cat(&[&ip6(60, 8 + 20), &[6, 0, 1, 4, 0, 0, 0, 0], &TCP]);
    let icmp6 = cat(&[&[2, 0, 0, 0, 0, 0, 0x05, 0x00], &q6]);
    let f = cat(&[&ip6(58, icmp6.len()), &icmp6]);
    let L4::Icmp {
        v6,
        quoted: Some(q),
        ..
    } = pkt(LinkType::Ipv6, &f).l4
    else {
        panic!("no quoted flow");
    };
    assert!(v6);
    assert_eq!(
        (q.src, q.dst, q.proto, q.sport, q.dport),
        (a6(), b6(), 6, 1234, 80)
    );
    no_panic_prefixes(&f);
    // ICMPv6 redirect (137) with a Redirected Header option (type 4, RFC 4861 4.6.3).
    let opt = cat(&[
        &[4, 1 + ((40 + 8) / 8) as u8, 0, 0, 0, 0, 0, 0],
        &ip6(17, 12),
        &UDP,
    ]);
    let redirect = cat(&[
        &[137, 0, 0, 0, 0, 0, 0, 0],
        &A6,
        &B6,
        &[1, 1],
        &MAC[..6],
        &opt,
    ]);
    let f = cat(&[&ip6(58, redirect.len()), &redirect]);
    let L4::Icmp {
        quoted: Some(q), ..
    } = pkt(LinkType::Ipv6, &f).l4
    else {
        panic!("no quoted flow in redirect");
    };
    assert_eq!((q.proto, q.sport, q.dport), (17, 5353, 53));
    no_panic_prefixes(&f);
}

/// Wraps `inner` (an IPv4 datagram) in an outer IPv4 header of protocol `proto`.
fn outer4(proto: u8, inner: &[u8]) -> Vec<u8> {
    let mut h = ip4(proto, inner.len());
    h[12..16].copy_from_slice(&[10, 0, 0, 1]);
    h[16..20].copy_from_slice(&[10, 0, 0, 2]);
    cat(&[&h, inner])
}

fn assert_tunnel(p: &Packet<'_>, kinds: &[&str]) {
    let got: Vec<&str> = p
        .tunnels
        .as_slice()
        .iter()
        .map(|t| t.kind.as_str())
        .collect();
    assert_eq!(got, kinds);
    let outer = p.tunnels.as_slice()[0];
    assert_eq!(outer.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(outer.dst, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
    assert_eq!((p.src, p.dst), (a4(), b4()));
}

#[test]
fn gre_variants() {
    // RFC 2890: C, K and S set: checksum+reserved, key, sequence.
    let gre = cat(&[
        &[0xb0, 0x00, 0x08, 0x00],
        &[0; 4],
        &[0, 0, 0, 7],
        &[0, 0, 0, 1],
        &tcp_v4(),
    ]);
    let f = cat(&[&eth(0x0800), &outer4(47, &gre)]);
    let p = pkt(LinkType::Ethernet, &f);
    assert_tcp(&p);
    assert_tunnel(&p, &["gre"]);
    truncations(LinkType::Ethernet, &f, 14 + 20 + 16 + 40);
    // Transparent Ethernet bridging.
    let teb = cat(&[&[0, 0, 0x65, 0x58], &eth(0x0800), &tcp_v4()]);
    assert_tunnel(&pkt(LinkType::Raw, &outer4(47, &teb)), &["gre"]);
    // ERSPAN type II: GRE with S, 8-byte ERSPAN header (version 1), Ethernet.
    let e2 = cat(&[
        &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1],
        &[0x10, 0x0a, 0, 1, 0, 0, 0, 0],
        &eth(0x0800),
        &tcp_v4(),
    ]);
    let f = outer4(47, &e2);
    assert_tunnel(&pkt(LinkType::Raw, &f), &["erspan"]);
    truncations(LinkType::Raw, &f, 20 + 16 + 14 + 40);
    // ERSPAN type I: no sequence number, no ERSPAN header.
    let e1 = cat(&[&[0, 0, 0x88, 0xbe], &eth(0x0800), &tcp_v4()]);
    assert_tunnel(&pkt(LinkType::Raw, &outer4(47, &e1)), &["erspan"]);
    // ERSPAN type III with the O bit: 12-byte header + 8-byte platform subheader.
    let e3 = cat(&[
        &[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1],
        &[0x20, 0, 0, 1],
        &[0; 4],
        &[0, 0, 0, 1],
        &[0; 8],
        &eth(0x0800),
        &tcp_v4(),
    ]);
    let f = outer4(47, &e3);
    assert_tunnel(&pkt(LinkType::Raw, &f), &["erspan"]);
    no_panic_prefixes(&f);
    // PPTP enhanced GRE v1 (RFC 2637): K and S set, key = payload length + call id, PPP
    // address/control then protocol 0x0021.
    let ppp = cat(&[&[0xff, 0x03, 0x00, 0x21], &tcp_v4()]);
    let v1 = cat(&[
        &[0x30, 0x01, 0x88, 0x0b],
        &(ppp.len() as u16).to_be_bytes(),
        &[0, 9],
        &[0, 0, 0, 1],
        &ppp,
    ]);
    let f = outer4(47, &v1);
    assert_tunnel(&pkt(LinkType::Raw, &f), &["gre"]);
    no_panic_prefixes(&f);
    // GRE keepalive / unknown payload: the outer packet is kept.
    let f = outer4(47, &[0, 0, 0x88, 0x0b]);
    let p = pkt(LinkType::Raw, &f);
    assert_eq!((p.ip_proto, p.l4, p.tunnels.len()), (47, L4::Other, 0));
}

#[test]
fn udp_tunnels_and_ipip() {
    // VXLAN (RFC 7348): flags 0x08, VNI 42.
    let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &eth(0x0800), &tcp_v4()]);
    let udp = cat(&[
        &[0xc0, 0x00, 0x12, 0xb5],
        &((8 + vx.len()) as u16).to_be_bytes(),
        &[0, 0],
        &vx,
    ]);
    let f = outer4(17, &udp);
    let p = pkt(LinkType::Raw, &f);
    assert_tcp(&p);
    assert_tunnel(&p, &["vxlan"]);
    truncations_mode(LinkType::Raw, &f, 20 + 8 + 8 + 14 + 40, true);
    // GENEVE (RFC 8926): 1 word of options, protocol 0x6558.
    let gn = cat(&[
        &[0x01, 0, 0x65, 0x58, 0, 0, 42, 0],
        &[0, 1, 2, 0],
        &eth(0x0800),
        &tcp_v4(),
    ]);
    let udp = cat(&[
        &[0xc0, 0x00, 0x17, 0xc1],
        &((8 + gn.len()) as u16).to_be_bytes(),
        &[0, 0],
        &gn,
    ]);
    let f = outer4(17, &udp);
    assert_tunnel(&pkt(LinkType::Raw, &f), &["geneve"]);
    truncations_mode(LinkType::Raw, &f, 20 + 8 + 12 + 14 + 40, true);
    // Not VXLAN (I flag clear): plain UDP to 4789.
    let udp = cat(&[&[0xc0, 0x00, 0x12, 0xb5, 0, 16, 0, 0], &[0u8; 8]]);
    let f = outer4(17, &udp);
    let p = pkt(LinkType::Raw, &f);
    assert!(matches!(p.l4, L4::Udp { dst_port: 4789, .. }));
    // IPv4 in IPv4, IPv6 in IPv4.
    let f = outer4(4, &tcp_v4());
    let p = pkt(LinkType::Raw, &f);
    assert_tunnel(&p, &["ipip"]);
    let v6 = cat(&[&ip6(6, 24), &TCP, &DATA]);
    let f = outer4(41, &v6);
    let p = pkt(LinkType::Raw, &f);
    assert_eq!(p.tunnels.as_slice()[0].kind, TunnelKind::IpInIp);
    assert_eq!(p.src, a6());
}

#[test]
fn tunnel_depth_limit() {
    let mut f = tcp_v4();
    for _ in 0..MAX_TUNNELS {
        f = outer4(4, &f);
    }
    let p = pkt(LinkType::Raw, &f);
    assert_eq!(p.tunnels.len(), MAX_TUNNELS);
    assert_tcp(&p);
    let f = outer4(4, &f);
    assert_eq!(err(LinkType::Raw, &f), DecodeError::TunnelTooDeep);
    assert_eq!(DecodeError::TunnelTooDeep.to_string(), "tunnel_too_deep");
}

#[test]
fn nested_pseudowires_are_bounded() {
    // MPLS pseudowire carrying Ethernet carrying MPLS... never pushes a tunnel.
    let mut f = tcp_v4();
    f = cat(&[&eth(0x0800), &f]);
    for _ in 0..40 {
        f = cat(&[&eth(0x8847), &[0, 1, 0x11, 0x40], &[0, 0, 0, 0], &f]);
    }
    assert_eq!(err(LinkType::Ethernet, &f), DecodeError::TooManyLayers);
}

#[test]
fn header_cut_is_error_payload_cut_is_truncated() {
    let f = cat(&[&eth(0x0800), &tcp_v4()]);
    assert_eq!(
        err(LinkType::Ethernet, &f[..13]),
        DecodeError::EthernetTruncated
    );
    assert_eq!(
        err(LinkType::Ethernet, &f[..14 + 19]),
        DecodeError::Ipv4Truncated
    );
    assert_eq!(
        err(LinkType::Ethernet, &f[..14 + 20 + 19]),
        DecodeError::TcpTruncated
    );
    let p = pkt(LinkType::Ethernet, &f[..f.len() - 1]);
    assert!(p.truncated);
    assert_eq!(p.payload, &DATA[..3]);
    let f = udp_v4();
    assert_eq!(err(LinkType::Raw, &f[..27]), DecodeError::UdpTruncated);
}

#[test]
fn vlans_and_tunnels_fixed_capacity() {
    let mut v = Vlans::default();
    for i in 0..MAX_VLANS as u16 {
        assert!(v.push(i));
    }
    assert!(!v.push(9));
    assert_eq!(v.as_slice(), &[0, 1, 2]);
    let mut t = Tunnels::default();
    let l = TunnelLayer {
        kind: TunnelKind::Geneve,
        src: a4(),
        dst: b4(),
    };
    for _ in 0..MAX_TUNNELS {
        assert!(t.push(l));
    }
    assert!(!t.push(l));
    assert_eq!(t.len(), MAX_TUNNELS);
}

// ---------------------------------------------------------------- defragmentation

fn frag4(f: &[u8]) -> Fragment<'_> {
    match decode(LinkType::Raw, f) {
        Ok(Decoded::Fragment(fr)) => fr,
        other => panic!("expected a fragment, got {other:?}"),
    }
}

/// Suricata src/defrag.c `DefragDoSturgesNovakTest` (after Novak, "Target-Based
/// Fragmentation Reassembly"): 17 ICMP fragments, (letter, offset, length, more).
const NOVAK: [(u8, u16, usize, bool); 17] = [
    (b'A', 0, 24, true),
    (b'B', 32, 16, true),
    (b'C', 48, 24, true),
    (b'D', 80, 8, true),
    (b'E', 104, 16, true),
    (b'F', 120, 24, true),
    (b'G', 144, 16, true),
    (b'H', 160, 16, true),
    (b'I', 176, 8, true),
    (b'J', 8, 32, true),
    (b'K', 48, 24, true),
    (b'L', 72, 24, true),
    (b'M', 96, 24, true),
    (b'N', 128, 8, true),
    (b'O', 152, 8, true),
    (b'P', 160, 8, true),
    (b'Q', 176, 16, false),
];
/// `DefragSturgesNovakBsdTest` expected data, one letter per 8 bytes.
const NOVAK_BSD: &[u8; 24] = b"AAAJJBCCCLLLMMMFFFGGHHIQ";

fn novak_frames(v6: bool) -> Vec<Vec<u8>> {
    NOVAK
        .iter()
        .map(|&(c, off, len, mf)| {
            let data = vec![c; len];
            if v6 {
                let fo = off | u16::from(mf);
                let fh = cat(&[&[58, 0], &fo.to_be_bytes(), &[0, 0, 0, 1]]);
                cat(&[&ip6(44, 8 + len), &fh, &data])
            } else {
                cat(&[&ip4_frag(1, len, 1, off / 8, mf), &data])
            }
        })
        .collect()
}

#[test]
fn defrag_bsd_policy_matches_suricata_sturges_novak() {
    for v6 in [false, true] {
        let frames = novak_frames(v6);
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut out = None;
        for (i, f) in frames.iter().enumerate() {
            let r = d.push(&frag4(f), 1_000 + i as u64);
            assert_eq!(r.is_some(), i == 16, "fragment {i}");
            if i == 8 {
                assert_eq!(d.stats().overlaps, 0, "the first 9 do not overlap");
            }
            out = out.or(r);
        }
        let r = out.expect("reassembled");
        let hl = if v6 { 40 } else { 20 };
        let want: Vec<u8> = NOVAK_BSD.iter().flat_map(|&c| [c; 8]).collect();
        assert_eq!(&r.data[hl..], want.as_slice(), "v6 = {v6}");
        assert_eq!(r.data.len(), hl + 192);
        let st = d.stats();
        assert!(st.overlaps > 0);
        assert_eq!(
            (st.reassembled, st.in_progress, st.bytes_buffered),
            (1, 0, 0)
        );
        let Ok(Decoded::Packet(p)) = decode_reassembled(&r) else {
            panic!("reassembled datagram decodes");
        };
        assert_eq!(p.ip_proto, if v6 { 58 } else { 1 });
        assert_eq!(p.payload.len(), 192 - 8);
    }
}

#[test]
fn defrag_out_of_order_tcp_in_vlan() {
    // A 24-byte TCP segment split 16 + 8, sent last fragment first.
    let seg = cat(&[&TCP, &DATA]);
    let f1 = cat(&[&ip4_frag(6, 16, 7, 0, true), &seg[..16]]);
    let f2 = cat(&[&ip4_frag(6, 8, 7, 2, false), &seg[16..]]);
    let e1 = cat(&[&eth(0x8100), &[0, 9, 0x08, 0x00], &f1]);
    let e2 = cat(&[&eth(0x8100), &[0, 9, 0x08, 0x00], &f2]);
    let e2_other_vlan = cat(&[&eth(0x8100), &[0, 8, 0x08, 0x00], &f2]);
    let mut d = Defragmenter::new(DefragConfig::default());
    let fr = |f| match decode(LinkType::Ethernet, f) {
        Ok(Decoded::Fragment(x)) => x,
        other => panic!("{other:?}"),
    };
    // Same datagram in another VLAN must not complete this one.
    assert!(d.push(&fr(&e2_other_vlan), 0).is_none());
    assert!(d.push(&fr(&e2), 1).is_none());
    let r = d.push(&fr(&e1), 2).expect("complete");
    assert_eq!(r.vlan.as_slice(), &[9]);
    assert_eq!(r.fragments, 2);
    let Ok(Decoded::Packet(p)) = decode_reassembled(&r) else {
        panic!("decodes");
    };
    assert_tcp(&p);
    assert_eq!(p.vlan.as_slice(), &[9]);
    assert_eq!(d.stats().in_progress, 1, "the other VLAN's fragment waits");
    d.expire(61_000_000);
    assert_eq!(
        (
            d.stats().in_progress,
            d.stats().timeouts,
            d.stats().bytes_buffered
        ),
        (0, 1, 0)
    );
}

#[test]
fn defrag_tunnelled_fragments_keep_context() {
    let seg = cat(&[&UDP, &DATA]);
    let f1 = outer4(
        47,
        &cat(&[&[0, 0, 0x08, 0x00], &ip4_frag(17, 8, 3, 0, true), &seg[..8]]),
    );
    let f2 = outer4(
        47,
        &cat(&[
            &[0, 0, 0x08, 0x00],
            &ip4_frag(17, 4, 3, 1, false),
            &seg[8..],
        ]),
    );
    let mut d = Defragmenter::new(DefragConfig::default());
    assert!(d.push(&frag4(&f1), 0).is_none());
    let r = d.push(&frag4(&f2), 0).expect("complete");
    let Ok(Decoded::Packet(p)) = decode_reassembled(&r) else {
        panic!("decodes");
    };
    assert_eq!(p.payload, &DATA);
    assert_tunnel(&p, &["gre"]);
}

#[test]
fn defrag_limits() {
    // Too large: offset 8183*8 + 71 bytes passes 65535 (Suricata DefragIPv4TooLargeTest).
    let big = cat(&[&ip4_frag(1, 71, 1, 8183, false), &[b'A'; 71]]);
    let mut d = Defragmenter::new(DefragConfig::default());
    let fr = frag4(&big);
    assert!(d.push(&fr, 0).is_none());
    assert_eq!((d.stats().bad_fragments, d.stats().in_progress), (1, 0));
    // max_datagrams.
    let cfg = DefragConfig {
        max_datagrams: 2,
        ..DefragConfig::default()
    };
    let mut d = Defragmenter::new(cfg);
    for id in 0..3u16 {
        let f = cat(&[&ip4_frag(1, 8, id, 0, true), &[0; 8]]);
        let fr = frag4(&f);
        assert!(d.push(&fr, 0).is_none());
    }
    assert_eq!((d.stats().in_progress, d.stats().dropped_memcap), (2, 1));
    // max_bytes.
    let cfg = DefragConfig {
        max_bytes: 100,
        ..DefragConfig::default()
    };
    let mut d = Defragmenter::new(cfg);
    let f = cat(&[&ip4_frag(1, 64, 1, 0, true), &[0; 64]]);
    assert!(d.push(&frag4(&f), 0).is_none());
    let f = cat(&[&ip4_frag(1, 64, 1, 8, true), &[0; 64]]);
    assert!(d.push(&frag4(&f), 0).is_none());
    let st = d.stats();
    assert_eq!(st.dropped_memcap, 1);
    assert!(st.bytes_buffered <= 100);
    // Conflicting ends: the first last fragment wins.
    let mut d = Defragmenter::new(DefragConfig::default());
    let l1 = cat(&[&ip4_frag(1, 8, 5, 1, false), &[0; 8]]);
    let l2 = cat(&[&ip4_frag(1, 8, 5, 2, false), &[0; 8]]);
    assert!(d.push(&frag4(&l1), 0).is_none());
    assert!(d.push(&frag4(&l2), 0).is_none());
    assert_eq!(d.stats().bad_fragments, 1);
    // A snaplen-cut fragment is unusable.
    let cut = cat(&[&ip4_frag(1, 16, 6, 0, true), &[0; 8]]);
    let fr = frag4(&cut);
    assert!(fr.truncated);
    assert!(d.push(&fr, 0).is_none());
    assert_eq!(d.stats().bad_fragments, 2);
    // The timeout counts from the first fragment, also when checked in push.
    let mut d = Defragmenter::new(DefragConfig::default());
    let a = cat(&[&ip4_frag(1, 8, 8, 0, true), &[0; 8]]);
    let b = cat(&[&ip4_frag(1, 8, 8, 1, false), &[0; 8]]);
    assert!(d.push(&frag4(&a), 0).is_none());
    assert!(d.push(&frag4(&b), 60_000_001).is_none());
    assert_eq!(d.stats().timeouts, 1);
}

#[test]
fn fragments_truncated_at_every_offset() {
    for f in novak_frames(false).iter().chain(novak_frames(true).iter()) {
        no_panic_prefixes(f);
    }
}

/// Deterministic byte flips over tunnel, VLAN, IPv6 and fragment samples: decoding and
/// defragmenting must never panic and payloads must stay inside the input (checked by
/// `fuzzing::decode_all_links`).
#[test]
fn mutated_frames_never_panic() {
    let gre = cat(&[
        &[0xb0, 0x00, 0x08, 0x00],
        &[0; 4],
        &[0, 0, 0, 7],
        &[0, 0, 0, 1],
        &tcp_v4(),
    ]);
    let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &eth(0x0800), &tcp_v4()]);
    let vx_udp = cat(&[
        &[0xc0, 0x00, 0x12, 0xb5],
        &((8 + vx.len()) as u16).to_be_bytes(),
        &[0, 0],
        &vx,
    ]);
    let hbh = [6, 0, 1, 4, 0, 0, 0, 0];
    let mut samples = vec![
        cat(&[
            &eth(0x88a8),
            &[0, 100, 0x81, 0x00],
            &[0, 200, 0x08, 0x00],
            &tcp_v4(),
        ]),
        cat(&[&eth(0x0800), &outer4(47, &gre)]),
        cat(&[&eth(0x0800), &outer4(17, &vx_udp)]),
        cat(&[&eth(0x86dd), &ip6(0, 8 + 24), &hbh, &TCP, &DATA]),
    ];
    samples.extend(novak_frames(true));
    let mut x: u32 = 0x1234_5678;
    let mut next = || {
        // xorshift32
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for s in &samples {
        for _ in 0..300 {
            let mut m = s.clone();
            for _ in 0..1 + next() % 3 {
                let i = next() as usize % m.len();
                m[i] = next() as u8;
            }
            crate::fuzzing::decode_all_links(&m);
        }
    }
}
