//! `tapir run` on a real link: two network namespaces joined by a veth pair, tcpreplay sending
//! captures into one end, tapir capturing on the other (AF_PACKET and libpcap).
//!
//! Needs root, `ip` and `tcpreplay` (tools/setup.sh installs it); without them each test says
//! so in one line and passes. Namespaces and interfaces get names unique to the process and
//! test, carry no addresses, have IPv6 off (no router solicitations or DAD to pollute the
//! counts) and are removed when the test ends, failed or not.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapir-live-{}-{name}", std::process::id()))
}

fn on_path(tool: &str) -> bool {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).is_file())
}

/// Why these tests cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
    if uid.as_deref() != Some("0") {
        return Some("not root".into());
    }
    for tool in ["ip", "tcpreplay"] {
        if !on_path(tool) {
            return Some(format!("{tool} not installed (tools/setup.sh)"));
        }
    }
    None
}

macro_rules! require_live {
    () => {
        if let Some(why) = unavailable() {
            println!("skipped: live capture tests need root, ip and tcpreplay: {why}");
            return;
        }
    };
}

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().expect("spawn");
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two namespaces, A (sender) and B (sensor), joined by a veth pair; removed on drop.
struct Link {
    ns_a: String,
    ns_b: String,
    if_a: String,
    if_b: String,
}

impl Link {
    fn new(tag: &str) -> Link {
        let id = format!("{}{tag}", std::process::id() % 1_000_000);
        let link = Link {
            ns_a: format!("tapir-live-{id}-a"),
            ns_b: format!("tapir-live-{id}-b"),
            if_a: format!("tl{id}a"),
            if_b: format!("tl{id}b"),
        };
        for ns in [&link.ns_a, &link.ns_b] {
            run_ok(Command::new("ip").args(["netns", "add", ns]));
            // Before the interfaces exist, so they are born with IPv6 off.
            run_ok(
                Command::new("ip")
                    .args(["netns", "exec", ns, "sysctl", "-qw"])
                    .args([
                        "net.ipv6.conf.default.disable_ipv6=1",
                        "net.ipv6.conf.all.disable_ipv6=1",
                    ]),
            );
        }
        run_ok(Command::new("ip").args([
            "link", "add", &link.if_a, "netns", &link.ns_a, "type", "veth", "peer", "name",
            &link.if_b, "netns", &link.ns_b,
        ]));
        // Some shared captures hold frames past 1500 bytes (offloaded segments).
        for (ns, ifc) in [(&link.ns_a, &link.if_a), (&link.ns_b, &link.if_b)] {
            run_ok(Command::new("ip").args(["-n", ns, "link", "set", ifc, "mtu", "9000", "up"]));
        }
        link
    }

    fn rx_packets(&self) -> u64 {
        let path = format!("/sys/class/net/{}/statistics/rx_packets", self.if_b);
        run_ok(Command::new("ip").args(["netns", "exec", &self.ns_b, "cat", &path]))
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// tcpreplay in A; returns the packets it sent.
    fn send(&self, pps: u32, captures: &[PathBuf]) -> u64 {
        let out = run_ok(self.tcpreplay(pps, captures).stderr(Stdio::inherit()));
        let field = |name: &str| -> u64 {
            out.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name:?} in tcpreplay's output:\n{out}"))
        };
        assert_eq!(field("Failed packets:"), 0, "tcpreplay:\n{out}");
        field("Successful packets:")
    }

