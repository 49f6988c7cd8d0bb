//! Benchmark captures: a seeded, realistic-looking mix of many concurrent flows, or a SYN
//! flood. Everything comes from one SplitMix64 stream (Steele, Lea, Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014), so a seed gives the same bytes every time.
//!
//! Mix: TLS from four client profiles ([`crate::profiles`]: Chromium-like with GREASE and an
//! ML-KEM key share, Firefox-like, curl/OpenSSL-like, Go-like) to names from [`name_pool`],
//! then bulk application data; HTTP/1.1 request/response rounds and `Connection: close`
//! downloads; DNS queries with answers (A, AAAA, CNAME chains, NXDOMAIN); QUIC-sized UDP;
//! and a tail of small packets (SSH-like keystrokes, RTP-sized voice, NTP). TCP segments
//! carry the RFC 7323 timestamp option, as most stacks send, so pure ACKs are 66-byte frames
//! and full data segments 1514 bytes. Bulk-class receivers send stretch ACKs (one per 8
//! segments, as with GRO), so large means are reachable.
//!
//! Mean frame size: with [`BenchConfig::mean_frame`] set, each packet comes from a small,
//! a regular or a bulk flow, chosen by the running byte deficit against the target, so the
//! mean frame converges to the target (within a few bytes once there are a few thousand
//! packets). Reachable: [`MIN_MEAN_FRAME`]..=[`MAX_MEAN_FRAME`].
//!
//! Planting ([`BenchConfig::plant`]): plant `k` adds a DNS lookup of a planted domain answered
//! with a planted server address (v4 in 198.18.0.0/15, RFC 2544; v6 in 2001:db8:bad::/48),
//! a TLS session from the malware-like profile to that address with the domain as SNI, an
//! HTTP request with `Host: www.<domain>`, and a payload pattern in an HTTP body (even `k`)
//! or a raw TCP payload (odd `k`), split across two segments when `k % 4 < 2`. Every
//! occurrence is recorded in [`BenchSummary::planted`] with its frame numbers as the frames
//! are written; the generator makes sure every planted flow completes before the capture
//! ends. Benign traffic never uses planted names or addresses: benign servers come from
//! [`BENIGN_V4_FIRST_OCTETS`] and 2001:db8::/64, clients from 10/8 and fd00::/8, names from
//! [`name_pool`].
//!
//! Memory: `flows` flow slots (about 300 bytes each), fixed templates (under 1 MiB) and the
//! planted records (bounded by [`MAX_PLANT`]), whatever the packet count or file size.

use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::dns;
use crate::pcap::PcapWriter;
use crate::profiles::Profile;
use crate::session::Dir;
use crate::tls;
use crate::truth::{FlowTuple, Planted};
use crate::wire::{self, build_frame, Header, L2, L4};

/// Upper bound on concurrent flows, so `--flows` cannot ask for unbounded memory.
pub const MAX_FLOWS: usize = 1 << 20;
/// Upper bound on `--plant`.
pub const MAX_PLANT: u32 = 10_000;
/// Default target mean frame size (Ethernet frame, without the pcap record header).
pub const DEFAULT_MEAN_FRAME: u32 = 700;
/// Range of reachable targets: all-small traffic to all-bulk traffic.
pub const MIN_MEAN_FRAME: u32 = 200;
pub const MAX_MEAN_FRAME: u32 = 1_300;
/// Size of the random byte pool payloads are cut from.
const POOL_LEN: usize = 1 << 16;
/// A TLS record with a full 16 KiB fragment, header included.
const TLS_RECORD: u32 = tls::MAX_FRAGMENT as u32 + 5;
/// Most messages one TCP flow carries (SSH-like sessions use the most).
const MAX_MSGS: usize = 16;
/// Writer buffer: big sequential writes.
const WRITE_BUF: usize = 1 << 20;
/// TCP timestamp option, padded: NOP, NOP, kind 8, length 10, TSval, TSecr.
const TS_OPT_LEN: usize = 12;
/// Upper bound on the packets of one plant's flows (DNS 2, TLS about 20, HTTP and raw TCP
/// about 12 each); used to keep room for them at the end of the capture.
const PLANT_NEED_MAX: u64 = 80;
/// Deficit (bytes) the mean-frame controller tolerates before it leans on small or bulk flows.
const CONTROL_BAND: i128 = 4_000;
/// One in this many packets comes from a planted flow while some are open.
const PLANT_STEP_ONE_IN: u64 = 32;

/// First octets of benign IPv4 servers (large cloud and CDN blocks). Nothing planted or
/// generated as an intel list entry uses these.
pub const BENIGN_V4_FIRST_OCTETS: [u8; 16] = [
    13, 20, 23, 34, 35, 40, 52, 54, 64, 74, 104, 142, 151, 157, 172, 216,
];

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    /// Stop after this many packets (`u64::MAX`: no packet limit).
    pub packets: u64,
    /// Concurrent flows (clamped to 1..=[`MAX_FLOWS`]).
    pub flows: usize,
    pub seed: u64,
    /// Every packet a SYN with a fresh random 5-tuple.
    pub flood: bool,
    /// Stop once the file has reached this many bytes (0: no size limit). The file ends
    /// within one record of it.
    pub max_bytes: u64,
    /// Target mean frame size in bytes ([`MIN_MEAN_FRAME`]..=[`MAX_MEAN_FRAME`]); 0 leaves
    /// the regular mix uncontrolled.
    pub mean_frame: u32,
    /// Plants of indicators (0..=[`MAX_PLANT`]); see the module docs.
    pub plant: u32,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            packets: 1_000_000,
            flows: 1_000,
            seed: 1,
            flood: false,
            max_bytes: 0,
            mean_frame: DEFAULT_MEAN_FRAME,
            plant: 0,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BenchSummary {
    pub packets: u64,
    /// File size, headers included.
    pub bytes: u64,
    /// Sum of the frame lengths (the mean frame is this over `packets`).
    pub frame_bytes: u64,
    /// Flows begun (in flood mode, SYNs sent).
    pub flows_started: u64,
    /// Capture time from first to last packet.
    pub duration_us: u64,
    /// Every planted occurrence, in the order the plants were made.
    pub planted: Vec<Planted>,
}

/// SplitMix64 (public-domain reference constants).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; bias is below 2^-32 for the n used here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Log-uniform in `lo..hi`: many small values, a long tail, like transfer sizes.
    pub fn log_uniform(&mut self, lo: u32, hi: u32) -> u32 {
        let (l, h) = (f64::from(lo.max(1)).ln(), f64::from(hi.max(lo + 1)).ln());
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((l + u * (h - l)).exp() as u32).clamp(lo, hi)
    }

    /// `n` characters from `alphabet`.
    pub fn word(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| {
                let i = self.below(alphabet.len() as u64) as usize;
                char::from(alphabet.get(i).copied().unwrap_or(b'x'))
            })
            .collect()
    }
}

