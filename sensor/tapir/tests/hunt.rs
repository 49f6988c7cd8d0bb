//! `tapir rules check` and `tapir hunt` as a user runs them: the shipped hunts, rule errors at
//! their place, verdicts and evidence on the demo capture and the behaviour scenarios, evidence
//! pcaps that replay, bounded evidence, HTML that escapes traffic and renders in a real
//! browser.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn tapir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(args)
        .output()
        .expect("run tapir")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn hunts_dir() -> String {
    repo().join("rules/hunts").display().to_string()
}

/// A fresh directory per test (tests run in parallel).
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapir-hunt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).expect("read report")).expect("report is JSON")
}

fn hunt<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["hunts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["id"] == id))
        .unwrap_or_else(|| panic!("no hunt {id} in the report"))
}

/// Runs `tapir hunt`; returns (JSON report, HTML text, output).
fn run_hunt(dir: &Path, extra: &[&str], captures: &[&Path]) -> (Value, String, Output) {
    let html = dir.join("report.html");
    let json = dir.join("report.json");
    let mut args = vec!["hunt", "--report", s(&html), "--report-json", s(&json)];
    args.extend_from_slice(extra);
    args.extend(captures.iter().map(|p| s(p)));
    let o = tapir(&args);
    assert!(o.status.success(), "tapir hunt failed: {}", text(&o.stderr));
    (
        read_json(&json),
        std::fs::read_to_string(&html).expect("html"),
        o,
    )
}

#[test]
fn shipped_hunts_pass_rules_check_and_cover_every_detector() {
    let o = tapir(&["rules", "check", &hunts_dir()]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let out = text(&o.stdout);
    let last = out.lines().last().unwrap_or("");
    assert!(last.ends_with(": ok"), "{out}");
    let loaded = tapir_hunt::load_paths(&[repo().join("rules/hunts")]);
    assert!(loaded.errors.is_empty());
    assert_eq!(
        last,
        format!(
            "{} hunts in {} files: ok",
            loaded.hunts.len(),
            loaded.files.len()
        )
    );
    for d in tapir_hunt::rule::DETECTORS {
        let single = loaded.hunts.iter().any(|h| {
            h.leaves.len() == 1
                && h.leaves[0]
                    .alert
                    .as_ref()
                    .is_some_and(|a| a.detector == [d.to_string()])
        });
        assert!(single, "no hunt for detector {d}");
    }
    // Combined hunts: a detector with intel, or two detectors, on one key.
    let combined: Vec<&str> = loaded
        .hunts
        .iter()
        .filter(|h| h.leaves.len() >= 2 && h.same.is_some())
        .map(|h| h.id.as_str())
        .collect();
    for id in [
        "intel-c2-beacon",
        "dga-then-beacon",
        "dns-tunnel-intel-domain",
    ] {
        assert!(combined.contains(&id), "{id} missing from {combined:?}");
    }
}

#[test]
fn rules_check_reports_every_error_with_its_place_and_fails() {
    let dir = temp_dir("bad-rules");
    let valid = "id: dup\ntitle: t\nhypothesis: h\ntechniques: [T1071]\nneeds: [flow]\nseverity: low\nwhen:\n  alert: {detector: scan}\n";
    std::fs::write(dir.join("a.yaml"), valid).expect("write");
    std::fs::write(dir.join("b.yml"), "id: b\ntitle: [unclosed\n").expect("write");
    std::fs::write(dir.join("c.yaml"), valid).expect("write");
    std::fs::write(
        dir.join("e.yaml"),
        "id: e\ntitle: t\nhypothesis: h\ntechniques: [T1071]\nneeds: [flow]\nseverity: low\nwhen:\n  alert: {detector: beacon, score: 0.9}\n",
    )
    .expect("write");
    std::fs::write(dir.join("notes.txt"), "not a hunt").expect("write");
    let o = tapir(&["rules", "check", s(&dir)]);
    assert!(!o.status.success());
    let out = text(&o.stdout);
    let a = dir.join("a.yaml").display().to_string();
    let b = dir.join("b.yml").display().to_string();
    let c = dir.join("c.yaml").display().to_string();
    let e = dir.join("e.yaml").display().to_string();
    for want in [
        format!("{e}:8:29: unknown key \"score\" in alert"),
        format!("{b}:3:1: YAML: while parsing a flow sequence"),
        format!("{c}:1:1: id \"dup\" is already used at {a}:1"),
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&want)),
            "missing {want:?} in\n{out}"
        );
    }
    assert!(
        out.ends_with("1 hunts in 4 files: 3 errors in 3 files\n"),
        "{out}"
    );
    assert!(text(&o.stderr).contains("3 errors in hunt files"));
    // The same as JSON, for editors and CI.
    let o = tapir(&["rules", "check", "--json", s(&dir)]);
    assert!(!o.status.success());
    let doc: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["errors"].as_array().map(Vec::len), Some(3));
    assert_eq!(doc["errors"][2]["line"], 8);
    assert_eq!(doc["errors"][2]["column"], 29);
    // `tapir hunt` refuses to run with broken rules.
    let demo = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let o = tapir(&[
        "hunt",
        "--rules",
        s(&dir),
        "--report-json",
        s(&dir.join("r.json")),
        s(&demo),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains(&format!("{e}:8:29")),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.join("r.json").exists());
}

