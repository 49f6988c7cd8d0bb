//! The responder against real firewalls, inside network namespaces made for each test (root
//! needed; without it each test says so in one line). nft and ipset run in the `fw`
//! namespace through wrapper scripts given as the backends' tool paths; TCP connections come
//! from the `peer` namespace.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::Pair;
use tapir_engine::tap::TapWriter;
use tapir_respond::{Net, RawRespond, Request, RespondConfig, Responder};

const SHORT: Duration = Duration::from_millis(800);
const LONG: Duration = Duration::from_secs(3);

fn config(p: &Pair, extra: &str) -> RespondConfig {
    let text = format!(
        "enabled = true\nstate_dir = {:?}\nretry_min = \"200ms\"\nretry_max = \"1s\"\n{extra}\n\
         [nftables]\nnft_path = {:?}\n",
        p.dir.join("state"),
        p.wrapper("nft"),
    );
    let raw: RawRespond = toml::from_str(&text).expect("toml");
    raw.validate().expect("valid config")
}

fn alert(src: &str, dest: &str, sid: u64) -> String {
    format!(
        r#"{{"timestamp":"2026-01-15T09:00:05.331100+0000","event_type":"alert","src_ip":"{src}","src_port":49730,"dest_ip":"{dest}","dest_port":7411,"proto":"TCP","alert":{{"action":"allowed","gid":1,"signature_id":{sid},"rev":1,"signature":"TAPIR BEHAVIOUR scan","category":"Behaviour","severity":1,"metadata":{{"tapir_detector":["scan"]}}}}}}"#
    )
}

fn req(net: &str, ttl: Duration) -> Request {
    Request {
        net: Net::parse_strict(net).expect("net"),
        ttl,
        origin: "test".into(),
        reason: "integration test".into(),
        sid: None,
        indicator: None,
    }
}

fn audit_lines(p: &Pair) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p.dir.join("state/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit json"))
        .collect()
}

const SCAN_RULE: &str =
    "[[rules]]\nname = \"scanners\"\ndetectors = [\"scan\"]\nblock = \"src\"\nttl = \"1h\"\n";

#[test]
fn nft_decision_blocks_the_address_and_touches_no_other_table() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("a");
    p.fw_cmd(&["nft", "add", "table", "inet", "other"])
        .expect("other table");
    p.fw_cmd(&[
        "nft",
        "add chain inet other c { type filter hook input priority 0; policy accept; }",
    ])
    .expect("other chain");
    p.fw_cmd(&["nft", "add rule inet other c tcp dport 9 counter accept"])
        .expect("other rule");
    let other = p
        .fw_cmd(&["nft", "list", "table", "inet", "other"])
        .expect("list other");
    assert!(p.connects("198.18.0.2", LONG), "baseline connection failed");

    let cfg = config(&p, SCAN_RULE);
    let (tap, h) = Responder::start(&cfg, None).expect("start");
    let mut w = TapWriter::new(Vec::new(), vec![Box::new(tap)]);
    let lines = format!(
        "{}\n{{\"event_type\":\"flow\"}}\n{}\n{}\n",
        alert("198.18.0.2", "198.18.0.1", 1),
        alert("2001:db8:1::2", "2001:db8:1::1", 1),
        alert("198.18.0.2", "198.18.0.1", 1),
    );
    w.write_all(lines.as_bytes()).expect("write");
    drop(w.finish());
    assert!(
        h.wait_pushed(Duration::from_secs(10)),
        "not pushed: {:?}",
        h.metrics()
    );

    assert_eq!(p.nft_elements("v4"), ["198.18.0.2"]);
    assert_eq!(p.nft_elements("v6"), ["2001:db8:1::2"]);
    let set = p
        .fw_cmd(&["nft", "list", "set", "inet", "tapir", "v4"])
        .expect("set");
    assert!(set.contains("flags interval,timeout"), "{set}");
    assert!(
        !p.connects("198.18.0.2", SHORT),
        "blocked address connected"
    );
    assert!(
        !p.connects("2001:db8:1::2", SHORT),
        "blocked IPv6 address connected"
    );
    assert!(
        p.connects("198.18.0.3", LONG),
        "allowed address could not connect"
    );
    assert_eq!(
        p.fw_cmd(&["nft", "list", "table", "inet", "other"])
            .expect("list other"),
        other
    );

    let m = h.shutdown();
    assert_eq!(
        (m.alerts_seen, m.decisions_created, m.decisions_active),
        (3, 2, 2)
    );
    let nft = &m.pushes["nftables"];
    assert!(nft.up && nft.ok >= 1 && nft.error == 0, "{nft:?}");
    let audit = audit_lines(&p);
    let created: Vec<&str> = audit
        .iter()
        .filter(|r| r["event"] == "decision" && r["action"] == "created")
        .filter_map(|r| r["net"].as_str())
        .collect();
    assert_eq!(created, ["198.18.0.2", "2001:db8:1::2"]);
    assert!(audit
        .iter()
        .any(|r| r["event"] == "push" && r["backend"] == "nftables" && r["result"] == "ok"));
}

