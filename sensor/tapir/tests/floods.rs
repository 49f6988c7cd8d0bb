//! Floods and pathological traffic (issue 9) through the `tapir` binary: fragments that never
//! complete, TCP rewrites and out-of-order floods, DNS pointer loops and maximum-length names,
//! ClientHellos with thousands of extensions or cipher suites, and deep names against a
//! 100 000-entry list, each written by `tapir_gen_demo::floods`.
//!
//! Every case proves the same four things:
//! - no panic, no hang: `tapir replay` exits 0 within [`PER_FILE_LIMIT`] (generous: debug build
//!   on a shared 2-core machine; the release figures are in `benches/README.md`);
//! - memory: the peak RSS of the summary line stays under a bound derived from the configured
//!   caps (stated per case) above the peak of a replay of the demo capture with the same
//!   configuration; each flood is sized so that holding it without the caps would exceed it;
//! - it keeps processing: every packet written is counted, and the marker lookup written after
//!   the flood raises its intel alert;
//! - the counters of the summary say exactly what was dropped, evicted or refused, as predicted
//!   from the generator's facts and the configuration.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tapir_gen_demo::floods::{self, frag, tcp, tls, Facts, MARKER_DOMAIN};
use tapir_gen_demo::{FloodConfig, FloodKind, FloodSummary};

/// Longest a replay of one flood may take (debug build, shared machine): a hang or a
/// quadratic blow-up overruns it by far; the replays take 1-10 s here.
const PER_FILE_LIMIT: Duration = Duration::from_secs(60);
/// Workers of every replay, and the pipeline bounds of every config: its memory is
/// workers x (queue_batches + 2) x batch_bytes = 2 x 10 x 256 KiB.
const WORKERS: u64 = 2;
const BASE_CONFIG: &str = "workers = 2\n[hunts]\nenabled = false\n\
     [pipeline]\nbatch_bytes = \"256KiB\"\nqueue_batches = 8\n";
const PIPELINE_BYTES: u64 = WORKERS * 10 * 256 * 1024;
/// Allowance over the derived bound: allocator arenas and fragmentation, EVE buffers, the
/// detectors' tables for the flows seen. Far below what any flood here holds without caps.
const SLACK: u64 = 32 << 20;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapir-floods-{}-{name}", std::process::id()))
}

/// One finished replay.
struct Run {
    stderr: String,
    summary: HashMap<String, String>,
    counters: HashMap<String, u64>,
    eve: Vec<Value>,
}

impl Run {
    fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    fn field(&self, name: &str) -> u64 {
        self.summary
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("summary has no {name}\n{}", self.stderr))
    }

    fn rss(&self) -> u64 {
        let mib: u64 = self
            .summary
            .get("max_rss")
            .and_then(|v| v.trim_end_matches("MiB").parse().ok())
            .unwrap_or_else(|| panic!("no max_rss\n{}", self.stderr));
        mib << 20
    }

    fn events<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.eve.iter().filter(move |e| e["event_type"] == kind)
    }

    /// Intel alerts, by the indicator value they matched.
    fn intel_alerts(&self) -> Vec<(String, u64)> {
        self.events("alert")
            .filter_map(|a| {
                let v = a["alert"]["context"]["indicator"]["value"].as_str()?;
                Some((v.to_string(), a["pcap_cnt"].as_u64().unwrap_or(0)))
            })
            .collect()
    }
}

/// Replays `capture` with `BASE_CONFIG` + `extra`, EVE to a file, within [`PER_FILE_LIMIT`]
/// (killed past twice that, so a hang fails the test instead of stalling it).
fn replay(tag: &str, extra: &str, capture: &Path, intel: Option<&Path>) -> Run {
    let conf = temp(&format!("{tag}.toml"));
    std::fs::write(&conf, format!("{BASE_CONFIG}{extra}")).expect("config");
    let eve_file = temp(&format!("{tag}.eve"));
    let err = temp(&format!("{tag}.stderr"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tapir"));
    cmd.arg("replay")
        .arg("--config")
        .arg(&conf)
        .arg("--eve")
        .arg(&eve_file);
    if let Some(i) = intel {
        cmd.arg("--intel").arg(i);
    }
    cmd.arg(capture)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).expect("stderr file"));
    let t0 = Instant::now();
    let mut child = cmd.spawn().expect("run tapir");
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if t0.elapsed() > 2 * PER_FILE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{tag}: tapir still running after {:?}: a hang",
                t0.elapsed()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = t0.elapsed();
    let stderr = std::fs::read_to_string(&err).expect("read stderr");
    assert!(status.success(), "{tag}: {status}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{tag}: {stderr}");
    assert!(took < PER_FILE_LIMIT, "{tag}: took {took:?}");
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("packets="))
        .unwrap_or_else(|| panic!("{tag}: no summary line\n{stderr}"));
    let summary = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let counters = stderr
        .lines()
        .find_map(|l| l.strip_prefix("tapir: counters:"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect();
    let text = std::fs::read_to_string(&eve_file).expect("eve");
    let eve = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("EVE line is JSON"))
        .collect();
    for p in [&conf, &err, &eve_file] {
        let _ = std::fs::remove_file(p);
    }
    eprintln!("{tag}: {line} (wall {took:.1?})");
    Run {
        stderr,
        summary,
        counters,
        eve,
    }
}

