//! Payload patterns end to end: split across segments, out of order, retransmitted, past the
//! depth, UDP, bad entries, and every pattern planted in a generated capture found once.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tapir_engine::{replay_with, EngineConfig, PipelineConfig, ReplayOptions};
use tapir_gen_demo::session::{Dir, TcpConn, Trace};
use tapir_gen_demo::wire::{Header, ACK, L2, L4, PSH};
use tapir_intel::IntelDb;
use tapir_patterns::{BuildOptions, PatternSet};

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapir-pat-{}-{name}", std::process::id()))
}

fn patterns(name: &str, text: &str) -> PatternSet {
    let dir = tmp(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let f = dir.join("patterns-test.rules");
    std::fs::write(&f, text).expect("write");
    let loaded = PatternSet::load_paths(&[f], &BuildOptions::default()).expect("load");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    loaded.set
}

/// Replays `pcap` with `set`; returns the alerts and the counters.
fn run(
    pcap: &[u8],
    set: &PatternSet,
    depth: u64,
    workers: usize,
) -> (Vec<Value>, tapir_engine::Stats) {
    run_following(pcap, Some(set), None, depth, workers)
}

/// [`run`] with the workers starting on `set` and following `swap` (a pattern reload).
fn run_following(
    pcap: &[u8],
    set: Option<&PatternSet>,
    swap: Option<PatternSet>,
    depth: u64,
    workers: usize,
) -> (Vec<Value>, tapir_engine::Stats) {
    let p = tmp(&format!(
        "cap-{workers}-{depth}-{}-{}.pcap",
        pcap.len(),
        swap.is_some()
    ));
    std::fs::write(&p, pcap).expect("write pcap");
    let opts = ReplayOptions {
        pipeline: PipelineConfig {
            workers,
            ..PipelineConfig::default()
        },
        patterns: set.cloned(),
        pattern_depth: depth,
        pattern_swap: swap.map(|s| Arc::new(arc_swap::ArcSwap::from_pointee(s))),
        ..ReplayOptions::default()
    };
    let mut out = Vec::new();
    let r = replay_with(
        std::slice::from_ref(&p),
        Arc::new(IntelDb::empty()),
        EngineConfig::default(),
        &opts,
        &mut out,
    )
    .expect("replay");
    let _ = std::fs::remove_file(p);
    (match_alerts(out), r.stats)
}

/// The alerts in EVE output that are not a behaviour detector's (those come from the bench
/// capture's TLS 1.2 servers, which present a self-signed certificate; tested elsewhere).
fn match_alerts(eve: Vec<u8>) -> Vec<Value> {
    String::from_utf8(eve)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|e| {
            e["event_type"] == "alert" && e["alert"]["metadata"]["tapir_detector"].is_null()
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// A TCP session whose server sends `segments` (offsets into `data`) in the given order, each
/// segment once per listed occurrence (a repeat is a retransmission).
fn tcp_capture(data: &[u8], cuts: &[usize], order: &[usize]) -> Vec<u8> {
    let mut tr = Trace::new(Vec::new(), 1_768_467_600_000_000).expect("trace");
    let l2 = L2 {
        src: [2, 0, 0, 0, 0, 1],
        dst: [2, 0, 0, 0, 0, 2],
        vlan: None,
    };
    let mut c = TcpConn::new(
        l2,
        (ip("10.0.0.5"), 40000),
        (ip("192.0.2.9"), 8080),
        [1000, 5_000_000],
        2000,
    );
    c.handshake(&mut tr).expect("handshake");
    c.send(
        &mut tr,
        Dir::Up,
        b"GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n",
    )
    .expect("send");
    let base = c.nxt[1];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(data.len());
    for &i in order {
        let (a, b) = (bounds[i], bounds[i + 1]);
        c.raw(
            &mut tr,
            Dir::Down,
            base.wrapping_add(a as u32),
            c.nxt[0],
            ACK | PSH,
            &[],
            &data[a..b],
        )
        .expect("seg");
    }
    c.advance(Dir::Down, data.len());
    c.close(&mut tr).expect("close");
    tr.finish().expect("finish")
}

const MAGIC: &[u8] = b"XQ-BEACON-7f3a9c21-MAGIC";

fn body_with_magic(at: usize) -> Vec<u8> {
    let mut v = b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n".to_vec();
    v.resize(at, b'.');
    v.extend_from_slice(MAGIC);
    v.resize(at + MAGIC.len() + 300, b'-');
    v
}

fn pattern_alerts(alerts: &[Value], id: u64) -> Vec<&Value> {
    alerts
        .iter()
        .filter(|a| a["alert"]["signature_id"] == id)
        .collect()
}

#[test]
fn split_reordered_and_retransmitted_patterns_alert_once() {
    let set = patterns("split", "id=9001 name=\"beacon magic\" content=\"XQ-BEACON-7f3a9c21-MAGIC\" proto=tcp dir=to-client mitre=T1071.001\n");
    let body = body_with_magic(100);
    let cases: [(&str, Vec<usize>, Vec<usize>); 4] = [
        ("2 segments", vec![110], vec![0, 1]),
        ("3 segments", vec![105, 115], vec![0, 1, 2]),
        ("out of order", vec![105, 115], vec![2, 0, 1]),
        ("retransmitted", vec![105, 115], vec![0, 1, 1, 2, 1]),
    ];
    for (what, cuts, order) in cases {
        let cap = tcp_capture(&body, &cuts, &order);
        for workers in [1, 2] {
            let (alerts, _) = run(&cap, &set, 1 << 20, workers);
            let hits = pattern_alerts(&alerts, 9001);
            assert_eq!(hits.len(), 1, "{what}, {workers} workers: {alerts:?}");
            let a = hits[0];
            assert_eq!(
                a["alert"]["context"]["pattern"]["offset"],
                100 + MAGIC.len() as u64,
                "{what}"
            );
            assert_eq!(a["alert"]["context"]["pattern"]["direction"], "to_client");
            assert_eq!(a["alert"]["metadata"]["mitre_technique_id"][0], "T1071.001");
            assert_eq!(a["src_ip"], "192.0.2.9", "alert in packet direction");
        }
    }
}

#[test]
fn scope_nocase_hex_and_regex() {
    let set = patterns(
        "scope",
        "id=9101 name=\"wrong dir\" content=\"XQ-BEACON\" dir=to-server\n\
         id=9102 name=\"nocase hex\" content=\"xq|2d|beacon\" nocase\n\
         id=9103 name=\"bounded repeat\" regex=\"/BEACON-[0-9a-f]{8}-MAGIC/\"\n\
         id=9104 name=\"wrong port\" content=\"MAGIC\" ports=9999\n",
    );
    let cap = tcp_capture(&body_with_magic(100), &[110], &[0, 1]);
    let (alerts, _) = run(&cap, &set, 1 << 20, 1);
    assert!(
        pattern_alerts(&alerts, 9101).is_empty(),
        "direction scope ignored"
    );
    assert_eq!(
        pattern_alerts(&alerts, 9102).len(),
        1,
        "nocase + hex escape"
    );
    assert_eq!(pattern_alerts(&alerts, 9103).len(), 1, "regex");
    assert!(
        pattern_alerts(&alerts, 9104).is_empty(),
        "port scope ignored"
    );
}

#[test]
fn pattern_past_the_depth_is_not_scanned_and_counted() {
    let set = patterns(
        "depth",
        "id=9201 name=\"deep\" content=\"XQ-BEACON-7f3a9c21-MAGIC\"\n",
    );
    let cap = tcp_capture(&body_with_magic(300), &[200], &[0, 1]);
    let (alerts, stats) = run(&cap, &set, 256, 1);
    assert!(pattern_alerts(&alerts, 9201).is_empty());
    assert!(stats.pattern_streams_past_depth >= 1, "{stats:?}");
    let (alerts, _) = run(&cap, &set, 1 << 20, 1);
    assert_eq!(
        pattern_alerts(&alerts, 9201).len(),
        1,
        "found with the default depth"
    );
}

#[test]
fn udp_datagrams_are_scanned() {
    let set = patterns(
        "udp",
        "id=9301 name=\"udp magic\" content=\"XQ-BEACON\" proto=udp\n",
    );
    let mut tr = Trace::new(Vec::new(), 1_768_467_600_000_000).expect("trace");
    let hdr = Header {
        l2: L2 {
            src: [2, 0, 0, 0, 0, 1],
            dst: [2, 0, 0, 0, 0, 2],
            vlan: None,
        },
        src: ip("10.0.0.7"),
        dst: ip("198.51.100.3"),
        ttl: 64,
        ip_id: 1,
        l4: L4::Udp {
            sport: 5555,
            dport: 6666,
        },
    };
    tr.emit(&hdr, b"hello XQ-BEACON-7f3a9c21-MAGIC")
        .expect("emit");
    tr.emit(&hdr, b"again XQ-BEACON").expect("emit");
    let cap = tr.finish().expect("finish");
    let (alerts, _) = run(&cap, &set, 1 << 20, 1);
    assert_eq!(
        pattern_alerts(&alerts, 9301).len(),
        1,
        "once per flow: {alerts:?}"
    );
}

#[test]
fn every_planted_pattern_is_found_and_nothing_else() {
    let cfg = tapir_gen_demo::bench::BenchConfig {
        packets: 40_000,
        flows: 200,
        seed: 21,
        plant: 12,
        ..Default::default()
    };
    let (pcap, summary) = tapir_gen_demo::bench_bytes_with_summary(&cfg).expect("generate");
    let planted: Vec<_> = summary
        .planted
        .iter()
        .filter(|p| p.kind == "pattern")
        .collect();
    assert!(!planted.is_empty());
    assert!(
        planted.iter().any(|p| p.split),
        "some plants must straddle two segments"
    );
    let mut text = String::new();
    for (i, p) in planted.iter().enumerate() {
        text.push_str(&format!(
            "id={} name=\"planted {i}\" content=\"{}\"\n",
            9400 + i,
            p.value
        ));
    }
    let set = patterns("planted", &text);
    for workers in [1, 2] {
        let (alerts, _) = run(&pcap, &set, 1 << 20, workers);
        for (i, p) in planted.iter().enumerate() {
            let id = 9400 + i as u64;
            let hits = pattern_alerts(&alerts, id);
            assert_eq!(
                hits.len(),
                1,
                "planted {i} ({}, split {}): {} alerts",
                p.value,
                p.split,
                hits.len()
            );
        }
        assert_eq!(
            alerts.len(),
            planted.len(),
            "alerts beyond the planted ones"
        );
    }
}

#[test]
fn a_bad_entry_is_reported_by_line_and_the_rest_load() {
    let dir = tmp("bad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let f = dir.join("patterns-bad.rules");
    std::fs::write(
        &f,
        "id=1 name=\"good\" content=\"XQ-BEACON\"\nid=2 name=\"bad\" regex=\"/(?<=x)y/\"\nid=3 name=\"also good\" content=\"MAGIC\"\n",
    )
    .expect("write");
    let loaded = PatternSet::load_paths(&[f], &BuildOptions::default()).expect("load");
    assert_eq!(loaded.set.len(), 2);
    assert_eq!(loaded.errors.len(), 1);
    assert_eq!(loaded.errors[0].line, 2, "{}", loaded.errors[0]);
    let cap = tcp_capture(&body_with_magic(100), &[110], &[0, 1]);
    let (alerts, _) = run(&cap, &loaded.set, 1 << 20, 1);
    assert_eq!(alerts.len(), 2);
    let _ = Path::new(&dir);
}

/// Hot reload: workers take the set stored in the swap before their first batch, whether they
/// started with another set, with none, or the swap holds the empty set (patterns removed).
#[test]
fn workers_follow_a_reloaded_pattern_set() {
    let magic = patterns(
        "reload-magic",
        "id=9101 name=\"beacon magic\" content=\"XQ-BEACON-7f3a9c21-MAGIC\" proto=tcp\n",
    );
    let other = patterns(
        "reload-other",
        "id=9102 name=\"absent\" content=\"NOT-IN-THIS-CAPTURE\" proto=tcp\n",
    );
    let cap = tcp_capture(&body_with_magic(100), &[110], &[0, 1]);
    for workers in [1, 3] {
        let cases = [
            ("other -> magic", Some(&other), Some(magic.clone()), 1),
            ("none -> magic", None, Some(magic.clone()), 1),
            ("magic -> empty", Some(&magic), Some(PatternSet::empty()), 0),
            ("magic -> magic", Some(&magic), Some(magic.clone()), 1),
            ("magic -> other", Some(&magic), Some(other.clone()), 0),
        ];
        for (what, start, swap, want) in cases {
            let (alerts, st) = run_following(&cap, start, swap, 1 << 20, workers);
            assert_eq!(
                pattern_alerts(&alerts, 9101).len(),
                want,
                "{what}, {workers} workers: {alerts:?}"
            );
            assert!(pattern_alerts(&alerts, 9102).is_empty(), "{what}");
            assert_eq!(st.pattern_reload_errors, 0);
            if want == 1 {
                assert!(st.pattern_bytes_scanned > 0, "{what}: {st:?}");
            }
        }
    }
}

/// Replays `pcap` through one engine on `start`, switching it to `next` (a pattern reload)
/// right after the first packet that carries `&MAGIC[..10]`, which is mid-flow and, for
/// `body_with_magic(100)` cut at 110, between the two halves of the pattern.
fn reload_mid_flow(pcap: &[u8], start: &PatternSet, next: &PatternSet) -> (Vec<Value>, u64) {
    let mut e = tapir_engine::Engine::new(EngineConfig::default(), Arc::new(IntelDb::empty()));
    e.set_patterns(start, 1 << 20).expect("scanner");
    let mut switched = false;
    let mut last = 0;
    for (i, r) in tapir_benches::records(pcap).iter().enumerate() {
        let data = &pcap[r.range.clone()];
        let pkt = tapir_capture::RawPacket {
            ts_us: r.ts_us,
            wire_len: r.wire_len,
            data,
        };
        e.process(tapir_wire::LinkType::Ethernet, &pkt, i as u64 + 1);
        if !switched && data.windows(10).any(|w| w == &MAGIC[..10]) {
            e.switch_patterns(next, 1 << 20).expect("switch");
            switched = true;
        }
        last = r.ts_us;
    }
    assert!(switched, "no packet carried the first half");
    e.finish(last);
    let mut out = Vec::new();
    e.drain_to(&mut out).expect("drain");
    (match_alerts(out), e.stats().pattern_streams_carried)
}

/// A reload between the two segments of a match, at the engine: a pattern the reload kept
/// is found once (the old set's stream goes on beside the new one), a pattern matched before
/// the reload is not reported again, and a pattern the reload removed no longer reports.
#[test]
fn a_reload_mid_flow_loses_no_kept_match_and_repeats_none() {
    const MAGIC_RULE: &str =
        "id=9201 name=\"beacon magic\" content=\"XQ-BEACON-7f3a9c21-MAGIC\" proto=tcp\n";
    const OTHER_RULE: &str = "id=9202 name=\"absent\" content=\"NOT-IN-THIS-CAPTURE\" proto=tcp\n";
    let magic = patterns("mid-magic", MAGIC_RULE);
    // Built apart from `magic`, so the reload is a new set holding the same pattern.
    let magic_and_other = patterns("mid-both", &format!("{OTHER_RULE}{MAGIC_RULE}"));
    let other = patterns("mid-other", OTHER_RULE);
    let straddling = tcp_capture(&body_with_magic(100), &[110], &[0, 1]);
    // Magic wholly inside the first segment (bytes 50..74), which also ends with MAGIC[..10] so
    // the switch happens after it: the match is made before the reload.
    let mut early = body_with_magic(50);
    early[100..110].copy_from_slice(&MAGIC[..10]);
    let before = tcp_capture(&early, &[110], &[0, 1]);
    // Magic wholly inside the second segment: both the carried and the new stream see it.
    let mut late = body_with_magic(200);
    late[100..110].copy_from_slice(&MAGIC[..10]);
    let after = tcp_capture(&late, &[110], &[0, 1]);
    let cases = [
        ("kept, straddling", &straddling, &magic, &magic_and_other, 1),
        ("removed, straddling", &straddling, &magic, &other, 0),
        ("kept, matched before", &before, &magic, &magic_and_other, 1),
        ("kept, matched after", &after, &magic, &magic_and_other, 1),
    ];
    for (what, cap, start, next, want) in cases {
        let (alerts, carried) = reload_mid_flow(cap, start, next);
        assert_eq!(
            pattern_alerts(&alerts, 9201).len(),
            want,
            "{what}: {alerts:?}"
        );
        assert!(pattern_alerts(&alerts, 9202).is_empty(), "{what}");
        assert!(carried >= 1, "{what}: no stream was carried");
    }
    // Control: the reloaded set, loaded from the start, finds the same single match.
    let (fresh, _) = run(&straddling, &magic_and_other, 1 << 20, 1);
    assert_eq!(pattern_alerts(&fresh, 9201).len(), 1, "control");
}
