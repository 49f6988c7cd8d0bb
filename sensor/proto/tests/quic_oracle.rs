//! Golden test: QUIC Initial ClientHellos in the shared captures against
//! - tshark 4.0 (`tls_client_hello` records with `quic: true`: SNI, ALPN, JA3 hash and string,
//!   legacy and supported versions), matched by 4-tuple;
//! - FoxIO JA4 rust snapshots (`third_party.ja4[].rust_snapshot[]`, `transport: udp`, `ja4`) and
//!   python expected output (`JA4.N` keys on UDP streams, where present), matched by ports.
//!
//! Every UDP flow whose first datagram is detected by `looks_like_quic_initial` (content only, no
//! port hint) gets a `QuicState` fed with its client datagrams in capture order. A ClientHello on
//! a flow the oracle does not list, or an oracle record without one, fails the test.
//! Skipped (one line) when ../shared is absent.

mod dns_http_pcap;

use std::collections::HashMap;
use std::net::IpAddr;

use dns_http_pcap::{packets, shared_testdata};
use serde_json::Value;
use tapir_proto::quic::{looks_like_quic_initial, QuicEvent, QuicState};
use tapir_proto::tls::ClientHello;

type FourTuple = (IpAddr, u16, IpAddr, u16);

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn first_str(v: &Value, k: &str) -> Option<String> {
    strs(v.get(k)?).into_iter().next()
}

fn ip(v: &Value, k: &str) -> IpAddr {
    v[k].as_str().unwrap().parse().unwrap()
}

fn port(v: &Value, k: &str) -> u16 {
    match &v[k] {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_u64().unwrap() as u16,
    }
}

struct Found {
    version: u32,
    hello: ClientHello,
    ua: Option<String>,
}

/// Client-direction QUIC states of every UDP flow that starts with an Initial.
fn quic_hellos(testdata: &std::path::Path, pcap: &str) -> HashMap<FourTuple, Found> {
    let mut states: HashMap<FourTuple, QuicState> = HashMap::new();
    let mut not_quic: std::collections::HashSet<FourTuple> = Default::default();
    let mut found = HashMap::new();
    for p in packets(testdata, pcap).iter().filter(|p| p.proto == 17) {
        let t = (p.src, p.sport, p.dst, p.dport);
        let rev = (p.dst, p.dport, p.src, p.sport);
        if not_quic.contains(&t) || states.contains_key(&rev) {
            continue;
        }
        let s = match states.entry(t) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                if !looks_like_quic_initial(&p.payload) {
                    not_quic.insert(t);
                    continue;
                }
                e.insert(QuicState::new())
            }
        };
        let mut out = Vec::new();
        s.on_datagram(&p.payload, &mut out);
        for e in out {
            if let QuicEvent::ClientHello { version, hello, ua } = e {
                let prev = found.insert(
                    t,
                    Found {
                        version,
                        hello: *hello,
                        ua,
                    },
                );
                assert!(prev.is_none(), "{pcap}: two ClientHellos on {t:?}");
            }
        }
    }
    found
}

#[test]
fn quic_client_hellos_match_oracles() {
    let Some(testdata) = shared_testdata("quic_client_hellos_match_oracles") else {
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0usize;
    let mut ja4_checked = 0usize;
    let mut dir: Vec<_> = std::fs::read_dir(testdata.join("expected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    for path in dir {
        let oracle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let pcap = oracle["file"].as_str().unwrap().to_owned();
        let quic_records: Vec<&Value> = oracle["tls_client_hello"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|r| r["quic"] == Value::Bool(true))
                    .collect()
            })
            .unwrap_or_default();
        // Captures without QUIC in the oracle are still run: no ClientHello may come out.
        let found = quic_hellos(&testdata, &pcap);
        let mut matched = std::collections::HashSet::new();
        for r in &quic_records {
            let t = (
                ip(r, "src"),
                port(r, "sport"),
                ip(r, "dst"),
                port(r, "dport"),
            );
            let Some(f) = found.get(&t) else {
                failures.push(format!("{pcap}: no ClientHello for {t:?}"));
                continue;
            };
            matched.insert(t);
            checked += 1;
            let h = &f.hello;
            let mut cmp = |what: &str, want: Option<String>, got: Option<String>| {
                if want != got {
                    failures.push(format!("{pcap} {t:?} {what}: want {want:?} got {got:?}"));
                }
            };
            cmp("sni", first_str(r, "sni"), h.sni.clone());
            cmp("ja3", first_str(r, "ja3"), Some(h.ja3_hash.clone()));
            cmp(
                "ja3_full",
                first_str(r, "ja3_full"),
                Some(h.ja3_string.clone()),
            );
            cmp("alpn", first_str(r, "alpn"), h.alpns.first().cloned());
            cmp(
                "legacy_version",
                first_str(r, "legacy_version"),
                Some(format!("0x{:04x}", h.legacy_version)),
            );
            let sv: Vec<String> = strs(&r["supported_versions"]);
            let got_sv: Vec<String> = h
                .supported_versions
                .iter()
                .filter(|v| !tapir_proto::tls::is_grease(**v))
                .map(|v| format!("0x{v:04x}"))
                .collect();
            if !sv.is_empty() && sv != got_sv {
                failures.push(format!(
                    "{pcap} {t:?} supported_versions {sv:?} vs {got_sv:?}"
                ));
            }
            if f.version == 0 {
                failures.push(format!("{pcap} {t:?}: version 0"));
            }
            let _ = &f.ua;
        }
        for t in found.keys() {
            if !matched.contains(t) {
                failures.push(format!("{pcap}: ClientHello on {t:?} not in the oracle"));
            }
        }

        // FoxIO JA4 (the 'q' prefix): rust snapshot `ja4` and python `JA4.N` on UDP streams.
        for tp in oracle["third_party"]["ja4"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for s in tp["rust_snapshot"].as_array().into_iter().flatten() {
                if s["transport"] != "udp" {
                    continue;
                }
                let Some(want) = s["ja4"].as_str() else {
                    continue;
                };
                let t = (
                    ip(s, "src"),
                    port(s, "src_port"),
                    ip(s, "dst"),
                    port(s, "dst_port"),
                );
                ja4_checked += 1;
                match found.get(&t) {
                    Some(f) if f.hello.ja4 == want => {}
                    Some(f) => failures.push(format!(
                        "{pcap} {t:?} ja4 (rust snapshot): want {want} got {}",
                        f.hello.ja4
                    )),
                    None => failures.push(format!("{pcap} {t:?}: no ClientHello for ja4 {want}")),
                }
            }
            for s in tp["python_expected"].as_array().into_iter().flatten() {
                let Some(obj) = s.as_object() else { continue };
                let t = (
                    ip(s, "src"),
                    port(s, "srcport"),
                    ip(s, "dst"),
                    port(s, "dstport"),
                );
                for (k, v) in obj {
                    let Some(want) = v.as_str() else { continue };
                    if !(k.starts_with("JA4.") && want.starts_with('q')) {
                        continue;
                    }
                    ja4_checked += 1;
                    match found.get(&t) {
                        Some(f) if f.hello.ja4 == want => {}
                        other => failures.push(format!(
                            "{pcap} {t:?} {k}: want {want} got {:?}",
                            other.map(|f| &f.hello.ja4)
                        )),
                    }
                }
            }
        }
    }
    println!("quic oracle: {checked} ClientHellos, {ja4_checked} JA4 values checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked > 0 && ja4_checked > 0,
        "no QUIC oracle record found"
    );
}
