//! L2-L4 decoding and IP defragmentation for the tapir sensor.
//!
//! [`decode`] turns one captured frame into a [`Packet`] (innermost IP header, TCP/UDP/ICMP
//! summary and a borrowed L4 payload), a [`Fragment`] for the [`Defragmenter`], or
//! [`Decoded::NotIp`]. Nothing is allocated per packet: VLAN ids and tunnel layers live in
//! fixed arrays ([`MAX_VLANS`], [`MAX_TUNNELS`]) and payloads borrow the frame.
//!
//! # Layers
//! - Link: Ethernet II (802.3 length frames are [`Decoded::NotIp`]), raw IP, Linux cooked
//!   SLL/SLL2, BSD loopback (`DLT_NULL` host order, `DLT_LOOP` network order). See
//!   <https://www.tcpdump.org/linktypes.html>.
//! - 802.1Q / 802.1ad / QinQ tags 0x8100, 0x88a8, 0x9100 (at most [`MAX_VLANS`]).
//! - MPLS (RFC 3032) to bottom of stack, then IPv4/IPv6 by version nibble, or an Ethernet
//!   pseudowire with control word (RFC 4385, nibble 0).
//! - PPPoE session (RFC 2516) with PPP IPv4 (0x0021) / IPv6 (0x0057); discovery is NotIp.
//! - IPv4 (RFC 791) with options; the checksum is not verified (NIC offload makes it
//!   unreliable in captures). IPv6 (RFC 8200) with hop-by-hop, routing, destination options,
//!   fragment, AH (RFC 4302), mobility, HIP, shim6 and no-next-header.
//! - TCP (RFC 9293), UDP (RFC 768), ICMP (RFC 792) and ICMPv6 (RFC 4443) with the 5-tuple of
//!   the packet quoted in an error message (and in an ICMPv6 redirect, RFC 4861 4.6.3).
//! - Tunnels: GRE (RFC 2784/2890) carrying IPv4, IPv6, transparent Ethernet (0x6558), MPLS,
//!   ERSPAN type I/II (0x88be) and III (0x22eb); PPTP enhanced GRE (RFC 2637) carrying PPP
//!   IPv4/IPv6; VXLAN (RFC 7348, UDP 4789); GENEVE (RFC 8926, UDP 6081); IP-in-IP (protocols 4
//!   and 41). More than [`MAX_TUNNELS`] layers is [`DecodeError::TunnelTooDeep`].
//!
//! # Why hand-written and not etherparse
//! etherparse's sliced parsers cover Ethernet/VLAN/IP/TCP/UDP well but not MPLS pseudowires,
//! PPPoE, GRE options, ERSPAN, VXLAN or GENEVE, and its errors do not map one to one onto the
//! per-reason counters the engine keeps. Every length here is checked with `get()` and checked
//! arithmetic, so no input can make the decoder panic or read outside the frame.
//!
//! # Lengths and truncation
//! The L4 payload is trimmed to the IP total length (IPv4) or payload length (IPv6), because
//! Ethernet pads short frames to 60 bytes. An IP length of 0 (TSO-offloaded captures, IPv6
//! jumbograms) means "use what was captured", as Wireshark does. A capture cut by the snaplen
//! inside a TCP/UDP payload sets [`Packet::truncated`]; a cut inside any header is an error.
//!
//! # Defragmentation
//! See [`defrag`]: bounded by [`DefragConfig`], BSD overlap policy (Suricata's default).

#![forbid(unsafe_code)]

mod decode;
pub mod defrag;
pub mod fuzzing;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

pub use decode::{decode, decode_reassembled};
pub use defrag::{DefragConfig, DefragStats, Defragmenter, Reassembled};

/// Most VLAN tags kept per packet (Suricata keeps 3 too); one more is an error.
pub const MAX_VLANS: usize = 3;
/// Most tunnel layers decoded per packet; one more is [`DecodeError::TunnelTooDeep`].
pub const MAX_TUNNELS: usize = 4;
/// Most IPv6 extension headers walked per header chain.
pub const MAX_IPV6_EXT_HEADERS: usize = 16;
/// Most layers of any kind (Ethernet, VLAN, MPLS, IP, tunnel...) per frame; bounds the work
/// and recursion depth for inputs such as nested MPLS pseudowires.
pub const MAX_LAYERS: u8 = 32;