/// Peak RSS of a replay of the demo capture with the same configuration: what the process
/// takes before any flood.
fn baseline(tag: &str, extra: &str) -> u64 {
    let demo = temp(&format!("{tag}-demo.pcap"));
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let r = replay(&format!("{tag}-baseline"), extra, &demo, None);
    let _ = std::fs::remove_file(demo);
    r.rss()
}

fn generate(tag: &str, kind: FloodKind, scale: u32) -> (PathBuf, FloodSummary) {
    let cap = temp(&format!("{tag}.pcap"));
    let cfg = FloodConfig {
        scale,
        ..FloodConfig::new(kind)
    };
    let s = tapir_gen_demo::write_flood(&cap, &cfg).expect("generate flood");
    (cap, s)
}

fn cleanup(cap: &Path) {
    let _ = std::fs::remove_file(cap);
    let _ = std::fs::remove_dir_all(floods::intel_dir(cap));
}

/// Every packet counted, and the marker written after the flood raised its alert.
fn kept_processing(r: &Run, s: &FloodSummary) {
    assert_eq!(
        r.field("packets"),
        s.packets,
        "every packet written is counted"
    );
    let marker: Vec<u64> = r
        .intel_alerts()
        .into_iter()
        .filter(|(v, _)| v == MARKER_DOMAIN)
        .map(|(_, n)| n)
        .collect();
    assert_eq!(marker.len(), 1, "one marker alert\n{}", r.stderr);
    assert!(
        marker.iter().all(|&n| n >= s.marker_frame),
        "the marker alert comes from the lookup after the flood: {marker:?}"
    );
}

fn under(tag: &str, r: &Run, base: u64, caps: u64) {
    let bound = base + PIPELINE_BYTES + caps + SLACK;
    eprintln!(
        "{tag}: peak RSS {} MiB; baseline {} MiB + pipeline {} MiB + caps {} MiB + slack {} MiB = {} MiB",
        r.rss() >> 20,
        base >> 20,
        PIPELINE_BYTES >> 20,
        caps >> 20,
        SLACK >> 20,
        bound >> 20
    );
    assert!(r.rss() <= bound, "{tag}: peak RSS over the configured caps");
}

/// tapir_wire::defrag::MAX_FRAGMENTS_PER_DATAGRAM (not re-exported by the crates tapir uses).
const MAX_FRAGMENTS_PER_DATAGRAM: u64 = 256;

/// IPv4 and IPv6 fragments that never complete: the datagram count, the byte cap (one 8-byte
/// fragment at offset 65 496 claims 64 KiB) and the fragments per datagram hold, and every
/// fragment is counted as dropped, bad, or held until its datagram times out.
///
/// Bound: workers x (2 x defrag.max_bytes + defrag.max_datagrams x 512 B), the factor 2 for
/// vector growth; without the byte cap the `far` phases alone would hold 4 GiB.
#[test]
fn fragments_that_never_complete_stay_under_the_defrag_caps() {
    let (cap, s) = generate("frag", FloodKind::Frag, 4);
    let Facts::Frag(f) = &s.facts else {
        panic!("frag facts")
    };
    let datagrams: u64 = 1_024;
    // Room for 64 far datagrams and their bookkeeping (at most 16 bytes each).
    let far_held: u64 = 64;
    let max_bytes = far_held * (u64::from(frag::FAR_END) + 16);
    let timeout_s = 10;
    assert!(timeout_s * 1_000_000 > frag::PHASE_SPAN_US);
    assert!(timeout_s * 1_000_000 < frag::PHASE_GAP_US);
    let extra = format!(
        "[defrag]\nmax_bytes = {max_bytes}\nmax_datagrams = {datagrams}\ntimeout = \"{timeout_s}s\"\n"
    );
    let base = baseline("frag", &extra);
    let r = replay("frag", &extra, &cap, Some(&floods::intel_dir(&cap)));
    kept_processing(&r, &s);

    let (mut dropped, mut bad, mut timeouts) = (0, 0, 0);
    for ph in [&f.v4, &f.v6] {
        // The open phase's datagrams are tiny: only their count is bounded.
        assert!(datagrams * 64 < max_bytes && ph.spray <= datagrams);
        let open = ph.open.min(datagrams);
        let far = ph.far.min(max_bytes / u64::from(frag::FAR_END));
        let same = ph.same.min(MAX_FRAGMENTS_PER_DATAGRAM);
        dropped += (ph.open - open) + (ph.far - far);
        bad += ph.same - same;
        // Every datagram held expires: the marker comes 120 s after the last fragment.
        timeouts += open + far + u64::from(ph.same > 0) + ph.spray;
    }
    assert_eq!(r.counter("fragments"), f.fragments());
    assert_eq!(r.counter("defrag_reassembled"), 0);
    assert_eq!(r.counter("defrag_dropped_memcap"), dropped);
    assert_eq!(r.counter("defrag_bad_fragments"), bad);
    assert_eq!(r.counter("defrag_timeouts"), timeouts);
    assert_eq!(
        r.field("flows"),
        1,
        "fragments make no flow; the marker does"
    );
    under(
        "frag",
        &r,
        base,
        WORKERS * (2 * max_bytes + datagrams * 512),
    );
    cleanup(&cap);
}