    fn tcpreplay(&self, pps: u32, captures: &[PathBuf]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns_a, "tcpreplay", "-i", &self.if_a])
            .arg(format!("--pps={pps}"))
            .args(captures);
        c
    }

    /// Waits until B has received `n` packets since `base`.
    fn wait_received(&self, base: u64, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.rx_packets() < base + n {
            assert!(Instant::now() < deadline, "B never received {n} packets");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the pair, and the pair with it.
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// `tapir run` in namespace B; killed on drop if still running.
struct Sensor {
    child: Option<Child>,
    stderr: PathBuf,
}

impl Sensor {
    fn start(link: &Link, tag: &str, args: &[&str]) -> Sensor {
        let stderr = temp(&format!("{tag}.stderr"));
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &link.ns_b,
                env!("CARGO_BIN_EXE_tapir"),
                "run",
                "-i",
            ])
            .arg(&link.if_b)
            .args(args)
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start tapir");
        let mut s = Sensor {
            child: Some(child),
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !s.log().contains("tapir: capturing on") {
            assert!(
                Instant::now() < deadline,
                "tapir did not start:\n{}",
                s.log()
            );
            if let Some(st) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("tapir exited with {st}:\n{}", s.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `ip netns exec` execs tapir itself, so the child's pid is tapir's.
    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        run_ok(Command::new("kill").args([&format!("-{sig}"), &pid]));
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return (st, self.log());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("tapir did not stop after SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// The summary line's `key=value` fields.
fn summary(log: &str) -> BTreeMap<String, String> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("kernel_packets="))
        .unwrap_or_else(|| panic!("no summary line in:\n{log}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn num(s: &BTreeMap<String, String>, k: &str) -> u64 {
    s.get(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {k} in {s:?}"))
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("EVE line is JSON"))
        .collect()
}

/// Drops what depends on when and where packets were seen rather than on the packets: times,
/// the flow id (hashed with the flow's start time), the record number, and how a flow ended
/// (a replay ends at the capture's last timestamp, a live run at the stop).
fn strip_time(v: &mut Value) {
    if let Value::Object(m) = v {
        for k in ["timestamp", "flow_id", "flow_ids", "pcap_cnt"] {
            m.remove(k);
        }
        if let Some(Value::Object(f)) = m.get_mut("flow") {
            for k in ["start", "end", "age", "reason"] {
                f.remove(k);
            }
        }
        for x in m.values_mut() {
            strip_time(x);
        }
    } else if let Value::Array(a) = v {
        a.iter_mut().for_each(strip_time);
    }
}

fn event_multiset(events: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in events {
        let mut e = e.clone();
        strip_time(&mut e);
        *m.entry(e.to_string()).or_insert(0) += 1;
    }
    m
}

/// A flow's addresses and ports, VLANs aside (VLAN 0, a priority tag, keys like none).
fn flow_tuple(e: &Value) -> String {
    format!(
        "{} {}:{} {}:{}",
        e["proto"], e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"]
    )
}

/// Flow timeouts longer than any selected capture: replayed, a flow idle for a minute of
/// capture time ends and a later packet starts a new one; sent at a fixed packet rate, the
/// same minute takes a moment. With these, neither side ends a flow before the end.
const NO_TIMEOUTS: &str = "[flow]\ntimeout_new = \"1h\"\ntimeout_tcp_established = \"1h\"\ntimeout_tcp_closed = \"1h\"\ntimeout_udp = \"1h\"\n";

/// The flags both sides run with: the demo intel and patterns, and `config`.
fn detection_flags(config: &Path) -> Vec<String> {
    let r = repo();
    vec![
        "--config".into(),
        config.display().to_string(),
        "--intel".into(),
        r.join("rules/intel").display().to_string(),
        "--patterns".into(),
        r.join("rules/patterns").display().to_string(),
    ]
}

/// A verdict on the packet time rather than on the packets: a certificate's validity is
/// judged at the time it is seen (the capture's date replayed, today's live).
fn judged_on_time(e: &Value) -> bool {
    e["alert"]["context"].get("checked_at").is_some()
}

/// `tapir replay` of each capture on its own (a live run has no gap in time between them).
fn replay_events(captures: &[PathBuf], tag: &str, config: &Path) -> (Vec<Value>, u64) {
    let mut all = Vec::new();
    let mut packets = 0;
    for (i, c) in captures.iter().enumerate() {
        let eve = temp(&format!("{tag}-replay-{i}.json"));
        let o = Command::new(env!("CARGO_BIN_EXE_tapir"))
            .arg("replay")
            .args(detection_flags(config))
            .args(["--workers", "1", "--eve"])
            .arg(&eve)
            .arg(c)
            .output()
            .expect("run replay");
        let log = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "replay {c:?}: {log}");
        let line = log
            .lines()
            .rev()
            .find(|l| l.contains("packets="))
            .expect("summary");
        packets += line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("packets="))
            .and_then(|v| v.parse::<u64>().ok())
            .expect("packets");
        let ev = lines(&eve);
        // A flow of one capture must not reappear in another: live, with no time between
        // them, the two would be one flow.
        let mine: BTreeSet<String> = ev
            .iter()
            .filter(|e| e["event_type"] == "flow")
            .map(flow_tuple)
            .collect();
        let earlier: BTreeSet<String> = all
            .iter()
            .filter(|e: &&Value| e["event_type"] == "flow")
            .map(flow_tuple)
            .collect();
        let shared: Vec<_> = mine.intersection(&earlier).collect();
        assert!(
            shared.is_empty(),
            "{c:?} repeats flows of an earlier capture: {shared:?}"
        );
        all.extend(ev);
        let _ = std::fs::remove_file(eve);
    }
    (all, packets)
}

/// Ethernet captures of ../shared/testdata covering DNS (UDP, TCP), TLS 1.2/1.3 (IPv4, IPv6,
/// certificates), HTTP in QinQ (the kernel takes the outer tag out of the frame; tapir puts it
/// back), a 3 000-packet browsing session, and the demo capture (802.1Q, intel and pattern
/// alerts). Captures of other link types (BSD loopback, ...) cannot go over Ethernet as they
/// are.
fn selection(demo: &Path) -> Option<Vec<PathBuf>> {
    let dir = repo().join("../shared/testdata/pcaps");
    if !dir.is_dir() {
        return None;
    }
    let mut v: Vec<PathBuf> = [
        "arkime-dns-tcp.pcap",
        "sv-dns-udp-google-a-aaaa-mx.pcap",
        "arkime-openssl-tls1_2.pcap",
        "arkime-curl-enabled-tls13.pcap",
        "zeek-tls-chrome-34-google.pcap",
        "sv-tls-certs-alert.pcap",
        "zeek-http-qinq-0.pcap",
        "sv-tls-subjectaltname.pcap",
    ]
    .iter()
    .map(|n| dir.join(n))
    .collect();
    v.push(demo.to_path_buf());
    Some(v)
}

fn same_events_as_replay(kind: &str, tag: &str, workers: &str) {
    let demo = temp(&format!("{tag}-demo.pcap"));
    tapir_gen_demo::write_demo(&demo).expect("demo capture");
    let Some(captures) = selection(&demo) else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let config = temp(&format!("{tag}-config.toml"));
    std::fs::write(&config, NO_TIMEOUTS).expect("write config");
    let (expected, replay_packets) = replay_events(&captures, tag, &config);
    let link = Link::new(tag);
    let eve = temp(&format!("{tag}-live.json"));
    let mut args = vec!["--capture", kind, "--workers", workers, "--eve"];
    let eve_s = eve.display().to_string();
    args.push(&eve_s);
    let flags = detection_flags(&config);
    args.extend(flags.iter().map(String::as_str));
    let sensor = Sensor::start(&link, tag, &args);
    let base = link.rx_packets();
    let sent = link.send(2000, &captures);
    assert_eq!(
        sent, replay_packets,
        "tcpreplay sent what the captures hold"
    );
    link.wait_received(base, sent);
    let (status, log) = sensor.stop();
    assert!(status.success(), "tapir run exited with {status}:\n{log}");
    let s = summary(&log);
    assert_eq!(num(&s, "kernel_drops"), 0, "{log}");
    assert_eq!(num(&s, "kernel_packets"), sent, "{log}");
    assert_eq!(num(&s, "packets"), sent, "{log}");
    let got = lines(&eve);
    let comparable =
        |v: &[Value]| -> Vec<Value> { v.iter().filter(|e| !judged_on_time(e)).cloned().collect() };
    let (want, have) = (
        event_multiset(&comparable(&expected)),
        event_multiset(&comparable(&got)),
    );
    if want != have {
        let only = |a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>| {
            a.iter()
                .filter(|(k, n)| b.get(*k) != Some(*n))
                .map(|(k, n)| format!("  {n}x {k}"))
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{kind}: live events differ from replay ({} vs {} events)\nonly (or more often) in replay:\n{}\nonly (or more often) live:\n{}",
            expected.len(),
            got.len(),
            only(&want, &have),
            only(&have, &want)
        );
    }
    assert!(
        got.iter().any(|e| e["event_type"] == "alert"),
        "the demo capture's alerts are among them"
    );
    for p in [&eve, &demo, &config] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn afpacket_capture_gives_the_events_of_replay() {
    require_live!();
    same_events_as_replay("afpacket", "f", "2");
}

#[test]
fn pcap_capture_gives_the_events_of_replay() {
    require_live!();
    same_events_as_replay("pcap", "p", "2");
}

/// SIGTERM while packets are still arriving: every packet the kernel queued for tapir is
/// processed, and every flow that was seen ends with a flow record.
fn sigterm_during_traffic(kind: &str, tag: &str) {
    let cap = temp(&format!("{tag}-bench.pcap"));
    let cfg = tapir_gen_demo::BenchConfig {
        packets: 200_000,
        flows: 500,
        seed: 7,
        ..tapir_gen_demo::BenchConfig::default()
    };
    let written = tapir_gen_demo::write_bench(&cap, &cfg).expect("bench capture");
    let link = Link::new(tag);
    let eve = temp(&format!("{tag}-live.json"));
    let eve_s = eve.display().to_string();
    let sensor = Sensor::start(
        &link,
        tag,
        &["--capture", kind, "--workers", "2", "--eve", &eve_s],
    );
    let mut sender = link
        .tcpreplay(20_000, std::slice::from_ref(&cap))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tcpreplay");
    std::thread::sleep(Duration::from_millis(1500));
    let (status, log) = sensor.stop();
    let _ = sender.kill();
    let _ = sender.wait();
    assert!(status.success(), "tapir run exited with {status}:\n{log}");
    let s = summary(&log);
    let (packets, kernel, drops) = (
        num(&s, "packets"),
        num(&s, "kernel_packets"),
        num(&s, "kernel_drops"),
    );
    assert!(packets > 0, "nothing captured:\n{log}");
    assert!(
        packets < written.packets,
        "the stop came after the traffic ended; nothing was tested:\n{log}"
    );
    assert_eq!(
        packets,
        kernel - drops,
        "packets the kernel queued were lost at the stop:\n{log}"
    );
    let events = lines(&eve);
    let flow_records: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["event_type"] == "flow")
        .filter_map(|e| e["flow_id"].as_u64())
        .collect();
    assert_eq!(
        flow_records.len() as u64,
        num(&s, "flows"),
        "every flow ends with one flow record"
    );
    let orphans: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] != "flow")
        .filter(|e| {
            e["flow_id"]
                .as_u64()
                .is_some_and(|id| !flow_records.contains(&id))
        })
        .take(5)
        .collect();
    assert!(
        orphans.is_empty(),
        "events of flows never flushed: {orphans:?}"
    );
    let _ = std::fs::remove_file(eve);
    let _ = std::fs::remove_file(cap);
}

#[test]
fn sigterm_during_traffic_loses_nothing_captured_afpacket() {
    require_live!();
    sigterm_during_traffic("afpacket", "t");
}

#[test]
fn sigterm_during_traffic_loses_nothing_captured_pcap() {
    require_live!();
    sigterm_during_traffic("pcap", "u");
}

/// One DNS query for `name` from 10.77.0.1:`sport` to 10.77.0.53.
fn dns_query_capture(path: &Path, name: &str, sport: u16) {
    use tapir_gen_demo::wire::{build_frame, Header, L2, L4};
    let hdr = Header {
        l2: L2 {
            src: [2, 0, 0, 0, 0, 1],
            dst: [2, 0, 0, 0, 0, 2],
            vlan: None,
        },
        src: "10.77.0.1".parse().expect("ip"),
        dst: "10.77.0.53".parse().expect("ip"),
        ttl: 64,
        ip_id: sport,
        l4: L4::Udp { sport, dport: 53 },
    };
    let mut frame = Vec::new();
    build_frame(&mut frame, &hdr, |b| {
        b.extend_from_slice(&tapir_gen_demo::dns::query(sport, name, 1))
    });
    let f = File::create(path).expect("create capture");
    let mut w = tapir_gen_demo::pcap::PcapWriter::new(f).expect("pcap header");
    w.write_packet(tapir_gen_demo::START_US, &frame)
        .expect("write");
    w.finish().expect("finish");
}

fn alerts_for(path: &Path, name: &str) -> Vec<Value> {
    lines(path)
        .into_iter()
        .filter(|e| e["event_type"] == "alert" && e.to_string().contains(name))
        .collect()
}

/// SIGHUP: an indicator added to the intel file (its modification time kept, so only the
/// signal can make tapir notice) and a payload pattern added to the pattern file alert on
/// traffic after the signal and not before; the EVE file, moved away as logrotate does, is
/// reopened under its name.
#[test]
fn sighup_swaps_intel_and_reopens_the_output() {
    require_live!();
    let name = "hup-swap.example";
    let dir = temp("hup-intel");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("intel dir");
    let list = dir.join("domains.txt");
    std::fs::write(&list, "unrelated.example\n").expect("write intel");
    let pat_dir = temp("hup-patterns");
    let _ = std::fs::remove_dir_all(&pat_dir);
    std::fs::create_dir_all(&pat_dir).expect("pattern dir");
    let rules = pat_dir.join("patterns-hup.rules");
    let unrelated = "id=9300 name=\"unrelated\" content=\"not-in-this-traffic\" proto=udp\n";
    std::fs::write(&rules, unrelated).expect("write patterns");
    let before = temp("hup-before.pcap");
    let after = temp("hup-after.pcap");
    dns_query_capture(&before, name, 40001);
    dns_query_capture(&after, name, 40002);
    let link = Link::new("h");
    let eve = temp("hup-live.json");
    let rotated = temp("hup-live.json.1");
    let _ = std::fs::remove_file(&eve);
    let (eve_s, dir_s) = (eve.display().to_string(), dir.display().to_string());
    let pat_s = pat_dir.display().to_string();
    let sensor = Sensor::start(
        &link,
        "h",
        &[
            "--workers",
            "1",
            "--eve",
            &eve_s,
            "--intel",
            &dir_s,
            "--patterns",
            &pat_s,
        ],
    );
    let base = link.rx_packets();
    link.send(100, std::slice::from_ref(&before));
    link.wait_received(base, 1);
    // The DNS event is written once the worker's batch goes out.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&eve)
        .unwrap_or_default()
        .contains(name)
    {
        assert!(Instant::now() < deadline, "no DNS event:\n{}", sensor.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        alerts_for(&eve, name).is_empty(),
        "alert before the indicator was added"
    );
    let mtime = std::fs::metadata(&list)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::fs::write(&list, format!("unrelated.example\n{name}\n")).expect("edit intel");
    File::options()
        .write(true)
        .open(&list)
        .and_then(|f| f.set_modified(mtime))
        .expect("keep mtime");
    // The query's first label, as it is on the wire (length-prefixed), in the UDP payload.
    std::fs::write(
        &rules,
        format!("{unrelated}id=9301 name=\"hup pattern\" content=\"|08|hup-swap\" proto=udp\n"),
    )
    .expect("edit patterns");
    std::fs::rename(&eve, &rotated).expect("rotate");
    sensor.signal("HUP");
    // The set is rebuilt off the packet path; give it a moment (it is two lines).
    std::thread::sleep(Duration::from_millis(1500));
    link.send(100, std::slice::from_ref(&after));
    link.wait_received(base, 2);
    let (status, log) = sensor.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("tapir: intel: 1 reloads, 0 refused"), "{log}");
    assert!(
        log.contains("tapir: patterns: 1 reloads (1 changed the set, 0 unchanged), 0 refused"),
        "{log}"
    );
    let pattern_alerts = |p: &Path| -> Vec<Value> {
        lines(p)
            .into_iter()
            .filter(|e| e["event_type"] == "alert" && e["alert"]["signature_id"] == 9301)
            .collect()
    };
    let hits = pattern_alerts(&eve);
    assert_eq!(hits.len(), 1, "one pattern alert after HUP:\n{log}");
    assert_eq!(hits[0]["src_port"], 40002);
    assert!(
        pattern_alerts(&rotated).is_empty(),
        "no pattern alert before HUP"
    );
    let new_alerts = alerts_for(&eve, name);
    assert_eq!(new_alerts.len(), 1, "one alert after HUP:\n{log}");
    assert_eq!(new_alerts[0]["src_port"], 40002);
    assert!(
        alerts_for(&rotated, name).is_empty(),
        "the rotated file holds the traffic before HUP, without an alert"
    );
    assert!(
        std::fs::read_to_string(&rotated)
            .unwrap_or_default()
            .contains("\"src_port\":40001"),
        "events before HUP stayed in the rotated file"
    );
    for p in [&eve, &rotated, &before, &after] {
        let _ = std::fs::remove_file(p);
    }
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(pat_dir);
}

/// The interface is deleted under a running capture: tapir writes what it captured, says why
/// it stopped and exits non-zero (so that systemd restarts it).
fn interface_deleted(kind: &str, tag: &str) {
    let demo = temp(&format!("{tag}-demo.pcap"));
    tapir_gen_demo::write_demo(&demo).expect("demo capture");
    let link = Link::new(tag);
    let eve = temp(&format!("{tag}-live.json"));
    let eve_s = eve.display().to_string();
    let mut sensor = Sensor::start(&link, tag, &["--capture", kind, "--eve", &eve_s]);
    let base = link.rx_packets();
    let sent = link.send(2000, std::slice::from_ref(&demo));
    link.wait_received(base, sent);
    run_ok(Command::new("ip").args(["-n", &link.ns_b, "link", "del", &link.if_b]));
    let mut child = sensor.child.take().expect("running");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "tapir kept running:\n{}",
            sensor.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = sensor.log();
    assert!(!status.success(), "{log}");
    assert!(log.contains("is gone"), "{log}");
    assert!(log.contains("capture stopped"), "{log}");
    assert_eq!(num(&summary(&log), "packets"), sent, "{log}");
    assert!(
        lines(&eve).iter().any(|e| e["event_type"] == "alert"),
        "what was captured was written"
    );
    let _ = std::fs::remove_file(eve);
    let _ = std::fs::remove_file(demo);
}

#[test]
fn deleted_interface_ends_the_capture_with_an_error_afpacket() {
    require_live!();
    interface_deleted("afpacket", "d");
}

#[test]
fn deleted_interface_ends_the_capture_with_an_error_pcap() {
    require_live!();
    interface_deleted("pcap", "e");
}

/// Without any capture source, `tapir run` says what to give, and a bad interface is named.
#[test]
fn run_without_interface_or_with_a_missing_one_is_refused_by_name() {
    let o = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .arg("run")
        .output()
        .expect("run tapir");
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("-i IFACE"), "{e}");
    for kind in ["afpacket", "pcap"] {
        let o = Command::new(env!("CARGO_BIN_EXE_tapir"))
            .args(["run", "--capture", kind, "-i", "tapir-nosuch0"])
            .output()
            .expect("run tapir");
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("tapir-nosuch0"), "{kind}: {e}");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["run", "-i", "lo", "--bpf", "tcp port banana"])
        .output()
        .expect("run tapir");
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("banana"), "{e}");
}
