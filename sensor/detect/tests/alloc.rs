//! observe() allocates nothing once its keys exist: rings, sketches and tables are in place,
//! scores run in scratch buffers, and only a finding (which this stream never completes)
//! would allocate. A counting global allocator measures it.

mod support;

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use support::*;
use tapir_detect::{DetectConfig, Detectors, Observation};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Traffic that keeps touching the same keys of every detector without ever finishing a
/// finding after the first half: irregular flows to one server (with a name and an odd TLS
/// port), failed probes over a fixed set of ports, ordinary lookups under one domain, NXDOMAIN
/// for one generated-looking name, TLS from one host with one fingerprint.
fn steady(n: u64) -> Vec<Observation> {
    let mut s = Stream::new();
    let mut rng = Rng::new(11);
    let mut t = T0;
    for i in 0..n {
        t += rng.range(S / 4, 4 * S);
        let mut f = s.summary(
            ATTACKER,
            ext(9),
            4444,
            6,
            t,
            rng.range(S, 9 * S),
            rng.range(100, 9000),
            800,
        );
        f.server_name = Some("steady.example".into());
        f.app_proto = Some("tls");
        s.end(f);
        s.probe(ATTACKER, PEER_INTERNAL, 2000 + (i % 40) as u16, t + 1, true);
        let name = format!("{}.img.steady.example.com", rng.pick(WORDS));
        s.dns(ATTACKER, RESOLVER, t + 2, &name, 1, 0, 16);
        s.dns(ATTACKER, RESOLVER, t + 3, "qxzkvwjtbh.com", 1, 3, 0);
        s.tls(
            ATTACKER,
            ext(9),
            443,
            t + 4,
            Some("steady.example"),
            COMMON_JA4[0],
            None,
        );
    }
    s.finish()
}

#[test]
fn steady_state_observations_do_not_allocate() {
    let obs = steady(1000);
    let mut d = Detectors::new(DetectConfig::default());
    let mut out = Vec::with_capacity(1024);
    let half = obs.len() / 2;
    for o in &obs[..half] {
        d.observe(o, &mut out);
    }
    let before = out.len();
    let region = Region::new(GLOBAL);
    for o in &obs[half..] {
        d.observe(o, &mut out);
    }
    let change = region.change();
    let findings = out.len() - before;
    println!(
        "{} observations, {findings} findings: {} allocations, {} reallocations",
        obs.len() - half,
        change.allocations,
        change.reallocations
    );
    assert!(
        before > 0,
        "the first half should have completed findings (scan, DGA, ...)"
    );
    assert_eq!(findings, 0, "{:#?}", &out[before..]);
    assert_eq!(change.allocations + change.reallocations, 0);
}