/// Lower-case letters and digits.
pub const ALNUM_LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The benign names of every benchmark capture (seed-independent): DNS query names, TLS SNI
/// and HTTP Host values are drawn from these, and NXDOMAIN lookups use `nx-<n>.example.com`.
pub fn name_pool() -> Vec<String> {
    const HOSTS: [&str; 10] = [
        "www",
        "api",
        "cdn",
        "static",
        "img",
        "login",
        "mail",
        "updates",
        "telemetry",
        "assets",
    ];
    const SITES: [&str; 6] = [
        "example.com",
        "example.net",
        "example.org",
        "shop.example",
        "news.example",
        "video.example.net",
    ];
    let mut v = Vec::with_capacity(HOSTS.len() * SITES.len());
    for s in SITES {
        for h in HOSTS {
            v.push(format!("{h}.{s}"));
        }
    }
    v
}

/// Parent domains of the planted names (reserved TLDs, RFC 2606 / RFC 6761).
const PLANT_PARENTS: [&str; 4] = [
    "badcdn.test",
    "evil-updates.test",
    "tracker.example",
    "c2.invalid",
];

/// Planted server address of plant `k` (v6 for every third plant).
pub fn plant_ip(k: u32) -> IpAddr {
    if k % 3 == 2 {
        let mut o = [0u8; 16];
        o[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad]);
        o[12..].copy_from_slice(&(k + 1).to_be_bytes());
        IpAddr::V6(Ipv6Addr::from(o))
    } else {
        // 198.18.0.0/15 holds 2^17 addresses; .0 is skipped.
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 1));
        IpAddr::V4(Ipv4Addr::from(base + k))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// Bytes of `templates[i]`.
    Template(u16),
    /// TLS application-data records with pool bytes as ciphertext.
    TlsData,
    /// Pool bytes (SSH-like ciphertext, raw downloads).
    Pool,
    /// `templates[i]` (an HTTP response header) then pool bytes.
    HttpBulk(u16),
    /// `own[i]` of a planted flow.
    Own(u8),
}

#[derive(Clone, Copy, Debug)]
struct Msg {
    dir: Dir,
    body: Body,
    len: u32,
}

const EMPTY_MSG: Msg = Msg {
    dir: Dir::Up,
    body: Body::Template(0),
    len: 0,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Syn,
    SynAck,
    HandshakeAck,
    Data,
    FinUp,
    FinDown,
    LastAck,
    /// UDP: packet index within the exchange.
    Udp(u8),
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UdpKind {
    /// Template pair index.
    Dns(u16),
    /// Planted DNS: `own[0]` query, `own[1]` response.
    DnsOwn,
    Quic,
    Rtp,
    Ntp,
}

/// Which pool a flow slot belongs to, for the mean-frame controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Regular,
    Small,
    Bulk,
}

#[derive(Clone, Debug)]
struct Flow {
    l2: L2,
    ip: [IpAddr; 2],
    port: [u16; 2],
    nxt: [u32; 2],
    mss: u32,
    phase: Phase,
    msgs: [Msg; MAX_MSGS],
    n_msgs: u8,
    msg: u8,
    off: u32,
    /// Data segments the receiver has not acknowledged yet.
    unacked: u8,
    /// The receiver acknowledges every this many full segments.
    ack_every: u8,
    /// UDP: total packets and what they carry.
    udp_total: u8,
    udp: UdpKind,
    dns_id: u16,
    salt: u32,
}

/// What one step wrote, so planted flows can record frame numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stepped {
    Syn,
    Data { msg: u8, off: u32, n: u32 },
    Udp(u8),
    Other,
}

/// Fixed payloads shared by all flows.
struct Templates {
    bytes: Vec<Vec<u8>>,
    names: Vec<String>,
    /// `client_hellos[profile][name]`.
    client_hellos: Vec<Vec<u16>>,
    server_flight13: u16,
    client_finish13: u16,
    server_flight12: u16,
    client_finish12: u16,
    server_finish12: u16,
    /// `http_requests[name]`: one per name, User-Agent by name index.
    http_requests: Vec<u16>,
    http_responses: Vec<u16>,
    http_bulk_header: u16,
    /// (query, response) template indices.
    dns: Vec<(u16, u16)>,
    ntp: (u16, u16),
    pool: Vec<u8>,
}

fn benign_v4(r: u64) -> [u8; 4] {
    let b = (r as u32).to_be_bytes();
    let first = BENIGN_V4_FIRST_OCTETS
        .get(usize::from(b[0]) % BENIGN_V4_FIRST_OCTETS.len())
        .copied()
        .unwrap_or(13);
    [first, b[1], b[2], b[3].max(1)]
}

fn http_request(method: &str, path: &str, host: &str, ua: &str, body_len: usize) -> String {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n\
         Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
    );
    if body_len > 0 {
        r.push_str(&format!(
            "Content-Type: application/octet-stream\r\nContent-Length: {body_len}\r\n"
        ));
    }
    r.push_str("\r\n");
    r
}

