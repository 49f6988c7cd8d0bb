//! Deterministic generator of the tapir demo capture and of benchmark captures.
//!
//! Every byte is built here from the protocol specifications; no third-party capture bytes
//! are used. Output is classic pcap (microsecond timestamps, LINKTYPE_ETHERNET) starting at
//! [`START_US`] (2026-01-15T09:00:00Z) and is byte-identical across runs and platforms.
//!
//! * [`write_demo`]: the small scripted capture the README's first command replays; see
//!   [`DEMO_CONTENTS`] and `rules/README.md` for what the demo intel matches in it.
//! * [`write_bench`]: large seeded captures with many concurrent flows and a realistic mix,
//!   or a SYN flood; optionally with planted indicators and their ground truth
//!   ([`truth`], written beside the capture as `<capture>.truth.json`).
//! * [`intel::write_intel`]: realistic-size intel lists that hold the planted indicators.
//! * [`behaviour`]: one small capture per behaviour (beacons, DNS tunnel, DGA, scans, exfil,
//!   long connection, protocol on an odd port, TLS oddities) and its benign look-alikes, each
//!   with a truth file naming the detector that must fire or stay quiet.
//! * [`write_flood`]: floods and pathological traffic (fragments that never complete, TCP
//!   rewrites, DNS pointer loops, huge ClientHellos, deep names against a 100 000-entry list),
//!   each ending with a marker lookup and an intel directory that lists it ([`floods`]).
//!
//! Limits: frames never exceed [`wire::MAX_FRAME`]; bench memory is bounded by
//! [`bench::MAX_FLOWS`] flow slots, fixed templates and [`bench::MAX_PLANT`] plants,
//! whatever the packet count or file size.

#![forbid(unsafe_code)]

pub mod behaviour;
pub mod bench;
pub mod demo;
pub mod dns;
pub mod floods;
pub mod intel;
pub mod pcap;
pub mod profiles;
pub mod session;
pub mod tls;
pub mod truth;
pub mod wire;

use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

pub use bench::{BenchConfig, BenchSummary};
pub use floods::{write_flood, FloodConfig, FloodKind, FloodSummary};

/// 2026-01-15T09:00:00Z in microseconds since the Unix epoch (1768467600 s).
pub const START_US: u64 = 1_768_467_600 * 1_000_000;

/// What the demo capture contains, in time order (also printed by the binary).
pub const DEMO_CONTENTS: &[&str] = &[
    "ICMP echo 10.0.0.10 <-> 192.0.2.1 (x2); NTP v4 client/server 10.0.0.10 <-> 192.0.2.123",
    "DNS/UDP www.example.com A via CNAME chain -> 192.0.2.80",
    "HTTP/1.1 two pipelined GETs to www.example.com: 200 (Content-Length) and 404",
    "TLS 1.3 browser-like (GREASE, ALPN h2) to www.example.com; ClientHello split over 2 segments",
    "DNS/UDP example.com MX, TXT, NS",
    "DNS/UDP over IPv6 www.example.org AAAA; TLS 1.3 to [2001:db8:1::443]",
    "HTTP POST to api.example.net; chunked 200 with one reordered and one retransmitted segment",
    "DNS/UDP wwww.example.com NXDOMAIN (SOA in authority)",
    "802.1Q VLAN 100: HTTP GET /robots.txt from 10.0.0.30",
    "DNS/UDP c2.badcdn.example A -> 203.0.113.66 (intel: domain, IP)",
    "TLS 1.2 malware-like client to c2.badcdn.example: self-signed certificate (intel: SNI, IP, JA3, JA4)",
    "DNS/TCP c2.badcdn.example AAAA -> 2001:db8::bad:c2",
    "TCP SYN (retransmitted) to [2001:db8::bad:c2]:443, answered by RST (intel: IPv6)",
    "DNS/UDP update.evil-updates.test; HTTP beacon with an IE6 User-Agent (intel: parent domain, CIDR)",
];

/// What [`write_demo`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoSummary {
    pub packets: u64,
    /// File size, headers included.
    pub bytes: u64,
    /// Timestamp of the first and last packet, microseconds since the Unix epoch.
    pub first_us: u64,
    pub last_us: u64,
}

/// Writes the demo capture to `path`.
pub fn write_demo(path: &Path) -> io::Result<DemoSummary> {
    let file = std::fs::File::create(path)?;
    let (w, packets, bytes, last_us) = demo::write(BufWriter::new(file), START_US)?;
    w.into_inner().map_err(|e| e.into_error())?;
    Ok(DemoSummary {
        packets,
        bytes,
        first_us: START_US,
        last_us,
    })
}

/// The demo capture as bytes (same content as [`write_demo`] writes).
pub fn demo_bytes() -> io::Result<Vec<u8>> {
    Ok(demo::write(Vec::new(), START_US)?.0)
}

/// Writes a benchmark capture to `path`, and when `cfg.plant > 0` its ground truth to
/// [`truth_path`]`(path)`.
pub fn write_bench(path: &Path, cfg: &BenchConfig) -> io::Result<BenchSummary> {
    let s = bench::write_file(path, cfg, START_US)?;
    if cfg.plant > 0 {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let doc = truth::to_json(&name, cfg.seed, s.packets, s.bytes, cfg.plant, &s.planted);
        std::fs::write(truth_path(path), doc)?;
    }
    Ok(s)
}

/// `<capture>.truth.json`: where [`write_bench`] puts the ground truth.
pub fn truth_path(capture: &Path) -> PathBuf {
    let mut s = capture.as_os_str().to_owned();
    s.push(".truth.json");
    PathBuf::from(s)
}

/// A benchmark capture as bytes (same content as [`write_bench`] writes for `cfg`).
pub fn bench_bytes(cfg: &BenchConfig) -> io::Result<Vec<u8>> {
    Ok(bench::write(Vec::new(), cfg, START_US)?.0)
}

/// A benchmark capture as bytes with its summary (planted occurrences included).
pub fn bench_bytes_with_summary(cfg: &BenchConfig) -> io::Result<(Vec<u8>, BenchSummary)> {
    bench::write(Vec::new(), cfg, START_US)
}