/// A hunt that needs SSH events, which the demo capture does not have.
const SSH_HUNT: &str = "id: ssh-on-odd-port\ntitle: SSH off port 22\nhypothesis: Someone runs SSH where it does not belong.\ntechniques: [T1571]\nneeds: [ssh]\nseverity: low\nwhen:\n  event: ssh\n  where: {dest_port: {ne: 22}}\n";

#[test]
fn demo_capture_validates_refutes_and_is_inconclusive_with_evidence() {
    let dir = temp_dir("demo");
    let demo = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let extra = dir.join("extra");
    std::fs::create_dir_all(&extra).expect("mkdir");
    std::fs::write(extra.join("ssh.yaml"), SSH_HUNT).expect("write");
    let evidence = dir.join("evidence");
    let intel = repo().join("rules/intel");
    let patterns = repo().join("rules/patterns");
    let (r, html, o) = run_hunt(
        &dir,
        &[
            "--rules",
            &hunts_dir(),
            "--rules",
            s(&extra),
            "--intel",
            s(&intel),
            "--patterns",
            s(&patterns),
            "--evidence",
            s(&evidence),
        ],
        &[&demo],
    );
    let n = r["hunts"].as_array().map_or(0, Vec::len);
    assert!(n >= 15, "{n} hunts");
    let sum = ["validated", "refuted", "inconclusive"]
        .iter()
        .map(|k| r["summary"][k].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert_eq!(sum, n as u64);

    // The demo's intel story: 10.0.0.23 resolves c2.badcdn.example, then talks TLS to it.
    let h = hunt(&r, "intel-domain-resolved-then-contacted");
    assert_eq!(h["verdict"], "validated", "{}", h["reason"]);
    let f = &h["findings"][0];
    assert_eq!(f["key"], "10.0.0.23");
    let alerts = f["alerts"].as_array().expect("alerts");
    assert!(alerts.iter().any(|a| a["signature"]
        .as_str()
        .is_some_and(|s| s.contains("c2.badcdn.example in dns.rrname"))));
    assert!(alerts.iter().any(|a| a["dest_ip"] == "203.0.113.66"));
    let pcap = f["evidence"].as_str().expect("evidence named");
    assert!(
        alerts.iter().all(|a| a["evidence"] == pcap),
        "every alert names its pcap"
    );
    assert!(evidence.join(pcap).is_file());

    // The HTTP check-in with an IE6 User-Agent; its pcap holds exactly that flow.
    let h = hunt(&r, "old-browser-user-agent");
    assert_eq!(h["verdict"], "validated", "{}", h["reason"]);
    let f = &h["findings"][0];
    assert_eq!(
        f["hosts"],
        serde_json::json!(["10.0.0.23", "198.51.100.23"])
    );
    let pcap = evidence.join(f["evidence"].as_str().expect("evidence"));
    let o2 = tapir(&["replay", s(&pcap)]);
    assert!(o2.status.success(), "{}", text(&o2.stderr));
    let flows: Vec<Value> = text(&o2.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event_type"] == "flow")
        .collect();
    assert_eq!(flows.len(), 1, "{flows:?}");
    let fl = &flows[0];
    assert_eq!(
        (
            fl["src_ip"].as_str(),
            fl["dest_ip"].as_str(),
            fl["dest_port"].as_u64(),
            fl["app_proto"].as_str()
        ),
        (
            Some("10.0.0.23"),
            Some("198.51.100.23"),
            Some(80),
            Some("http")
        )
    );
    // Both directions, all of it: the same packet counts as in the original run.
    let orig = &f["flows"][0];
    let pkts = fl["flow"]["pkts_toserver"].as_u64().unwrap_or(0)
        + fl["flow"]["pkts_toclient"].as_u64().unwrap_or(0);
    assert_eq!(Some(pkts), f["evidence_packets"].as_u64());
    assert_eq!(fl["flow"]["bytes_toserver"], orig["bytes_toserver"]);
    assert_eq!(fl["flow"]["bytes_toclient"], orig["bytes_toclient"]);

    // No beacon in the demo: refuted, with the data it looked at.
    let h = hunt(&r, "intel-c2-beacon");
    assert_eq!(h["verdict"], "refuted");
    assert!(h["examined"]["flow"].as_u64().unwrap_or(0) > 0);
    assert!(h["reason"].as_str().is_some_and(|s| s.contains("flow")));
    // No SSH in the demo: inconclusive, and it says so.
    let h = hunt(&r, "ssh-on-odd-port");
    assert_eq!(h["verdict"], "inconclusive");
    assert_eq!(h["missing"], serde_json::json!(["ssh"]));

    // The HTML has the same content.
    assert_eq!(html.matches("<tr class=\"hunt-row verdict-").count(), n);
    assert!(html.contains("id=\"hunt-old-browser-user-agent\""));
    assert!(html.contains("class=\"evidence\" href=\"evidence/old-browser-user-agent-001.pcap\""));
    assert!(html.contains("<svg class=\"plot timeline\""));
    assert!(
        !html.contains("<link") && !html.contains("src=\""),
        "nothing is fetched"
    );
    let out = text(&o.stdout);
    assert!(
        out.lines()
            .any(|l| l.starts_with("validated") && l.contains("old-browser-user-agent")),
        "{out}"
    );
}

#[test]
fn evidence_is_bounded_per_flow_and_says_so() {
    let dir = temp_dir("bounded");
    let demo = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::copy(
        repo().join("rules/hunts/old-browser-user-agent.yaml"),
        rules.join("ua.yaml"),
    )
    .expect("copy");
    let evidence = dir.join("ev");
    let (r, _, o) = run_hunt(
        &dir,
        &[
            "--rules",
            s(&rules),
            "--evidence",
            s(&evidence),
            "--evidence-max-packets",
            "3",
            "--eve",
            "-",
        ],
        &[&demo],
    );
    // With --eve -, stdout carries the events and nothing else.
    let out = text(&o.stdout);
    assert_eq!(
        Some(out.lines().count() as u64),
        r["data"]["events_total"].as_u64()
    );
    assert!(out
        .lines()
        .all(|l| serde_json::from_str::<Value>(l).is_ok_and(|e| e["event_type"].is_string())));
    let f = &hunt(&r, "old-browser-user-agent")["findings"][0];
    assert_eq!(f["evidence_packets"], 3);
    let bytes = std::fs::read(evidence.join(f["evidence"].as_str().expect("file"))).expect("pcap");
    assert_eq!(pcap_records(&bytes), 3);
    assert!(
        r["notes"].as_array().is_some_and(|n| n
            .iter()
            .any(|x| x.as_str().is_some_and(|x| x.contains("over 3 per flow")))),
        "{}",
        r["notes"]
    );
}

/// Records in a classic little-endian pcap.
fn pcap_records(b: &[u8]) -> usize {
    let mut off = 24;
    let mut n = 0;
    while off + 16 <= b.len() {
        let incl = u32::from_le_bytes([b[off + 8], b[off + 9], b[off + 10], b[off + 11]]) as usize;
        off += 16 + incl;
        n += 1;
    }
    assert_eq!(off, b.len(), "records end with the file");
    n
}

const XSS_1: &str = "<script>alert(1)</script>";
const XSS_2: &str = "<img src=x onerror=alert(2)>";

/// One Ethernet/IPv4/UDP frame.
fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = 20 + 8 + payload.len();
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&ip);
    let ulen = (8 + payload.len()) as u16;
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&ulen.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A capture whose names and headers are HTML: a DNS query for `<script>…</script>.<img …>`
/// and an SSDP (HTTP over UDP) request with markup in Host and User-Agent.
fn hostile_capture(path: &Path) {
    let mut dns = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in [XSS_1, XSS_2, "example"] {
        dns.push(label.len() as u8);
        dns.extend_from_slice(label.as_bytes());
    }
    dns.extend_from_slice(&[0, 0, 1, 0, 1]);
    let ssdp = format!("M-SEARCH * HTTP/1.1\r\nHOST: {XSS_2}\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\nUSER-AGENT: {XSS_1}\r\n\r\n");
    let f = std::fs::File::create(path).expect("create");
    let mut w = tapir_hunt::pcap::PcapWriter::new(f, 1, 0).expect("pcap");
    let t = 1_768_467_600_000_000u64;
    for (i, (dst, sport, dport, payload)) in [
        ([10, 9, 0, 53], 40000u16, 53u16, dns.clone()),
        ([239, 255, 255, 250], 40001, 1900, ssdp.into_bytes()),
    ]
    .into_iter()
    .enumerate()
    {
        let fr = udp_frame([10, 9, 0, 5], dst, sport, dport, &payload);
        w.packet(t + i as u64 * 1000, fr.len() as u32, &fr)
            .expect("write");
    }
    w.finish().expect("finish");
}

const ANY_NAME_HUNT: &str = "id: odd-names\ntitle: Names with markup\nhypothesis: Hostile names reach the report.\ntechniques: [T1071]\nneeds: [[dns, http]]\nseverity: low\nsame: src_ip\nwhen:\n  any:\n    - event: dns\n      where: {dns.queries.rrname: {contains: script}}\n    - event: http\n      where: {http.http_user_agent: {exists: true}}\n";

#[test]
fn traffic_strings_are_escaped_in_the_html_report() {
    let dir = temp_dir("xss");
    let cap = dir.join("hostile.pcap");
    hostile_capture(&cap);
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("names.yaml"), ANY_NAME_HUNT).expect("write");
    let (r, html, _) = run_hunt(&dir, &["--rules", s(&rules)], &[&cap]);
    let h = hunt(&r, "odd-names");
    assert_eq!(h["verdict"], "validated", "{}", h["reason"]);
    // The hostile strings did reach the report (as data)...
    let events = serde_json::to_string(&h["findings"][0]["events"]).expect("json");
    assert!(events.contains("script>alert(1)"), "{events}");
    assert!(events.contains("onerror=alert(2)"), "{events}");
    // ...and never as markup.
    for bad in ["<script>alert", "<img src=x", "</script>."] {
        assert!(!html.contains(bad), "unescaped {bad:?} in the report");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the report's own script"
    );
    match chromium() {
        Some(bin) => {
            let dom = render(&bin, &dir.join("report.html"), &dir);
            assert_eq!(dom.matches("<script").count(), 1, "{dom}");
            assert!(!dom.contains("<img"), "an img element was created");
            assert!(
                dom.contains("&lt;img src=x onerror=alert(2)&gt;"),
                "the text is shown as text"
            );
        }
        None => skip_browser(),
    }
}