/// TCP ranges re-sent with different bytes, before and after delivery: the stream keeps the
/// first copy of every byte (sensor/flow/src/stream.rs, "first data wins"), so each request's
/// `http.url` is the generator's first-wins prediction, every byte received after delivery is
/// counted in `tcp_retransmitted_bytes` and every byte received while held out of order in
/// `tcp_overlap_bytes`. Fill connections overrun the out-of-order bounds:
/// exactly the segments past them are counted in `tcp_ooo_dropped`, each hole in `tcp_gaps`.
///
/// Bound: workers x flow.max_flows x (2 directions x (stream.max_ooo_bytes +
/// stream.max_ooo_segments x 64 B) + 4 KiB of flow state); without the out-of-order caps
/// the even fill connections would hold 131 MB.
#[test]
fn tcp_rewrites_keep_the_first_copy_and_ooo_caps_hold() {
    let (cap, s) = generate("tcp", FloodKind::TcpOverlap, 3);
    let Facts::Tcp(f) = &s.facts else {
        panic!("tcp facts")
    };
    let (max_flows, ooo_bytes, ooo_segs) = (256u64, 16_384u64, 32u64);
    let extra = format!(
        "[flow]\nmax_flows = {max_flows}\n[stream]\nmax_ooo_bytes = {ooo_bytes}\n\
         max_ooo_segments = {ooo_segs}\n"
    );
    let base = baseline("tcp", &extra);
    let r = replay("tcp", &extra, &cap, Some(&floods::intel_dir(&cap)));
    kept_processing(&r, &s);

    let urls: HashSet<&str> = r
        .events("http")
        .filter_map(|e| e["http"]["url"].as_str())
        .collect();
    let want: HashSet<&str> = f.uris.iter().map(String::as_str).collect();
    assert_eq!(want.len() as u64, f.rewrite_conns);
    assert_eq!(urls, want, "each request as first-data-wins delivers it");
    assert!(
        urls.iter()
            .all(|u| u.contains("xxxx") && u.ends_with("yyyy")),
        "P3 from the first (x) copy, P4 from the first (y) copy"
    );
    assert_eq!(r.counter("events.http"), f.rewrite_conns);
    assert_eq!(r.counter("tcp_retransmitted_bytes"), f.retransmitted_bytes);
    let held_segments = tcp::FILL_SEGMENTS
        .min(ooo_bytes / tcp::FILL_SEGMENT_LEN)
        .min(ooo_segs);
    // Rewrite connections, plus the lettered copies of each even fill connection's first
    // segment, which is held (the caps keep the first `held_segments`).
    assert!(held_segments > 0);
    let fill_overlap = f.fill_segment_conns * tcp::FILL_REWRITES * tcp::FILL_SEGMENT_LEN;
    assert_eq!(
        r.counter("tcp_overlap_bytes"),
        f.overlap_bytes + fill_overlap
    );
    let held_pieces = tcp::FILL_PIECES.min(ooo_segs).min(ooo_bytes);
    let dropped = f.fill_segment_conns * (tcp::FILL_SEGMENTS - held_segments)
        + f.fill_piece_conns * (tcp::FILL_PIECES - held_pieces);
    assert_eq!(r.counter("tcp_ooo_dropped"), dropped);
    let fill = f.fill_segment_conns + f.fill_piece_conns;
    assert_eq!(r.counter("tcp_gaps"), fill, "one hole per fill connection");
    assert_eq!(r.field("flows"), f.rewrite_conns + fill + 1);
    assert_eq!(r.counter("events.flow"), r.field("flows"));
    // Fill connections never close: all but the last table-fulls were evicted.
    assert!(r.counter("flows_forced") >= fill - WORKERS * max_flows);
    let per_flow = 2 * (ooo_bytes + ooo_segs * 64) + 4_096;
    under("tcp", &r, base, WORKERS * max_flows * per_flow);
    cleanup(&cap);
}

