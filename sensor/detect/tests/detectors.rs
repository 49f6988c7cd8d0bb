//! Every detector on synthetic streams: attacks (and their hard variants) fire on the
//! attacking host, benign look-alikes and the background hosts do not; findings carry the
//! numbers behind them; results are deterministic and survive small reorderings; re-reporting
//! follows its rules.

mod support;

use std::collections::BTreeSet;

use support::*;
use tapir_detect::{DetectConfig, Detectors, Finding, Observation};

/// What a finding is about. A horizontal scan has no one destination (its `dest` is the
/// last host tried), so its port stands in.
fn keys(found: &[Finding]) -> BTreeSet<(u64, String, String)> {
    found
        .iter()
        .map(|f| {
            let dest = if f.signature_id == 1_630_031 {
                format!("port {:?}", f.dest_port)
            } else {
                f.dest.to_string()
            };
            (f.signature_id, f.src.to_string(), dest)
        })
        .collect()
}

fn scenario(name: &str) -> Scenario {
    scenarios()
        .into_iter()
        .find(|s| s.name == name)
        .expect("scenario exists")
}

#[test]
fn attacks_fire_and_look_alikes_do_not() {
    let cfg = DetectConfig::default();
    let mut checked = 0;
    for sc in scenarios().iter().filter(|s| !s.limit) {
        for seed in 1..=3 {
            let found = run(&cfg, &stream(sc, seed));
            assert_eq!(
                fired(&found, sc.detector),
                sc.attack,
                "{} (seed {seed}): {:#?}",
                sc.name,
                found
                    .iter()
                    .filter(|f| f.src == ATTACKER)
                    .collect::<Vec<_>>()
            );
            let bg = background_findings(&found);
            assert!(
                bg.is_empty(),
                "{} (seed {seed}): background findings {bg:#?}",
                sc.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 40 * 3);
}

#[test]
fn findings_carry_identity_and_numbers() {
    let cfg = DetectConfig::default();
    let expect: &[(&str, u64, &[&str])] = &[
        (
            "beacon 5 min, 30% jitter",
            1_630_001,
            &[
                "ts_score",
                "ds_score",
                "hist_score",
                "dur_score",
                "sloth_fit",
                "connections",
            ],
        ),
        (
            "iodine-like NULL tunnel",
            1_630_010,
            &[
                "unique_subdomains",
                "mean_subdomain_bits",
                "max_label_len",
                "txt_null_share",
            ],
        ),
        (
            "TXT tunnel, short labels",
            1_630_011,
            &["txt_null_queries", "unique_subdomains"],
        ),
        (
            "DGA random letters",
            1_630_020,
            &[
                "nxdomain",
                "suspicious_domains",
                "samples",
                "mean_lexical_score",
            ],
        ),
        (
            "vertical scan 1000 ports",
            1_630_030,
            &["distinct_ports", "attempts", "rejected"],
        ),
        (
            "horizontal scan /24 on 445",
            1_630_031,
            &["distinct_hosts", "unanswered"],
        ),
        (
            "upload 200 MB in 25 min",
            1_630_040,
            &["bytes_toserver", "ratio"],
        ),
        (
            "open 5 h to external",
            1_630_050,
            &["duration_s", "threshold_s", "still_open"],
        ),
        ("TLS on 4444", 1_630_060, &["app_proto", "server_port"]),
        ("SSH on 443", 1_630_061, &["app_proto"]),
        (
            "self-signed external",
            1_630_070,
            &["cert_subject", "cert_issuer"],
        ),
        (
            "expired certificate",
            1_630_071,
            &["cert_not_after", "expired"],
        ),
        ("no SNI to external IP", 1_630_072, &["ja4"]),
        (
            "rare JA4 from one host",
            1_630_073,
            &["fingerprint", "internal_hosts_seen", "sightings"],
        ),
    ];
    for (name, sid, fields) in expect {
        let found = run(&cfg, &stream(&scenario(name), 1));
        let f = found
            .iter()
            .find(|f| f.signature_id == *sid && f.src == ATTACKER)
            .unwrap_or_else(|| panic!("{name}: no finding {sid} in {found:#?}"));
        assert!(
            f.signature.starts_with("TAPIR BEHAVIOUR "),
            "{}",
            f.signature
        );
        assert!((1..=3).contains(&f.severity));
        assert!(!f.mitre_technique_id.is_empty() && !f.mitre_tactic_id.is_empty());
        assert!(!f.flow_ids.is_empty() && f.flow_ids.len() <= cfg.max_flow_ids);
        assert_eq!(f.flow_id, f.flow_ids.last().copied());
        if let Some(s) = f.score {
            assert!((0.0..=1.0).contains(&s), "{name}: score {s}");
        }
        for field in *fields {
            assert!(
                f.context.contains_key(*field),
                "{name}: no {field} in {:?}",
                f.context
            );
        }
    }
}

#[test]
fn beacon_sub_scores_separate_timers_from_people() {
    let cfg = DetectConfig::default();
    let found = run(&cfg, &stream(&scenario("beacon 2 min, 50% jitter"), 2));
    let f = found
        .iter()
        .find(|f| f.detector == "beacon")
        .expect("beacon found");
    let num = |k: &str| f.context[k].as_f64().expect("number");
    assert!(num("ts_score") > 0.6, "{:?}", f.context);
    assert!(num("median_gap_s") > 80.0 && num("median_gap_s") < 160.0);
    assert_eq!(f.dest, ext(10));
    assert_eq!(f.dest_port, Some(443));
    // The name pair rides on the same single server: only the address finding is kept.
    assert!(!found.iter().any(|f| f.signature_id == 1_630_002));

    // Spread over several addresses (a CDN), the name pair is what reveals the beacon.
    let mut s = Stream::new();
    let mut t = T0;
    for i in 0..40u64 {
        let f = s.summary(ATTACKER, ext(10 + (i % 4) as u8), 443, 6, t, S, 400, 900);
        let mut f = f;
        f.server_name = Some("c2.example".into());
        s.end(f);
        t += 90 * S;
    }
    let found = run(&cfg, &s.finish());
    let by_name: Vec<_> = found
        .iter()
        .filter(|f| f.signature_id == 1_630_002)
        .collect();
    assert!(!by_name.is_empty(), "{found:#?}");
    // Reported again only as the score climbs (coverage grows with the pair's span).
    for w in by_name.windows(2) {
        let (a, b) = (w[0].score.expect("score"), w[1].score.expect("score"));
        assert!(b >= a + cfg.beacon.rereport_step - 1e-9, "{a} then {b}");
    }
    assert_eq!(by_name[0].context["server_name"], "c2.example");
    assert_eq!(by_name[0].context["many_servers"], true);
}

#[test]
fn same_input_same_findings() {
    let cfg = DetectConfig::default();
    for name in [
        "beacon 2 min, 50% jitter",
        "dnscat-like hex CNAME tunnel",
        "vertical scan 1000 ports",
    ] {
        let obs = stream(&scenario(name), 4);
        assert_eq!(run(&cfg, &obs), run(&cfg, &obs), "{name}");
    }
}

/// Several workers hand over observations slightly out of order: neighbours swapped.
fn shuffle_locally(obs: &[Observation], seed: u64) -> Vec<Observation> {
    let mut v = obs.to_vec();
    let mut rng = Rng::new(seed);
    let mut i = 0;
    while i + 1 < v.len() {
        if rng.f64() < 0.3 {
            v.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    v
}

#[test]
fn small_reorderings_do_not_change_what_is_found() {
    let cfg = DetectConfig::default();
    for sc in scenarios().iter().filter(|s| !s.limit) {
        let obs = stream(sc, 5);
        let a = keys(&run(&cfg, &obs));
        let b = keys(&run(&cfg, &shuffle_locally(&obs, 9)));
        assert_eq!(a, b, "{}", sc.name);
    }
}

#[test]
fn scans_re_report_on_a_doubling_scale() {
    let cfg = DetectConfig::default();
    let found = run(&cfg, &stream(&scenario("vertical scan 1000 ports"), 1));
    let counts: Vec<u64> = found
        .iter()
        .filter(|f| f.signature_id == 1_630_030)
        .map(|f| f.context["distinct_ports"].as_u64().expect("count"))
        .collect();
    assert!(counts.len() >= 6 && counts.len() <= 10, "{counts:?}");
    assert_eq!(counts[0], 5);
    for w in counts.windows(2) {
        assert!(w[1] >= 2 * w[0], "{counts:?}");
    }
}

#[test]
fn exfil_re_reports_at_doubling_and_ignores_downloads() {
    let cfg = DetectConfig::default();
    let mut s = Stream::new();
    for i in 0..45u64 {
        s.flow(
            ATTACKER,
            ext(40),
            443,
            T0 + i * 60 * S,
            30 * S,
            10_000_000,
            100_000,
            None,
        );
    }
    let found = run(&cfg, &s.finish());
    let volumes: Vec<u64> = found
        .iter()
        .filter(|f| f.detector == "exfil")
        .map(|f| f.context["bytes_toserver"].as_u64().expect("bytes"))
        .collect();
    assert_eq!(volumes, vec![100_000_000, 200_000_000, 400_000_000]);
}

#[test]
fn long_connections_once_per_threshold() {
    let cfg = DetectConfig::default();
    let mut s = Stream::new();
    let f = s.summary(ATTACKER, ext(50), 443, 6, T0, 10 * 3600 * S, 1000, 1000);
    for after in [3600, 3700, 14_400, 20_000, 28_800] {
        let mut o = f.clone();
        o.last_us = o.start_us + after * S;
        s.obs.push((o.last_us, Observation::FlowOpen(o)));
    }
    s.end(f);
    let found = run(&cfg, &s.finish());
    let th: Vec<u64> = found
        .iter()
        .map(|f| f.context["threshold_s"].as_u64().expect("threshold"))
        .collect();
    assert_eq!(th, vec![3600, 14_400, 28_800]);
    assert!(found.iter().all(|f| f.severity == 3));
}

#[test]
fn dns_tunnel_windows_restart() {
    let cfg = DetectConfig::default();
    let mut s = Stream::new();
    let mut rng = Rng::new(3);
    // Two bursts of tunnel traffic three hours apart: one finding per window.
    for start in [T0, T0 + 3 * 3600 * S] {
        for i in 0..300u64 {
            let name = format!(
                "{}.{}.x.tunnel.example.org",
                rng.string(BASE32, 60),
                rng.string(BASE32, 60)
            );
            s.dns(ATTACKER, RESOLVER, start + i * S, &name, 10, 0, 100);
        }
    }
    let found = run(&cfg, &s.finish());
    let tunnels: Vec<_> = found
        .iter()
        .filter(|f| f.signature_id == 1_630_010)
        .collect();
    assert_eq!(tunnels.len(), 2, "{found:#?}");
    assert_eq!(tunnels[0].context["domain"], "example.org");
}

#[test]
fn disabled_detectors_stay_silent() {
    let mut cfg = DetectConfig::default();
    cfg.scan.enabled = false;
    assert!(run(&cfg, &stream(&scenario("vertical scan 1000 ports"), 1))
        .iter()
        .all(|f| f.detector != "scan"));
    cfg.enabled = false;
    assert!(run(&cfg, &stream(&scenario("DGA random letters"), 1)).is_empty());
}

#[test]
fn scope_any_reports_internal_long_sessions() {
    let mut cfg = DetectConfig::default();
    cfg.long_conn.scope = tapir_detect::Scope::Any;
    let found = run(&cfg, &stream(&scenario("internal SSH 10 h"), 1));
    assert!(fired(&found, "long_conn"));
}

#[test]
fn idle_state_is_swept_on_packet_time() {
    let cfg = DetectConfig::default();
    let mut d = Detectors::new(cfg);
    let mut out = Vec::new();
    for o in stream(&scenario("vertical scan 1000 ports"), 1) {
        d.observe(&o, &mut out);
    }
    let busy = d.tracked_keys();
    let bytes = d.state_bytes();
    // Two days later, with nothing seen since, windowed state is gone.
    d.tick(T0 + 2 * 86_400 * S, &mut out);
    assert!(
        d.tracked_keys() < busy / 4,
        "{} -> {}",
        busy,
        d.tracked_keys()
    );
    assert!(d.state_bytes() < bytes);
}