#[test]
fn beacon_scenario_plots_intervals_and_writes_its_flows() {
    let dir = temp_dir("beacon");
    let cap = dir.join("beacon.pcap");
    let sc = tapir_gen_demo::behaviour::scenario("beacon-jitter30").expect("scenario");
    tapir_gen_demo::behaviour::write_scenario(sc, &cap).expect("write scenario");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::copy(
        repo().join("rules/hunts/beacon.yaml"),
        rules.join("beacon.yaml"),
    )
    .expect("copy");
    let ev = dir.join("ev");
    let (r, html, _) = run_hunt(&dir, &["--rules", s(&rules), "--evidence", s(&ev)], &[&cap]);
    let h = hunt(&r, "beacon");
    assert_eq!(h["verdict"], "validated", "{}", h["reason"]);
    let f = &h["findings"][0];
    let gaps: Vec<f64> = f["intervals_s"]
        .as_array()
        .expect("intervals")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(gaps.len() >= 10, "{gaps:?}");
    // 60 s with 30% jitter, measured from the flows' start times.
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!((45.0..75.0).contains(&mean), "mean interval {mean}");
    assert!(gaps.iter().all(|g| (30.0..=90.0).contains(g)), "{gaps:?}");
    assert!(html.contains("<svg class=\"plot histogram\""));
    // The pcap holds the beacon's flows, and only them.
    let pcap = ev.join(f["evidence"].as_str().expect("evidence"));
    let o = tapir(&["replay", s(&pcap)]);
    let flows: Vec<Value> = text(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event_type"] == "flow")
        .collect();
    let named = f["flows"].as_array().map_or(0, Vec::len);
    assert_eq!(flows.len(), named);
    assert!(flows
        .iter()
        .all(|x| x["src_ip"] == "10.1.0.5" && x["dest_ip"] == "198.51.100.10"));
}

fn shared_pcaps() -> Option<Vec<PathBuf>> {
    let d = repo().join("../shared/testdata/pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(d)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    (!v.is_empty()).then_some(v)
}

#[test]
fn every_shared_capture_gets_a_verdict_per_hunt() {
    let Some(pcaps) = shared_pcaps() else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let dir = temp_dir("shared");
    for p in &pcaps {
        let (r, html, _) = run_hunt(&dir, &["--rules", &hunts_dir()], &[p.as_path()]);
        let by_type = &r["data"]["events_by_type"];
        for h in r["hunts"].as_array().expect("hunts") {
            let v = h["verdict"].as_str().expect("verdict");
            assert!(["validated", "refuted", "inconclusive"].contains(&v));
            // What a hunt says it examined is what the run saw.
            for (t, n) in h["examined"].as_object().expect("examined") {
                assert_eq!(
                    n.as_u64(),
                    Some(by_type[t].as_u64().unwrap_or(0)),
                    "{} {t}",
                    p.display()
                );
            }
            if v == "inconclusive" {
                assert!(!h["missing"].as_array().expect("missing").is_empty());
            }
        }
        assert!(html.ends_with("</html>\n"));
    }
}

#[test]
fn report_renders_in_a_headless_browser() {
    let Some(bin) = chromium() else {
        skip_browser();
        return;
    };
    let dir = temp_dir("browser");
    let demo = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let extra = dir.join("extra");
    std::fs::create_dir_all(&extra).expect("mkdir");
    std::fs::write(extra.join("ssh.yaml"), SSH_HUNT).expect("write");
    let (r, _, _) = run_hunt(
        &dir,
        &[
            "--rules",
            &hunts_dir(),
            "--rules",
            s(&extra),
            "--intel",
            s(&repo().join("rules/intel")),
        ],
        &[&demo],
    );
    let dom = render(&bin, &dir.join("report.html"), &dir);
    let n = r["hunts"].as_array().map_or(0, Vec::len);
    assert!(dom.contains("<table id=\"summary\">"), "no summary table");
    assert_eq!(dom.matches("<tr class=\"hunt-row verdict-").count(), n);
    for v in ["validated", "refuted", "inconclusive"] {
        let want = r["summary"][v].as_u64().unwrap_or(0) as usize;
        assert!(want > 0, "the demo run has a {v} hunt");
        assert_eq!(
            dom.matches(&format!("<section class=\"hunt verdict-{v}\""))
                .count(),
            want
        );
    }
    assert!(dom.contains("<svg class=\"plot timeline\""));
    // The page's script ran (the filter buttons): the CSP let it, and nothing else.
    assert!(dom.contains("<button data-show=\"all\" class=\"on\">"));
}

/// Debian's chromium, if installed. In CI a missing browser is a failure, not a skip.
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!(
            "chromium is not installed (tools/setup.sh installs it); CI must run the browser tests"
        );
    }
    found
}

