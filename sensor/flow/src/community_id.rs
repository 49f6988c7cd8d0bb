//! Community ID v1 flow hashing.
//!
//! Spec: <https://github.com/corelight/community-id-spec> (README "Pseudo code" and
//! "Technical details"); the ICMP tables follow the reference implementation
//! <https://github.com/corelight/pycommunityid> (`communityid/icmp.py`, `icmp6.py`), which
//! mirrors Zeek's `ICMP4_counterpart` / `ICMP6_counterpart`.
//!
//! The hash input, all in network byte order, is
//! `seed (2) | smaller address (4/16) | larger address (4/16) | proto (1) | 0 (1) | sport (2) | dport (2)`,
//! where "smaller" means the smaller `(address, port)` tuple, so both directions of a flow hash
//! the same. The output is `"1:" + base64(sha1(input))`.
//!
//! - TCP (6), UDP (17), SCTP (132): the ports as given.
//! - ICMP (1) and ICMPv6 (58): the caller passes the message type as `sport` and the code as
//!   `dport`. Request/response types map to a port pair `(type, counterpart type)` and are
//!   ordered like ports, so an echo request and its reply share an ID. All other types are
//!   one-way: `(type, code)` is hashed in the packet's own direction, never swapped.
//! - Any other protocol: no ports are hashed (the input is 2 + 2·addr + 2 bytes).
//!
//! Limits: the spec does not cover tunnels (the caller picks which IP header to hash) or a
//! flow whose two addresses are of different families; for the latter the address bytes are
//! hashed as given, compared as byte strings, as the reference implementation does.

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

/// IP protocol number of ICMP (RFC 792).
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ICMPv6 (RFC 4443).
pub const PROTO_ICMPV6: u8 = 58;
/// IP protocol number of SCTP.
pub const PROTO_SCTP: u8 = 132;

/// Largest hash input: seed, two IPv6 addresses, proto, pad, two ports.
const MAX_INPUT_LEN: usize = 2 + 16 + 16 + 1 + 1 + 2 + 2;

/// ICMPv4 request/response pairs (pycommunityid `icmp.py` TYPE_MAPPER): echo, timestamp,
/// information, router solicitation/advertisement, address mask.
fn icmp4_counterpart(icmp_type: u8) -> Option<u8> {
    Some(match icmp_type {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

/// ICMPv6 request/response pairs (pycommunityid `icmp6.py` TYPE_MAPPER): echo, MLD
/// query/report, router and neighbor solicitation/advertisement, who-are-you (RFC 4620),
/// home agent address discovery (RFC 6275).
fn icmp6_counterpart(icmp_type: u8) -> Option<u8> {
    Some(match icmp_type {
        128 => 129,
        129 => 128,
        130 => 131,
        131 => 130,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        _ => return None,
    })
}

/// Whether the protocol's Community ID includes a port pair.
fn has_ports(proto: u8) -> bool {
    matches!(
        proto,
        PROTO_ICMP | PROTO_TCP | PROTO_UDP | PROTO_ICMPV6 | PROTO_SCTP
    )
}

/// Maps ICMP type/code to the port pair the spec hashes; `true` means one-way (no swap).
fn icmp_ports(proto: u8, icmp_type: u16, code: u16) -> (u16, u16, bool) {
    // Types and codes are 8-bit on the wire; a larger value cannot be in the tables.
    let counterpart = match u8::try_from(icmp_type) {
        Ok(t) if proto == PROTO_ICMP => icmp4_counterpart(t),
        Ok(t) => icmp6_counterpart(t),
        Err(_) => None,
    };
    match counterpart {
        Some(c) => (icmp_type, u16::from(c), false),
        None => (icmp_type, code, true),
    }
}

/// The raw 20-byte SHA-1 digest behind [`community_id_v1`].
///
/// Arguments as for [`community_id_v1`].
pub fn community_id_v1_digest(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
    seed: u16,
) -> [u8; 20] {
    let (src_oct, src_len) = octets(src);
    let (dst_oct, dst_len) = octets(dst);
    let src_b = src_oct.get(..src_len).unwrap_or_default();
    let dst_b = dst_oct.get(..dst_len).unwrap_or_default();

    let ports = has_ports(proto);
    let (sport, dport, one_way) = if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        icmp_ports(proto, sport, dport)
    } else {
        (sport, dport, false)
    };
    // Reference `is_ordered`: addr_s < addr_d, or equal addresses and sport < dport.
    let ordered = one_way || src_b < dst_b || (src_b == dst_b && ports && sport < dport);
    let (a, b, pa, pb) = if ordered {
        (src_b, dst_b, sport, dport)
    } else {
        (dst_b, src_b, dport, sport)
    };

    let mut input = [0u8; MAX_INPUT_LEN];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        if let Some(slot) = input.get_mut(len..len + bytes.len()) {
            slot.copy_from_slice(bytes);
            len += bytes.len();
        }
    };
    put(&seed.to_be_bytes());
    put(a);
    put(b);
    put(&[proto, 0]);
    if ports {
        put(&pa.to_be_bytes());
        put(&pb.to_be_bytes());
    }
    let mut h = Sha1::new();
    h.update(input.get(..len).unwrap_or_default());
    h.finalize().into()
}

/// Community ID v1 of a flow: `"1:"` followed by the base64 of [`community_id_v1_digest`].
///
/// `src`/`dst` and `sport`/`dport` may be given in either direction; both give the same ID
/// (except for one-way ICMP types, see the module docs). For ICMP and ICMPv6 pass the message
/// type as `sport` and the code as `dport`. For protocols other than TCP, UDP, SCTP, ICMP and
/// ICMPv6 the ports are ignored. `seed` is 0 unless the operator configured another.
pub fn community_id_v1(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
    seed: u16,
) -> String {
    let digest = community_id_v1_digest(src, dst, proto, sport, dport, seed);
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut out);
    out
}

