//! A fleet of sensors: `tapir replay --output` to a real Redis (a `redis-server` started by the
//! test on a loopback port) and to librdkafka's mock Kafka cluster, through outages and
//! restarts; and two sensors sharing one central intel feed over HTTP with ETag.
//!
//! Every check compares the broker's records with the file output of the same run: same events,
//! in order, none lost; a record seen twice (at-least-once) carries the same event id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A fresh directory for one test, removed at the end even when the test fails.
struct TempDir(PathBuf);
impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("tapir-outputs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn str(&self, name: &str) -> String {
        self.path(name).to_str().expect("utf8 path").to_string()
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The demo capture plus every shared capture (when ../shared is there).
fn captures(dir: &TempDir) -> Vec<String> {
    let demo = dir.path("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo capture");
    let mut v = vec![demo.to_str().expect("path").to_string()];
    let shared = repo().join("../shared/testdata/pcaps");
    match std::fs::read_dir(&shared) {
        Ok(rd) => {
            let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            names.sort();
            v.extend(names.iter().map(|p| p.to_str().expect("path").to_string()));
        }
        Err(_) => println!("shared captures skipped: ../shared/testdata not found"),
    }
    v
}

/// The counters line of one output: `tapir: output TARGET: sent=.. retried=..`.
fn output_stats(err: &str, target_prefix: &str) -> HashMap<String, u64> {
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("tapir: output {target_prefix}")))
        .unwrap_or_else(|| panic!("no output line for {target_prefix} in\n{err}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

fn file_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read EVE file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("EVE line"))
        .collect()
}

/// A broker record back to the file's line: without `host` and the event id. Returns the id.
fn undecorate(mut v: Value, sensor: &str) -> (String, Value) {
    let obj = v.as_object_mut().expect("record is an object");
    assert_eq!(obj.remove("host"), Some(Value::from(sensor)));
    let mut id = None;
    let meta = obj
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("metadata");
    if let Some(Value::Array(vars)) = meta.get_mut("pktvars") {
        vars.retain(|p| match p.get("tapir_event_id").and_then(Value::as_str) {
            Some(i) => {
                id = Some(i.to_string());
                false
            }
            None => true,
        });
        if vars.is_empty() {
            meta.remove("pktvars");
        }
    }
    if meta.is_empty() {
        obj.remove("metadata");
    }
    (id.expect("tapir_event_id"), v)
}

/// Checks that `records` (in arrival order) are the file's events: each id once, or repeated
/// with the same event; first arrivals in file order. Returns how many were repeats.
fn same_events(records: Vec<Value>, file: &[Value], sensor: &str) -> usize {
    let mut seen: HashMap<String, Value> = HashMap::new();
    let mut first = Vec::new();
    let mut repeats = 0;
    for r in records {
        let (id, ev) = undecorate(r, sensor);
        match seen.get(&id) {
            Some(prev) => {
                assert_eq!(prev, &ev, "one id, two different events");
                repeats += 1;
            }
            None => {
                seen.insert(id, ev.clone());
                first.push(ev);
            }
        }
    }
    assert_eq!(first.len(), file.len(), "events lost or extra");
    for (i, (a, b)) in first.iter().zip(file).enumerate() {
        assert_eq!(a, b, "event {i} differs from the file output");
    }
    repeats
}

// ---------------------------------------------------------------- Redis

/// A `redis-server` of the test's own on a loopback port, in its own directory; killed on drop.
struct Redis {
    port: u16,
    dir: PathBuf,
    aof: bool,
    child: Option<Child>,
}

impl Redis {
    fn new(dir: &Path, aof: bool) -> Redis {
        let mut r = Redis {
            port: free_port(),
            dir: dir.to_path_buf(),
            aof,
            child: None,
        };
        r.start();
        r
    }

