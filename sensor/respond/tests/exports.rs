//! The exporting backends on loopback: the list served over HTTP, the webhook with retries,
//! and dry-run (no backend at all). No root needed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tapir_respond::{Net, RawRespond, Request, RespondConfig, Responder};

fn scratch(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tapir-respond-exports-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(dir: &std::path::Path, extra: &str) -> RespondConfig {
    let text = format!(
        "enabled = true\nstate_dir = {:?}\nretry_min = \"100ms\"\nretry_max = \"400ms\"\n{extra}\n",
        dir.join("state")
    );
    let raw: RawRespond = toml::from_str(&text).expect("toml");
    raw.validate().expect("valid")
}

fn req(net: &str, origin: &str) -> Request {
    Request {
        net: Net::parse_strict(net).expect("net"),
        ttl: Duration::from_secs(600),
        origin: origin.into(),
        reason: "test".into(),
        sid: Some(1_610_001),
        indicator: None,
    }
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn http_list_serves_the_current_set() {
    let dir = scratch("list");
    let cfg = config(
        &dir,
        "backends = [\"list\"]\n[list]\nlisten = \"127.0.0.1:0\"",
    );
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    let addr = h.list_addr().expect("served");
    assert_eq!(get(addr, "/blocklist.txt"), (200, String::new()));
    h.submit(req("203.0.113.66", "intel-c2")).expect("a");
    h.submit(req("198.51.100.0/24", "intel-c2")).expect("b");
    h.submit(req("2001:db8::bad:c2", "operator")).expect("c");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    let want = "198.51.100.0/24\n203.0.113.66\n2001:db8::bad:c2\n";
    assert_eq!(get(addr, "/blocklist.txt"), (200, want.to_string()));
    assert_eq!(get(addr, "/blocklist-v6.txt").1, "2001:db8::bad:c2\n");
    assert_eq!(
        get(addr, "/blocklist/intel-c2.txt").1,
        "198.51.100.0/24\n203.0.113.66\n"
    );
    assert_eq!(get(addr, "/nothing").0, 404);
    assert_eq!(
        std::fs::read_to_string(dir.join("state/blocklist.txt")).expect("file"),
        want
    );
    h.remove(&Net::parse_strict("203.0.113.66").expect("net"))
        .expect("removed");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    assert_eq!(
        get(addr, "/blocklist.txt").1,
        "198.51.100.0/24\n2001:db8::bad:c2\n"
    );
    drop(h);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn webhook_is_retried_with_backoff_then_gets_snapshot_and_deltas() {
    let dir = scratch("webhook");
    let server = tiny_http::Server::http("127.0.0.1:0").expect("server");
    let addr = server.server_addr().to_ip().expect("ip");
    let bodies: Arc<Mutex<Vec<(u16, serde_json::Value)>>> = Arc::default();
    let seen = Arc::clone(&bodies);
    let server = Arc::new(server);
    let srv = Arc::clone(&server);
    let t = std::thread::spawn(move || {
        let mut n = 0;
        while let Ok(Some(mut r)) = srv.recv_timeout(Duration::from_secs(8)) {
            let mut body = String::new();
            let _ = r.as_reader().read_to_string(&mut body);
            n += 1;
            // Down for the first three requests.
            let code = if n <= 3 { 503 } else { 200 };
            let v = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
            seen.lock().expect("lock").push((code, v));
            let _ = r.respond(tiny_http::Response::from_string("").with_status_code(code));
            if n >= 6 {
                break;
            }
        }
    });
    let cfg = config(&dir, &format!("backends = [\"webhook\"]\n[webhook]\nurl = \"http://{addr}/hook\"\ntimeout = \"2s\"\n[webhook.headers]\nAuthorization = \"Bearer t\""));
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    h.submit(req("203.0.113.66", "intel-c2")).expect("a");
    h.submit(req("198.51.100.0/24", "intel-c2")).expect("b");
    assert!(h.wait_pushed(Duration::from_secs(10)), "{:?}", h.metrics());
    h.remove(&Net::parse_strict("203.0.113.66").expect("net"))
        .expect("removed");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    let m = h.shutdown();
    assert_eq!(m.pushes["webhook"].error, 3, "{m:?}");
    let b = bodies.lock().expect("lock").clone();
    let ok: Vec<&serde_json::Value> = b
        .iter()
        .filter(|(c, _)| *c == 200)
        .map(|(_, v)| v)
        .collect();
    // After the outage: the whole set once, then the deletion as a delta.
    assert_eq!(ok[0]["kind"], "snapshot");
    let values: Vec<&str> = ok[0]["decisions"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|d| d["value"].as_str())
        .collect();
    assert_eq!(values, ["198.51.100.0/24", "203.0.113.66"]);
    assert_eq!(ok[0]["decisions"][0]["type"], "cidr");
    let last = ok.last().expect("delta");
    assert_eq!(last["kind"], "delta");
    assert_eq!(last["decisions"][0]["action"], "delete");
    assert_eq!(last["decisions"][0]["value"], "203.0.113.66");
    server.unblock();
    let _ = t.join();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn dry_run_records_without_any_backend() {
    let dir = scratch("dry");
    let cfg = config(
        &dir,
        "dry_run = true\nbackends = [\"list\"]\n[list]\nlisten = \"127.0.0.1:0\"",
    );
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    assert!(h.list_addr().is_none());
    h.submit(req("203.0.113.66", "intel-c2")).expect("a");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    let m = h.shutdown();
    assert!(m.dry_run && m.pushes.is_empty() && m.decisions_created == 1);
    assert!(!dir.join("state/blocklist.txt").exists());
    assert!(!dir.join("state/decisions.jsonl").exists());
    let j =
        std::fs::read_to_string(dir.join("state/decisions.dry-run.jsonl")).expect("shadow journal");
    assert!(j.contains("203.0.113.66"));
    let audit = std::fs::read_to_string(dir.join("state/audit.jsonl")).expect("audit");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"created\"") && l.contains("\"dry_run\":true")),
        "{audit}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn decisions_a_guard_now_refuses_are_withdrawn_at_restart() {
    let dir = scratch("withdraw");
    let list = "backends = [\"list\"]\n[list]\nlisten = \"\"";
    let (_tap, h) = Responder::start(&config(&dir, list), None).expect("start");
    h.submit(req("203.0.113.66", "intel-c2")).expect("a");
    h.submit(req("198.51.100.7", "intel-c2")).expect("b");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    drop(h.shutdown());
    // The operator learns 203.0.113.66 is a partner and protects it.
    let cfg = config(
        &dir,
        &format!("never_block = [\"203.0.113.64/28\"]\n{list}"),
    );
    let (_tap, h) = Responder::start(&cfg, None).expect("restart");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    let live: Vec<String> = h.decisions().iter().map(|d| d.net.to_string()).collect();
    assert_eq!(live, ["198.51.100.7"]);
    let m = h.shutdown();
    assert_eq!((m.decisions_restored, m.decisions_deleted), (1, 1));
    assert_eq!(
        std::fs::read_to_string(dir.join("state/blocklist.txt")).expect("list"),
        "198.51.100.7\n"
    );
    let audit = std::fs::read_to_string(dir.join("state/audit.jsonl")).expect("audit");
    assert!(
        audit.lines().any(|l| l.contains("\"withdrawn\"")
            && l.contains("203.0.113.66")
            && l.contains("never_block")),
        "{audit}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_running_responder_adopts_operator_changes_to_the_journal() {
    let dir = scratch("adopt");
    let cfg = config(
        &dir,
        "backends = [\"list\"]\n[list]\nlisten = \"127.0.0.1:0\"",
    );
    let (_tap, h) = Responder::start(&cfg, None).expect("start");
    let addr = h.list_addr().expect("served");
    h.submit(req("203.0.113.66", "intel-c2")).expect("a");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    // `tapir block` in another process: same journal, its own push.
    let mut op = tapir_respond::Operator::open(&cfg, Some("list")).expect("operator");
    op.add(
        Net::parse_strict("192.0.2.10").expect("net"),
        Some(Duration::from_secs(60)),
        Some("analyst"),
    )
    .expect("add");
    op.del(Net::parse_strict("203.0.113.66").expect("net"))
        .expect("del");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let want = "192.0.2.10\n".to_string();
    while get(addr, "/blocklist.txt").1 != want && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(addr, "/blocklist.txt"), (200, want));
    let live: Vec<String> = h.decisions().iter().map(|d| d.net.to_string()).collect();
    assert_eq!(live, ["192.0.2.10"]);
    // And a new alert-made decision does not bring the deleted one back.
    h.submit(req("198.51.100.9", "intel-c2")).expect("c");
    assert!(h.wait_pushed(Duration::from_secs(10)));
    assert_eq!(get(addr, "/blocklist.txt").1, "192.0.2.10\n198.51.100.9\n");
    drop(h);
    let _ = std::fs::remove_dir_all(dir);
}