/// DNS pointer loops, 32- and 33-pointer chains, 255-octet names (and 256/257-octet ones,
/// plain and through pointers), over UDP and TCP, and 64 KB responses of 4 074 owners at 32
/// pointers each: every message that parses is one `dns` event, every bad one is one
/// `app_error.dns` (UDP: each datagram; TCP: the first per direction, the rest unread).
///
/// Bound: workers x flow.max_flows x 2 directions x 64 KiB (the DNS-over-TCP message
/// buffer).
#[test]
fn dns_loops_chains_and_longest_names_are_counted_not_followed() {
    let (cap, s) = generate("dns", FloodKind::Dns, 1);
    let Facts::Dns(f) = &s.facts else {
        panic!("dns facts")
    };
    let max_flows = 64u64;
    let extra = format!("[flow]\nmax_flows = {max_flows}\n");
    let base = baseline("dns", &extra);
    let r = replay("dns", &extra, &cap, Some(&floods::intel_dir(&cap)));
    kept_processing(&r, &s);

    // The marker's query and answer are two more.
    assert_eq!(r.counter("events.dns"), f.good_messages + 2);
    assert_eq!(r.counter("app_error.dns"), f.bad_messages);
    assert_eq!(r.field("flows"), f.udp_flows + f.tcp_flows + 1);
    let answers = |qname: &str| -> Vec<Value> {
        r.events("dns")
            .filter(|e| e["dns"]["type"] == "response")
            .filter(|e| e["dns"]["queries"][0]["rrname"] == qname)
            .flat_map(|e| e["dns"]["answers"].as_array().cloned().unwrap_or_default())
            .collect()
    };
    assert_eq!(f.max_name.len(), 253);
    let max = answers(&f.max_name);
    assert_eq!(max.len(), 2, "both answers for the 255-octet name");
    assert!(max.iter().all(|a| a["rrname"] == f.max_name.as_str()));
    // 32 pointers lead back to the question name.
    let chain = answers("r0-chain-32.tapir-flood.test");
    assert_eq!(
        chain.get(1).map(|a| &a["rrname"]),
        Some(&Value::from("r0-chain-32.tapir-flood.test"))
    );
    // Three 63-octet labels and a 61-octet one, joined by pointers: 255 octets exactly.
    let ptr = answers("r0-ptr-255.tapir-flood.test");
    assert_eq!(
        ptr.get(1).map(|a| &a["rrname"]),
        Some(&Value::from(f.ptr_name.as_str()))
    );
    // A CNAME target that loops is logged without its data; the message still counts.
    let cname = answers("r0-rdata-loop.tapir-flood.test");
    let looped = cname
        .iter()
        .find(|a| a["rrtype"] == "CNAME")
        .expect("CNAME answer");
    assert!(looped.get("rdata").is_none(), "{looped}");
    // 4 074 owners through 32 pointers each, all read (some are logged).
    let heavy = answers("r0-heavy.tapir-flood.test");
    assert!(!heavy.is_empty());
    assert!(heavy
        .iter()
        .filter(|a| a["rrtype"] == "A")
        .all(|a| a["rrname"] == "r0-heavy.tapir-flood.test"));
    under("dns", &r, base, WORKERS * max_flows * 2 * (64 << 10));
    cleanup(&cap);
}