#[test]
fn cidr_decision_blocks_addresses_inside_it_and_nested_ones_wait_their_turn() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("b");
    let (_tap, h) = Responder::start(&config(&p, ""), None).expect("start");
    h.submit(req("198.18.0.4/30", Duration::from_secs(600)))
        .expect("cidr");
    // Inside the /30: a decision of its own, not pushed while the /30 covers it (interval
    // sets refuse overlaps).
    h.submit(req("198.18.0.5", Duration::from_secs(600)))
        .expect("nested");
    assert!(h.wait_pushed(Duration::from_secs(10)), "{:?}", h.metrics());
    assert_eq!(p.nft_elements("v4"), ["198.18.0.4/30"]);
    // .6 is inside the /30 and is not its network address.
    assert!(
        !p.connects("198.18.0.6", SHORT),
        "address inside the CIDR connected"
    );
    assert!(
        p.connects("198.18.0.9", LONG),
        "address outside the CIDR could not connect"
    );
    h.remove(&Net::parse_strict("198.18.0.4/30").expect("net"))
        .expect("removed");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    assert_eq!(p.nft_elements("v4"), ["198.18.0.5"]);
    assert!(
        p.connects("198.18.0.6", LONG),
        "unblocked address could not connect"
    );
    drop(h);
}

#[test]
fn retriggered_decision_outlives_its_first_ttl() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("c");
    let rule = SCAN_RULE.replace("\"1h\"", "\"4s\"");
    let (tap, h) = Responder::start(&config(&p, &rule), None).expect("start");
    let t0 = Instant::now();
    let line = alert("198.18.0.2", "198.18.0.1", 1);
    assert!(matches!(
        tap.alert(line.as_bytes()),
        Some(Ok(tapir_respond::Upsert::Created))
    ));
    assert!(h.wait_pushed(Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(2000).saturating_sub(t0.elapsed()));
    assert!(matches!(
        tap.alert(line.as_bytes()),
        Some(Ok(tapir_respond::Upsert::Extended { .. }))
    ));
    assert!(h.wait_pushed(Duration::from_secs(5)));
    // Past the first TTL (4 s), before the second ends (about 6 s).
    std::thread::sleep(Duration::from_millis(4300).saturating_sub(t0.elapsed()));
    assert_eq!(
        p.nft_elements("v4"),
        ["198.18.0.2"],
        "element lapsed with its first timeout"
    );
    assert!(
        !p.connects("198.18.0.2", SHORT),
        "connected after the first TTL"
    );
    assert!(
        t0.elapsed() < Duration::from_millis(6000),
        "test machine too slow to judge"
    );
    // And it does end: the kernel timeout lapses.
    let mut freed = None;
    while t0.elapsed() < Duration::from_secs(12) {
        if p.connects("198.18.0.2", SHORT) {
            freed = Some(t0.elapsed());
            break;
        }
    }
    let freed = freed.expect("the block never lapsed");
    assert!(freed >= Duration::from_millis(5500), "lapsed at {freed:?}");
    let m = h.shutdown();
    assert_eq!((m.decisions_created, m.decisions_extended), (1, 1));
}

#[test]
fn restart_restores_the_set_from_the_journal() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("d");
    let cfg = config(&p, "");
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    h.submit(req("198.18.0.2", Duration::from_secs(600)))
        .expect("long");
    h.submit(req("198.18.0.3", Duration::from_secs(1)))
        .expect("short");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    drop(h.shutdown());
    // A reboot: the ruleset is gone; the short decision's time passes meanwhile.
    p.fw_cmd(&["nft", "delete", "table", "inet", "tapir"])
        .expect("flush");
    std::thread::sleep(Duration::from_millis(1200));
    assert!(p.connects("198.18.0.2", LONG));

    let (_tap, h) = Responder::start(&cfg, None).expect("restart");
    assert!(h.wait_pushed(Duration::from_secs(10)), "{:?}", h.metrics());
    assert_eq!(p.nft_elements("v4"), ["198.18.0.2"]);
    assert!(
        !p.connects("198.18.0.2", SHORT),
        "restored decision not enforced"
    );
    let m = h.shutdown();
    assert_eq!((m.decisions_restored, m.decisions_active), (1, 1));
    assert!(m.pushes["nftables"].drift_repaired >= 1);
}