impl Templates {
    fn new(rng: &mut SplitMix64) -> Self {
        let mut t = Templates {
            bytes: Vec::new(),
            names: name_pool(),
            client_hellos: Vec::new(),
            server_flight13: 0,
            client_finish13: 0,
            server_flight12: 0,
            client_finish12: 0,
            server_finish12: 0,
            http_requests: Vec::new(),
            http_responses: Vec::new(),
            http_bulk_header: 0,
            dns: Vec::new(),
            ntp: (0, 0),
            pool: (0..POOL_LEN).map(|_| rng.next_u64() as u8).collect(),
        };
        let names = t.names.clone();
        for (p, profile) in Profile::BENIGN.iter().enumerate() {
            let mut per_name = Vec::with_capacity(names.len());
            for (i, sni) in names.iter().enumerate() {
                let seed = (p * 61 + i) as u8;
                per_name.push(t.add(profile.client_hello(sni, seed)));
            }
            t.client_hellos.push(per_name);
        }
        for (i, host) in names.iter().enumerate() {
            let ua = Profile::BENIGN
                .get(i % Profile::BENIGN.len())
                .map_or("", |p| p.user_agent);
            let req = http_request("GET", &format!("/assets/{i}/index.html"), host, ua, 0);
            let idx = t.add(req.into_bytes());
            t.http_requests.push(idx);
        }

        // TLS 1.3 server flight: ServerHello, CCS, then encrypted EncryptedExtensions to
        // Finished as opaque application-data records.
        let sh = tls::server_hello(
            &tls::filler32(0x70),
            &tls::filler32(0x40),
            0x1301,
            &[
                (
                    tls::EXT_SUPPORTED_VERSIONS,
                    0x0304u16.to_be_bytes().to_vec(),
                ),
                (
                    tls::EXT_KEY_SHARE,
                    tls::ext_server_key_share(tls::GROUP_X25519, &tls::filler32(0x71)),
                ),
            ],
        );
        let mut flight = tls::records(tls::CT_HANDSHAKE, 0x0303, &sh);
        flight.extend(tls::change_cipher_spec());
        flight.extend(tls::opaque_records(tls::CT_APPLICATION_DATA, 3_450, 0x72));
        t.server_flight13 = t.add(flight);
        let mut fin = tls::change_cipher_spec();
        fin.extend(tls::opaque_records(tls::CT_APPLICATION_DATA, 53, 0x73));
        t.client_finish13 = t.add(fin);

        // TLS 1.2 ECDHE-RSA-style flight for the malware-like client.
        let mut hs = tls::server_hello(
            &tls::filler32(0x74),
            &tls::filler32(0x75),
            0xc02f,
            &[
                (tls::EXT_RENEGOTIATION_INFO, vec![0]),
                (tls::EXT_EC_POINT_FORMATS, tls::ext_u8_list(&[0])),
                (tls::EXT_EXTENDED_MASTER_SECRET, vec![]),
            ],
        );
        hs.extend(tls::certificate_tls12(&[crate::demo::DEMO_CERT_DER]));
        let mut point = vec![4];
        point.extend(tls::filler(0x76, 64));
        hs.extend(tls::server_key_exchange_ecdhe(
            tls::GROUP_SECP256R1,
            &point,
            0x0403,
        ));
        hs.extend(tls::server_hello_done());
        t.server_flight12 = t.add(tls::records(tls::CT_HANDSHAKE, 0x0303, &hs));
        let mut cke = tls::records(
            tls::CT_HANDSHAKE,
            0x0303,
            &tls::client_key_exchange_ecdhe(&point),
        );
        cke.extend(tls::change_cipher_spec());
        cke.extend(tls::opaque_records(tls::CT_HANDSHAKE, 40, 0x77));
        t.client_finish12 = t.add(cke);
        let mut sfin = tls::change_cipher_spec();
        sfin.extend(tls::opaque_records(tls::CT_HANDSHAKE, 40, 0x78));
        t.server_finish12 = t.add(sfin);

        for (i, size) in [230usize, 1_800, 6_500, 24_000, 90_000, 350_000]
            .into_iter()
            .enumerate()
        {
            let (status, ctype) = match i {
                0 => ("404 Not Found", "text/html"),
                1 | 2 => ("200 OK", "application/json"),
                _ => ("200 OK", "image/jpeg"),
            };
            let mut r = format!(
                "HTTP/1.1 {status}\r\nServer: nginx\r\nContent-Type: {ctype}\r\n\
                 Content-Length: {size}\r\n\r\n"
            )
            .into_bytes();
            let start = (i * 4099) % POOL_LEN;
            r.extend((0..size).map(|k| t.pool.get((start + k) % POOL_LEN).copied().unwrap_or(0)));
            let idx = t.add(r);
            t.http_responses.push(idx);
        }
        t.http_bulk_header = t.add(
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n\
              Connection: close\r\n\r\n"
                .to_vec(),
        );

        for (i, name) in names.iter().enumerate() {
            let a = benign_v4(rng.next_u64());
            let (q, r) = if i % 5 == 3 {
                // CNAME into a CDN name, then the address.
                let target = format!("edge{i}.cdn.example.net");
                let answers = [
                    dns::Rr {
                        name,
                        ttl: 300,
                        data: dns::Rdata::Cname(&target),
                    },
                    dns::Rr {
                        name: &target,
                        ttl: 60,
                        data: dns::Rdata::A(a),
                    },
                ];
                (
                    dns::query(0, name, dns::TYPE_A),
                    dns::response(0, name, dns::TYPE_A, 0, &answers, &[]),
                )
            } else {
                let answers = [dns::Rr {
                    name,
                    ttl: 300,
                    data: dns::Rdata::A(a),
                }];
                (
                    dns::query(0, name, dns::TYPE_A),
                    dns::response(0, name, dns::TYPE_A, 0, &answers, &[]),
                )
            };
            let pair = (t.add(q), t.add(r));
            t.dns.push(pair);
            if i % 3 == 0 {
                let mut o = [0u8; 16];
                o[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                o[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
                let answers = [dns::Rr {
                    name,
                    ttl: 300,
                    data: dns::Rdata::Aaaa(o),
                }];
                let q = dns::query(0, name, dns::TYPE_AAAA);
                let r = dns::response(0, name, dns::TYPE_AAAA, 0, &answers, &[]);
                let pair = (t.add(q), t.add(r));
                t.dns.push(pair);
            }
        }
        for i in 0..8 {
            let name = format!("nx-{i}.example.com");
            let soa = [dns::Rr {
                name: "example.com",
                ttl: 3600,
                data: dns::Rdata::Soa("ns.example.com", "hostmaster.example.com", 2026011501),
            }];
            let q = dns::query(0, &name, dns::TYPE_A);
            let r = dns::response(0, &name, dns::TYPE_A, dns::RCODE_NXDOMAIN, &[], &soa);
            let pair = (t.add(q), t.add(r));
            t.dns.push(pair);
        }
        // NTPv4 client (mode 3) and server (mode 4) packets, 48 bytes (RFC 5905 §7.3).
        let mut req = vec![0x23, 0, 6, 0x20];
        req.extend(tls::filler(0x79, 44));
        let mut resp = vec![0x24, 2, 6, 0xe9];
        resp.extend(tls::filler(0x7a, 44));
        t.ntp = (t.add(req), t.add(resp));
        t
    }

    fn add(&mut self, b: Vec<u8>) -> u16 {
        self.bytes.push(b);
        (self.bytes.len() - 1) as u16
    }

    fn get(&self, i: u16) -> &[u8] {
        self.bytes.get(usize::from(i)).map_or(&[], |v| v.as_slice())
    }

    fn pick(rng: &mut SplitMix64, v: &[u16]) -> u16 {
        v.get(rng.below(v.len() as u64) as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Appends bytes `off..off + n` of message `m` to `out`.
    #[allow(clippy::too_many_arguments)]
    fn write_range(
        &self,
        out: &mut Vec<u8>,
        m: &Msg,
        salt: u32,
        mut off: u32,
        mut n: u32,
        own: &[Vec<u8>],
    ) {
        let slice = |out: &mut Vec<u8>, t: &[u8], off: u32, n: u32| {
            let (a, b) = (off as usize, (off + n) as usize);
            out.extend_from_slice(t.get(a..b.min(t.len())).unwrap_or(&[]));
        };
        match m.body {
            Body::Template(i) => slice(out, self.get(i), off, n),
            Body::Own(i) => slice(
                out,
                own.get(usize::from(i)).map_or(&[], |v| v.as_slice()),
                off,
                n,
            ),
            Body::Pool => self.pool_bytes(out, (off ^ salt) as usize, n as usize),
            Body::HttpBulk(h) => {
                let hdr = self.get(h);
                let hl = hdr.len() as u32;
                if off < hl {
                    let take = (hl - off).min(n);
                    slice(out, hdr, off, take);
                    off += take;
                    n -= take;
                }
                self.pool_bytes(out, (off ^ salt) as usize, n as usize);
            }
            Body::TlsData => {
                while n > 0 {
                    let rec = off / TLS_RECORD;
                    let within = off % TLS_RECORD;
                    let rec_start = rec * TLS_RECORD;
                    if within < 5 {
                        let payload = (m.len - rec_start - 5).min(tls::MAX_FRAGMENT as u32);
                        let len = payload.to_be_bytes();
                        let hdr = [tls::CT_APPLICATION_DATA, 3, 3, len[2], len[3]];
                        let take = (5 - within).min(n);
                        let s = within as usize;
                        out.extend_from_slice(hdr.get(s..s + take as usize).unwrap_or(&[]));
                        off += take;
                        n -= take;
                    } else {
                        let rec_end = (rec_start + TLS_RECORD).min(m.len);
                        let take = (rec_end - off).min(n);
                        self.pool_bytes(out, (off ^ salt) as usize, take as usize);
                        off += take;
                        n -= take;
                    }
                }
            }
        }
    }

    fn pool_bytes(&self, out: &mut Vec<u8>, start: usize, mut n: usize) {
        let mut at = start % POOL_LEN;
        while n > 0 {
            let take = n.min(POOL_LEN - at);
            out.extend_from_slice(self.pool.get(at..at + take).unwrap_or(&[]));
            n -= take;
            at = 0;
        }
    }
}

/// Length on the wire of TLS application data carrying `payload` plaintext-sized bytes.
fn tls_data_len(payload: u32) -> u32 {
    payload + 5 * payload.div_ceil(tls::MAX_FRAGMENT as u32)
}

fn random_client(rng: &mut SplitMix64, v6: bool) -> IpAddr {
    let r = rng.next_u64();
    if v6 {
        let mut o = [0u8; 16];
        o[0] = 0xfd;
        o[8..].copy_from_slice(&r.to_be_bytes());
        IpAddr::V6(Ipv6Addr::from(o))
    } else {
        let b = (r as u32).to_be_bytes();
        IpAddr::V4(Ipv4Addr::new(10, b[1], b[2], b[3].max(1)))
    }
}

/// A benign server: IPv4 in [`BENIGN_V4_FIRST_OCTETS`], IPv6 in 2001:db8::/64.
fn random_server(rng: &mut SplitMix64, v6: bool) -> IpAddr {
    let r = rng.next_u64();
    if v6 {
        let mut o = [0u8; 16];
        o[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        o[8..].copy_from_slice(&r.to_be_bytes());
        IpAddr::V6(Ipv6Addr::from(o))
    } else {
        IpAddr::V4(Ipv4Addr::from(benign_v4(r)))
    }
}

fn random_l2(rng: &mut SplitMix64) -> L2 {
    let r = rng.next_u64().to_be_bytes();
    L2 {
        src: [0x02, 0x00, r[0], r[1], r[2], r[3]],
        dst: [0x02, 0x00, 0x0a, 0x00, 0x00, 0x01],
        // One flow in 16 is on a tagged VLAN.
        vlan: if r[4] & 0x0f == 0 {
            Some(100 + u16::from(r[5] & 0x07))
        } else {
            None
        },
    }
}

impl Flow {
    /// A TCP flow from a random client to a random benign server on `port`, no messages yet.
    fn blank(rng: &mut SplitMix64, v6: bool, port: u16) -> Flow {
        Flow {
            l2: random_l2(rng),
            ip: [random_client(rng, v6), random_server(rng, v6)],
            port: [32_768 + rng.below(28_232) as u16, port],
            nxt: [rng.next_u64() as u32, rng.next_u64() as u32],
            mss: if v6 { 1440 } else { 1460 } - TS_OPT_LEN as u32,
            phase: Phase::Syn,
            msgs: [EMPTY_MSG; MAX_MSGS],
            n_msgs: 0,
            msg: 0,
            off: 0,
            unacked: 0,
            ack_every: 2,
            udp_total: 0,
            udp: UdpKind::Quic,
            dns_id: 0,
            salt: rng.next_u64() as u32,
        }
    }

    fn push(&mut self, dir: Dir, body: Body, len: u32) {
        if let Some(m) = self.msgs.get_mut(usize::from(self.n_msgs)) {
            *m = Msg { dir, body, len };
            self.n_msgs += 1;
        }
    }

    fn tpl(&mut self, t: &Templates, dir: Dir, i: u16) {
        self.push(dir, Body::Template(i), t.get(i).len() as u32);
    }

    fn udp(&mut self, kind: UdpKind, port: u16, total: u8) {
        self.phase = Phase::Udp(0);
        self.udp = kind;
        self.port[1] = port;
        self.udp_total = total;
    }

    fn tls(&mut self, rng: &mut SplitMix64, t: &Templates, rounds: u64, down: (u32, u32)) {
        let names = t.names.len() as u64;
        let hellos = t
            .client_hellos
            .get(rng.below(t.client_hellos.len() as u64) as usize)
            .map_or(&[][..], |v| v.as_slice());
        let ch = hellos.get(rng.below(names) as usize).copied().unwrap_or(0);
        self.tpl(t, Dir::Up, ch);
        self.tpl(t, Dir::Down, t.server_flight13);
        self.tpl(t, Dir::Up, t.client_finish13);
        for _ in 0..rounds {
            let up = tls_data_len(rng.log_uniform(80, 2_000));
            self.push(Dir::Up, Body::TlsData, up);
            let down = tls_data_len(rng.log_uniform(down.0, down.1));
            self.push(Dir::Down, Body::TlsData, down);
        }
    }

    fn ssh(&mut self, rng: &mut SplitMix64) {
        self.port[1] = 22;
        for i in 0..6 + rng.below(10) {
            let (dir, len) = if i % 2 == 0 {
                (Dir::Up, 36 + rng.below(64))
            } else {
                (Dir::Down, 36 + rng.below(180))
            };
            self.push(dir, Body::Pool, len as u32);
        }
    }

    fn dns(&mut self, rng: &mut SplitMix64, t: &Templates) {
        let pair = rng.below(t.dns.len() as u64) as u16;
        self.udp(UdpKind::Dns(pair), 53, 2);
        self.dns_id = rng.next_u64() as u16;
    }

    fn new(rng: &mut SplitMix64, t: &Templates, class: Class) -> Flow {
        let v6 = rng.below(10) == 0;
        let mut f = Flow::blank(rng, v6, 443);
        let kind = rng.below(100);
        match class {
            Class::Regular => match kind {
                0..=32 => {
                    let rounds = 1 + rng.below(3);
                    f.tls(rng, t, rounds, (200, 400_000));
                }
                33..=52 => {
                    f.port[1] = 80;
                    for _ in 0..1 + rng.below(3) {
                        f.tpl(t, Dir::Up, Templates::pick(rng, &t.http_requests));
                        f.tpl(t, Dir::Down, Templates::pick(rng, &t.http_responses));
                    }
                }
                53..=72 => f.dns(rng, t),
                73..=80 => f.udp(UdpKind::Quic, 443, 4 + rng.below(24) as u8),
                81..=87 => f.ssh(rng),
                88..=91 => f.udp(UdpKind::Ntp, 123, 2),
                _ => {
                    f.port[1] = 80;
                    f.tpl(t, Dir::Up, Templates::pick(rng, &t.http_requests));
                    let len = rng.log_uniform(50_000, 2_000_000);
                    f.push(Dir::Down, Body::HttpBulk(t.http_bulk_header), len);
                }
            },
            // RTP flows are long, so they are the rarest to start.
            Class::Small => match kind % 8 {
                0..=2 => f.ssh(rng),
                3 => {
                    let port = 16_384 + 2 * rng.below(8_000) as u16;
                    f.port[0] = port;
                    f.udp(UdpKind::Rtp, port, 50 + rng.below(200) as u8);
                }
                4 | 5 => f.dns(rng, t),
                _ => f.udp(UdpKind::Ntp, 123, 2),
            },
            Class::Bulk => {
                f.ack_every = 8;
                if kind.is_multiple_of(2) {
                    f.tls(rng, t, 1, (1_000_000, 16_000_000));
                } else {
                    f.port[1] = 80;
                    f.tpl(t, Dir::Up, Templates::pick(rng, &t.http_requests));
                    let len = rng.log_uniform(1_000_000, 16_000_000);
                    f.push(Dir::Down, Body::HttpBulk(t.http_bulk_header), len);
                }
            }
        }
        f
    }

    /// Most packets this flow can still write.
    fn max_packets_left(&self) -> u64 {
        match self.phase {
            Phase::Udp(i) => u64::from(self.udp_total.saturating_sub(i)),
            Phase::Done => 0,
            _ => {
                let msgs: u64 = self
                    .msgs
                    .iter()
                    .take(usize::from(self.n_msgs))
                    .skip(usize::from(self.msg))
                    .map(|m| 2 * u64::from(m.len.div_ceil(self.mss.max(1))) + 1)
                    .sum();
                msgs + 6
            }
        }
    }

    fn tuple(&self) -> FlowTuple {
        FlowTuple {
            proto: if matches!(self.phase, Phase::Udp(_)) {
                "udp"
            } else {
                "tcp"
            },
            src: self.ip[0],
            sport: self.port[0],
            dst: self.ip[1],
            dport: self.port[1],
        }
    }
}

/// Where in a planted flow an occurrence lies.
#[derive(Clone, Copy, Debug)]
enum MarkAt {
    Syn,
    Udp(u8),
    Bytes { msg: u8, off: u32, len: u32 },
}

#[derive(Clone, Copy, Debug)]
struct Mark {
    /// Index into the planted list.
    entry: usize,
    at: MarkAt,
}

/// A planted flow: its own message bytes and the occurrences to record.
struct PlantFlow {
    flow: Flow,
    own: Vec<Vec<u8>>,
    marks: Vec<Mark>,
}

struct Gen<'a, W: Write> {
    rng: SplitMix64,
    t: &'a Templates,
    pcap: PcapWriter<W>,
    buf: Vec<u8>,
    now_us: u64,
    ip_id: u16,
    frame_bytes: u64,
}

impl<W: Write> Gen<'_, W> {
    fn write(&mut self) -> io::Result<()> {
        self.frame_bytes += self.buf.len() as u64;
        self.pcap.write_packet(self.now_us, &self.buf)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        f: &Flow,
        dir: Dir,
        seq: u32,
        ack: u32,
        flags: u8,
        m: Option<(Msg, u32, u32)>,
        own: &[Vec<u8>],
    ) -> io::Result<()> {
        let (s, d) = match dir {
            Dir::Up => (0, 1),
            Dir::Down => (1, 0),
        };
        let tsval = (self.now_us / 1000) as u32 ^ f.salt;
        let mut opts = [1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0];
        opts[4..8].copy_from_slice(&tsval.to_be_bytes());
        opts[8..12].copy_from_slice(&tsval.wrapping_sub(20).to_be_bytes());
        let syn_opts;
        let options: &[u8] = if flags & wire::SYN != 0 {
            syn_opts = if f.ip[1].is_ipv6() {
                wire::SYN_OPTIONS_V6
            } else {
                wire::SYN_OPTIONS_V4
            };
            &syn_opts
        } else {
            &opts
        };
        self.ip_id = self.ip_id.wrapping_add(1);
        let hdr = Header {
            l2: if s == 0 { f.l2 } else { f.l2.reversed() },
            src: f.ip[s],
            dst: f.ip[d],
            ttl: if s == 0 { 64 } else { 54 },
            ip_id: self.ip_id,
            l4: L4::Tcp {
                sport: f.port[s],
                dport: f.port[d],
                seq,
                ack,
                flags,
                window: if flags & wire::SYN != 0 {
                    64_240
                } else {
                    1_024
                },
                options,
            },
        };
        let t = self.t;
        build_frame(&mut self.buf, &hdr, |b| {
            if let Some((msg, off, n)) = m {
                t.write_range(b, &msg, f.salt, off, n, own);
            }
        });
        self.write()
    }

    fn udp(&mut self, f: &Flow, dir: Dir, payload: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let (s, d) = match dir {
            Dir::Up => (0, 1),
            Dir::Down => (1, 0),
        };
        self.ip_id = self.ip_id.wrapping_add(1);
        let hdr = Header {
            l2: if s == 0 { f.l2 } else { f.l2.reversed() },
            src: f.ip[s],
            dst: f.ip[d],
            ttl: 64,
            ip_id: self.ip_id,
            l4: L4::Udp {
                sport: f.port[s],
                dport: f.port[d],
            },
        };
        build_frame(&mut self.buf, &hdr, payload);
        self.write()
    }

    /// Writes exactly one packet of `f` and moves it on.
    fn step(&mut self, f: &mut Flow, own: &[Vec<u8>]) -> io::Result<Stepped> {
        let idx = |d: Dir| match d {
            Dir::Up => 0usize,
            Dir::Down => 1,
        };
        let mut out = Stepped::Other;
        match f.phase {
            Phase::Syn => {
                self.tcp(f, Dir::Up, f.nxt[0], 0, wire::SYN, None, own)?;
                f.nxt[0] = f.nxt[0].wrapping_add(1);
                f.phase = Phase::SynAck;
                out = Stepped::Syn;
            }
            Phase::SynAck => {
                let flags = wire::SYN | wire::ACK;
                self.tcp(f, Dir::Down, f.nxt[1], f.nxt[0], flags, None, own)?;
                f.nxt[1] = f.nxt[1].wrapping_add(1);
                f.phase = Phase::HandshakeAck;
            }
            Phase::HandshakeAck => {
                self.tcp(f, Dir::Up, f.nxt[0], f.nxt[1], wire::ACK, None, own)?;
                f.phase = if f.n_msgs == 0 {
                    Phase::FinUp
                } else {
                    Phase::Data
                };
            }
            Phase::Data => {
                let m = f.msgs.get(usize::from(f.msg)).copied().unwrap_or(EMPTY_MSG);
                let at_end = f.off >= m.len;
                // Delayed ACK: every `ack_every` full segments, and at the end of a message
                // unless the receiver answers with data right away.
                let next_dir = f.msgs.get(usize::from(f.msg) + 1).map(|n| n.dir);
                let ack_due = f.unacked >= f.ack_every
                    || (at_end && f.unacked > 0 && next_dir != Some(m.dir.other()));
                if ack_due {
                    let r = m.dir.other();
                    self.tcp(f, r, f.nxt[idx(r)], f.nxt[idx(m.dir)], wire::ACK, None, own)?;
                    f.unacked = 0;
                } else {
                    let n = (m.len - f.off.min(m.len)).min(f.mss);
                    let last = f.off + n >= m.len;
                    let flags = if last {
                        wire::ACK | wire::PSH
                    } else {
                        wire::ACK
                    };
                    let (seq, ack) = (f.nxt[idx(m.dir)], f.nxt[idx(m.dir.other())]);
                    self.tcp(f, m.dir, seq, ack, flags, Some((m, f.off, n)), own)?;
                    out = Stepped::Data {
                        msg: f.msg,
                        off: f.off,
                        n,
                    };
                    f.nxt[idx(m.dir)] = seq.wrapping_add(n);
                    f.off += n;
                    f.unacked = f.unacked.saturating_add(1);
                }
                if f.off >= m.len && (f.unacked == 0 || next_dir == Some(m.dir.other())) {
                    f.msg += 1;
                    f.off = 0;
                    f.unacked = 0;
                    if f.msg >= f.n_msgs {
                        f.phase = Phase::FinUp;
                    }
                }
            }
            Phase::FinUp => {
                let flags = wire::FIN | wire::ACK;
                self.tcp(f, Dir::Up, f.nxt[0], f.nxt[1], flags, None, own)?;
                f.nxt[0] = f.nxt[0].wrapping_add(1);
                f.phase = Phase::FinDown;
            }
            Phase::FinDown => {
                let flags = wire::FIN | wire::ACK;
                self.tcp(f, Dir::Down, f.nxt[1], f.nxt[0], flags, None, own)?;
                f.nxt[1] = f.nxt[1].wrapping_add(1);
                f.phase = Phase::LastAck;
            }
            Phase::LastAck => {
                self.tcp(f, Dir::Up, f.nxt[0], f.nxt[1], wire::ACK, None, own)?;
                f.phase = Phase::Done;
            }
            Phase::Udp(i) => {
                self.udp_step(f, i, own)?;
                out = Stepped::Udp(i);
                let next = i.saturating_add(1);
                f.phase = if next >= f.udp_total {
                    Phase::Done
                } else {
                    Phase::Udp(next)
                };
            }
            Phase::Done => {}
        }
        Ok(out)
    }

    fn udp_step(&mut self, f: &Flow, i: u8, own: &[Vec<u8>]) -> io::Result<()> {
        let t = self.t;
        let dir = if i == 0 { Dir::Up } else { Dir::Down };
        match f.udp {
            UdpKind::Dns(pair) => {
                let (q, r) = t.dns.get(usize::from(pair)).copied().unwrap_or((0, 0));
                let tpl = t.get(if i == 0 { q } else { r });
                let id = f.dns_id.to_be_bytes();
                self.udp(f, dir, |b| {
                    let at = b.len();
                    b.extend_from_slice(tpl);
                    if let Some(s) = b.get_mut(at..at + 2) {
                        s.copy_from_slice(&id);
                    }
                })
            }
            UdpKind::DnsOwn => {
                let msg = own.get(usize::from(i)).map_or(&[][..], |v| v.as_slice());
                self.udp(f, dir, |b| b.extend_from_slice(msg))
            }
            UdpKind::Ntp => {
                let tpl = t.get(if i == 0 { t.ntp.0 } else { t.ntp.1 });
                self.udp(f, dir, |b| b.extend_from_slice(tpl))
            }
            UdpKind::Rtp => {
                // RTP v2, PT 0 (PCMU), 20 ms of 8 kHz audio: 12-byte header + 160 bytes.
                let dir = if self.rng.below(2) == 0 {
                    Dir::Up
                } else {
                    Dir::Down
                };
                let seq = u16::from(i).wrapping_add(f.salt as u16).to_be_bytes();
                let ts = (u32::from(i) * 160).wrapping_add(f.salt).to_be_bytes();
                let ssrc = f.salt.to_be_bytes();
                let start = (f.salt as usize).wrapping_add(usize::from(i) * 160);
                self.udp(f, dir, |b| {
                    b.extend_from_slice(&[0x80, 0x00, seq[0], seq[1]]);
                    b.extend_from_slice(&ts);
                    b.extend_from_slice(&ssrc);
                    t.pool_bytes(b, start, 160);
                })
            }
            UdpKind::Quic => {
                // QUIC-sized datagrams on 443/udp: an Initial, then mostly server data.
                let dir = if i == 0 || self.rng.below(5) == 0 {
                    Dir::Up
                } else {
                    Dir::Down
                };
                let len = if i == 0 {
                    1_252
                } else {
                    40 + self.rng.below(1_300) as usize
                };
                let start = (f.salt as usize).wrapping_add(usize::from(i) * 1_500);
                self.udp(f, dir, |b| t.pool_bytes(b, start, len))
            }
        }
    }
}

/// Builds the flows of plant `k`, registering their occurrences in `planted`.
fn make_plant(
    rng: &mut SplitMix64,
    t: &Templates,
    k: u32,
    planted: &mut Vec<Planted>,
) -> Vec<PlantFlow> {
    let ip = plant_ip(k);
    let v6 = ip.is_ipv6();
    let parent = PLANT_PARENTS
        .get(k as usize % PLANT_PARENTS.len())
        .copied()
        .unwrap_or("badcdn.test");
    let domain = format!("{}-{k}.{parent}", rng.word(ALNUM_LOWER, 8));
    let pattern = match k % 4 {
        0 => format!(
            "powershell -nop -w hidden -enc {}",
            rng.word(ALNUM_LOWER, 16)
        ),
        1 => format!("MZ-stage2-{}", rng.word(ALNUM_LOWER, 16)),
        2 => format!("/gate.php?bot_id={}", rng.word(ALNUM_LOWER, 16)),
        _ => format!("AgentTesla:{}:exfil", rng.word(ALNUM_LOWER, 16)),
    };
    let split = k % 4 < 2;
    let mut flows = Vec::new();
    let add = |planted: &mut Vec<Planted>,
               marks: &mut Vec<Mark>,
               f: &Flow,
               kind: &'static str,
               value: &str,
               field: &'static str,
               wire: &str,
               at: MarkAt| {
        marks.push(Mark {
            entry: planted.len(),
            at,
        });
        planted.push(Planted {
            plant: k,
            kind,
            value: value.to_string(),
            field,
            wire: wire.to_string(),
            flow: f.tuple(),
            frames: Vec::new(),
            split: false,
        });
    };

    // DNS lookup of the planted name, answered with the planted address.
    let mut f = Flow::blank(rng, v6, 53);
    let id = rng.next_u64() as u16;
    let (qtype, rdata) = match ip {
        IpAddr::V4(a) => (dns::TYPE_A, dns::Rdata::A(a.octets())),
        IpAddr::V6(a) => (dns::TYPE_AAAA, dns::Rdata::Aaaa(a.octets())),
    };
    let answers = [dns::Rr {
        name: &domain,
        ttl: 120,
        data: rdata,
    }];
    let own = vec![
        dns::query(id, &domain, qtype),
        dns::response(id, &domain, qtype, 0, &answers, &[]),
    ];
    f.udp(UdpKind::DnsOwn, 53, 2);
    let mut marks = Vec::new();
    let ip_s = ip.to_string();
    add(
        planted,
        &mut marks,
        &f,
        "domain",
        &domain,
        "dns.query",
        &domain,
        MarkAt::Udp(0),
    );
    // The response repeats the question: same occurrence, second frame.
    marks.push(Mark {
        entry: planted.len() - 1,
        at: MarkAt::Udp(1),
    });
    add(
        planted,
        &mut marks,
        &f,
        "ip",
        &ip_s,
        "dns.answer",
        &ip_s,
        MarkAt::Udp(1),
    );
    flows.push(PlantFlow {
        flow: f,
        own,
        marks,
    });

    // TLS 1.2 from the malware-like profile to the planted address, SNI the planted name.
    let mut f = Flow::blank(rng, v6, 443);
    f.ip[1] = ip;
    let ch = Profile::MALWARE.client_hello(&domain, k as u8);
    let own = vec![ch.clone()];
    f.push(Dir::Up, Body::Own(0), ch.len() as u32);
    f.tpl(t, Dir::Down, t.server_flight12);
    f.tpl(t, Dir::Up, t.client_finish12);
    f.tpl(t, Dir::Down, t.server_finish12);
    f.push(
        Dir::Up,
        Body::TlsData,
        tls_data_len(rng.log_uniform(100, 900)),
    );
    f.push(
        Dir::Down,
        Body::TlsData,
        tls_data_len(rng.log_uniform(100, 4_000)),
    );
    let mut marks = Vec::new();
    add(
        planted,
        &mut marks,
        &f,
        "ip",
        &ip_s,
        "flow.dst",
        &ip_s,
        MarkAt::Syn,
    );
    let sni_off = ch
        .windows(domain.len())
        .position(|w| w == domain.as_bytes())
        .unwrap_or(0) as u32;
    let whole = MarkAt::Bytes {
        msg: 0,
        off: 0,
        len: ch.len() as u32,
    };
    add(
        planted,
        &mut marks,
        &f,
        "domain",
        &domain,
        "tls.sni",
        &domain,
        MarkAt::Bytes {
            msg: 0,
            off: sni_off,
            len: domain.len() as u32,
        },
    );
    let ja3 = Profile::MALWARE.ja3(true);
    let ja4 = Profile::MALWARE.ja4(true);
    add(planted, &mut marks, &f, "ja3", &ja3, "tls.ja3", &ja3, whole);
    add(planted, &mut marks, &f, "ja4", &ja4, "tls.ja4", &ja4, whole);
    flows.push(PlantFlow {
        flow: f,
        own,
        marks,
    });

    // HTTP with Host below the planted name; even plants carry the pattern in a POST body.
    let mut f = Flow::blank(rng, v6, 80);
    let host = format!("www.{domain}");
    let ua = Profile::MALWARE.user_agent;
    let mut marks = Vec::new();
    let req = if k.is_multiple_of(2) {
        let body_len = 2_400usize;
        let head = http_request("POST", "/upload", &host, ua, body_len);
        // Split: the pattern straddles the end of the first segment; else it sits wholly
        // inside the second one.
        let mss = f.mss as usize;
        let at = if split {
            mss - pattern.len() / 2
        } else {
            mss + 100
        };
        let mut body = Vec::with_capacity(head.len() + body_len);
        body.extend_from_slice(head.as_bytes());
        let fill_to = at.max(body.len());
        let fill = fill_to - body.len();
        t.pool_bytes(&mut body, k as usize * 977, fill);
        let pat_off = body.len();
        body.extend_from_slice(pattern.as_bytes());
        let end = head.len() + body_len;
        let fill = end.saturating_sub(body.len());
        t.pool_bytes(&mut body, k as usize * 1_231, fill);
        add(
            planted,
            &mut marks,
            &f,
            "pattern",
            &pattern,
            "http.body",
            &pattern,
            MarkAt::Bytes {
                msg: 0,
                off: pat_off as u32,
                len: pattern.len() as u32,
            },
        );
        body
    } else {
        http_request("GET", "/update/check", &host, ua, 0).into_bytes()
    };
    let host_off = req
        .windows(host.len())
        .position(|w| w == host.as_bytes())
        .unwrap_or(0) as u32;
    add(
        planted,
        &mut marks,
        &f,
        "domain",
        &domain,
        "http.host",
        &host,
        MarkAt::Bytes {
            msg: 0,
            off: host_off,
            len: host.len() as u32,
        },
    );
    f.push(Dir::Up, Body::Own(0), req.len() as u32);
    f.tpl(t, Dir::Down, Templates::pick(rng, &t.http_responses[..2]));
    flows.push(PlantFlow {
        flow: f,
        own: vec![req],
        marks,
    });

    // Odd plants: the pattern in a raw TCP stream to port 4444.
    if k % 2 == 1 {
        let mut f = Flow::blank(rng, v6, 4444);
        let mss = f.mss as usize;
        let at = if split { mss - pattern.len() / 2 } else { 200 };
        let mut data = Vec::with_capacity(2_600);
        t.pool_bytes(&mut data, k as usize * 613, at);
        data.extend_from_slice(pattern.as_bytes());
        let fill = 2_600 - data.len().min(2_600);
        t.pool_bytes(&mut data, k as usize * 419, fill);
        let mut marks = Vec::new();
        add(
            planted,
            &mut marks,
            &f,
            "pattern",
            &pattern,
            "tcp.payload",
            &pattern,
            MarkAt::Bytes {
                msg: 0,
                off: at as u32,
                len: pattern.len() as u32,
            },
        );
        f.push(Dir::Up, Body::Own(0), data.len() as u32);
        f.push(Dir::Down, Body::Pool, 64 + rng.below(200) as u32);
        flows.push(PlantFlow {
            flow: f,
            own: vec![data],
            marks,
        });
    }
    flows
}

/// Records the frame just written against the marks it carries.
fn record(pf: &PlantFlow, stepped: Stepped, frame: u64, planted: &mut [Planted]) {
    for m in &pf.marks {
        let hit = match (m.at, stepped) {
            (MarkAt::Syn, Stepped::Syn) => true,
            (MarkAt::Udp(a), Stepped::Udp(b)) => a == b,
            (
                MarkAt::Bytes { msg, off, len },
                Stepped::Data {
                    msg: sm,
                    off: so,
                    n,
                },
            ) => msg == sm && so < off + len && off < so + n,
            _ => false,
        };
        if hit {
            if let Some(p) = planted.get_mut(m.entry) {
                p.frames.push(frame);
                p.split = p.frames.len() > 1 && matches!(m.at, MarkAt::Bytes { .. });
            }
        }
    }
}

/// Slot classes: one in ten slots small, one in ten bulk (one in three each when there are
/// fewer than ten slots).
fn class_of(i: usize, n: usize) -> Class {
    let r = if n >= 10 { i % 10 } else { i % 3 };
    match r {
        1 => Class::Small,
        2 => Class::Bulk,
        _ => Class::Regular,
    }
}

/// Writes a benchmark capture to `out`.
pub fn write<W: Write>(out: W, cfg: &BenchConfig, start_us: u64) -> io::Result<(W, BenchSummary)> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
    if cfg.mean_frame != 0 && !(MIN_MEAN_FRAME..=MAX_MEAN_FRAME).contains(&cfg.mean_frame) {
        return Err(invalid(format!(
            "mean frame {} outside {MIN_MEAN_FRAME}..={MAX_MEAN_FRAME}",
            cfg.mean_frame
        )));
    }
    if cfg.plant > MAX_PLANT {
        return Err(invalid(format!("at most {MAX_PLANT} plants")));
    }
    if cfg.packets == u64::MAX && cfg.max_bytes == 0 {
        return Err(invalid("neither a packet count nor a size".into()));
    }
    let mean_guess = u64::from(if cfg.mean_frame == 0 {
        DEFAULT_MEAN_FRAME
    } else {
        cfg.mean_frame
    });
    let est_packets = if cfg.max_bytes > 0 {
        cfg.packets.min(cfg.max_bytes / (mean_guess + 16))
    } else {
        cfg.packets
    };
    // Room for every plant even when all frames are full-size.
    let worst_packets = if cfg.max_bytes > 0 {
        cfg.packets
            .min(cfg.max_bytes / (wire::MAX_FRAME as u64 + 16))
    } else {
        cfg.packets
    };
    let plants = if cfg.flood { 0 } else { cfg.plant };
    if u64::from(plants) * PLANT_NEED_MAX * 2 > worst_packets {
        return Err(invalid(format!(
            "capture too small for {plants} plants: allow at least {} packets \
             (or {} bytes)",
            u64::from(plants) * PLANT_NEED_MAX * 2,
            u64::from(plants) * PLANT_NEED_MAX * 2 * (wire::MAX_FRAME as u64 + 16)
        )));
    }

    let mut rng = SplitMix64::new(cfg.seed);
    let templates = Templates::new(&mut rng);
    let mut g = Gen {
        rng,
        t: &templates,
        pcap: PcapWriter::new(out)?,
        buf: Vec::with_capacity(wire::MAX_FRAME),
        now_us: start_us,
        ip_id: 0,
        frame_bytes: 0,
    };
    let done = |g: &Gen<'_, W>| {
        g.pcap.packets() >= cfg.packets || (cfg.max_bytes > 0 && g.pcap.bytes() >= cfg.max_bytes)
    };
    let mut started = 0u64;
    let mut planted: Vec<Planted> = Vec::new();
    if cfg.flood {
        while !done(&g) {
            let v6 = g.rng.below(10) == 0;
            let mut f = Flow::blank(&mut g.rng, v6, 80);
            f.ip[0] = random_server(&mut g.rng, f.ip[0].is_ipv6());
            f.ip[1] = random_client(&mut g.rng, f.ip[1].is_ipv6());
            f.port = [
                1_024 + g.rng.below(64_511) as u16,
                80 + 363 * g.rng.below(2) as u16,
            ];
            g.step(&mut f, &[])?;
            started += 1;
            g.now_us += 1 + g.rng.below(3);
        }
    } else {
        let n = cfg.flows.clamp(1, MAX_FLOWS);
        let mut slots = Vec::with_capacity(n);
        let mut by_class: [Vec<u32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for i in 0..n {
            let class = class_of(i, n);
            slots.push((class, Flow::new(&mut g.rng, &templates, class)));
            by_class[class as usize].push(i as u32);
            started += 1;
        }
        // Plant k starts once this many packets are out; spread over the middle 80 %.
        let plant_at = |k: u32| {
            est_packets / 10 + est_packets * 8 / 10 * u64::from(k) / u64::from(plants.max(1))
        };
        let mut next_plant = 0u32;
        let mut active: Vec<PlantFlow> = Vec::new();
        while !done(&g) {
            let written = g.pcap.packets();
            let left = {
                let by_packets = cfg.packets - written;
                if cfg.max_bytes > 0 {
                    let bytes_left = cfg.max_bytes.saturating_sub(g.pcap.bytes());
                    by_packets.min(bytes_left / (wire::MAX_FRAME as u64 + 16))
                } else {
                    by_packets
                }
            };
            let need: u64 = active
                .iter()
                .map(|p| p.flow.max_packets_left())
                .sum::<u64>()
                + u64::from(plants - next_plant) * PLANT_NEED_MAX;
            let forced = need > 0 && left <= need + 16;
            while next_plant < plants && (forced || written >= plant_at(next_plant)) {
                let flows = make_plant(&mut g.rng, &templates, next_plant, &mut planted);
                started += flows.len() as u64;
                active.extend(flows);
                next_plant += 1;
            }
            if !active.is_empty() && (forced || g.rng.below(PLANT_STEP_ONE_IN) == 0) {
                let i = g.rng.below(active.len() as u64) as usize;
                if let Some(pf) = active.get_mut(i) {
                    let stepped = g.step(&mut pf.flow, &pf.own)?;
                    record(pf, stepped, g.pcap.packets(), &mut planted);
                    if pf.flow.phase == Phase::Done {
                        active.swap_remove(i);
                    }
                }
            } else {
                let class = if cfg.mean_frame == 0 {
                    Class::Regular
                } else {
                    let err = i128::from(cfg.mean_frame) * i128::from(written)
                        - i128::from(g.frame_bytes);
                    if err > CONTROL_BAND {
                        Class::Bulk
                    } else if err < -CONTROL_BAND {
                        Class::Small
                    } else {
                        Class::Regular
                    }
                };
                let list = match &by_class[class as usize] {
                    l if l.is_empty() => &by_class[Class::Regular as usize],
                    l => l,
                };
                let i = if list.is_empty() {
                    g.rng.below(n as u64) as usize
                } else {
                    let j = g.rng.below(list.len() as u64) as usize;
                    list.get(j).map_or(0, |&s| s as usize)
                };
                if let Some((class, f)) = slots.get_mut(i) {
                    g.step(f, &[])?;
                    if f.phase == Phase::Done {
                        *f = Flow::new(&mut g.rng, &templates, *class);
                        started += 1;
                    }
                }
            }
            g.now_us += 1 + g.rng.below(20);
        }
        // Only complete occurrences are reported (all are, unless the limits were hit
        // before the plants could finish, which the size check above rules out).
        planted.retain(|p| !p.frames.is_empty());
    }
    let summary = BenchSummary {
        packets: g.pcap.packets(),
        bytes: g.pcap.bytes(),
        frame_bytes: g.frame_bytes,
        flows_started: started,
        duration_us: g.now_us - start_us,
        planted,
    };
    Ok((g.pcap.finish()?, summary))
}

/// [`write`] to a file, buffered.
pub fn write_file(path: &Path, cfg: &BenchConfig, start_us: u64) -> io::Result<BenchSummary> {
    let file = std::fs::File::create(path)?;
    let (w, s) = write(BufWriter::with_capacity(WRITE_BUF, file), cfg, start_us)?;
    w.into_inner().map_err(|e| e.into_error())?;
    Ok(s)
}