/// ClientHellos of 16 000 extensions, 30 000 cipher suites, 8 000 of each (all under the
/// 64 KiB a handshake message may take) and 32 000 + 8 000 (96 KB: refused), in 16 KiB or
/// 1 000-byte records over 536-byte segments, 32 connections interleaved: JA3 and JA4 equal
/// the generator's own computation (and match the intel lists), the oversized hellos are
/// counted in `app_error.tls` and logged nowhere.
///
/// Bound: workers x flow.max_flows x 8 x 64 KiB per TLS flow (the 64 KiB handshake buffer,
/// and the parsed hello kept until the flow's `tls` event: the value lists, the JA3 string at
/// up to 6 characters per 2-byte value and JA4_r at 5); measured about 245 KiB per flow.
#[test]
fn huge_client_hellos_are_fingerprinted_or_refused_within_caps() {
    let (cap, s) = generate("tls", FloodKind::Tls, 3);
    let Facts::Tls(f) = &s.facts else {
        panic!("tls facts")
    };
    let max_flows = 32u64;
    let extra = format!("[flow]\nmax_flows = {max_flows}\n");
    let base = baseline("tls", &extra);
    let r = replay("tls", &extra, &cap, Some(&floods::intel_dir(&cap)));
    kept_processing(&r, &s);

    let by_sni: HashMap<&str, &tls::HelloFacts> =
        f.hellos.iter().map(|h| (h.sni.as_str(), h)).collect();
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for e in r.events("tls") {
        let sni = e["tls"]["sni"].as_str().expect("sni");
        let h = by_sni.get(sni).expect("a generated hello");
        assert_eq!(e["tls"]["ja3"]["hash"], h.ja3.as_str(), "{sni}");
        assert_eq!(e["tls"]["ja4"], h.ja4.as_str(), "{sni}");
        *seen.entry(h.name).or_insert(0) += 1;
    }
    let accepted: Vec<&tls::HelloFacts> =
        f.hellos.iter().filter(|h| h.body_len <= 64 << 10).collect();
    let refused: u64 = f
        .hellos
        .iter()
        .filter(|h| h.body_len > 64 << 10)
        .map(|h| h.connections)
        .sum();
    assert!(refused > 0 && accepted.len() == 3);
    for h in &accepted {
        assert_eq!(seen.get(h.name), Some(&h.connections), "{}", h.name);
    }
    assert_eq!(
        r.counter("events.tls"),
        accepted.iter().map(|h| h.connections).sum::<u64>()
    );
    assert_eq!(r.counter("app_error.tls"), refused);
    let alerts = r.intel_alerts();
    let count = |v: &str| alerts.iter().filter(|(a, _)| a == v).count() as u64;
    assert_eq!(
        count(&f.listed_ja3),
        f.hellos[0].connections,
        "JA3 of 16 000 extensions"
    );
    assert_eq!(
        count(&f.listed_ja4),
        f.hellos[1].connections,
        "JA4 of 30 000 ciphers"
    );
    under("tls", &r, base, WORKERS * max_flows * 8 * (64 << 10));
    cleanup(&cap);
}

/// A 100 000-entry list of 213-248-byte names (114 labels, or 63-byte labels) and 1 500
/// invalid lines loads in bounded time, warns about the invalid lines (up to the loader's
/// cap), and DNS lookups of subdomains of listed names (parent match over up to 115 labels)
/// and of 127-label names no entry covers alert exactly once per listed lookup.
///
/// Bound: no configuration key caps the intel store (tapir_intel::MAX_INDICATORS and the
/// list file size do); the test allows 8 bytes of RSS per byte of list file (measured 5.4).
#[test]
fn deep_names_against_a_100k_list_load_and_match_in_bounded_time() {
    let (cap, s) = generate("names", FloodKind::DeepNames, 1);
    let Facts::Names(f) = &s.facts else {
        panic!("names facts")
    };
    let dir = floods::intel_dir(&cap);
    let list_bytes = std::fs::metadata(dir.join("domains.txt"))
        .expect("list")
        .len();
    let base = baseline("names", "");
    let r = replay("names", "", &cap, Some(&dir));
    kept_processing(&r, &s);

    let loaded = format!("{} indicators loaded", f.entries + 1);
    assert!(r.stderr.contains(&loaded), "{}", r.stderr);
    let warnings = r
        .stderr
        .lines()
        .filter(|l| l.contains("warning: intel:") && l.contains("domains.txt:"))
        .count();
    assert_eq!(
        warnings as u64,
        f.invalid_lines.min(tapir_intel::MAX_WARNINGS as u64),
        "one warning per invalid line, up to the cap"
    );
    assert!(f.deepest_lookup == 127 && f.longest_lookup >= 250);
    let alerts = r.intel_alerts();
    assert_eq!(
        alerts.len() as u64,
        f.listed_lookups + 1,
        "one per listed lookup"
    );
    assert!(alerts
        .iter()
        .filter(|(v, _)| v != MARKER_DOMAIN)
        .all(|(v, _)| v.starts_with('e') && v.len() >= 213));
    assert_eq!(
        r.counter("events.dns"),
        2 * (f.listed_lookups + f.unlisted_lookups) + 2
    );
    under("names", &r, base, 8 * list_bytes);
    cleanup(&cap);
}
