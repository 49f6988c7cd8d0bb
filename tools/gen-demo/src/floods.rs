//! Floods and pathological traffic (issue 9): captures built to push one sensor bound each,
//! with the facts a test needs to predict what the sensor must count.
//!
//! Every capture ends with the same marker, written after the flood: a DNS lookup of
//! [`MARKER_DOMAIN`] from a fresh client. A sensor that kept processing raises its intel alert;
//! [`write_flood`] also writes an intel directory beside the capture ([`intel_dir`]) that lists
//! the marker (and, per kind, the fingerprints or the large domain list the kind is about).
//!
//! Kinds ([`FloodKind`]), each described in its module:
//! * [`frag`]: IPv4 and IPv6 fragments that never complete (datagram count, byte cap with
//!   64 KiB of reassembly buffer claimed by one 8-byte fragment, fragments per datagram).
//! * [`tcp`]: the same sequence ranges re-sent with different bytes many times, before and after
//!   delivery, and connections that fill their out-of-order buffers ahead of a hole that never
//!   fills.
//! * [`dns`]: compression pointer loops and chains, 255-octet names with 63-octet labels, names
//!   over 255 octets, over UDP and TCP, and 60 KB responses whose every owner name follows 32
//!   pointers.
//! * [`tls`]: ClientHellos with thousands of extensions or cipher suites (up to the 64 KiB a
//!   handshake message may take, and past it), split over many records and small segments.
//! * [`names`]: DNS lookups of 253-byte names with up to 125 labels against a 100 000-entry
//!   list of such names.
//!
//! Deterministic: a seed gives the same bytes. Memory: one frame buffer, the kind's largest
//! message (under 128 KiB) and the facts (a few strings per variant); the names list is
//! streamed to its file.

pub mod dns;
pub mod frag;
pub mod names;
pub mod tcp;
pub mod tls;

use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use crate::pcap::PcapWriter;
use crate::wire::{self, build_frame, Header, L2, L4};

/// The name looked up after every flood; listed in every intel directory written here.
pub const MARKER_DOMAIN: &str = "after-flood.tapir-flood.test";
/// Largest `scale`: the biggest kind then writes a few hundred MB.
pub const MAX_SCALE: u32 = 1_000;

/// Which pathological traffic to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloodKind {
    Frag,
    TcpOverlap,
    Dns,
    Tls,
    DeepNames,
}

impl FloodKind {
    pub const ALL: [FloodKind; 5] = [
        FloodKind::Frag,
        FloodKind::TcpOverlap,
        FloodKind::Dns,
        FloodKind::Tls,
        FloodKind::DeepNames,
    ];

    /// The name `tapir-gen-demo floods --kind` takes.
    pub fn name(self) -> &'static str {
        match self {
            FloodKind::Frag => "frag",
            FloodKind::TcpOverlap => "tcp-overlap",
            FloodKind::Dns => "dns",
            FloodKind::Tls => "tls",
            FloodKind::DeepNames => "deep-names",
        }
    }

    pub fn from_name(s: &str) -> Option<FloodKind> {
        FloodKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloodConfig {
    pub kind: FloodKind,
    /// Multiplies the kind's unit of traffic (1..=[`MAX_SCALE`]; see each module).
    pub scale: u32,
    pub seed: u64,
}

impl FloodConfig {
    pub fn new(kind: FloodKind) -> Self {
        FloodConfig {
            kind,
            scale: 1,
            seed: 1,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloodSummary {
    pub packets: u64,
    /// File size, headers included.
    pub bytes: u64,
    /// Frame number (1-based, as `pcap_cnt`) of the marker's DNS query: every frame before
    /// it belongs to the flood.
    pub marker_frame: u64,
    /// What the kind wrote, for predicting the sensor's counters.
    pub facts: Facts,
}

/// Per-kind facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Facts {
    Frag(frag::FragFacts),
    Tcp(tcp::TcpFacts),
    Dns(dns::DnsFacts),
    Tls(tls::TlsFacts),
    Names(names::NamesFacts),
}

/// `<capture>.intel`: the intel directory [`write_flood`] writes beside the capture.
pub fn intel_dir(capture: &Path) -> PathBuf {
    let mut s = capture.as_os_str().to_owned();
    s.push(".intel");
    PathBuf::from(s)
}

/// Writes the capture of `cfg` to `path` and its intel directory to [`intel_dir`]`(path)`:
/// `domains.txt` (the marker, plus the 100 000 names of [`FloodKind::DeepNames`]) and, for
/// [`FloodKind::Tls`], `ja3.txt` and `ja4.txt` with the fingerprints of its largest hellos.
pub fn write_flood(path: &Path, cfg: &FloodConfig) -> io::Result<FloodSummary> {
    let file = std::fs::File::create(path)?;
    let (w, summary) = write(BufWriter::with_capacity(1 << 20, file), cfg)?;
    w.into_inner().map_err(|e| e.into_error())?;
    let dir = intel_dir(path);
    std::fs::create_dir_all(&dir)?;
    let mut domains = BufWriter::new(std::fs::File::create(dir.join("domains.txt"))?);
    writeln!(
        domains,
        "# tapir-gen-demo floods --kind {}",
        cfg.kind.name()
    )?;
    writeln!(domains, "{MARKER_DOMAIN}")?;
    match &summary.facts {
        Facts::Names(f) => names::write_list(&mut domains, f)?,
        Facts::Tls(f) => {
            std::fs::write(dir.join("ja3.txt"), format!("{}\n", f.listed_ja3))?;
            std::fs::write(dir.join("ja4.txt"), format!("{}\n", f.listed_ja4))?;
        }
        _ => {}
    }
    domains.into_inner().map_err(|e| e.into_error())?;
    Ok(summary)
}

/// The capture of `cfg` as bytes (the intel directory is not written).
pub fn flood_bytes(cfg: &FloodConfig) -> io::Result<(Vec<u8>, FloodSummary)> {
    write(Vec::new(), cfg)
}

fn write<W: Write>(w: W, cfg: &FloodConfig) -> io::Result<(W, FloodSummary)> {
    if cfg.scale == 0 || cfg.scale > MAX_SCALE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("scale must be 1..={MAX_SCALE}"),
        ));
    }
    let mut out = Out::new(w, crate::START_US)?;
    let facts = match cfg.kind {
        FloodKind::Frag => Facts::Frag(frag::write(&mut out, cfg)?),
        FloodKind::TcpOverlap => Facts::Tcp(tcp::write(&mut out, cfg)?),
        FloodKind::Dns => Facts::Dns(dns::write(&mut out, cfg)?),
        FloodKind::Tls => Facts::Tls(tls::write(&mut out, cfg)?),
        FloodKind::DeepNames => Facts::Names(names::write(&mut out, cfg)?),
    };
    // Far enough after the flood that every timeout the tests configure (at most a minute)
    // has passed by the marker.
    out.tick(120_000_000);
    let marker_frame = out.packets() + 1;
    marker(&mut out)?;
    let (packets, bytes) = (out.packets(), out.bytes());
    Ok((
        out.pcap.finish()?,
        FloodSummary {
            packets,
            bytes,
            marker_frame,
            facts,
        },
    ))
}