fn skip_browser() {
    println!("skipped: chromium not installed (apt-get install chromium)");
}

/// The DOM after the page loaded and ran its script.
fn render(bin: &Path, html: &Path, dir: &Path) -> String {
    let profile = dir.join("chromium-profile");
    let url = format!(
        "file://{}",
        html.canonicalize().expect("html path").display()
    );
    let o = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &url,
        ])
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "chromium failed: {}", text(&o.stderr));
    text(&o.stdout)
}

/// `--block`: the targets of a validated hypothesis's block action become decisions through the
/// responder's guards, journal and backends (here the list backend, no root needed); refuted
/// hypotheses block nothing, and guarded addresses are refused and audited.
#[test]
fn block_flag_submits_validated_targets_through_the_guards() {
    let dir = temp_dir("block");
    let demo = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let extra = dir.join("extra");
    std::fs::create_dir_all(&extra).expect("mkdir");
    let shipped = std::fs::read_to_string(
        repo().join("rules/hunts/intel-domain-resolved-then-contacted.yaml"),
    )
    .expect("shipped hunt");
    let blocking = shipped.replacen(
        "id: intel-domain-resolved-then-contacted",
        "id: resolved-then-contacted-block\nactions:\n  block: dest_ip",
        1,
    );
    std::fs::write(extra.join("block.yaml"), blocking).expect("write");
    let state = dir.join("state");
    let conf = dir.join("tapir.toml");
    std::fs::write(
        &conf,
        format!(
            "[respond]\nstate_dir = {state:?}\nbackends = [\"list\"]\n[respond.list]\nlisten = \"\"\n"
        ),
    )
    .expect("config");
    let intel = repo().join("rules/intel");
    let (r, _, o) = run_hunt(
        &dir,
        &[
            "--config",
            s(&conf),
            "--block",
            "--rules",
            &hunts_dir(),
            "--rules",
            s(&extra),
            "--intel",
            s(&intel),
        ],
        &[&demo],
    );
    let err = text(&o.stderr);
    let h = hunt(&r, "resolved-then-contacted-block");
    assert_eq!(h["verdict"], "validated", "{}", h["reason"]);
    let targets: Vec<&str> = h["actions"][0]["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The DNS alert goes to the resolver (home_net: refused), the TLS alert to the C2 address.
    assert!(
        targets.contains(&"10.0.0.2") && targets.contains(&"203.0.113.66"),
        "{targets:?}"
    );
    let public: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| !t.starts_with("10."))
        .collect();
    let list = std::fs::read_to_string(state.join("blocklist.txt")).expect("blocklist");
    let listed: Vec<&str> = list.lines().collect();
    assert_eq!(listed, public, "{err}");
    assert!(err.contains("10.0.0.2 refused by guard home_net"), "{err}");
    assert!(
        err.contains(&format!(
            "block: {} decisions, {} refused by guards",
            public.len(),
            targets.len() - public.len()
        )),
        "{err}"
    );
    // Refuted hypotheses with block actions (exfil-to-intel-ip, intel-c2-beacon) added nothing.
    assert_eq!(hunt(&r, "intel-c2-beacon")["verdict"], "refuted");
    let audit = std::fs::read_to_string(state.join("audit.jsonl")).expect("audit");
    let recs: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let c2 = recs
        .iter()
        .find(|r| r["action"] == "created" && r["net"] == "203.0.113.66")
        .expect("decision for the C2 address");
    assert_eq!(c2["origin"], "hunt:resolved-then-contacted-block");
    assert!(c2["reason"]
        .as_str()
        .is_some_and(|s| s.starts_with("hunt resolved-then-contacted-block: ")));
    assert!(recs.iter().any(|r| r["action"] == "refused"
        && r["net"] == "10.0.0.2"
        && r["origin"] == "hunt:resolved-then-contacted-block"));
    // `tapir block list` shows who decided.
    let o = tapir(&["block", "list", "--state-dir", s(&state)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout)
            .lines()
            .any(|l| l.starts_with("203.0.113.66")
                && l.contains("hunt:resolved-then-contacted-block")),
        "{}",
        text(&o.stdout)
    );
}
