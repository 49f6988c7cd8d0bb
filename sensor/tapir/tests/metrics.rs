//! The metrics endpoint as an operator sees it: a real Prometheus (the Debian `prometheus`
//! package, started here on a loopback port with its own config and storage) scrapes
//! `tapir replay --metrics`, and its HTTP API answers with tapir's series; `/healthz` follows
//! the workers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapir-metrics-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Kills and reaps the child when dropped, also when an assertion fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stderr, as they come.
fn lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a stderr line containing `needle`; returns it and every line before it.
fn wait_line(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(l.clone());
            if l.contains(needle) {
                return l;
            }
        }
    }
    panic!("no line with {needle:?} on stderr: {seen:#?}");
}

/// `tapir: metrics: http://ADDR/metrics ...` -> ADDR.
fn metrics_addr(line: &str) -> SocketAddr {
    line.split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// A plain HTTP/1.0 GET: (status, body).
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

fn wait_status(addr: SocketAddr, path: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        match get(addr, path) {
            Ok((s, _)) if s == want => return,
            other => last = Some(other.map(|r| r.0).map_err(|e| e.to_string())),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{path} never answered {want}: last {last:?}");
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A PromQL instant query through Prometheus' HTTP API: the samples' values.
fn query(prom: SocketAddr, q: &str) -> Vec<f64> {
    let Ok((200, body)) = get(prom, &format!("/api/v1/query?query={}", encode(q))) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v.pointer("/data/result")
        .and_then(|r| r.as_array())
        .map(|r| {
            r.iter()
                .filter_map(|s| s.pointer("/value/1")?.as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn prometheus_bin() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("prometheus"))
        .find(|p| p.is_file())
}

#[test]
fn prometheus_scrapes_a_replay_and_counts_every_packet() {
    let Some(prom_bin) = prometheus_bin() else {
        eprintln!("skipped: no prometheus binary (Debian package `prometheus`, tools/setup.sh)");
        return;
    };
    let dir = temp_dir("prom");
    let capture = dir.join("demo.pcap");
    let demo = tapir_gen_demo::write_demo(&capture).expect("demo capture");
    let eve = dir.join("eve.json");

    let mut tapir = Reaped(
        Command::new(env!("CARGO_BIN_EXE_tapir"))
            .args([
                "replay",
                "--metrics",
                "127.0.0.1:0",
                "--metrics-linger",
                "120",
            ])
            .args(["--workers", "2", "--intel"])
            .arg(repo().join("rules/intel"))
            .arg("--patterns")
            .arg(repo().join("rules/patterns"))
            .arg("--eve")
            .arg(&eve)
            .arg(&capture)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tapir"),
    );
    let rx = lines(tapir.0.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    let target = metrics_addr(&wait_line(&rx, "tapir: metrics: http://", &mut seen));
    let summary = wait_line(&rx, "packets=", &mut seen);
    assert!(
        summary.contains(&format!("packets={} ", demo.packets)),
        "{summary}"
    );
    // The replay is over: its workers are gone, the endpoint stays up for the scrape.
    wait_status(target, "/healthz", 503);

    let prom_port = free_port();
    let prom_addr: SocketAddr = ([127, 0, 0, 1], prom_port).into();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: tapir\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("prometheus config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let _prom = Reaped(
        Command::new(prom_bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    let packets = loop {
        let v = query(prom_addr, "sum(tapir_capture_packets_total)");
        if let Some(&n) = v.first() {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had tapir_capture_packets_total; its log:\n{}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(packets as u64, demo.packets, "every packet of the capture");
    assert_eq!(query(prom_addr, "up{job=\"tapir\"}"), vec![1.0]);
    assert_eq!(
        query(prom_addr, "count(tapir_capture_packets_total)"),
        vec![2.0],
        "one series per worker"
    );

    let eve_text = std::fs::read_to_string(&eve).expect("EVE output");
    let alerts = eve_text
        .lines()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .count();
    assert!(alerts > 0);
    assert_eq!(
        query(prom_addr, "sum(tapir_alerts_total)"),
        vec![alerts as f64]
    );
    let field = |k: &str| -> f64 {
        summary
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {summary}"))
    };
    assert_eq!(
        query(prom_addr, "sum(tapir_capture_bytes_total)"),
        vec![field("bytes")]
    );
    assert_eq!(
        query(prom_addr, "tapir_flows_created_total"),
        vec![field("flows")]
    );

    // Every family of the issue is there.
    let (_, names) = get(prom_addr, "/api/v1/label/__name__/values").expect("names");
    for name in [
        "tapir_capture_packets_total",
        "tapir_capture_bytes_total",
        "tapir_decoder_non_ip_packets_total",
        "tapir_flows_active",
        "tapir_flows_created_total",
        "tapir_flows_evicted_total",
        "tapir_tcp_reassembly_memory_bytes",
        "tapir_tcp_reassembly_dropped_segments_total",
        "tapir_defrag_memory_bytes",
        "tapir_defrag_dropped_total",
        "tapir_app_layer_events_total",
        "tapir_alerts_total",
        "tapir_alerts_by_technique_total",
        "tapir_intel_indicators",
        "tapir_intel_hits_total",
        "tapir_intel_reloads_total",
        "tapir_intel_reload_failures_total",
        "tapir_intel_load_duration_seconds",
        "tapir_intel_last_load_timestamp_seconds",
        "tapir_pipeline_queue_batches",
        "tapir_worker_busy_ratio",
        "tapir_workers_alive",
    ] {
        assert!(
            names.contains(&format!("\"{name}\"")),
            "{name} missing: {names}"
        );
    }
    let intel_hits = eve_text
        .lines()
        .filter(|l| l.contains("\"category\":\"Threat Intelligence Indicator Match\""))
        .count();
    assert_eq!(
        query(prom_addr, "sum(tapir_intel_hits_total)"),
        vec![intel_hits as f64],
        "each demo indicator is listed by one feed"
    );
    let loaded = query(prom_addr, "sum(tapir_intel_indicators)");
    assert!(loaded.first().is_some_and(|&n| n > 0.0), "{loaded:?}");
    assert!(
        !seen
            .iter()
            .any(|l| l.contains('\r') || l.contains('\u{1b}')),
        "no progress bar when stderr is not a terminal: {seen:#?}"
    );
    drop(tapir);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn healthz_is_ok_while_workers_run_and_503_after() {
    let dir = temp_dir("healthz");
    let fifo = dir.join("live.pcap");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let bytes = tapir_gen_demo::demo_bytes().expect("demo bytes");

    let mut tapir = Reaped(
        Command::new(env!("CARGO_BIN_EXE_tapir"))
            .args([
                "replay",
                "--metrics",
                "127.0.0.1:0",
                "--metrics-linger",
                "60",
            ])
            .args(["--workers", "2", "--eve"])
            .arg(dir.join("eve.json"))
            .arg(&fifo)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tapir"),
    );
    let rx = lines(tapir.0.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    let addr = metrics_addr(&wait_line(&rx, "tapir: metrics: http://", &mut seen));
    // Before the capture is open no worker runs.
    assert_eq!(get(addr, "/healthz").expect("healthz").0, 503);

    // Half the capture, and the pipe stays open: the workers run and wait for more.
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open fifo");
    let half = bytes.len() / 2;
    w.write_all(&bytes[..half]).expect("write");
    w.flush().expect("flush");
    wait_status(addr, "/healthz", 200);
    let (code, body) = get(addr, "/healthz").expect("healthz");
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let (_, m) = get(addr, "/metrics").expect("metrics");
    assert!(m.contains("tapir_workers_alive 2"), "{m}");
    // Idle workers still report: the snapshot is fresh.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(get(addr, "/healthz").expect("healthz").0, 200);

    w.write_all(&bytes[half..]).expect("write");
    drop(w);
    wait_line(&rx, "packets=", &mut seen);
    wait_status(addr, "/healthz", 503);
    assert_eq!(get(addr, "/nothing-here").expect("get").0, 404);
    drop(tapir);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn metrics_listen_is_checked_and_a_busy_port_is_an_error_naming_the_key() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let dir = temp_dir("busy");
    let capture = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&capture).expect("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "--metrics", &addr.to_string(), "--eve", "-"])
        .arg(&capture)
        .output()
        .expect("run tapir");
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("metrics.listen") && e.contains(&addr.to_string()),
        "{e}"
    );
    assert!(o.stdout.is_empty(), "nothing replayed");
    let o = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "--metrics", "localhost:9917"])
        .arg(&capture)
        .output()
        .expect("run tapir");
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--metrics"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