/// The link layer a capture records, from its pcap/pcapng link type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// DLT_EN10MB (1).
    Ethernet,
    /// Raw IP, v4 or v6 by the version nibble: DLT_RAW 12 and 14, LINKTYPE_RAW 101.
    Raw,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// Linux cooked capture v1, LINKTYPE_LINUX_SLL (113).
    LinuxSll,
    /// Linux cooked capture v2, LINKTYPE_LINUX_SLL2 (276).
    LinuxSll2,
    /// BSD loopback, DLT_NULL (0): a host-order u32 address family.
    Null,
    /// OpenBSD loopback, DLT_LOOP (108): a network-order u32 address family.
    Loop,
}

impl LinkType {
    /// Every link type, for fuzzing and tests.
    pub const ALL: [LinkType; 8] = [
        LinkType::Ethernet,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
    ];

    /// Maps a pcap DLT / LINKTYPE number (<https://www.tcpdump.org/linktypes.html>).
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }
}

/// VLAN ids of a packet, outermost first, in a fixed array.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Vlans {
    ids: [u16; MAX_VLANS],
    len: u8,
}

impl Vlans {
    /// The ids, outermost first.
    pub fn as_slice(&self) -> &[u16] {
        self.ids.get(..usize::from(self.len)).unwrap_or(&[])
    }
    /// Number of tags.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
    /// No tag.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Appends an inner tag; `false` when [`MAX_VLANS`] are already held.
    pub fn push(&mut self, id: u16) -> bool {
        match self.ids.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = id;
                self.len += 1;
                true
            }
            None => false,
        }
    }
}

/// Kind of an encapsulation layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// GRE (RFC 2784/2890, PPTP enhanced GRE RFC 2637).
    Gre,
    /// ERSPAN type I, II or III over GRE.
    Erspan,
    /// VXLAN (RFC 7348).
    Vxlan,
    /// GENEVE (RFC 8926).
    Geneve,
    /// IPv4/IPv6 directly in IP (protocols 4 and 41).
    IpInIp,
}

impl TunnelKind {
    /// Short lowercase label for logs ("gre", "erspan", "vxlan", "geneve", "ipip").
    pub fn as_str(&self) -> &'static str {
        match self {
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::IpInIp => "ipip",
        }
    }
}

/// One encapsulation layer: its kind and the outer IP addresses that carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelLayer {
    /// The encapsulation.
    pub kind: TunnelKind,
    /// Source of the outer IP header.
    pub src: IpAddr,
    /// Destination of the outer IP header.
    pub dst: IpAddr,
}

const UNSPEC: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const EMPTY_LAYER: TunnelLayer = TunnelLayer {
    kind: TunnelKind::Gre,
    src: UNSPEC,
    dst: UNSPEC,
};

/// Tunnel layers of a packet, outermost first, in a fixed array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tunnels {
    layers: [TunnelLayer; MAX_TUNNELS],
    len: u8,
}

impl Default for Tunnels {
    fn default() -> Self {
        Tunnels {
            layers: [EMPTY_LAYER; MAX_TUNNELS],
            len: 0,
        }
    }
}

impl Tunnels {
    /// The layers, outermost first.
    pub fn as_slice(&self) -> &[TunnelLayer] {
        self.layers.get(..usize::from(self.len)).unwrap_or(&[])
    }
    /// Number of layers.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
    /// Not tunnelled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Appends an inner layer; `false` when [`MAX_TUNNELS`] are already held.
    pub fn push(&mut self, layer: TunnelLayer) -> bool {
        match self.layers.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = layer;
                self.len += 1;
                true
            }
            None => false,
        }
    }
}

/// Summary of a TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// The low 8 flag bits (CWR/ECE included).
    pub flags: u8,
    /// Window (not scaled).
    pub window: u16,
}

