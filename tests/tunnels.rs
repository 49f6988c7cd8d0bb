//! TLS inside a SOCKS5 tunnel and an HTTP request with an empty User-Agent, end to end.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;
use tapir_engine::{replay_with, EngineConfig, ReplayOptions};
use tapir_gen_demo::profiles::Profile;
use tapir_gen_demo::session::{Dir, TcpConn, Trace};
use tapir_gen_demo::wire::L2;
use tapir_intel::{IndicatorKind, IntelDb};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn conn(port: u16) -> TcpConn {
    let l2 = L2 {
        src: [2, 0, 0, 0, 0, 1],
        dst: [2, 0, 0, 0, 0, 2],
        vlan: None,
    };
    TcpConn::new(
        l2,
        (ip("10.0.0.8"), port),
        (ip("192.0.2.50"), 1080),
        [7000, 9_000_000],
        1500,
    )
}

fn replay(pcap: &[u8], intel: IntelDb, name: &str) -> Vec<Value> {
    let p = std::env::temp_dir().join(format!("tapir-tunnel-{}-{name}.pcap", std::process::id()));
    std::fs::write(&p, pcap).expect("write");
    let mut out = Vec::new();
    replay_with(
        std::slice::from_ref(&p),
        Arc::new(intel),
        EngineConfig::default(),
        &ReplayOptions::default(),
        &mut out,
    )
    .expect("replay");
    let _ = std::fs::remove_file(p);
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

#[test]
fn tls_inside_socks5_is_parsed_and_the_target_name_matched() {
    let mut tr = Trace::new(Vec::new(), 1_768_467_600_000_000).expect("trace");
    let mut c = conn(41000);
    c.handshake(&mut tr).expect("hs");
    c.send(&mut tr, Dir::Up, &[5, 1, 0]).expect("greeting");
    c.send(&mut tr, Dir::Down, &[5, 0]).expect("method");
    let name = b"hidden-c2.example";
    let mut req = vec![5, 1, 0, 3, name.len() as u8];
    req.extend_from_slice(name);
    req.extend_from_slice(&443u16.to_be_bytes());
    c.send(&mut tr, Dir::Up, &req).expect("request");
    c.send(&mut tr, Dir::Down, &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        .expect("reply");
    c.send(
        &mut tr,
        Dir::Up,
        &Profile::CHROME.client_hello("inner.example.org", 3),
    )
    .expect("hello");
    c.close(&mut tr).expect("close");
    let pcap = tr.finish().expect("pcap");

    let mut b = IntelDb::builder();
    let src: Arc<str> = Arc::from("test");
    b.add_line(IndicatorKind::Domain, "hidden-c2.example", &src, 1)
        .expect("add");
    let events = replay(&pcap, b.build(), "socks");
    let tls: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "tls").collect();
    assert_eq!(tls.len(), 1, "{events:?}");
    assert_eq!(tls[0]["tls"]["sni"], "inner.example.org");
    assert_eq!(tls[0]["app_proto"], "tls");
    let socks_alerts: Vec<&Value> = events
        .iter()
        .filter(|e| e["alert"]["context"]["indicator"]["matched_field"] == "socks.target")
        .collect();
    assert_eq!(socks_alerts.len(), 1);
    assert_eq!(
        socks_alerts[0]["alert"]["context"]["indicator"]["matched_value"],
        "hidden-c2.example"
    );
    // The request itself is a `socks` record with its fields as flowvars.
    let socks: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "socks")
        .collect();
    assert_eq!(socks.len(), 1);
    let vars = &socks[0]["metadata"]["flowvars"];
    let get = |k: &str| {
        vars.as_array()
            .and_then(|a| a.iter().find(|v| v["key"] == k))
            .map(|v| v["value"].clone())
    };
    assert_eq!(get("socks.target"), Some(Value::from("hidden-c2.example")));
    assert_eq!(get("socks.port"), Some(Value::from("443")));
    assert_eq!(get("socks.version"), Some(Value::from("5")));
    // Every record validates against Suricata's schema.
    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/eve-schema/schema.json");
    if let Ok(text) = std::fs::read_to_string(schema_path) {
        let schema: Value = serde_json::from_str(&text).expect("schema");
        let v = jsonschema::validator_for(&schema).expect("compile");
        for e in &events {
            assert!(v.is_valid(e), "{e}");
        }
    } else {
        println!("schema check skipped: ../shared/eve-schema not found");
    }
}

#[test]
fn empty_user_agent_is_logged_as_present_and_empty() {
    let mut tr = Trace::new(Vec::new(), 1_768_467_600_000_000).expect("trace");
    let mut c = conn(41001);
    c.handshake(&mut tr).expect("hs");
    c.send(
        &mut tr,
        Dir::Up,
        b"GET /a HTTP/1.1\r\nHost: x.example\r\nUser-Agent:\r\n\r\n",
    )
    .expect("req");
    c.send(&mut tr, Dir::Down, b"HTTP/1.1 204 No Content\r\n\r\n")
        .expect("resp");
    c.send(
        &mut tr,
        Dir::Up,
        b"GET /b HTTP/1.1\r\nHost: x.example\r\n\r\n",
    )
    .expect("req");
    c.send(&mut tr, Dir::Down, b"HTTP/1.1 204 No Content\r\n\r\n")
        .expect("resp");
    c.close(&mut tr).expect("close");
    let events = replay(&tr.finish().expect("pcap"), IntelDb::empty(), "ua");
    let http: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "http")
        .collect();
    assert_eq!(http.len(), 2);
    let a = http.iter().find(|e| e["http"]["url"] == "/a").expect("/a");
    let b = http.iter().find(|e| e["http"]["url"] == "/b").expect("/b");
    assert_eq!(a["http"]["http_user_agent"], "", "present and empty");
    assert!(b["http"].get("http_user_agent").is_none(), "absent");
}