#[test]
fn nft_unavailable_is_retried_and_applied_when_it_comes_back() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("e");
    let late = p.dir.join("late/nft");
    let mut cfg = config(&p, "");
    cfg.nftables.nft_path = late.clone();
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    h.submit(req("198.18.0.2", Duration::from_secs(600)))
        .expect("decision");
    std::thread::sleep(Duration::from_millis(700));
    let m = h.metrics();
    assert!(
        m.pushes["nftables"].error >= 1 && !m.pushes["nftables"].up,
        "{m:?}"
    );
    assert!(!h.wait_pushed(Duration::from_millis(10)));
    assert!(p.connects("198.18.0.2", LONG));
    // nft comes back.
    p.write_wrapper(&late, "nft");
    assert!(h.wait_pushed(Duration::from_secs(10)), "{:?}", h.metrics());
    assert!(
        !p.connects("198.18.0.2", SHORT),
        "decision not applied after nft came back"
    );
    drop(h.shutdown());
    let audit = audit_lines(&p);
    let errors = audit
        .iter()
        .filter(|r| r["event"] == "push" && r["result"] == "error")
        .count();
    assert!(errors >= 1);
    assert!(audit
        .iter()
        .any(|r| r["event"] == "push" && r["result"] == "ok" && r["recovered"] == true));
}

#[test]
fn reconcile_repairs_drift_in_the_set() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("f");
    let cfg = config(
        &p,
        "reconcile_interval = \"1s\"\nelement_timeout_max = \"1m\"",
    );
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    h.submit(req("198.18.0.2", Duration::from_secs(600)))
        .expect("decision");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    // Someone removes ours and adds one of their own to our set.
    p.fw_cmd(&["nft", "delete element inet tapir v4 { 198.18.0.2 }"])
        .expect("delete");
    p.fw_cmd(&[
        "nft",
        "add element inet tapir v4 { 198.18.0.9 timeout 100s }",
    ])
    .expect("add");
    let deadline = Instant::now() + Duration::from_secs(8);
    while p.nft_elements("v4") != ["198.18.0.2"] && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(p.nft_elements("v4"), ["198.18.0.2"]);
    // Capped at a minute, re-asserted by reconciles while the decision (10 min) lives.
    let set = p
        .fw_cmd(&["nft", "list", "set", "inet", "tapir", "v4"])
        .expect("set");
    assert!(set.contains("timeout 1m"), "{set}");
    let m = h.shutdown();
    assert!(m.pushes["nftables"].drift_repaired >= 2, "{m:?}");
}

