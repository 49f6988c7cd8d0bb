//! State stays within the configured bound however many distinct keys traffic brings.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tapir_detect::obs::{DnsObs, FlowSummary, TlsObs};
use tapir_detect::{DetectConfig, Detectors, Observation};

fn small_tables() -> DetectConfig {
    let mut c = DetectConfig::default();
    c.beacon.max_pairs = 5000;
    c.dns_tunnel.max_keys = 5000;
    c.dga.max_clients = 5000;
    c.scan.max_keys = 5000;
    c.exfil.max_pairs = 5000;
    c.long_conn.max_flows = 5000;
    c.port_mismatch.max_keys = 5000;
    c.tls_anomaly.max_keys = 5000;
    c.tls_anomaly.max_fingerprints = 5000;
    c.validate().expect("valid");
    c
}

#[test]
fn a_million_distinct_keys_stay_under_the_bound() {
    let cfg = small_tables();
    let bound = cfg.state_bound_bytes();
    let default_bound = DetectConfig::default().state_bound_bytes();
    println!(
        "bound: {} MiB for these tables, {} MiB with the defaults",
        bound >> 20,
        default_bound >> 20
    );
    let mut d = Detectors::new(cfg);
    let mut out = Vec::new();
    let t0 = 1_700_000_000_000_000u64;
    let mut peak = 0;
    for i in 0..1_000_000u64 {
        let ts = t0 + i * 1000; // 1000 observations a second: nothing expires on its own
        let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i as u32 & 0x00ff_ffff)));
        let server = IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i)));
        let name = format!("h{i}.{}x{i}.example.com", "a".repeat((i % 200) as usize));
        let obs = match i % 4 {
            0 | 1 => {
                let f = FlowSummary {
                    flow_id: i,
                    community_id: None,
                    proto: 6,
                    client,
                    client_port: 40_000,
                    server,
                    server_port: if i % 8 == 0 { 4444 } else { 443 },
                    start_us: ts - 5000 * 1_000_000,
                    last_us: ts,
                    pkts_toserver: 3,
                    pkts_toclient: if i % 3 == 0 { 0 } else { 5 },
                    bytes_toserver: 500 + i,
                    bytes_toclient: 900,
                    answered: i % 3 != 0,
                    established: i % 3 != 0,
                    rejected: false,
                    app_proto: Some("tls"),
                    server_name: Some(name),
                    ja3: None,
                    ja4: None,
                };
                // Flows still open (long_conn remembers them) and flows that ended.
                if i % 4 == 0 {
                    Observation::FlowEnd(f)
                } else {
                    Observation::FlowOpen(f)
                }
            }
            2 => Observation::Dns(DnsObs {
                ts_us: ts,
                flow_id: i,
                client,
                server: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
                client_port: 5000,
                server_port: 53,
                proto: 17,
                qname: name,
                qtype: 16,
                rcode: Some(3),
                answers: 0,
                answer_bytes: 0,
            }),
            _ => Observation::Tls(TlsObs {
                ts_us: ts,
                flow_id: i,
                community_id: None,
                proto: 6,
                client,
                client_port: 40_000,
                server,
                server_port: 443,
                sni: None,
                ja3: None,
                ja4: Some(format!("t13d{i:08}_{}", "f".repeat((i % 150) as usize))),
                cert: None,
            }),
        };
        d.observe(&obs, &mut out);
        out.clear();
        if i % 50_000 == 0 || i == 999_999 {
            let now = d.state_bytes();
            peak = peak.max(now);
            assert!(now <= bound, "after {i} observations: {now} > {bound}");
        }
    }
    println!(
        "peak state {} MiB, {} keys tracked",
        peak >> 20,
        d.tracked_keys()
    );
    // Every table is full by now, and no fuller than configured.
    assert!(d.tracked_keys() <= 5000 * 11);
    assert!(d.tracked_keys() >= 5000 * 6);
    assert!(
        peak > bound / 10,
        "the bound should not be wildly loose: {peak} vs {bound}"
    );
}
