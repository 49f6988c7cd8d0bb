//! The `tapir replay` command as a user runs it: exit codes, messages, the summary line, and
//! the demo capture against the demo intel.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tapir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(args)
        .output()
        .expect("run tapir")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapir-cli-{}-{name}", std::process::id()))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn missing_capture_is_a_one_line_error_naming_it() {
    let o = tapir(&["replay", "/nonexistent/dir/capture.pcap"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("/nonexistent/dir/capture.pcap"), "{e}");
    assert!(o.stdout.is_empty());
}

#[test]
fn garbage_and_empty_files_are_refused_before_any_output() {
    let garbage = temp("garbage.pcap");
    std::fs::write(&garbage, b"GET / HTTP/1.1\r\nHost: not-a-capture\r\n\r\n").expect("write");
    let empty = temp("empty.pcap");
    std::fs::write(&empty, b"").expect("write");
    for p in [&garbage, &empty] {
        let ps = p.to_str().expect("utf8 path");
        // The bad file comes second: nothing of the first may be written either.
        let demo = write_demo("garbage");
        let o = tapir(&["replay", demo.to_str().expect("path"), ps]);
        assert!(!o.status.success(), "{ps} accepted");
        assert!(stderr(&o).contains(ps), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "output written before the error");
    }
    let _ = std::fs::remove_file(garbage);
    let _ = std::fs::remove_file(empty);
}

/// Each test writes its own copy: tests run in parallel.
fn write_demo(tag: &str) -> PathBuf {
    let p = temp(&format!("demo-{tag}.pcap"));
    tapir_gen_demo::write_demo(&p).expect("generate demo");
    p
}

