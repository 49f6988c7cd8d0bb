//! DNS messages at and past the limits of RFC 1035 names: 255-octet names of 63-octet labels,
//! longer names, compression pointer loops (a pointer to itself, two pointers to each other),
//! pointer chains of 32 and 33 jumps, names assembled from long labels through pointers, over
//! UDP and over TCP (RFC 7766 framing), and 64 KB responses whose 4 074 owner names each follow
//! 32 pointers.
//!
//! Per round (100 x scale rounds), with fresh ports, each flow opened by a valid query (so a
//! sensor that recognises DNS by content knows the flow is DNS) unless said otherwise:
//!
//! | flow | the other messages | parses? |
//! |---|---|---|
//! | UDP `max-name` | query and answer for a 255-octet name (63, 63, 63, 61) | yes |
//! | UDP `long-name` | answer owner of 256 octets, uncompressed | no |
//! | UDP `self-loop` | answer owner is a pointer to itself | no |
//! | UDP `mutual-loop` | two pointers to each other | no |
//! | UDP `chain-32` | owner reached through 32 pointers | yes |
//! | UDP `chain-33` | 33 pointers | no |
//! | UDP `ptr-255` | owner of 3 x 63-octet labels + 61, joined by pointers | yes |
//! | UDP `ptr-257` | 4 x 63-octet labels joined by pointers | no |
//! | UDP `rdata-loop` | a CNAME whose target is a pointer to itself | yes (target unreadable) |
//! | UDP `loop-first` | only a query whose name points to itself: never valid DNS | - |
//! | TCP `heavy` | 64 KB answer: 4 074 owners each through 32 pointers, 45 segments | yes |
//! | TCP `pipelined` | 20 queries, a self-loop query, 5 more queries, one stream | 20 yes, 1 no, 5 never read |
//! | TCP `split` | a 2 930-byte query with a self-loop name; its first segment holds the header only | no |
//!
//! [`DnsFacts`] counts what a parser that stops a TCP direction at its first bad message
//! (and drops each bad UDP datagram) sees.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use super::{Conn, FloodConfig, Out, DOWN, UP};

/// Compression pointers a name may follow (RFC 1035 gives no number; the sensor allows 32).
pub const CHAIN_OK: usize = 32;
/// Answers of the `heavy` TCP response.
pub const HEAVY_ANSWERS: u16 = 4_074;
/// Valid queries before and after the bad one in the `pipelined` TCP stream.
pub const PIPELINED_BEFORE: u64 = 20;
pub const PIPELINED_AFTER: u64 = 5;

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_TXT: u16 = 16;
/// Private-use type (RFC 6895 §3.1): opaque data that holds the pointer chains.
const TYPE_PRIVATE: u16 = 0xff00;
const HEADER: usize = 12;

/// What [`write`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsFacts {
    pub rounds: u64,
    /// Messages of DNS flows that parse (each one `dns` event).
    pub good_messages: u64,
    /// Bad messages a parser sees: each bad UDP datagram, and the first bad message of each
    /// TCP direction (the rest of that direction is not read).
    pub bad_messages: u64,
    /// Datagrams of the `loop-first` flows: not DNS at all, so neither event nor error.
    pub not_dns: u64,
    pub udp_flows: u64,
    pub tcp_flows: u64,
    /// The 253-character name of round 0's `max-name` flow, as text.
    pub max_name: String,
    /// The 253-character owner name every `ptr-255` answer reaches through 3 pointers.
    pub ptr_name: String,
}