    /// A port for a server that is not started yet.
    fn stopped(dir: &Path) -> Redis {
        Redis {
            port: free_port(),
            dir: dir.to_path_buf(),
            aof: false,
            child: None,
        }
    }

    fn start(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("redis dir");
        let port = self.port.to_string();
        let dir = self.dir.to_str().expect("path").to_string();
        let mut args = vec![
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir,
            "--save",
            "",
            "--daemonize",
            "no",
        ];
        if self.aof {
            // Survives SIGKILL: every write is on disk before it is acknowledged.
            args.extend(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            args.extend(["--appendonly", "no"]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server not found: run tools/setup.sh (Debian package redis-server)");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = self.conn() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < until, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?
            .get_connection_with_timeout(Duration::from_secs(1))
    }

    fn url(&self, stream: &str) -> String {
        format!("redis://127.0.0.1:{}/{stream}", self.port)
    }

    fn xlen(&self, stream: &str) -> u64 {
        self.conn()
            .and_then(|mut c| redis::cmd("XLEN").arg(stream).query(&mut c))
            .unwrap_or(0)
    }

    /// Every record of the stream, oldest first.
    fn records(&self, stream: &str) -> Vec<Value> {
        let mut c = self.conn().expect("connect to redis");
        let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
            .arg(stream)
            .arg("-")
            .arg("+")
            .query(&mut c)
            .expect("XRANGE");
        entries
            .into_iter()
            .map(|(_, fields)| {
                assert_eq!(fields.first().map(Vec::as_slice), Some(&b"eve"[..]));
                serde_json::from_slice(fields.get(1).expect("eve value")).expect("record json")
            })
            .collect()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn config(dir: &TempDir, sensor: &str, outputs: &str) -> String {
    let p = dir.path("tapir.toml");
    std::fs::write(&p, format!("sensor_name = \"{sensor}\"\n{outputs}")).expect("config");
    p.to_str().expect("path").to_string()
}

/// An `[[output]]` entry with its disk buffer in the test's directory; a long flush timeout
/// unless `extra` sets one.
fn network_entry(target: &str, dir: &TempDir, extra: &str) -> String {
    let flush = if extra.contains("flush_timeout") {
        ""
    } else {
        "flush_timeout = \"60s\"\n"
    };
    format!(
        "[[output]]\ntarget = \"{target}\"\nbuffer_dir = \"{}\"\n{flush}{extra}\n",
        dir.str("outbox")
    )
}

#[test]
fn redis_stream_holds_exactly_the_events_of_the_file_output() {
    let dir = TempDir::new("redis-same");
    let redis = Redis::new(&dir.path("redis"), false);
    let target = redis.url("eve");
    let conf = config(
        &dir,
        "sensor-a",
        &network_entry(&target, &dir, "redis_maxlen = 0"),
    );
    let caps = captures(&dir);
    let file = dir.str("eve.json");
    let mut args = vec![
        "replay",
        "--config",
        &conf,
        "--intel",
        "../../rules/intel",
        "--output",
        &target,
        "--eve",
        &file,
    ];
    args.extend(caps.iter().map(String::as_str));
    let o = tapir(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let events = file_events(Path::new(&file));
    assert!(events.len() > 50, "only {} events", events.len());
    assert!(events.iter().any(|e| e["event_type"] == "alert"));
    let records = redis.records("eve");
    assert_eq!(records.len(), events.len());
    assert_eq!(same_events(records, &events, "sensor-a"), 0);
    let s = output_stats(&stderr(&o), "redis://");
    assert_eq!(s["sent"], events.len() as u64);
    assert_eq!((s["retried"], s["dropped"], s["queued_disk"]), (0, 0, 0));
}

#[test]
fn redis_down_at_start_then_up_loses_nothing() {
    let dir = TempDir::new("redis-late");
    let mut redis = Redis::stopped(&dir.path("redis"));
    let target = redis.url("eve");
    let conf = config(
        &dir,
        "sensor-b",
        &network_entry(&target, &dir, "queue_size = \"16KiB\""),
    );
    let demo = dir.path("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let file = dir.str("eve.json");
    let child = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "replay",
            "--config",
            &conf,
            "--output",
            &target,
            "--output",
            &format!("file:{file}"),
            demo.to_str().expect("path"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tapir");
    // The replay ends at once; the sender retries against the closed port meanwhile.
    std::thread::sleep(Duration::from_millis(1500));
    redis.start();
    let o = child.wait_with_output().expect("tapir");
    assert!(o.status.success(), "{}", stderr(&o));
    let events = file_events(Path::new(&file));
    let repeats = same_events(redis.records("eve"), &events, "sensor-b");
    assert_eq!(repeats, 0, "nothing reached the broker before it was up");
    let s = output_stats(&stderr(&o), "redis://");
    assert!(s["retried"] >= 1, "{s:?}");
    // 16 KiB of memory holds a few dozen events: the rest waited on disk.
    assert!(
        s["buffered"] > 0 && s["buffered"] < events.len() as u64,
        "{s:?}"
    );
    assert_eq!((s["sent"], s["dropped"]), (events.len() as u64, 0), "{s:?}");
}

#[test]
fn redis_killed_mid_run_and_restarted_loses_nothing() {
    let dir = TempDir::new("redis-kill");
    let mut redis = Redis::new(&dir.path("redis"), true);
    let target = redis.url("eve");
    // One record per round trip, each fsynced by the server: slow enough to kill it mid-way.
    let conf = config(
        &dir,
        "sensor-c",
        &network_entry(&target, &dir, "batch = 1\nqueue_size = \"64KiB\""),
    );
    let cap = dir.path("bench.pcap");
    let cfg = tapir_gen_demo::BenchConfig {
        packets: u64::MAX,
        max_bytes: 4 << 20,
        flows: 2000,
        seed: 7,
        ..Default::default()
    };
    tapir_gen_demo::write_bench(&cap, &cfg).expect("bench capture");
    let file = dir.str("eve.json");
    let child = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "replay",
            "--config",
            &conf,
            "--output",
            &target,
            "--output",
            &format!("file:{file}"),
            cap.to_str().expect("path"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tapir");
    let until = Instant::now() + Duration::from_secs(30);
    while redis.xlen("eve") < 200 {
        assert!(Instant::now() < until, "no records arrived");
        std::thread::sleep(Duration::from_millis(2));
    }
    redis.kill();
    let at_kill = {
        // What the server had acknowledged is in its append-only file.
        std::thread::sleep(Duration::from_millis(1000));
        redis.start();
        redis.xlen("eve")
    };
    let o = child.wait_with_output().expect("tapir");
    assert!(o.status.success(), "{}", stderr(&o));
    let events = file_events(Path::new(&file));
    assert!(
        at_kill < events.len() as u64,
        "the run had finished before the kill ({at_kill} of {})",
        events.len()
    );
    let records = redis.records("eve");
    let repeats = same_events(records, &events, "sensor-c");
    let s = output_stats(&stderr(&o), "redis://");
    assert!(s["retried"] >= 1, "{s:?}");
    assert!(s["buffered"] > 0, "{s:?}");
    assert_eq!(s["dropped"], 0);
    // At most the record in flight at the kill arrives twice.
    assert!(repeats <= 1, "{repeats} repeats");
    println!(
        "{} events, {at_kill} stored before the kill, {repeats} repeated, counters {s:?}",
        events.len()
    );
}

#[test]
fn a_restart_sends_what_the_disk_buffer_held_first() {
    let dir = TempDir::new("redis-restart");
    let mut redis = Redis::stopped(&dir.path("redis"));
    let target = redis.url("eve");
    let conf = |timeout: &str| {
        config(
            &dir,
            "sensor-d",
            &network_entry(&target, &dir, &format!("flush_timeout = \"{timeout}\"")),
        )
    };
    let demo = dir.path("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let file1 = dir.str("eve1.json");
    let c1 = conf("300ms");
    let o = tapir(&[
        "replay",
        "--config",
        &c1,
        "--output",
        &target,
        "--eve",
        &file1,
        demo.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = file_events(Path::new(&file1));
    let s = output_stats(&stderr(&o), "redis://");
    assert_eq!(s["sent"], 0);
    assert_eq!(s["queued_disk"], first.len() as u64, "{s:?}");

    redis.start();
    let file2 = dir.str("eve2.json");
    let c2 = conf("30s");
    let o = tapir(&[
        "replay",
        "--config",
        &c2,
        "--output",
        &target,
        "--eve",
        &file2,
        demo.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let second = file_events(Path::new(&file2));
    let s = output_stats(&stderr(&o), "redis://");
    assert_eq!(s["recovered"], first.len() as u64, "{s:?}");
    assert_eq!(s["sent"], (first.len() + second.len()) as u64, "{s:?}");
    let mut both = first.clone();
    both.extend(second);
    assert_eq!(same_events(redis.records("eve"), &both, "sensor-d"), 0);
}

// ---------------------------------------------------------------- Kafka

mod kafka {
    use super::*;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::mocking::MockCluster;
    use rdkafka::{Message, Offset, TopicPartitionList};

    const PARTITIONS: i32 = 4;

    /// (partition, key, record) of every message of `topic`, in partition order.
    fn consume(bootstrap: &str, topic: &str, want: usize) -> Vec<(i32, Option<String>, Value)> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "tapir-test")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .expect("partition");
        }
        consumer.assign(&tpl).expect("assign");
        let mut out = Vec::new();
        let until = Instant::now() + Duration::from_secs(30);
        let mut quiet_since = Instant::now();
        while Instant::now() < until {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    quiet_since = Instant::now();
                    let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
                    let v = serde_json::from_slice(m.payload().expect("payload")).expect("json");
                    out.push((m.partition(), key, v));
                }
                Some(Err(e)) => panic!("consume: {e}"),
                None if out.len() >= want && quiet_since.elapsed() > Duration::from_secs(1) => {
                    break
                }
                None => {}
            }
        }
        out
    }

    /// Flow ids stay in one partition each, keys are the flow ids, and (`in_order`) per
    /// partition the first arrivals follow the file's order; returns the records in file order for
    /// [`same_events`].
    fn check_partitions(
        msgs: &[(i32, Option<String>, Value)],
        file: &[Value],
        in_order: bool,
    ) -> Vec<Value> {
        let mut part_of: HashMap<u64, i32> = HashMap::new();
        for (p, key, v) in msgs {
            let Some(fid) = v["flow_id"].as_u64() else {
                continue;
            };
            assert_eq!(key.as_deref(), Some(fid.to_string().as_str()), "key");
            let was = *part_of.entry(fid).or_insert(*p);
            assert_eq!(was, *p, "flow {fid} in partitions {was} and {p}");
        }
        assert!(
            part_of.values().collect::<BTreeSet<_>>().len() > 1,
            "every flow in one partition"
        );
        // Where each event is in the file (equal lines take the next free place).
        let mut places: HashMap<String, std::collections::VecDeque<usize>> = HashMap::new();
        for (i, e) in file.iter().enumerate() {
            places.entry(e.to_string()).or_default().push_back(i);
        }
        let mut place_of_id: HashMap<String, usize> = HashMap::new();
        let mut last_in_partition: HashMap<i32, usize> = HashMap::new();
        let mut keyed: Vec<(usize, usize, Value)> = Vec::new();
        for (n, (p, _, v)) in msgs.iter().enumerate() {
            let (id, plain) = undecorate(v.clone(), "sensor-k");
            let at = match place_of_id.get(&id) {
                Some(&at) => at,
                None => {
                    let at = places
                        .get_mut(&plain.to_string())
                        .and_then(|q| q.pop_front())
                        .unwrap_or_else(|| panic!("not in the file output: {plain}"));
                    // First arrivals keep the file's order within a partition.
                    let prev = last_in_partition.insert(*p, at);
                    assert!(
                        !in_order || prev.is_none_or(|prev| prev < at),
                        "partition {p} out of order"
                    );
                    place_of_id.insert(id, at);
                    at
                }
            };
            keyed.push((at, n, v.clone()));
        }
        // One stream in file order, for same_events.
        keyed.sort_by_key(|(at, n, _)| (*at, *n));
        keyed.into_iter().map(|(_, _, v)| v).collect()
    }

    fn run_tapir(dir: &TempDir, target: &str, extra: &str) -> (Output, Vec<Value>) {
        let conf = config(dir, "sensor-k", &network_entry(target, dir, extra));
        let demo = dir.path("demo.pcap");
        tapir_gen_demo::write_demo(&demo).expect("demo");
        let file = dir.str("eve.json");
        let o = tapir(&[
            "replay",
            "--config",
            &conf,
            "--intel",
            "../../rules/intel",
            "--output",
            target,
            "--eve",
            &file,
            demo.to_str().expect("path"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        (o, file_events(Path::new(&file)))
    }

    #[test]
    fn kafka_topic_holds_the_file_events_keyed_by_flow() {
        let dir = TempDir::new("kafka-same");
        let mock = MockCluster::new(3).expect("mock cluster");
        mock.create_topic("eve", PARTITIONS, 1).expect("topic");
        let target = format!("kafka://{}/eve", mock.bootstrap_servers());
        let (o, events) = run_tapir(&dir, &target, "");
        let msgs = consume(&mock.bootstrap_servers(), "eve", events.len());
        assert_eq!(msgs.len(), events.len());
        let ordered = check_partitions(&msgs, &events, true);
        assert_eq!(same_events(ordered, &events, "sensor-k"), 0);
        let s = output_stats(&stderr(&o), "kafka://");
        assert_eq!(
            (s["sent"], s["retried"], s["dropped"]),
            (events.len() as u64, 0, 0)
        );
    }

    /// The broker refuses produce requests (a non-retriable error librdkafka reports per
    /// record): the refused records are sent again and nothing is lost.
    #[test]
    fn kafka_refused_produce_requests_are_sent_again() {
        use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
        let dir = TempDir::new("kafka-refused");
        let mock = MockCluster::new(1).expect("mock cluster");
        mock.create_topic("eve", PARTITIONS, 1).expect("topic");
        mock.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 3],
        );
        let target = format!("kafka://{}/eve", mock.bootstrap_servers());
        let (o, events) = run_tapir(&dir, &target, "batch = 16");
        let msgs = consume(&mock.bootstrap_servers(), "eve", events.len());
        // A batch refused in part is sent again in part: order within a partition may change.
        let ordered = check_partitions(&msgs, &events, false);
        same_events(ordered, &events, "sensor-k");
        let s = output_stats(&stderr(&o), "kafka://");
        assert!(s["retried"] >= 1, "{s:?}");
        assert_eq!(s["dropped"], 0, "{s:?}");
        assert_eq!(s["sent"] as usize, msgs.len(), "{s:?}");
    }

    #[test]
    fn kafka_brokers_down_for_a_while_lose_nothing() {
        let dir = TempDir::new("kafka-down");
        let mock = MockCluster::new(3).expect("mock cluster");
        mock.create_topic("eve", PARTITIONS, 1).expect("topic");
        for b in 1..=3 {
            mock.broker_down(b).expect("broker down");
        }
        let target = format!("kafka://{}/eve", mock.bootstrap_servers());
        let up = std::thread::scope(|s| {
            let h = s.spawn(|| {
                run_tapir(
                    &dir,
                    &target,
                    "queue_size = \"16KiB\"\nkafka = { \"message.timeout.ms\" = \"1000\" }",
                )
            });
            std::thread::sleep(Duration::from_secs(3));
            for b in 1..=3 {
                mock.broker_up(b).expect("broker up");
            }
            h.join().expect("tapir thread")
        });
        let (o, events) = up;
        let msgs = consume(&mock.bootstrap_servers(), "eve", events.len());
        let ordered = check_partitions(&msgs, &events, true);
        let repeats = same_events(ordered, &events, "sensor-k");
        let s = output_stats(&stderr(&o), "kafka://");
        assert!(s["retried"] >= 1, "{s:?}");
        assert!(s["buffered"] > 0, "{s:?}");
        assert_eq!(s["dropped"], 0, "{s:?}");
        assert_eq!(s["sent"] as usize, msgs.len(), "{s:?}");
        println!("{} events, {repeats} repeats, counters {s:?}", events.len());
    }
}

// ---------------------------------------------------------------- central intel

/// A feed host: serves one list with an ETag, answers 304 to a matching If-None-Match, and
/// counts both.
struct FeedHost {
    port: u16,
    body: Arc<Mutex<(String, String)>>,
    ok: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
}

impl FeedHost {
    fn start(etag: &str, body: &str) -> FeedHost {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let host = FeedHost {
            port,
            body: Arc::new(Mutex::new((etag.into(), body.into()))),
            ok: Arc::default(),
            not_modified: Arc::default(),
        };
        let (body, ok, nm) = (
            Arc::clone(&host.body),
            Arc::clone(&host.ok),
            Arc::clone(&host.not_modified),
        );
        std::thread::spawn(move || {
            // Serves until the test process ends; each request on its own connection.
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&req).to_lowercase();
                let (etag, text) = body.lock().expect("lock").clone();
                let quoted = format!("\"{etag}\"");
                let matches = req
                    .lines()
                    .any(|l| l.starts_with("if-none-match:") && l.contains(&quoted.to_lowercase()));
                let _ = if matches {
                    nm.fetch_add(1, Ordering::SeqCst);
                    write!(
                        s,
                        "HTTP/1.1 304 Not Modified\r\nETag: {quoted}\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    ok.fetch_add(1, Ordering::SeqCst);
                    write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag: {quoted}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    )
                };
            }
        });
        host
    }

    fn counts(&self) -> (usize, usize) {
        (
            self.ok.load(Ordering::SeqCst),
            self.not_modified.load(Ordering::SeqCst),
        )
    }
}

/// Two sensors with their own caches and one feed host: each fetches the list once per change
/// (200), and only revalidates otherwise (304).
#[test]
fn two_sensors_fetch_one_central_feed_once_per_change() {
    let dir = TempDir::new("fleet-intel");
    let host = FeedHost::start("v1", "# central list\nevil-updates.test\n");
    let demo = dir.path("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let sensors: Vec<String> = ["edge-1", "edge-2"]
        .iter()
        .map(|name| {
            let conf = dir.path(&format!("{name}.toml"));
            std::fs::create_dir_all(dir.path(&format!("{name}-cache"))).expect("cache");
            std::fs::write(
                &conf,
                format!(
                    "sensor_name = \"{name}\"\n[intel]\ncache_dir = \"{}\"\n\n[[intel.feeds]]\nname = \"central\"\nurl = \"http://127.0.0.1:{}/intel/domains.txt\"\nformat = \"plain\"\n",
                    dir.str(&format!("{name}-cache")),
                    host.port
                ),
            )
            .expect("config");
            conf.to_str().expect("path").to_string()
        })
        .collect();
    // Both sensors at once, like a fleet; returns the alerted indicator values of each.
    let round = || -> Vec<BTreeSet<String>> {
        let children: Vec<Child> = sensors
            .iter()
            .map(|c| {
                Command::new(env!("CARGO_BIN_EXE_tapir"))
                    .args(["replay", "--config", c, demo.to_str().expect("path")])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn tapir")
            })
            .collect();
        children
            .into_iter()
            .map(|ch| {
                let o = ch.wait_with_output().expect("tapir");
                assert!(o.status.success(), "{}", stderr(&o));
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter(|e| e["event_type"] == "alert")
                    .filter_map(|a| {
                        a["alert"]["context"]["indicator"]["value"]
                            .as_str()
                            .map(str::to_string)
                    })
                    .collect()
            })
            .collect()
    };
    let r1 = round();
    assert_eq!(
        host.counts(),
        (2, 0),
        "first start: one download per sensor"
    );
    let r2 = round();
    assert_eq!(
        host.counts(),
        (2, 2),
        "unchanged: revalidated, not downloaded"
    );
    assert_eq!(r1, r2);
    for hits in &r1 {
        assert!(hits.contains("evil-updates.test"), "{hits:?}");
    }
    // The list changes on the feed host: one download per sensor, and the new entry matches.
    *host.body.lock().expect("lock") = (
        "v2".into(),
        "# central list\nevil-updates.test\nc2.badcdn.example\n".into(),
    );
    let r3 = round();
    assert_eq!(host.counts(), (4, 2), "changed: one download per sensor");
    for hits in &r3 {
        assert!(hits.contains("c2.badcdn.example"), "{hits:?}");
    }
    let r4 = round();
    assert_eq!(host.counts(), (4, 4));
    assert_eq!(r3, r4);
}

// ---------------------------------------------------------------- config and flags

#[test]
fn output_settings_are_checked_and_named() {
    let dir = TempDir::new("config");
    for (text, key) in [
        ("[[output]]\ntarget = \"kafka://b1/\"\n", "output[0].target"),
        (
            "[[output]]\ntarget = \"-\"\n[[output]]\ntarget = \"redis://h/s\"\nqueue_sizes = 1\n",
            "queue_sizes",
        ),
        (
            "[[output]]\ntarget = \"redis://h/s\"\nkafka = { \"acks\" = \"all\" }\n",
            "output[0].kafka",
        ),
        (
            "[[output]]\ntarget = \"kafka://b/t\"\nbuffer_size = \"1KiB\"\n",
            "output[0].buffer_size",
        ),
        (
            "[[output]]\ntarget = \"-\"\n[[output]]\ntarget = \"-\"\n",
            "output[1].target",
        ),
        ("sensor_name = \"\"\n", "sensor_name"),
    ] {
        let p = dir.path("bad.toml");
        std::fs::write(&p, text).expect("write");
        let o = tapir(&["check-config", p.to_str().expect("path")]);
        assert!(!o.status.success(), "accepted: {text}");
        assert!(stderr(&o).contains(key), "{text}: {}", stderr(&o));
    }
    let p = dir.path("good.toml");
    std::fs::write(
        &p,
        "[[output]]\ntarget = \"file:/tmp/eve.json\"\n[[output]]\ntarget = \"kafka://k1,k2:9093/eve\"\nkafka = { \"compression.type\" = \"lz4\" }\n",
    )
    .expect("write");
    let o = tapir(&["check-config", p.to_str().expect("path")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("outputs=file:/tmp/eve.json,kafka://k1:9092,k2:9093/eve"),
        "{out}"
    );
    // The older [output] table still works.
    std::fs::write(&p, "[output]\neve = \"/var/log/tapir/eve.json\"\n").expect("write");
    let o = tapir(&["check-config", p.to_str().expect("path")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("outputs=file:/var/log/tapir/eve.json"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = tapir(&["replay", "--output", "ftp://x/y", "/nonexistent.pcap"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--output"), "{}", stderr(&o));
}

/// `--output -` and `--eve` write the same lines as before, and no network record fields.
#[test]
fn stdout_and_file_outputs_are_unchanged_eve() {
    let dir = TempDir::new("local");
    let demo = dir.path("demo.pcap");
    tapir_gen_demo::write_demo(&demo).expect("demo");
    let file = dir.str("eve.json");
    let o = tapir(&[
        "replay",
        "--output",
        "-",
        "--output",
        &format!("file:{file}"),
        demo.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let from_file = std::fs::read(&file).expect("read");
    assert_eq!(o.stdout, from_file);
    let first: Value =
        serde_json::from_slice(from_file.split(|&b| b == b'\n').next().expect("a line"))
            .expect("json");
    assert!(first.get("host").is_none());
    assert!(!stderr(&o).contains("tapir: output"), "{}", stderr(&o));
}

// ---------------------------------------------------------------- throughput

/// Throughput of the bench capture to a file, to Redis and to a Kafka mock cluster, in the
/// same run (medians of 5). Run with
/// `cargo test --release -p tapir --test outputs -- --ignored --nocapture output_throughput`;
/// `TAPIR_BENCH_SIZE` (bytes, default 64 MiB) sets the capture size.
#[test]
#[ignore = "benchmark: run by hand, figures go to benches/README.md"]
fn output_throughput() {
    let dir = TempDir::new("bench");
    let size: u64 = std::env::var("TAPIR_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64 << 20);
    let cap = dir.path("bench.pcap");
    let cfg = tapir_gen_demo::BenchConfig {
        packets: u64::MAX,
        max_bytes: size,
        flows: 5000,
        seed: 1,
        plant: 100,
        ..Default::default()
    };
    tapir_gen_demo::write_bench(&cap, &cfg).expect("bench capture");
    let redis = Redis::new(&dir.path("redis"), false);
    // librdkafka's mock cluster inside tapir (`test.mock.num.brokers`): the broker's work is
    // counted against the sensor. (A mock cluster in this process answers late: its sockets
    // keep Nagle's algorithm, which real brokers turn off.)
    let kafka = "kafka://127.0.0.1:9/eve".to_string();
    let conf = config(
        &dir,
        "bench",
        &format!(
            "{}{}",
            network_entry(&redis.url("eve"), &dir, "redis_maxlen = 0"),
            network_entry(
                &kafka,
                &dir,
                "kafka = { \"test.mock.num.brokers\" = \"1\" }"
            )
        ),
    );
    let file = dir.str("eve.json");
    let mut runs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut events = 0u64;
    for round in 0..5 {
        for (name, target) in [
            ("file", format!("file:{file}")),
            ("redis", redis.url(&format!("eve{round}"))),
            ("kafka-mock", kafka.clone()),
        ] {
            let started = Instant::now();
            let o = tapir(&[
                "replay",
                "--config",
                &conf,
                "--output",
                &target,
                cap.to_str().expect("path"),
            ]);
            let secs = started.elapsed().as_secs_f64();
            assert!(o.status.success(), "{}", stderr(&o));
            let err = stderr(&o);
            let summary = err.lines().last().unwrap_or_default().to_string();
            events = summary
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("events="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(events);
            if name != "file" {
                let s = output_stats(&err, &target[..8]);
                assert_eq!(s["dropped"], 0, "{s:?}");
                assert_eq!(s["queued_disk"] + s["queued_memory"], 0, "{s:?}");
            }
            runs.entry(name).or_default().push(secs);
        }
    }
    let median = |v: &Vec<f64>| {
        let mut v = v.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&runs["file"]);
    println!("bench capture {size} bytes, {events} events; wall time per run incl. final flush");
    println!("| output | median s | events/s | vs file |");
    println!("|---|---|---|---|");
    for name in ["file", "redis", "kafka-mock"] {
        let m = median(&runs[name]);
        println!(
            "| {name} | {m:.3} | {:.0} | {:.2} |",
            events as f64 / m,
            base / m
        );
    }
}