#[test]
fn guards_refuse_home_net_and_resolvers_before_any_push() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("g");
    let cfg = config(
        &p,
        "home_net = [\"198.18.0.0/29\"]\nnever_block = [\"198.18.0.9\"]",
    );
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    let name = |r: Result<tapir_respond::Upsert, tapir_respond::GuardHit>| r.map_err(|g| g.name());
    assert_eq!(name(h.submit(req("198.18.0.2", LONG))), Err("home_net"));
    assert_eq!(name(h.submit(req("8.8.8.8", LONG))), Err("resolver"));
    assert_eq!(name(h.submit(req("2620:fe::fe", LONG))), Err("resolver"));
    assert_eq!(name(h.submit(req("198.18.0.9", LONG))), Err("never_block"));
    assert_eq!(name(h.submit(req("198.18.0.0/16", LONG))), Err("home_net"));
    assert!(h.wait_pushed(Duration::from_secs(10)));
    assert!(p.nft_elements("v4").is_empty() && p.nft_elements("v6").is_empty());
    assert!(p.connects("198.18.0.2", LONG));
    let m = h.shutdown();
    assert_eq!(m.blocked_by_guard.get("home_net"), Some(&2));
    assert_eq!(m.blocked_by_guard.get("resolver"), Some(&2));
    assert_eq!(m.blocked_by_guard.get("never_block"), Some(&1));
    let refused: Vec<String> = audit_lines(&p)
        .iter()
        .filter(|r| r["action"] == "refused")
        .map(|r| {
            format!(
                "{} {}",
                r["net"].as_str().unwrap_or(""),
                r["guard"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        refused.contains(&"8.8.8.8 resolver".to_string()),
        "{refused:?}"
    );
}

#[test]
fn rate_limit_and_cap_stop_new_blocks() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("h");
    let cfg = config(&p, "max_new_per_minute = 2\nmax_decisions = 10");
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    assert!(h.submit(req("192.0.2.1", LONG)).is_ok());
    assert!(h.submit(req("192.0.2.2", LONG)).is_ok());
    assert_eq!(
        h.submit(req("192.0.2.3", LONG)).map_err(|g| g.name()),
        Err("rate_limit")
    );
    // A repeat is not a new block.
    assert!(h.submit(req("192.0.2.1", Duration::from_secs(60))).is_ok());
    assert!(h.wait_pushed(Duration::from_secs(10)));
    assert_eq!(p.nft_elements("v4"), ["192.0.2.1", "192.0.2.2"]);
    drop(h);
}

#[test]
fn ipset_backend_blocks_inside_the_namespace() {
    if !common::can_run(&["ip", "ipset", "iptables", "ip6tables"]) {
        return;
    }
    let p = Pair::new("i");
    let extra = format!(
        "backends = [\"ipset\"]\n[ipset]\nipset_path = {:?}\niptables_path = {:?}\nip6tables_path = {:?}",
        p.wrapper("ipset"),
        p.wrapper("iptables"),
        p.wrapper("ip6tables")
    );
    let (_tap, h) = Responder::start(&config(&p, &extra), None).expect("start");
    h.submit(req("198.18.0.4/30", Duration::from_secs(600)))
        .expect("cidr");
    h.submit(req("198.18.0.2", Duration::from_secs(600)))
        .expect("host");
    assert!(h.wait_pushed(Duration::from_secs(10)), "{:?}", h.metrics());
    assert!(!p.connects("198.18.0.2", SHORT));
    assert!(!p.connects("198.18.0.6", SHORT));
    assert!(p.connects("198.18.0.9", LONG));
    let saved = p
        .fw_cmd(&["ipset", "save", "tapir-v4"])
        .expect("ipset save");
    assert!(
        saved.contains("add tapir-v4 198.18.0.4/30 timeout"),
        "{saved}"
    );
    let rules = p.fw_cmd(&["iptables", "-S", "INPUT"]).expect("iptables");
    assert!(
        rules.contains("--match-set tapir-v4 src -j DROP"),
        "{rules}"
    );
    h.remove(&Net::parse_strict("198.18.0.2").expect("net"))
        .expect("removed");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    assert!(p.connects("198.18.0.2", LONG));
    drop(h);
}

/// Numbers for benches/README.md: `cargo test --release -p tapir-respond --test firewall
/// measure -- --ignored --nocapture`.
#[test]
#[ignore = "measurement; run by hand"]
fn measure_push_latency_bulk_load_and_tap_cost() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("z");
    let cfg = config(
        &p,
        &format!("max_new_per_minute = 100000\nmax_decisions = 100000\n{SCAN_RULE}"),
    );
    let (tap, h) = Responder::start(&cfg, None).expect("start");
    // Latency: one alert to its element in the kernel set.
    let mut lat = Vec::new();
    for i in 0..20u32 {
        let src = format!("192.0.2.{}", i + 1);
        let t = Instant::now();
        tap.alert(alert(&src, "198.18.0.1", 1).as_bytes());
        assert!(h.wait_pushed(Duration::from_secs(10)));
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "alert -> nft element: median {:?}, max {:?} (20 alerts)",
        lat[10], lat[19]
    );
    // Bulk: 10 000 decisions in one publish, then a restart that restores them.
    let t = Instant::now();
    for i in 0..10_000u32 {
        let net = format!("100.{}.{}.{}", 128 + (i >> 16), (i >> 8) & 255, i & 255);
        h.submit(req(&net, Duration::from_secs(600)))
            .expect("submit");
    }
    let submitted = t.elapsed();
    assert!(h.wait_pushed(Duration::from_secs(120)));
    println!(
        "10000 decisions: submitted in {submitted:?}, journaled and in the kernel after {:?}",
        t.elapsed()
    );
    drop(h.shutdown());
    p.fw_cmd(&["nft", "delete", "table", "inet", "tapir"])
        .expect("flush");
    let t = Instant::now();
    let (_tap2, h2) = Responder::start(&cfg, None).expect("restart");
    assert!(h2.wait_pushed(Duration::from_secs(120)));
    println!(
        "restart: 10020 decisions restored into an empty ruleset in {:?}",
        t.elapsed()
    );
    assert_eq!(p.nft_elements("v4").len(), 10_020);
    drop(h2);
    // Tap cost on the writer thread: a line no rule matches, and a repeat of a live decision.
    let other = r#"{"event_type":"alert","src_ip":"192.0.2.1","dest_ip":"198.18.0.1","alert":{"signature_id":9,"category":"Other","severity":3}}"#;
    let repeat = alert("192.0.2.1", "198.18.0.1", 1);
    for (what, line) in [
        ("no rule matches", other.to_string()),
        ("repeat of a live decision", repeat),
    ] {
        let t = Instant::now();
        for _ in 0..100_000 {
            tap.alert(line.as_bytes());
        }
        println!(
            "tap, {what}: {:.2} us per alert",
            t.elapsed().as_secs_f64() * 10.0
        );
    }
}