impl TcpInfo {
    /// FIN flag bit.
    pub const FIN: u8 = 0x01;
    /// SYN flag bit.
    pub const SYN: u8 = 0x02;
    /// RST flag bit.
    pub const RST: u8 = 0x04;
    /// PSH flag bit.
    pub const PSH: u8 = 0x08;
    /// ACK flag bit.
    pub const ACK: u8 = 0x10;
    /// URG flag bit.
    pub const URG: u8 = 0x20;

    /// SYN set.
    pub fn is_syn(&self) -> bool {
        self.flags & Self::SYN != 0
    }
    /// ACK set.
    pub fn is_ack(&self) -> bool {
        self.flags & Self::ACK != 0
    }
    /// FIN set.
    pub fn is_fin(&self) -> bool {
        self.flags & Self::FIN != 0
    }
    /// RST set.
    pub fn is_rst(&self) -> bool {
        self.flags & Self::RST != 0
    }
}

/// 5-tuple of the packet quoted in an ICMP/ICMPv6 error, as it was originally sent
/// (`src` is the host that sent the packet the error is about).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedFlow {
    /// Source of the quoted packet.
    pub src: IpAddr,
    /// Destination of the quoted packet.
    pub dst: IpAddr,
    /// IP protocol of the quoted packet.
    pub proto: u8,
    /// Source port (0 unless TCP, UDP or SCTP).
    pub sport: u16,
    /// Destination port (0 unless TCP, UDP or SCTP).
    pub dport: u16,
}

/// Transport layer summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// TCP.
    Tcp(TcpInfo),
    /// UDP (not a recognised tunnel).
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ICMP (`v6 == false`) or ICMPv6.
    Icmp {
        /// ICMPv6.
        v6: bool,
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
        /// The flow quoted by an error (destination unreachable, source quench, redirect,
        /// time exceeded, parameter problem, packet too big).
        quoted: Option<QuotedFlow>,
    },
    /// Any other protocol (also ESP, no-next-header, GRE that is not followed).
    Other,
}

/// A decoded packet; borrows the frame (or the [`Reassembled`] datagram).
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    /// VLAN ids, outermost first.
    pub vlan: Vlans,
    /// Tunnel layers, outermost first.
    pub tunnels: Tunnels,
    /// Source of the innermost IP header.
    pub src: IpAddr,
    /// Destination of the innermost IP header.
    pub dst: IpAddr,
    /// IP protocol / last IPv6 next header.
    pub ip_proto: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Transport summary.
    pub l4: L4,
    /// L4 payload (after the TCP/UDP/8-byte ICMP header; the whole IP payload for
    /// [`L4::Other`]), trimmed to the IP (and UDP) length.
    pub payload: &'a [u8],
    /// The capture was snaplen-cut inside the L4 payload.
    pub truncated: bool,
}

impl Packet<'_> {
    /// (source, destination) ports; (0, 0) unless TCP or UDP.
    pub fn ports(&self) -> (u16, u16) {
        match self.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp { src_port, dst_port } => (src_port, dst_port),
            _ => (0, 0),
        }
    }
}

/// One IP fragment, with what the [`Defragmenter`] needs.
#[derive(Debug, Clone)]
pub struct Fragment<'a> {
    /// VLAN ids around it.
    pub vlan: Vlans,
    /// Tunnel layers around it.
    pub tunnels: Tunnels,
    /// 4 or 6.
    pub ip_version: u8,
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// IPv4 identification (16 bits) or IPv6 fragment header identification.
    pub id: u32,
    /// IPv4 protocol, or the fragment header's next header.
    pub proto: u8,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more_fragments: bool,
    /// IPv4 header with options, or the IPv6 header plus the extension headers before the
    /// fragment header (the "unfragmentable part").
    pub header: &'a [u8],
    /// IPv6: index in `header` of the next-header byte that names the fragment header, to be
    /// rewritten on reassembly. IPv4: 9 (the protocol byte).
    pub next_header_offset: usize,
    /// Fragment data, trimmed to the IP length.
    pub payload: &'a [u8],
    /// The capture was snaplen-cut inside the fragment data (such a fragment cannot be used).
    pub truncated: bool,
}