/// Address bytes in network order, in a fixed buffer so that hashing never allocates.
fn octets(ip: IpAddr) -> ([u8; 16], usize) {
    let mut buf = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => {
            if let Some(slot) = buf.get_mut(..4) {
                slot.copy_from_slice(&v4.octets());
            }
            (buf, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test data is valid")
    }

    // Vectors from corelight/community-id-spec baseline/README.md, "Default settings" and
    // "A custom seed=1 value" tables (seed, proto, src, dst, sport, dport, id); "-" ports
    // (RSVP) are passed as 0 and must be ignored.
    const SPEC_TABLE: &[(u16, u8, &str, &str, u16, u16, &str)] = &[
        (
            0,
            6,
            "1.2.3.4",
            "5.6.7.8",
            1122,
            3344,
            "1:wCb3OG7yAFWelaUydu0D+125CLM=",
        ),
        (
            0,
            6,
            "5.6.7.8",
            "1.2.3.4",
            3344,
            1122,
            "1:wCb3OG7yAFWelaUydu0D+125CLM=",
        ),
        (
            0,
            17,
            "1.2.3.4",
            "5.6.7.8",
            1122,
            3344,
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=",
        ),
        (
            0,
            17,
            "5.6.7.8",
            "1.2.3.4",
            3344,
            1122,
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=",
        ),
        (
            0,
            132,
            "1.2.3.4",
            "5.6.7.8",
            1122,
            3344,
            "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=",
        ),
        (
            0,
            132,
            "5.6.7.8",
            "1.2.3.4",
            3344,
            1122,
            "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=",
        ),
        (
            0,
            1,
            "1.2.3.4",
            "5.6.7.8",
            8,
            0,
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=",
        ),
        (
            0,
            1,
            "5.6.7.8",
            "1.2.3.4",
            0,
            0,
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=",
        ),
        (
            0,
            1,
            "1.2.3.4",
            "5.6.7.8",
            11,
            0,
            "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=",
        ),
        (
            0,
            58,
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            128,
            0,
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=",
        ),
        (
            0,
            58,
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            129,
            0,
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=",
        ),
        (
            0,
            58,
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            146,
            0,
            "1:fYC8+pz24E+EhANP1EZhpX0Dw10=",
        ),
        (
            0,
            46,
            "1.2.3.4",
            "5.6.7.8",
            0,
            0,
            "1:ikv3kmf89luf73WPz1jOs49S768=",
        ),
        (
            0,
            46,
            "5.6.7.8",
            "1.2.3.4",
            0,
            0,
            "1:ikv3kmf89luf73WPz1jOs49S768=",
        ),
        (
            0,
            46,
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            0,
            0,
            "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=",
        ),
        (
            0,
            46,
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            0,
            0,
            "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=",
        ),
        (
            1,
            6,
            "1.2.3.4",
            "5.6.7.8",
            1122,
            3344,
            "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=",
        ),
        (
            1,
            6,
            "5.6.7.8",
            "1.2.3.4",
            3344,
            1122,
            "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=",
        ),
        (
            1,
            17,
            "1.2.3.4",
            "5.6.7.8",
            1122,
            3344,
            "1:OShq+iKDAMVouh/4bMxB9Sz4amw=",
        ),
        (
            1,
            17,
            "5.6.7.8",
            "1.2.3.4",
            3344,
            1122,
            "1:OShq+iKDAMVouh/4bMxB9Sz4amw=",
        ),
        (
            1,
            132,
            "1.2.3.4",
            "5.6.7.8",
            1122,
            3344,
            "1:uitchpn5MMGAQKBJh7bIr/bAr7s=",
        ),
        (
            1,
            132,
            "5.6.7.8",
            "1.2.3.4",
            3344,
            1122,
            "1:uitchpn5MMGAQKBJh7bIr/bAr7s=",
        ),
        (
            1,
            1,
            "1.2.3.4",
            "5.6.7.8",
            8,
            0,
            "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=",
        ),
        (
            1,
            1,
            "5.6.7.8",
            "1.2.3.4",
            0,
            0,
            "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=",
        ),
        (
            1,
            1,
            "1.2.3.4",
            "5.6.7.8",
            11,
            0,
            "1:1DD7cWGC/Yg91YGsQeni8du3pIA=",
        ),
        (
            1,
            58,
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            128,
            0,
            "1:IO27GQzPuCtNnwFvjWALMHu5tJE=",
        ),
        (
            1,
            58,
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            129,
            0,
            "1:IO27GQzPuCtNnwFvjWALMHu5tJE=",
        ),
        (
            1,
            58,
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            146,
            0,
            "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=",
        ),
        (
            1,
            46,
            "1.2.3.4",
            "5.6.7.8",
            0,
            0,
            "1:/buhqeOmaRCopOZFy9HnoJd5XW8=",
        ),
        (
            1,
            46,
            "5.6.7.8",
            "1.2.3.4",
            0,
            0,
            "1:/buhqeOmaRCopOZFy9HnoJd5XW8=",
        ),
        (
            1,
            46,
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            0,
            0,
            "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=",
        ),
        (
            1,
            46,
            "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
            "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
            0,
            0,
            "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=",
        ),
    ];

    #[test]
    fn spec_baseline_tables() {
        for &(seed, proto, s, d, sp, dp, want) in SPEC_TABLE {
            assert_eq!(
                community_id_v1(ip(s), ip(d), proto, sp, dp, seed),
                want,
                "seed {seed} proto {proto} {s}:{sp} -> {d}:{dp}"
            );
        }
    }

    // corelight/community-id-spec baseline/baseline_deflt.json (seed 0), verbatim; the
    // null ports of proto 46 are passed as 0.
    const SPEC_JSON_DEFLT: &[(u8, &str, &str, u16, u16, &str)] = &[
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            135,
            136,
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "fe80::200:86ff:fe05:80da",
            136,
            135,
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "fe80::200:86ff:fe05:80da",
            135,
            136,
            "1:zavyT/cezQr1fmImYCwYnMXbgck=",
        ),
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            136,
            135,
            "1:zavyT/cezQr1fmImYCwYnMXbgck=",
        ),
        (
            58,
            "3ffe:501:1800:2345::2",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            3,
            0,
            "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=",
        ),
        (
            58,
            "3ffe:501:410:0:2c0:dfff:fe47:33e",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            1,
            4,
            "1:hLZd0XGWojozrvxqE0dWB1iM6R0=",
        ),
        (
            58,
            "3ffe:507:0:1:200:86ff:fe05:80da",
            "3ffe:501:0:1001::2",
            128,
            129,
            "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
        ),
        (
            58,
            "3ffe:501:0:1001::2",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            129,
            128,
            "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
        ),
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "ff02::2",
            133,
            134,
            "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "ff02::1",
            134,
            133,
            "1:pkvHqCL88/tg1k4cPigmZXUtL00=",
        ),
        (
            1,
            "192.168.0.89",
            "192.168.0.1",
            8,
            0,
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
        ),
        (
            1,
            "192.168.0.1",
            "192.168.0.89",
            0,
            8,
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
        ),
        (
            1,
            "10.0.0.1",
            "10.0.0.2",
            11,
            0,
            "1:YHxtAirCG//0OzkcVAukqKQN9xM=",
        ),
        (
            6,
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            "2607:f8b0:400c:c03::1a",
            63943,
            25,
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            6,
            "2607:f8b0:400c:c03::1a",
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            25,
            63943,
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            132,
            "192.168.170.8",
            "192.168.170.56",
            7,
            7,
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
        ),
        (
            132,
            "192.168.170.56",
            "192.168.170.8",
            7,
            7,
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
        ),
        (
            6,
            "128.232.110.120",
            "66.35.250.204",
            34855,
            80,
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            6,
            "66.35.250.204",
            "128.232.110.120",
            80,
            34855,
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            17,
            "192.168.1.52",
            "8.8.8.8",
            54585,
            53,
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            17,
            "8.8.8.8",
            "192.168.1.52",
            53,
            54585,
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            46,
            "10.1.12.1",
            "10.1.12.2",
            0,
            0,
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
        ),
        (
            46,
            "10.1.12.2",
            "10.1.12.1",
            0,
            0,
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
        ),
    ];

    #[test]
    fn spec_baseline_json() {
        for &(proto, s, d, sp, dp, want) in SPEC_JSON_DEFLT {
            assert_eq!(
                community_id_v1(ip(s), ip(d), proto, sp, dp, 0),
                want,
                "proto {proto} {s}:{sp} -> {d}:{dp}"
            );
        }
    }

    // corelight/pycommunityid tests/communityid_test.py: (src, dst, sport/type, dport/code,
    // proto, [seed 0, seed 1]).
    const PY_TESTS: &[(&str, &str, u16, u16, u8, &str, &str)] = &[
        (
            "192.168.0.89",
            "192.168.0.1",
            8,
            0,
            1,
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
        ),
        (
            "192.168.0.1",
            "192.168.0.89",
            0,
            8,
            1,
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
        ),
        // Type 20 is not a request/response type: the code is hashed, so codes differ.
        (
            "192.168.0.89",
            "192.168.0.1",
            20,
            0,
            1,
            "1:3o2RFccXzUgjl7zDpqmY7yJi8rI=",
            "1:lCXHHxavE1Vq3oX9NH5ladQg02o=",
        ),
        (
            "192.168.0.89",
            "192.168.0.1",
            20,
            1,
            1,
            "1:tz/fHIDUHs19NkixVVoOZywde+I=",
            "1:Ie3wmFyxiEyikbsbcO03d2nh+PM=",
        ),
        // Echo reply ignores its code.
        (
            "192.168.0.1",
            "192.168.0.89",
            0,
            20,
            1,
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
        ),
        (
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            135,
            0,
            58,
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=",
        ),
        (
            "fe80::260:97ff:fe07:69ea",
            "fe80::200:86ff:fe05:80da",
            136,
            0,
            58,
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=",
        ),
        // One-way: the same message in the two directions gives two IDs.
        (
            "3ffe:507:0:1:260:97ff:fe07:69ea",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            3,
            0,
            58,
            "1:NdobDX8PQNJbAyfkWxhtL2Pqp5w=",
            "1:OlOWx9psIbBFi7lOCw/4MhlKR9M=",
        ),
        (
            "3ffe:507:0:1:200:86ff:fe05:80da",
            "3ffe:507:0:1:260:97ff:fe07:69ea",
            3,
            0,
            58,
            "1:/OGBt9BN1ofenrmSPWYicpij2Vc=",
            "1:Ij4ZxnC87/MXzhOjvH2vHu7LRmE=",
        ),
        (
            "192.168.170.8",
            "192.168.170.56",
            7,
            80,
            132,
            "1:jQgCxbku+pNGw8WPbEc/TS/uTpQ=",
            "1:Y1/0jQg6e+I3ZwZZ9LP65DNbTXU=",
        ),
        (
            "192.168.170.56",
            "192.168.170.8",
            80,
            7,
            132,
            "1:jQgCxbku+pNGw8WPbEc/TS/uTpQ=",
            "1:Y1/0jQg6e+I3ZwZZ9LP65DNbTXU=",
        ),
        (
            "128.232.110.120",
            "66.35.250.204",
            34855,
            80,
            6,
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        ),
        (
            "66.35.250.204",
            "128.232.110.120",
            80,
            34855,
            6,
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        ),
        // pycommunityid issue #3: ports compared as integers, not as bytes.
        (
            "10.0.0.1",
            "10.0.0.2",
            10,
            11569,
            6,
            "1:SXBGMX1lBOwhhoDrZynfROxnhnM=",
            "1:HmBRGR+fUyXF4t8WEtal7Y0gEAo=",
        ),
        (
            "192.168.1.52",
            "8.8.8.8",
            54585,
            53,
            17,
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        ),
        (
            "8.8.8.8",
            "192.168.1.52",
            53,
            54585,
            17,
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        ),
        (
            "10.1.24.4",
            "10.1.12.1",
            0,
            0,
            46,
            "1:/nQI4Rh/TtY3mf0R2gJFBkVlgS4=",
            "1:BK3BVW3U2eemuwVQVN3zd/GULno=",
        ),
        (
            "10.1.12.1",
            "10.1.24.4",
            0,
            0,
            46,
            "1:/nQI4Rh/TtY3mf0R2gJFBkVlgS4=",
            "1:BK3BVW3U2eemuwVQVN3zd/GULno=",
        ),
    ];

    #[test]
    fn pycommunityid_unit_tests() {
        for &(s, d, sp, dp, proto, want0, want1) in PY_TESTS {
            assert_eq!(
                community_id_v1(ip(s), ip(d), proto, sp, dp, 0),
                want0,
                "{s} {d} {sp} {dp} {proto}"
            );
            assert_eq!(
                community_id_v1(ip(s), ip(d), proto, sp, dp, 1),
                want1,
                "{s} {d} {sp} {dp} {proto} seed 1"
            );
        }
    }

    // pycommunityid "no base64" column: the raw digest in hex.
    #[test]
    fn digest_matches_hex_vectors() {
        let cases: &[(&str, &str, u16, u16, u8, &str)] = &[
            (
                "192.168.0.89",
                "192.168.0.1",
                8,
                0,
                1,
                "5f4b27617a60c22bfd4d9b6a83ae2c833527e839",
            ),
            (
                "10.0.0.1",
                "10.0.0.2",
                10,
                11569,
                6,
                "497046317d6504ec218680eb6729df44ec678673",
            ),
            (
                "10.1.24.4",
                "10.1.12.1",
                0,
                0,
                46,
                "fe7408e1187f4ed63799fd11da0245064565812e",
            ),
        ];
        for &(s, d, sp, dp, proto, want) in cases {
            let hex: String = community_id_v1_digest(ip(s), ip(d), proto, sp, dp, 0)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(hex, want);
        }
    }

    #[test]
    fn ports_ignored_for_portless_protocols() {
        // RSVP (46) in the spec table has no ports; any port values must not change the ID.
        assert_eq!(
            community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 46, 1234, 80, 0),
            "1:ikv3kmf89luf73WPz1jOs49S768="
        );
        // Negative: for TCP the ports do matter.
        assert_ne!(
            community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 6, 1122, 3345, 0),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
    }

    #[test]
    fn out_of_range_icmp_type_is_one_way() {
        // 264 is 8 + 256: not an 8-bit type, so it must not map like echo request (8).
        assert_ne!(
            community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 1, 264, 0, 0),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
    }
}