/// The summary line's fields, as `key=value` pairs.
fn summary(e: &str) -> std::collections::HashMap<String, String> {
    let line = e
        .lines()
        .rev()
        .find(|l| l.contains("packets="))
        .unwrap_or_else(|| panic!("no summary line in {e}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn cut_short_capture_is_processed_to_the_cut_with_a_warning() {
    let demo = write_demo("cut");
    let bytes = std::fs::read(&demo).expect("read");
    let cut = temp("cut.pcap");
    // Cut inside the last record.
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).expect("write");
    let o = tapir(&["replay", cut.to_str().expect("path")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("warning") && e.contains("cut short after 139 records"),
        "{e}"
    );
    assert_eq!(summary(&e)["packets"], "139");
    let _ = std::fs::remove_file(cut);
}

#[test]
fn demo_replay_prints_events_alerts_and_a_summary() {
    let demo = write_demo("replay");
    let eve = temp("eve.json");
    let intel = repo().join("rules/intel");
    let pats = repo().join("rules/patterns");
    let o = tapir(&[
        "replay",
        "--intel",
        intel.to_str().expect("path"),
        "--patterns",
        pats.to_str().expect("path"),
        "--eve",
        eve.to_str().expect("path"),
        demo.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "--eve FILE must keep stdout clean");
    let s = summary(&stderr(&o));
    for k in [
        "packets",
        "bytes",
        "flows",
        "events",
        "alerts",
        "decode_errors",
        "elapsed",
        "rate",
    ] {
        assert!(s.contains_key(k), "summary lacks {k}: {s:?}");
    }
    assert_eq!(s["packets"], "140");
    assert_eq!(s["decode_errors"], "0");
    let text = std::fs::read_to_string(&eve).expect("eve");
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(s["events"], events.len().to_string());
    let fields: std::collections::HashSet<String> = events
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .filter_map(|e| {
            e["alert"]["context"]["indicator"]["matched_field"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    // Every kind of list in rules/intel fires on the capture built to exercise it.
    for f in [
        "dns.rrname",
        "tls.sni",
        "http.hostname",
        "tls.ja3.hash",
        "tls.ja4",
        "dest_ip",
    ] {
        assert!(fields.contains(f), "no alert on {f}: {fields:?}");
    }
    // Both demo payload patterns (a literal User-Agent and a regex) fire on the beacon.
    let pattern_ids: std::collections::BTreeSet<u64> = events
        .iter()
        .filter(|e| e["alert"]["category"] == "Payload Pattern Match")
        .filter_map(|e| e["alert"]["signature_id"].as_u64())
        .collect();
    assert_eq!(pattern_ids, [2_100_001, 2_100_002].into_iter().collect());
    // The parent-domain entry evil-updates.test matches update.evil-updates.test.
    assert!(events
        .iter()
        .any(
            |e| e["alert"]["context"]["indicator"]["value"] == "evil-updates.test"
                && e["alert"]["context"]["indicator"]["matched_value"]
                    == "update.evil-updates.test"
        ));
    let _ = std::fs::remove_file(eve);
}

#[test]
fn bad_intel_lines_warn_with_file_and_line_and_the_rest_loads() {
    let dir = temp("intel");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("domains.txt"),
        "# demo\nc2.badcdn.example\nbad..name\n",
    )
    .expect("write");
    let demo = write_demo("intel");
    let o = tapir(&[
        "replay",
        "--intel",
        dir.to_str().expect("path"),
        demo.to_str().expect("path"),
    ]);
    assert!(o.status.success());
    let e = stderr(&o);
    assert!(e.contains("domains.txt:3"), "{e}");
    assert!(e.contains("1 indicators loaded"), "{e}");
    let n_alerts: usize = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .count();
    assert!(n_alerts >= 2, "the good line must still match");
    let _ = std::fs::remove_dir_all(dir);
}

/// A flood of new 5-tuples (every packet a SYN from a fresh address and port) must leave the
/// flow tables at their cap, count what was evicted, and keep resident memory bounded.
#[test]
fn syn_flood_stays_under_the_flow_cap() {
    let cap = temp("flood.pcap");
    let cfg = tapir_gen_demo::bench::BenchConfig {
        packets: 150_000,
        flood: true,
        seed: 9,
        ..Default::default()
    };
    tapir_gen_demo::write_bench(&cap, &cfg).expect("generate flood");
    let conf = temp("flood.toml");
    std::fs::write(&conf, "workers = 2\n[flow]\nmax_flows = 4096\n").expect("config");
    let o = tapir(&[
        "replay",
        "--config",
        conf.to_str().expect("path"),
        "--eve",
        "/dev/null",
        cap.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    let s = summary(&e);
    assert_eq!(s["packets"], "150000");
    assert_eq!(s["flows"], "150000", "every SYN is a new flow");
    let forced: u64 = e
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("flows_forced="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Two workers, 4096 flows each: all but the last table-fulls were evicted by age.
    assert!(forced >= 150_000 - 2 * 4096, "flows_forced={forced}\n{e}");
    // Measured 30-60 MiB (benches/README.md); the bound leaves room for allocator noise but
    // fails if flows were kept past the cap (150 000 flows take about 300 MiB).
    let rss: u64 = s["max_rss"]
        .trim_end_matches("MiB")
        .parse()
        .expect("max_rss");
    assert!(rss < 160, "peak RSS {rss} MiB with 2 x 4096 flows");
    let _ = std::fs::remove_file(cap);
    let _ = std::fs::remove_file(conf);
}

/// Reloading the indicator set every 10 ms during a replay (same indicators each time, two of
/// the lists rewritten meanwhile so that reloads parse them again) loses no packet and changes
/// no event: workers switch sets between batches and never wait.
#[test]
fn intel_reload_during_replay_changes_nothing() {
    let cfg = tapir_gen_demo::bench::BenchConfig {
        packets: 60_000,
        flows: 300,
        seed: 17,
        plant: 12,
        ..Default::default()
    };
    let cap = temp("reload.pcap");
    let generated = tapir_gen_demo::write_bench(&cap, &cfg).expect("generate");
    let dir = temp("reload-intel");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (kind, file) in [
        ("domain", "domains.txt"),
        ("ip", "ips.txt"),
        ("ja3", "ja3.txt"),
        ("ja4", "ja4.txt"),
    ] {
        let mut text = String::new();
        for p in generated.planted.iter().filter(|p| p.kind == kind) {
            text.push_str(&p.value);
            text.push('\n');
        }
        std::fs::write(dir.join(file), text).expect("write list");
    }
    let run = |extra: &[&str]| {
        let mut args = vec![
            "replay",
            "--workers",
            "2",
            "--intel",
            dir.to_str().expect("path"),
        ];
        args.extend_from_slice(extra);
        args.push(cap.to_str().expect("path"));
        let o = tapir(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        (lines, stderr(&o))
    };
    let (plain, _) = run(&[]);
    // Rewrite two of the lists (same content, new inode, as feed tools replace files) while
    // the reloads run, so that reloads parse those tables again instead of keeping them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rewriter = {
        let (stop, dir) = (std::sync::Arc::clone(&stop), dir.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for f in ["domains.txt", "ips.txt"] {
                    let text = std::fs::read(dir.join(f)).expect("read list");
                    std::fs::write(dir.join(".tmp"), text).expect("write copy");
                    std::fs::rename(dir.join(".tmp"), dir.join(f)).expect("replace list");
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let (reloaded, e) = run(&["--reload-intel-every", "10"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    rewriter.join().expect("rewriter");
    let parsed: u64 = e
        .lines()
        .find_map(|l| l.split("feed tables: ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(parsed > 0, "no reload parsed a rewritten list:\n{e}");
    let reloads: u64 = e
        .lines()
        .filter(|l| l.contains(" reloads,"))
        .find_map(|l| {
            l.strip_prefix("tapir: intel: ")
                .and_then(|r| r.split(" reloads").next())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(reloads > 0, "no reload happened during the replay:\n{e}");
    let alerts = plain
        .iter()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .count();
    assert!(alerts >= 12, "planted indicators must alert: {alerts}");
    assert_eq!(summary(&e)["packets"], "60000");
    assert_eq!(plain.len(), reloaded.len());
    assert!(plain == reloaded, "events differ with reloads");
    let _ = std::fs::remove_file(cap);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn intel_check_reports_formats_counts_and_unreadable_files() {
    let dir = temp("check");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("ips.txt"),
        "192.0.2.1\n198.51.100.0/24\nnot-an-ip\n",
    )
    .expect("write");
    let o = tapir(&[
        "intel",
        "check",
        "--json",
        dir.join("ips.txt").to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one json object");
    assert_eq!(v["indicators"]["ip"], 1);
    assert_eq!(v["indicators"]["cidr"], 1);
    assert_eq!(v["warnings"], 1);
    let o = tapir(&["intel", "check", "/nonexistent/feed.csv"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent/feed.csv"));
    let _ = std::fs::remove_dir_all(dir);
}

/// What fired goes back to the intel platform: STIX 2.1 sightings referencing the indicators,
/// MISP sightings by value, and the top hits on stderr.
#[test]
fn sightings_are_written_for_every_indicator_that_fired() {
    let demo = write_demo("sightings");
    let prefix = temp("sightings");
    let intel = repo().join("rules/intel");
    let o = tapir(&[
        "replay",
        "--intel",
        intel.to_str().expect("path"),
        "--sightings",
        prefix.to_str().expect("path"),
        "--eve",
        "/dev/null",
        demo.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |ext: &str| -> serde_json::Value {
        let p = format!("{}{ext}", prefix.display());
        let v = serde_json::from_str(&std::fs::read_to_string(&p).expect("sightings file"))
            .expect("json");
        let _ = std::fs::remove_file(&p);
        v
    };
    let stix = read(".stix.json");
    let misp = read(".misp.json");
    assert_eq!(stix["type"], "bundle");
    let sightings: Vec<&serde_json::Value> = stix["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter(|o| o["type"] == "sighting")
        .collect();
    // The demo fires on all 7 demo indicators (see demo_replay_prints_events_alerts_and_a_summary).
    assert_eq!(sightings.len(), 7, "{stix}");
    assert!(sightings.iter().all(|s| s["sighting_of_ref"]
        .as_str()
        .is_some_and(|r| r.starts_with("indicator--"))));
    let values: Vec<&str> = misp
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    assert!(values.contains(&"c2.badcdn.example"), "{values:?}");
    assert!(values.contains(&"evil-updates.test"), "{values:?}");
    assert!(
        stderr(&o).contains("tapir: intel stats: "),
        "{}",
        stderr(&o)
    );
}

/// `[[intel.feeds]]`: a local Zeek intel file and a URL feed fetched from a loopback server into
/// the cache directory, both matched on the demo capture.
#[test]
fn configured_feeds_local_and_url_are_loaded_and_matched() {
    use std::io::{Read, Write};
    let dir = temp("feeds");
    std::fs::create_dir_all(dir.join("cache")).expect("mkdir");
    std::fs::write(
        dir.join("c2.intel"),
        "#fields\tindicator\tindicator_type\tmeta.source\nc2.badcdn.example\tIntel::DOMAIN\ttest-zeek\n",
    )
    .expect("write zeek");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        // Serve the list to every request until the test is done (at most a few).
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            let body = "# remote list\nevil-updates.test\n";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let conf = dir.join("tapir.toml");
    std::fs::write(
        &conf,
        format!(
            "[intel]\ncache_dir = \"{cache}\"\n\n[[intel.feeds]]\nname = \"zeek-local\"\npath = \"{zeek}\"\nformat = \"zeek-intel\"\n\n\
             [[intel.feeds]]\nname = \"domains-remote\"\nurl = \"http://127.0.0.1:{port}/domains.txt\"\nformat = \"plain\"\nrefresh = \"1h\"\n",
            cache = dir.join("cache").display(),
            zeek = dir.join("c2.intel").display(),
        ),
    )
    .expect("config");
    let check = tapir(&["check-config", conf.to_str().expect("path")]);
    assert!(check.status.success(), "{}", stderr(&check));
    let demo = write_demo("feeds");
    let o = tapir(&[
        "replay",
        "--config",
        conf.to_str().expect("path"),
        demo.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alerts: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event_type"] == "alert")
        .collect();
    let values: std::collections::BTreeSet<String> = alerts
        .iter()
        .filter_map(|a| {
            a["alert"]["context"]["indicator"]["value"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert!(
        values.contains("c2.badcdn.example"),
        "local Zeek feed: {values:?}\n{}",
        stderr(&o)
    );
    assert!(
        values.contains("evil-updates.test"),
        "URL feed: {values:?}\n{}",
        stderr(&o)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Editing a feed file while the sensor runs rebuilds the set (polled once a second).
#[test]
fn editing_a_feed_file_reloads_the_set() {
    let cap = temp("edit.pcap");
    let cfg = tapir_gen_demo::bench::BenchConfig {
        packets: 400_000,
        flows: 500,
        seed: 23,
        ..Default::default()
    };
    tapir_gen_demo::write_bench(&cap, &cfg).expect("generate");
    let dir = temp("edit-intel");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let list = dir.join("domains.txt");
    std::fs::write(&list, "first.example\n").expect("write");
    let child = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "--workers", "2", "--eve", "/dev/null", "--intel"])
        .arg(&dir)
        .arg(&cap)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(300));
    // A new modification time (some filesystems keep whole seconds).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&list, "first.example\nsecond.example\n").expect("edit");
    let o = child.wait_with_output().expect("wait");
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    let line = e
        .lines()
        .find(|l| l.contains(" reloads,"))
        .unwrap_or_default();
    let reloads: u64 = line
        .strip_prefix("tapir: intel: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let elapsed: f64 = summary(&e)["elapsed"]
        .trim_end_matches('s')
        .parse()
        .unwrap_or(0.0);
    if elapsed < 2.5 {
        // The replay ended before the edit could be noticed; nothing to conclude.
        println!("replay too fast ({elapsed} s) to observe the edit");
    } else {
        assert!(reloads >= 1, "the edit was not picked up:\n{e}");
    }
    let _ = std::fs::remove_file(cap);
    let _ = std::fs::remove_dir_all(dir);
}

/// The shipped hunts run with every replay: the demo serves a self-signed certificate, resolves
/// an intel domain before contacting it, and sends an old browser's User-Agent, so exactly those
/// hypotheses hold; `[hunts] enabled = false` turns them off, and a hunt file that does not
/// load refuses the run naming the key.
#[test]
fn shipped_hunts_run_with_replay_and_can_be_turned_off() {
    let demo = write_demo("hunts");
    let intel = repo().join("rules/intel");
    let run = |config: Option<&Path>| {
        let mut args = vec![
            "replay".to_string(),
            "--intel".into(),
            intel.display().to_string(),
            "--eve".into(),
            "/dev/null".into(),
        ];
        if let Some(c) = config {
            args.push("--config".into());
            args.push(c.display().to_string());
        }
        args.push(demo.display().to_string());
        Command::new(env!("CARGO_BIN_EXE_tapir"))
            .args(&args)
            .current_dir(repo())
            .output()
            .expect("run tapir")
    };
    let o = run(None);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    let validated: Vec<&str> = e
        .lines()
        .filter_map(|l| l.strip_prefix("tapir: hunt: validated "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        validated,
        [
            "intel-domain-resolved-then-contacted",
            "old-browser-user-agent",
            "tls-anomaly"
        ],
        "{e}"
    );
    assert!(e.contains("tapir: hunts: 3 validated, "), "{e}");
    assert!(
        e.lines().last().is_some_and(|l| l.contains("packets=")),
        "the summary stays the last line: {e}"
    );

    let off = temp("hunts-off.toml");
    std::fs::write(&off, "[hunts]\nenabled = false\n").expect("write config");
    let o = run(Some(&off));
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(!e.contains("tapir: hunt"), "{e}");

    let bad_rule = temp("hunts-bad.yaml");
    std::fs::write(&bad_rule, "id: x\ntitle: [unclosed\n").expect("write hunt");
    let bad = temp("hunts-bad.toml");
    std::fs::write(
        &bad,
        format!("[hunts]\npaths = [\"{}\"]\n", bad_rule.display()),
    )
    .expect("write config");
    let o = run(Some(&bad));
    let e = stderr(&o);
    assert!(!o.status.success(), "a broken hunt file was accepted: {e}");
    assert!(e.contains("hunts.paths"), "{e}");
    assert!(e.contains(&bad_rule.display().to_string()), "{e}");
    for p in [demo, off, bad_rule, bad] {
        let _ = std::fs::remove_file(p);
    }
}
