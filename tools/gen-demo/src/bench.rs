//! Benchmark captures: a seeded, realistic-looking mix of many concurrent flows, or a SYN
//! flood. Everything comes from one SplitMix64 stream (Steele, Lea, Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014), so a seed gives the same bytes every time.
//!
//! Mix: TLS (handshake then bulk application data), HTTP/1.1 request/response rounds, DNS
//! query/answer pairs over UDP and QUIC-sized UDP exchanges. TCP segments carry the RFC 7323
//! timestamp option, as most stacks send, so pure ACKs are 66-byte frames and full data
//! segments 1514 bytes (IPv4) or 1494 bytes (IPv6, MSS 1428 with the option).
//! Memory: `flows` flow slots plus fixed templates (about 1 MiB), whatever the packet count.

use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::dns;
use crate::pcap::PcapWriter;
use crate::session::Dir;
use crate::tls;
use crate::wire::{self, build_frame, Header, L2, L4};

/// Upper bound on concurrent flows, so `--flows` cannot ask for unbounded memory.
pub const MAX_FLOWS: usize = 1 << 20;
/// Size of the random byte pool payloads are cut from.
const POOL_LEN: usize = 1 << 16;
/// A TLS record with a full 16 KiB fragment, header included.
const TLS_RECORD: u32 = tls::MAX_FRAGMENT as u32 + 5;
/// Most messages one TCP flow carries (TLS: 3 handshake flights plus 3 rounds of 2).
const MAX_MSGS: usize = 9;
/// Writer buffer: big sequential writes.
const WRITE_BUF: usize = 1 << 20;
/// TCP timestamp option, padded: NOP, NOP, kind 8, length 10, TSval, TSecr.
const TS_OPT_LEN: usize = 12;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    /// Exact number of packets to write.
    pub packets: u64,
    /// Concurrent flows (clamped to 1..=[`MAX_FLOWS`]).
    pub flows: usize,
    pub seed: u64,
    /// Every packet a SYN with a fresh random 5-tuple.
    pub flood: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            packets: 1_000_000,
            flows: 1_000,
            seed: 1,
            flood: false,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BenchSummary {
    pub packets: u64,
    /// File size, headers included.
    pub bytes: u64,
    /// Flows begun (in flood mode, SYNs sent).
    pub flows_started: u64,
    /// Capture time from first to last packet.
    pub duration_us: u64,
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
    fn log_uniform(&mut self, lo: u32, hi: u32) -> u32 {
        let (l, h) = (f64::from(lo.max(1)).ln(), f64::from(hi.max(lo + 1)).ln());
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((l + u * (h - l)).exp() as u32).clamp(lo, hi)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// Bytes of `templates[i]`.
    Template(u16),
    /// TLS application-data records with pool bytes as ciphertext.
    TlsData,
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
    /// UDP: total packets and the template pair (DNS) or 0 (QUIC-like).
    udp_total: u8,
    dns_pair: u16,
    dns_id: u16,
    salt: u32,
}

/// Fixed payloads shared by all flows.
struct Templates {
    bytes: Vec<Vec<u8>>,
    client_hellos: Vec<u16>,
    server_flight: u16,
    client_finish: u16,
    http_requests: Vec<u16>,
    http_responses: Vec<u16>,
    /// (query, response) template indices.
    dns: Vec<(u16, u16)>,
    pool: Vec<u8>,
}

impl Templates {
    fn new(rng: &mut SplitMix64) -> Self {
        let mut t = Templates {
            bytes: Vec::new(),
            client_hellos: Vec::new(),
            server_flight: 0,
            client_finish: 0,
            http_requests: Vec::new(),
            http_responses: Vec::new(),
            dns: Vec::new(),
            pool: (0..POOL_LEN).map(|_| rng.next_u64() as u8).collect(),
        };
        let add = |t: &mut Templates, b: Vec<u8>| {
            t.bytes.push(b);
            (t.bytes.len() - 1) as u16
        };
        let sites = [
            "www.example.com",
            "cdn.example.net",
            "api.example.org",
            "static.shop.example",
            "mail.example.com",
            "video.example.net",
        ];
        for (i, sni) in sites.iter().enumerate() {
            let ch = tls::ClientHello {
                random: tls::filler32(i as u8),
                session_id: &tls::filler32(0x40 + i as u8),
                cipher_suites: &crate::demo::BROWSER_CIPHERS,
                extensions: vec![
                    (tls::EXT_SERVER_NAME, tls::ext_server_name(sni)),
                    (
                        tls::EXT_SUPPORTED_GROUPS,
                        tls::ext_u16_list(&[tls::GROUP_X25519, tls::GROUP_SECP256R1]),
                    ),
                    (tls::EXT_EC_POINT_FORMATS, tls::ext_u8_list(&[0])),
                    (
                        tls::EXT_SIGNATURE_ALGORITHMS,
                        tls::ext_u16_list(&[0x0403, 0x0804, 0x0401, 0x0503]),
                    ),
                    (tls::EXT_ALPN, tls::ext_alpn(&["h2", "http/1.1"])),
                    (
                        tls::EXT_SUPPORTED_VERSIONS,
                        tls::ext_client_versions(&[0x0304, 0x0303]),
                    ),
                    (
                        tls::EXT_KEY_SHARE,
                        tls::ext_client_key_share(&[(tls::GROUP_X25519, &tls::filler32(9))]),
                    ),
                    (tls::EXT_PSK_KEY_EXCHANGE_MODES, tls::ext_u8_list(&[1])),
                ],
            }
            .to_record();
            let idx = add(&mut t, ch);
            t.client_hellos.push(idx);

            let req = format!(
                "GET /assets/{i}/index.html HTTP/1.1\r\nHost: {sni}\r\n\
                 User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36\r\n\
                 Accept: */*\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n"
            );
            let idx = add(&mut t, req.into_bytes());
            t.http_requests.push(idx);
        }
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
        t.server_flight = add(&mut t, flight);
        let mut fin = tls::change_cipher_spec();
        fin.extend(tls::opaque_records(tls::CT_APPLICATION_DATA, 53, 0x73));
        t.client_finish = add(&mut t, fin);

        for (i, size) in [230usize, 1_800, 6_500, 24_000, 90_000, 350_000]
            .into_iter()
            .enumerate()
        {
            let status = if i == 0 { "404 Not Found" } else { "200 OK" };
            let mut r = format!(
                "HTTP/1.1 {status}\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {size}\r\n\r\n"
            )
            .into_bytes();
            let start = (i * 4099) % POOL_LEN;
            r.extend((0..size).map(|k| t.pool[(start + k) % POOL_LEN]));
            let idx = add(&mut t, r);
            t.http_responses.push(idx);
        }
        for i in 0..64u16 {
            let name = format!("host{i}.{}", sites[usize::from(i) % sites.len()]);
            let q = dns::query(0, &name, dns::TYPE_A);
            let ip = [192, 0, 2, (i % 250) as u8 + 1];
            let answers = [dns::Rr {
                name: &name,
                ttl: 300,
                data: dns::Rdata::A(ip),
            }];
            let r = dns::response(0, &name, dns::TYPE_A, 0, &answers, &[]);
            let qi = add(&mut t, q);
            let ri = add(&mut t, r);
            t.dns.push((qi, ri));
        }
        t
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
    fn write_range(&self, out: &mut Vec<u8>, m: &Msg, salt: u32, mut off: u32, mut n: u32) {
        match m.body {
            Body::Template(i) => {
                let t = self.get(i);
                let (a, b) = (off as usize, (off + n) as usize);
                out.extend_from_slice(t.get(a..b.min(t.len())).unwrap_or(&[]));
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
                        out.extend_from_slice(&hdr[s..s + take as usize]);
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

fn random_server(rng: &mut SplitMix64, v6: bool) -> IpAddr {
    let r = rng.next_u64();
    if v6 {
        let mut o = [0u8; 16];
        o[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        o[8..].copy_from_slice(&r.to_be_bytes());
        IpAddr::V6(Ipv6Addr::from(o))
    } else {
        // Unicast, skipping 0/8, 10/8 (the clients) and 127/8.
        let b = (r as u32).to_be_bytes();
        let first = match 1 + (u32::from(b[0]) % 223) as u8 {
            10 => 11,
            127 => 128,
            x => x,
        };
        IpAddr::V4(Ipv4Addr::new(first, b[1], b[2], b[3].max(1)))
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
    fn new(rng: &mut SplitMix64, t: &Templates) -> Flow {
        let v6 = rng.below(10) == 0;
        let kind = rng.below(100);
        let mut f = Flow {
            l2: random_l2(rng),
            ip: [random_client(rng, v6), random_server(rng, v6)],
            port: [32_768 + rng.below(28_232) as u16, 443],
            nxt: [rng.next_u64() as u32, rng.next_u64() as u32],
            mss: if v6 { 1440 } else { 1460 } - TS_OPT_LEN as u32,
            phase: Phase::Syn,
            msgs: [EMPTY_MSG; MAX_MSGS],
            n_msgs: 0,
            msg: 0,
            off: 0,
            unacked: 0,
            udp_total: 0,
            dns_pair: 0,
            dns_id: 0,
            salt: rng.next_u64() as u32,
        };
        let push = |f: &mut Flow, dir: Dir, body: Body, len: u32| {
            if let Some(m) = f.msgs.get_mut(usize::from(f.n_msgs)) {
                *m = Msg { dir, body, len };
                f.n_msgs += 1;
            }
        };
        let tpl = |f: &mut Flow, dir: Dir, i: u16| {
            let len = t.get(i).len() as u32;
            push(f, dir, Body::Template(i), len);
        };
        if kind < 45 {
            tpl(&mut f, Dir::Up, Templates::pick(rng, &t.client_hellos));
            tpl(&mut f, Dir::Down, t.server_flight);
            tpl(&mut f, Dir::Up, t.client_finish);
            for _ in 0..1 + rng.below(3) {
                let up = tls_data_len(rng.log_uniform(80, 2_000));
                push(&mut f, Dir::Up, Body::TlsData, up);
                let down = tls_data_len(rng.log_uniform(200, 400_000));
                push(&mut f, Dir::Down, Body::TlsData, down);
            }
        } else if kind < 70 {
            f.port[1] = 80;
            for _ in 0..1 + rng.below(3) {
                tpl(&mut f, Dir::Up, Templates::pick(rng, &t.http_requests));
                tpl(&mut f, Dir::Down, Templates::pick(rng, &t.http_responses));
            }
        } else if kind < 90 {
            f.port[1] = 53;
            f.phase = Phase::Udp(0);
            f.udp_total = 2;
            f.dns_pair = rng.below(t.dns.len() as u64) as u16;
            f.dns_id = rng.next_u64() as u16;
        } else {
            // QUIC-sized datagrams on 443/udp: an Initial, then mostly server data.
            f.phase = Phase::Udp(0);
            f.udp_total = 4 + rng.below(24) as u8;
        }
        f
    }
}

struct Gen<'a, W: Write> {
    rng: SplitMix64,
    t: &'a Templates,
    pcap: PcapWriter<W>,
    buf: Vec<u8>,
    now_us: u64,
    ip_id: u16,
}

impl<W: Write> Gen<'_, W> {
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        f: &Flow,
        dir: Dir,
        seq: u32,
        ack: u32,
        flags: u8,
        m: Option<(Msg, u32, u32)>,
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
                t.write_range(b, &msg, f.salt, off, n);
            }
        });
        self.pcap.write_packet(self.now_us, &self.buf)
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
        self.pcap.write_packet(self.now_us, &self.buf)
    }

    /// Writes exactly one packet of `f` and moves it on.
    fn step(&mut self, f: &mut Flow) -> io::Result<()> {
        let idx = |d: Dir| match d {
            Dir::Up => 0usize,
            Dir::Down => 1,
        };
        match f.phase {
            Phase::Syn => {
                self.tcp(f, Dir::Up, f.nxt[0], 0, wire::SYN, None)?;
                f.nxt[0] = f.nxt[0].wrapping_add(1);
                f.phase = Phase::SynAck;
            }
            Phase::SynAck => {
                self.tcp(
                    f,
                    Dir::Down,
                    f.nxt[1],
                    f.nxt[0],
                    wire::SYN | wire::ACK,
                    None,
                )?;
                f.nxt[1] = f.nxt[1].wrapping_add(1);
                f.phase = Phase::HandshakeAck;
            }
            Phase::HandshakeAck => {
                self.tcp(f, Dir::Up, f.nxt[0], f.nxt[1], wire::ACK, None)?;
                f.phase = Phase::Data;
            }
            Phase::Data => {
                let m = f.msgs.get(usize::from(f.msg)).copied().unwrap_or(EMPTY_MSG);
                let at_end = f.off >= m.len;
                // Delayed ACK: every second full segment, and at the end of a message unless
                // the receiver answers with data right away.
                let next_dir = f.msgs.get(usize::from(f.msg) + 1).map(|n| n.dir);
                let ack_due =
                    f.unacked >= 2 || (at_end && f.unacked > 0 && next_dir != Some(m.dir.other()));
                if ack_due {
                    let r = m.dir.other();
                    self.tcp(f, r, f.nxt[idx(r)], f.nxt[idx(m.dir)], wire::ACK, None)?;
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
                    self.tcp(f, m.dir, seq, ack, flags, Some((m, f.off, n)))?;
                    f.nxt[idx(m.dir)] = seq.wrapping_add(n);
                    f.off += n;
                    f.unacked += 1;
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
                self.tcp(f, Dir::Up, f.nxt[0], f.nxt[1], wire::FIN | wire::ACK, None)?;
                f.nxt[0] = f.nxt[0].wrapping_add(1);
                f.phase = Phase::FinDown;
            }
            Phase::FinDown => {
                self.tcp(
                    f,
                    Dir::Down,
                    f.nxt[1],
                    f.nxt[0],
                    wire::FIN | wire::ACK,
                    None,
                )?;
                f.nxt[1] = f.nxt[1].wrapping_add(1);
                f.phase = Phase::LastAck;
            }
            Phase::LastAck => {
                self.tcp(f, Dir::Up, f.nxt[0], f.nxt[1], wire::ACK, None)?;
                f.phase = Phase::Done;
            }
            Phase::Udp(i) => {
                let t = self.t;
                if f.port[1] == 53 {
                    let (q, r) = t
                        .dns
                        .get(usize::from(f.dns_pair))
                        .copied()
                        .unwrap_or((0, 0));
                    let (dir, tpl) = if i == 0 { (Dir::Up, q) } else { (Dir::Down, r) };
                    let id = f.dns_id.to_be_bytes();
                    self.udp(f, dir, |b| {
                        let at = b.len();
                        b.extend_from_slice(t.get(tpl));
                        if let Some(s) = b.get_mut(at..at + 2) {
                            s.copy_from_slice(&id);
                        }
                    })?;
                } else {
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
                    self.udp(f, dir, |b| t.pool_bytes(b, start, len))?;
                }
                let next = i.saturating_add(1);
                f.phase = if next >= f.udp_total {
                    Phase::Done
                } else {
                    Phase::Udp(next)
                };
            }
            Phase::Done => {}
        }
        Ok(())
    }
}

/// Writes a benchmark capture to `out`.
pub fn write<W: Write>(out: W, cfg: &BenchConfig, start_us: u64) -> io::Result<(W, BenchSummary)> {
    let mut rng = SplitMix64::new(cfg.seed);
    let templates = Templates::new(&mut rng);
    let mut g = Gen {
        rng,
        t: &templates,
        pcap: PcapWriter::new(out)?,
        buf: Vec::with_capacity(wire::MAX_FRAME),
        now_us: start_us,
        ip_id: 0,
    };
    let mut started = 0u64;
    if cfg.flood {
        for _ in 0..cfg.packets {
            let mut f = Flow::new(&mut g.rng, &templates);
            f.ip[0] = random_server(&mut g.rng, f.ip[0].is_ipv6());
            f.ip[1] = random_client(&mut g.rng, f.ip[1].is_ipv6());
            f.port = [
                1_024 + g.rng.below(64_511) as u16,
                80 + 363 * g.rng.below(2) as u16,
            ];
            f.phase = Phase::Syn;
            g.step(&mut f)?;
            started += 1;
            g.now_us += 1 + g.rng.below(3);
        }
    } else {
        let n = cfg.flows.clamp(1, MAX_FLOWS);
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            slots.push(Flow::new(&mut g.rng, &templates));
            started += 1;
        }
        for _ in 0..cfg.packets {
            let i = g.rng.below(n as u64) as usize;
            if let Some(f) = slots.get_mut(i) {
                g.step(f)?;
                if f.phase == Phase::Done {
                    *f = Flow::new(&mut g.rng, &templates);
                    started += 1;
                }
            }
            g.now_us += 1 + g.rng.below(20);
        }
    }
    let summary = BenchSummary {
        packets: g.pcap.packets(),
        bytes: g.pcap.bytes(),
        flows_started: started,
        duration_us: g.now_us - start_us,
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