/// `name` as uncompressed labels, root included.
fn labels(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for l in name.split('.').filter(|l| !l.is_empty()) {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out
}

fn ptr(at: usize) -> [u8; 2] {
    (0xc000 | (at as u16 & 0x3fff)).to_be_bytes()
}

/// Header, then one question for `qname_wire`.
fn start(id: u16, response: bool, counts: [u16; 3], qname_wire: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(512);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&(if response { 0x8180u16 } else { 0x0100 }).to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    for c in counts {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m.extend_from_slice(qname_wire);
    m.extend_from_slice(&TYPE_A.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

/// Appends a record: `owner` (wire bytes), type, class IN, TTL 60, `rdata`.
fn record(m: &mut Vec<u8>, owner: &[u8], rtype: u16, rdata: &[u8]) {
    m.extend_from_slice(owner);
    m.extend_from_slice(&rtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&60u32.to_be_bytes());
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(rdata);
}

/// Offset at which the data of the next record appended to `m` with a `owner_len`-byte
/// owner begins.
fn rdata_at(m: &[u8], owner_len: usize) -> usize {
    m.len() + owner_len + 10
}

/// A private record (owner: the question name) holding `n` chained pointers, the first to
/// the question name; returns the offset of the last pointer.
fn chain(m: &mut Vec<u8>, n: usize) -> usize {
    let at = rdata_at(m, 2);
    let mut data = Vec::with_capacity(2 * n);
    for k in 0..n {
        let target = if k == 0 { HEADER } else { at + 2 * (k - 1) };
        data.extend_from_slice(&ptr(target));
    }
    record(m, &ptr(HEADER), TYPE_PRIVATE, &data);
    at + 2 * n.saturating_sub(1)
}

/// A private record holding labels of the given lengths, each but the last followed by a
/// pointer to the next; returns the offset of the first label.
fn long_labels(m: &mut Vec<u8>, lens: &[usize], fill: u8) -> usize {
    let at = rdata_at(m, 2);
    let mut data = Vec::new();
    for (k, &len) in lens.iter().enumerate() {
        data.push(len as u8);
        data.extend(std::iter::repeat_n(fill, len));
        if k + 1 < lens.len() {
            let next = at + data.len() + 2;
            data.extend_from_slice(&ptr(next));
        } else {
            data.push(0);
        }
    }
    record(m, &ptr(HEADER), TYPE_PRIVATE, &data);
    at
}

/// A name of labels of the given lengths, the first starting with `tag`.
fn name_of(tag: &str, lens: &[usize]) -> String {
    let mut parts = Vec::new();
    for (k, &len) in lens.iter().enumerate() {
        let mut l = if k == 0 {
            tag.to_string()
        } else {
            String::new()
        };
        while l.len() < len {
            l.push(char::from(b'a' + (k as u8 % 26)));
        }
        l.truncate(len);
        parts.push(l);
    }
    parts.join(".")
}

/// One round's UDP response of variant `v` to a query for `qname`; `true` if it parses.
fn udp_response(v: &str, id: u16, qname: &str, ptr_255: &[usize]) -> (Vec<u8>, bool) {
    let q = labels(qname);
    let a = [192, 0, 2, 7];
    let mut m = start(id, true, [2, 0, 0], &q);
    let ok = match v {
        "long-name" => {
            let long = name_of("long", &[63, 63, 63, 62]);
            record(&mut m, &labels(&long), TYPE_A, &a);
            record(&mut m, &ptr(HEADER), TYPE_A, &a);
            false
        }
        "self-loop" => {
            record(&mut m, &ptr(HEADER), TYPE_A, &a);
            let here = m.len();
            record(&mut m, &ptr(here), TYPE_A, &a);
            false
        }
        "mutual-loop" => {
            let r = rdata_at(&m, 2);
            let owner2 = r + 2;
            record(&mut m, &ptr(HEADER), TYPE_PRIVATE, &ptr(owner2));
            record(&mut m, &ptr(r), TYPE_A, &a);
            false
        }
        "chain-32" | "chain-33" => {
            // One jump to the chain's last pointer, then one per pointer.
            let jumps = if v == "chain-32" {
                CHAIN_OK
            } else {
                CHAIN_OK + 1
            };
            let last = chain(&mut m, jumps - 1);
            record(&mut m, &ptr(last), TYPE_A, &a);
            v == "chain-32"
        }
        "ptr-255" | "ptr-257" => {
            let lens: &[usize] = if v == "ptr-255" {
                ptr_255
            } else {
                &[63, 63, 63, 63]
            };
            let first = long_labels(&mut m, lens, b'p');
            record(&mut m, &ptr(first), TYPE_A, &a);
            v == "ptr-255"
        }
        "rdata-loop" => {
            record(&mut m, &ptr(HEADER), TYPE_A, &a);
            let target = rdata_at(&m, 2);
            record(&mut m, &ptr(HEADER), TYPE_CNAME, &ptr(target));
            true
        }
        _ => {
            // max-name: the answer for the (long) question name.
            record(&mut m, &ptr(HEADER), TYPE_A, &a);
            record(&mut m, &ptr(HEADER), TYPE_A, &[192, 0, 2, 8]);
            true
        }
    };
    (m, ok)
}

/// The 64 KB `heavy` response: a 31-pointer chain, then [`HEAVY_ANSWERS`] owners through it.
fn heavy_response(id: u16, qname: &str) -> Vec<u8> {
    let mut m = start(id, true, [HEAVY_ANSWERS + 1, 0, 0], &labels(qname));
    let last = chain(&mut m, CHAIN_OK - 1);
    for k in 0..HEAVY_ANSWERS {
        let a = [198, 51, (k >> 8) as u8, k as u8];
        record(&mut m, &ptr(last), TYPE_A, &a);
    }
    m
}

/// A query whose question name is a pointer to itself.
fn self_loop_query(id: u16) -> Vec<u8> {
    start(id, false, [0, 0, 0], &ptr(HEADER))
}

/// RFC 7766 framing: 2-byte length, then the message.
fn framed(msg: &[u8]) -> Vec<u8> {
    let mut f = (msg.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(msg);
    f
}

const UDP_VARIANTS: [&str; 9] = [
    "max-name",
    "long-name",
    "self-loop",
    "mutual-loop",
    "chain-32",
    "chain-33",
    "ptr-255",
    "ptr-257",
    "rdata-loop",
];

pub(crate) fn write<W: Write>(out: &mut Out<W>, cfg: &FloodConfig) -> io::Result<DnsFacts> {
    let mut rng = super::rng(cfg, 0xd25);
    let resolver = IpAddr::V4(Ipv4Addr::new(10, 53, 0, 53));
    let ptr_lens = [63, 63, 63, 61];
    let mut f = DnsFacts {
        rounds: 100 * u64::from(cfg.scale),
        ptr_name: ptr_lens
            .iter()
            .map(|&n| "p".repeat(n))
            .collect::<Vec<_>>()
            .join("."),
        ..DnsFacts::default()
    };
    for round in 0..f.rounds {
        let r = rng.next_u64();
        let client = IpAddr::V4(Ipv4Addr::new(10, 54, (r >> 8) as u8, r as u8 | 1));
        let mut port = 20_000 + (round % 2_000) as u16 * 20;
        let mut next_port = || {
            port += 1;
            port
        };
        let tag = format!("r{round}");
        let max_name = name_of(&format!("{tag}-max"), &[63, 63, 63, 61]);
        if round == 0 {
            f.max_name = max_name.clone();
        }
        for (k, v) in UDP_VARIANTS.into_iter().enumerate() {
            let qname = if v == "max-name" {
                max_name.clone()
            } else {
                format!("{tag}-{v}.tapir-flood.test")
            };
            let id = (round as u16).wrapping_mul(16).wrapping_add(k as u16);
            let sport = next_port();
            out.udp((client, sport), (resolver, 53), &query(id, &qname))?;
            out.tick(400);
            let (resp, ok) = udp_response(v, id, &qname, &ptr_lens);
            out.udp((resolver, 53), (client, sport), &resp)?;
            out.tick(300);
            f.good_messages += 1 + u64::from(ok);
            f.bad_messages += u64::from(!ok);
            f.udp_flows += 1;
        }
        out.udp((client, next_port()), (resolver, 53), &self_loop_query(7))?;
        out.tick(300);
        f.not_dns += 1;
        f.udp_flows += 1;

        let mut tcp = |out: &mut Out<W>, up: &[u8], down: &[u8]| -> io::Result<()> {
            let isn = [rng.next_u64() as u32, rng.next_u64() as u32];
            let mut c = Conn::new((client, next_port()), (resolver, 53), isn);
            c.handshake(out)?;
            c.send(out, UP, up, 1_460)?;
            out.tick(500);
            c.send(out, DOWN, down, 1_460)?;
            c.close(out)?;
            out.tick(300);
            Ok(())
        };
        let qname = format!("{tag}-heavy.tapir-flood.test");
        tcp(
            out,
            &framed(&query(1, &qname)),
            &framed(&heavy_response(1, &qname)),
        )?;
        f.good_messages += 2;
        let mut pipelined = Vec::new();
        for k in 0..PIPELINED_BEFORE + 1 + PIPELINED_AFTER {
            let msg = if k == PIPELINED_BEFORE {
                self_loop_query(k as u16)
            } else {
                query(k as u16, &format!("{tag}-p{k}.tapir-flood.test"))
            };
            pipelined.extend_from_slice(&framed(&msg));
        }
        tcp(out, &pipelined, &[])?;
        f.good_messages += PIPELINED_BEFORE;
        f.bad_messages += 1;
        let mut split = start(9, false, [0, 0, 1], &ptr(HEADER));
        let txt: Vec<u8> = (0..2_900)
            .map(|i| if i % 100 == 0 { 99 } else { b't' })
            .collect();
        record(&mut split, &[0], TYPE_TXT, &txt);
        tcp(out, &framed(&split), &[])?;
        f.bad_messages += 1;
        f.tcp_flows += 3;
    }
    Ok(f)
}

/// A recursive query for `qname`, type A.
fn query(id: u16, qname: &str) -> Vec<u8> {
    start(id, false, [0, 0, 0], &labels(qname))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_name_is_255_octets_and_long_name_256() {
        let max = name_of("x", &[63, 63, 63, 61]);
        assert_eq!(max.len(), 253);
        assert_eq!(labels(&max).len(), 255);
        assert_eq!(labels(&name_of("x", &[63, 63, 63, 62])).len(), 256);
    }

    #[test]
    fn chain_points_back_to_the_question() {
        let mut m = start(1, true, [1, 0, 0], &labels("a.b"));
        let last = chain(&mut m, 3);
        let first = last - 4;
        assert_eq!(&m[first..first + 2], &ptr(HEADER));
        assert_eq!(&m[first + 2..first + 4], &ptr(first));
        assert_eq!(&m[last..last + 2], &ptr(first + 2));
    }

    #[test]
    fn heavy_response_fits_a_tcp_message() {
        let h = heavy_response(1, &name_of("r0-heavy", &[63, 63, 63, 61]));
        assert!(h.len() <= usize::from(u16::MAX), "{}", h.len());
        assert!(h.len() > 60_000);
    }

    #[test]
    fn split_query_needs_more_than_one_segment() {
        let mut split = start(9, false, [0, 0, 1], &ptr(HEADER));
        record(&mut split, &[0], TYPE_TXT, &[b't'; 2_900]);
        assert!(framed(&split).len() > 2 * 1_460);
    }
}