/// A DNS lookup of [`MARKER_DOMAIN`] and its answer, from a client no flood uses.
fn marker<W: Write>(out: &mut Out<W>) -> io::Result<()> {
    let client = IpAddr::V4(Ipv4Addr::new(10, 199, 0, 1));
    let server = IpAddr::V4(Ipv4Addr::new(10, 199, 0, 53));
    let q = crate::dns::query(0x4d4b, MARKER_DOMAIN, crate::dns::TYPE_A);
    let answer = [crate::dns::Rr {
        name: MARKER_DOMAIN,
        ttl: 60,
        data: crate::dns::Rdata::A([192, 0, 2, 99]),
    }];
    let r = crate::dns::response(0x4d4b, MARKER_DOMAIN, crate::dns::TYPE_A, 0, &answer, &[]);
    out.udp((client, 41_000), (server, 53), &q)?;
    out.tick(900);
    out.udp((server, 53), (client, 41_000), &r)
}

/// SplitMix64 stream of a kind (the same generator as the bench captures).
pub(crate) fn rng(cfg: &FloodConfig, salt: u64) -> crate::bench::SplitMix64 {
    crate::bench::SplitMix64::new(cfg.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Link addresses of every frame written here.
const LINK: L2 = L2 {
    src: [0x02, 0x00, 0x00, 0x0f, 0x10, 0x01],
    dst: [0x02, 0x00, 0x00, 0x0f, 0x10, 0x02],
    vlan: None,
};

/// A pcap being written, with its clock and a reused frame buffer.
pub(crate) struct Out<W: Write> {
    pcap: PcapWriter<W>,
    now_us: u64,
    buf: Vec<u8>,
    ip_id: u16,
}

impl<W: Write> Out<W> {
    fn new(w: W, start_us: u64) -> io::Result<Self> {
        Ok(Out {
            pcap: PcapWriter::new(w)?,
            now_us: start_us,
            buf: Vec::with_capacity(1 << 16),
            ip_id: 1,
        })
    }

    pub(crate) fn tick(&mut self, us: u64) {
        self.now_us = self.now_us.saturating_add(us);
    }

    pub(crate) fn packets(&self) -> u64 {
        self.pcap.packets()
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.pcap.bytes()
    }

    /// Writes a frame built by the caller (Ethernet header included).
    pub(crate) fn raw(&mut self, frame: &[u8]) -> io::Result<()> {
        self.pcap.write_packet(self.now_us, frame)
    }

    fn frame(&mut self, src: IpAddr, dst: IpAddr, l4: L4<'_>, payload: &[u8]) -> io::Result<()> {
        self.ip_id = self.ip_id.wrapping_add(1);
        let hdr = Header {
            l2: LINK,
            src,
            dst,
            ttl: 64,
            ip_id: self.ip_id,
            l4,
        };
        build_frame(&mut self.buf, &hdr, |b| b.extend_from_slice(payload));
        self.pcap.write_packet(self.now_us, &self.buf)
    }

    /// One UDP datagram (payloads above 1472 bytes make jumbo frames; callers keep them small).
    pub(crate) fn udp(
        &mut self,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        payload: &[u8],
    ) -> io::Result<()> {
        let l4 = L4::Udp {
            sport: src.1,
            dport: dst.1,
        };
        self.frame(src.0, dst.0, l4, payload)
    }
}

/// Client (0) to server (1), or back.
pub(crate) const UP: usize = 0;
pub(crate) const DOWN: usize = 1;

/// One TCP connection: addresses, ports and each side's next sequence number.
pub(crate) struct Conn {
    pub ip: [IpAddr; 2],
    pub port: [u16; 2],
    pub nxt: [u32; 2],
}

impl Conn {
    pub(crate) fn new(client: (IpAddr, u16), server: (IpAddr, u16), isn: [u32; 2]) -> Self {
        Conn {
            ip: [client.0, server.0],
            port: [client.1, server.1],
            nxt: isn,
        }
    }

    /// One segment from `dir` at `seq`, acknowledging what the other side sent.
    pub(crate) fn seg<W: Write>(
        &self,
        out: &mut Out<W>,
        dir: usize,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        let (s, d) = (dir & 1, (dir + 1) & 1);
        let (ack, ack_flag) = if flags & wire::SYN != 0 && dir == UP {
            (0, 0)
        } else {
            (self.nxt[d], wire::ACK)
        };
        let l4 = L4::Tcp {
            sport: self.port[s],
            dport: self.port[d],
            seq,
            ack,
            flags: flags | ack_flag,
            window: 64_240,
            options: &[],
        };
        out.frame(self.ip[s], self.ip[d], l4, payload)
    }

    pub(crate) fn handshake<W: Write>(&mut self, out: &mut Out<W>) -> io::Result<()> {
        self.seg(out, UP, self.nxt[UP], wire::SYN, &[])?;
        self.nxt[UP] = self.nxt[UP].wrapping_add(1);
        out.tick(200);
        self.seg(out, DOWN, self.nxt[DOWN], wire::SYN, &[])?;
        self.nxt[DOWN] = self.nxt[DOWN].wrapping_add(1);
        out.tick(200);
        self.seg(out, UP, self.nxt[UP], 0, &[])
    }

    /// Sends `data` from `dir` in segments of at most `mss` bytes, in order.
    pub(crate) fn send<W: Write>(
        &mut self,
        out: &mut Out<W>,
        dir: usize,
        data: &[u8],
        mss: usize,
    ) -> io::Result<()> {
        for chunk in data.chunks(mss.max(1)) {
            self.seg(out, dir, self.nxt[dir & 1], wire::PSH, chunk)?;
            self.nxt[dir & 1] = self.nxt[dir & 1].wrapping_add(chunk.len() as u32);
            out.tick(15);
        }
        Ok(())
    }

    /// FIN from each side, then the client's last ACK.
    pub(crate) fn close<W: Write>(&mut self, out: &mut Out<W>) -> io::Result<()> {
        for dir in [UP, DOWN] {
            self.seg(out, dir, self.nxt[dir], wire::FIN, &[])?;
            self.nxt[dir] = self.nxt[dir].wrapping_add(1);
            out.tick(100);
        }
        self.seg(out, UP, self.nxt[UP], 0, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_names() {
        for k in FloodKind::ALL {
            assert_eq!(FloodKind::from_name(k.name()), Some(k));
        }
        assert_eq!(FloodKind::from_name("nope"), None);
    }

    #[test]
    fn every_kind_is_deterministic_and_ends_with_the_marker() {
        for k in FloodKind::ALL {
            let cfg = FloodConfig::new(k);
            let (a, sa) = flood_bytes(&cfg).expect("write");
            let (b, _) = flood_bytes(&cfg).expect("write");
            assert_eq!(a, b, "{k:?} not deterministic");
            assert_eq!(
                sa.marker_frame + 1,
                sa.packets,
                "{k:?}: marker is the last lookup"
            );
            assert_eq!(sa.bytes, a.len() as u64);
            let needle = b"\x0bafter-flood\x0btapir-flood\x04test\x00";
            let hits = a.windows(needle.len()).filter(|w| w == needle).count();
            assert_eq!(hits, 2, "{k:?}: marker query and answer");
        }
    }

    #[test]
    fn scale_is_bounded() {
        let mut cfg = FloodConfig::new(FloodKind::Frag);
        cfg.scale = 0;
        assert!(flood_bytes(&cfg).is_err());
        cfg.scale = MAX_SCALE + 1;
        assert!(flood_bytes(&cfg).is_err());
    }
}