/// Result of [`decode`].
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    /// An IP packet.
    Packet(Packet<'a>),
    /// An IP fragment, for the [`Defragmenter`].
    Fragment(Fragment<'a>),
    /// Not IP (ARP, LLDP, STP, 802.3/LLC, PPPoE discovery...): counted by the caller.
    NotIp,
}

/// Why a frame could not be decoded. Each variant is one counter in the engine's stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// The capture's link type is not supported.
    UnknownLinkType,
    /// Fewer than 14 bytes of Ethernet header.
    EthernetTruncated,
    /// Linux cooked header cut short.
    SllTruncated,
    /// BSD loopback family cut short.
    NullTruncated,
    /// VLAN tag cut short.
    VlanTruncated,
    /// More than [`MAX_VLANS`] tags.
    VlanTooDeep,
    /// MPLS label stack cut short.
    MplsTruncated,
    /// PPPoE or PPP header cut short.
    PppoeTruncated,
    /// Raw IP whose version nibble is neither 4 nor 6.
    IpBadVersion,
    /// IPv4 header cut short.
    Ipv4Truncated,
    /// IPv4 header with a version other than 4.
    Ipv4BadVersion,
    /// IHL below 5.
    Ipv4BadHeaderLen,
    /// Total length below the header length.
    Ipv4BadTotalLen,
    /// IPv6 header cut short.
    Ipv6Truncated,
    /// IPv6 header with a version other than 6.
    Ipv6BadVersion,
    /// IPv6 extension header cut short.
    Ipv6ExtTruncated,
    /// More than [`MAX_IPV6_EXT_HEADERS`] extension headers.
    Ipv6TooManyExtHeaders,
    /// TCP header (20 bytes plus options) cut short.
    TcpTruncated,
    /// TCP data offset below 5 or beyond the IP payload.
    TcpBadHeaderLen,
    /// Fewer than 8 bytes of UDP header.
    UdpTruncated,
    /// ICMP/ICMPv6 header cut short.
    IcmpTruncated,
    /// GRE header cut short.
    GreTruncated,
    /// ERSPAN header cut short.
    ErspanTruncated,
    /// GENEVE header or options cut short.
    GeneveTruncated,
    /// More than [`MAX_TUNNELS`] encapsulation layers.
    TunnelTooDeep,
    /// More than [`MAX_LAYERS`] layers of any kind (e.g. nested pseudowires).
    TooManyLayers,
}

impl DecodeError {
    /// Short snake_case counter label.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::UnknownLinkType => "unknown_link_type",
            DecodeError::EthernetTruncated => "ethernet_truncated",
            DecodeError::SllTruncated => "sll_truncated",
            DecodeError::NullTruncated => "null_truncated",
            DecodeError::VlanTruncated => "vlan_truncated",
            DecodeError::VlanTooDeep => "vlan_too_deep",
            DecodeError::MplsTruncated => "mpls_truncated",
            DecodeError::PppoeTruncated => "pppoe_truncated",
            DecodeError::IpBadVersion => "ip_bad_version",
            DecodeError::Ipv4Truncated => "ipv4_truncated",
            DecodeError::Ipv4BadVersion => "ipv4_bad_version",
            DecodeError::Ipv4BadHeaderLen => "ipv4_bad_header_len",
            DecodeError::Ipv4BadTotalLen => "ipv4_bad_total_len",
            DecodeError::Ipv6Truncated => "ipv6_truncated",
            DecodeError::Ipv6BadVersion => "ipv6_bad_version",
            DecodeError::Ipv6ExtTruncated => "ipv6_ext_truncated",
            DecodeError::Ipv6TooManyExtHeaders => "ipv6_too_many_ext_headers",
            DecodeError::TcpTruncated => "tcp_truncated",
            DecodeError::TcpBadHeaderLen => "tcp_bad_header_len",
            DecodeError::UdpTruncated => "udp_truncated",
            DecodeError::IcmpTruncated => "icmp_truncated",
            DecodeError::GreTruncated => "gre_truncated",
            DecodeError::ErspanTruncated => "erspan_truncated",
            DecodeError::GeneveTruncated => "geneve_truncated",
            DecodeError::TunnelTooDeep => "tunnel_too_deep",
            DecodeError::TooManyLayers => "too_many_layers",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests;
